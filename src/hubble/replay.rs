//! A Hubble observer that serves a recording: the demo, the tests and
//! operators replaying an incident all talk to it as they would to Hubble Relay.
//!
//! The recording plays on the server's clock: a flow "has happened" once its
//! offset from the first flow, divided by `speed`, has passed since the server
//! started. Requests get what has happened (honouring `number`, `first`,
//! `since`, `until` and the filters); with `follow` they then receive the rest
//! as it happens. With `looping`, the recording starts over, its times shifted.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::flows::Flow;

use super::convert::to_wire;
use super::filter::allowed;
use super::proto::observer::observer_server::{Observer, ObserverServer};
use super::proto::observer::{
    GetFlowsRequest, GetFlowsResponse, ServerStatusRequest, ServerStatusResponse, get_flows_response,
};

/// The recording and how to play it.
#[derive(Clone)]
pub struct Replay {
    flows: Arc<Vec<Flow>>,
    speed: f64,
    looping: bool,
    started: Instant,
}

impl Replay {
    /// `flows` in any order; `speed` 2.0 plays twice as fast.
    pub fn new(mut flows: Vec<Flow>, speed: f64, looping: bool) -> Replay {
        flows.sort_by_key(|f| f.time);
        Replay {
            flows: Arc::new(flows),
            speed: if speed > 0.0 { speed } else { 1.0 },
            looping,
            started: Instant::now(),
        }
    }

    /// The recording's length on its own clock, at least a millisecond.
    fn span(&self) -> SignedDuration {
        match (self.flows.first(), self.flows.last()) {
            (Some(a), Some(b)) => b.time.duration_since(a.time).max(SignedDuration::from_millis(1)),
            _ => SignedDuration::from_millis(1),
        }
    }

    /// The recording's time that has been reached.
    fn reached(&self) -> SignedDuration {
        SignedDuration::try_from(self.started.elapsed().mul_f64(self.speed)).unwrap_or(SignedDuration::MAX)
    }

    /// Every flow that has happened, in order, with looped copies' times shifted.
    fn happened(&self) -> Vec<Flow> {
        let Some(first) = self.flows.first() else {
            return Vec::new();
        };
        let reached = self.reached();
        let span = self.span();
        let cycles = if self.looping {
            (reached.as_nanos() / span.as_nanos().max(1)) as i64
        } else {
            0
        };
        let mut out = Vec::new();
        for cycle in 0..=cycles {
            let shift = span * (cycle as i32);
            for flow in self.flows.iter() {
                let offset = flow.time.duration_since(first.time) + shift;
                if offset > reached {
                    break;
                }
                out.push(Flow {
                    time: flow.time + shift,
                    ..flow.clone()
                });
            }
        }
        out
    }

    /// Serves on `listener` until the task is dropped. Also answers gRPC health
    /// checks for `hubble.server.Observer`, which the hubble CLI asks first.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<(), tonic::transport::Error> {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("hubble.server.Observer", tonic_health::ServingStatus::Serving)
            .await;
        reporter.set_serving::<ObserverServer<Replay>>().await;
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(ObserverServer::new(self))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    }
}

fn response(flow: &Flow) -> GetFlowsResponse {
    GetFlowsResponse {
        node_name: flow.node.clone(),
        time: Some(prost_types::Timestamp {
            seconds: flow.time.as_second(),
            nanos: flow.time.subsec_nanosecond(),
        }),
        response_types: Some(get_flows_response::ResponseTypes::Flow(to_wire(flow))),
    }
}

fn time(t: &Option<prost_types::Timestamp>) -> Option<Timestamp> {
    t.as_ref().and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
}

#[tonic::async_trait]
impl Observer for Replay {
    type GetFlowsStream = ReceiverStream<Result<GetFlowsResponse, Status>>;

    async fn get_flows(&self, request: Request<GetFlowsRequest>) -> Result<Response<Self::GetFlowsStream>, Status> {
        let req = request.into_inner();
        if req.first && req.follow {
            return Err(Status::invalid_argument("first cannot be combined with follow"));
        }
        let (since, until) = (time(&req.since), time(&req.until));
        let in_window = move |f: &Flow| since.is_none_or(|s| f.time >= s) && until.is_none_or(|u| f.time <= u);
        let happened = self.happened();
        let seen = happened.len();
        let mut history: Vec<Flow> = happened
            .into_iter()
            .filter(|f| in_window(f) && allowed(f, &req.whitelist, &req.blacklist))
            .collect();
        if req.number > 0 {
            let n = usize::try_from(req.number).unwrap_or(usize::MAX).min(history.len());
            history = if req.first {
                history[..n].to_vec()
            } else {
                history.split_off(history.len() - n)
            };
        }
        let (tx, rx) = mpsc::channel(256);
        let replay = self.clone();
        tokio::spawn(async move {
            for flow in &history {
                if tx.send(Ok(response(flow))).await.is_err() {
                    return;
                }
            }
            if !req.follow {
                return;
            }
            // Live: poll the recording's clock and send what has newly happened.
            let mut sent = seen;
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let happened = replay.happened();
                for flow in happened.iter().skip(sent) {
                    if until.is_some_and(|u| flow.time > u) {
                        return;
                    }
                    if in_window(flow)
                        && allowed(flow, &req.whitelist, &req.blacklist)
                        && tx.send(Ok(response(flow))).await.is_err()
                    {
                        return;
                    }
                }
                sent = happened.len();
                if !replay.looping && sent >= replay.flows.len() && tx.is_closed() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn server_status(&self, _: Request<ServerStatusRequest>) -> Result<Response<ServerStatusResponse>, Status> {
        let happened = self.happened();
        let mut nodes: Vec<&str> = self
            .flows
            .iter()
            .map(|f| f.node.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        Ok(Response::new(ServerStatusResponse {
            num_flows: happened.len().min(self.flows.len()) as u64,
            max_flows: self.flows.len() as u64,
            seen_flows: happened.len() as u64,
            uptime_ns: u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            num_connected_nodes: Some(nodes.len() as u32),
            num_unavailable_nodes: Some(0),
            unavailable_nodes: Vec::new(),
            version: format!("tighten-replay {}", env!("CARGO_PKG_VERSION")),
        }))
    }
}
