//! The flows Hubble still holds since a moment, read once without following:
//! the evidence a one-shot command (`tighten status`) weighs, as `hubble
//! observe --since` reads it.

use std::time::Duration;

use jiff::Timestamp;
use tonic::codegen::http::uri::PathAndQuery;

use crate::flows::History;

use super::client::{Decoded, Ended, HubbleClient, MAX_MESSAGE, decode, describe_status, timestamp};
use super::codec::RawResponses;
use super::proto::observer::GetFlowsRequest;

/// How long reading the history may take before it is given up.
const TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn read(client: &HubbleClient, since: Timestamp) -> Result<History, String> {
    tokio::time::timeout(TIMEOUT, read_all(client, since))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "Hubble sent no end of its history within {} s",
                TIMEOUT.as_secs()
            ))
        })
}

async fn read_all(client: &HubbleClient, since: Timestamp) -> Result<History, String> {
    let connection = client.connect().await.map_err(|ended| match ended {
        Ended::Failed(why) | Ended::Impossible(why) => why,
        Ended::Closed => "closed".to_string(),
    })?;
    let mut grpc = tonic::client::Grpc::new(connection.channel.clone()).max_decoding_message_size(MAX_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| format!("{}: {}", connection.label, crate::errors::with_causes(&e)))?;
    let request = GetFlowsRequest {
        follow: false,
        since: Some(timestamp(since)),
        ..GetFlowsRequest::default()
    };
    let path = PathAndQuery::from_static("/observer.Observer/GetFlows");
    let mut stream = grpc
        .server_streaming(tonic::Request::new(request), path, RawResponses::default())
        .await
        .map_err(|status| describe_status(&connection.label, &status))?
        .into_inner();
    let mut history = History {
        source: connection.label.clone(),
        ..History::default()
    };
    while let Some(bytes) = stream
        .message()
        .await
        .map_err(|status| describe_status(&connection.label, &status))?
    {
        match decode(&bytes) {
            Decoded::Flow { flow, .. } => history.flows.push(*flow),
            Decoded::Lost(count) => history.lost = history.lost.saturating_add(count),
            Decoded::Malformed => history.malformed += 1,
            Decoded::Nodes { .. } | Decoded::Other => {}
        }
    }
    Ok(history)
}
