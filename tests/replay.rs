//! The replay server over loopback, with a gRPC client as Hubble's would be.

use std::time::Duration;

use jiff::SignedDuration;
use tighten::flows::file;
use tighten::hubble::convert::from_wire;
use tighten::hubble::proto::flow::FlowFilter;
use tighten::hubble::proto::observer::observer_client::ObserverClient;
use tighten::hubble::proto::observer::{GetFlowsRequest, ServerStatusRequest, get_flows_response};
use tighten::hubble::replay::Replay;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

#[path = "common/replay_process.rs"]
mod replay_process;

use replay_process::{ReplayProcess, played};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flows/sample.jsonpb");

/// Starts a replay server on a free loopback port; returns a connected client.
async fn serve(replay: Replay) -> (ObserverClient<Channel>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(replay.serve(listener, None));
    let client = ObserverClient::connect(address.clone()).await.expect("connects");
    (client, address)
}

async fn collect(client: &mut ObserverClient<Channel>, request: GetFlowsRequest) -> Vec<tighten::flows::Flow> {
    let mut stream = client.get_flows(request).await.expect("get_flows").into_inner();
    let mut flows = Vec::new();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("stream ends")
    {
        if let Some(get_flows_response::ResponseTypes::Flow(f)) = item.expect("ok").response_types {
            flows.push(from_wire(&f).expect("time"));
        }
    }
    flows
}

/// `count` copies of the sample's first flow, 200 ms apart.
fn spaced(count: i64) -> Vec<tighten::flows::Flow> {
    let base = sample()[0].clone();
    (0..count)
        .map(|i| tighten::flows::Flow {
            time: base.time + SignedDuration::from_millis(200 * i),
            ..base.clone()
        })
        .collect()
}

/// The first `count` flows of a following stream, each within five seconds.
async fn follow(client: &mut ObserverClient<Channel>, count: usize) -> Vec<tighten::flows::Flow> {
    let mut stream = client
        .get_flows(GetFlowsRequest {
            follow: true,
            ..GetFlowsRequest::default()
        })
        .await
        .expect("get_flows")
        .into_inner();
    let mut got = Vec::new();
    while got.len() < count {
        let item = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("ok");
        if let Some(get_flows_response::ResponseTypes::Flow(f)) = item.response_types {
            got.push(from_wire(&f).expect("time"));
        }
    }
    got
}

fn sample() -> Vec<tighten::flows::Flow> {
    file::read(std::path::Path::new(SAMPLE)).expect("fixture").flows
}

#[tokio::test]
async fn history_honours_filters_number_and_status() {
    // A very high speed: the whole recording has happened at once.
    let (mut client, address) = serve(Replay::new(sample(), 1e9, false)).await;
    played(&address, 10).await;
    let all = collect(&mut client, GetFlowsRequest::default()).await;
    assert_eq!(all.len(), 10);
    let expected: Vec<_> = {
        let mut s = sample();
        s.sort_by_key(|f| f.time);
        s
    };
    assert_eq!(all, expected);

    // `hubble observe --namespace payments` sends these two whitelist filters.
    let ns = |side: fn(&mut FlowFilter, Vec<String>)| {
        let mut f = FlowFilter::default();
        side(&mut f, vec!["payments/".into()]);
        f
    };
    let request = GetFlowsRequest {
        whitelist: vec![ns(|f, v| f.source_pod = v), ns(|f, v| f.destination_pod = v)],
        ..GetFlowsRequest::default()
    };
    let payments = collect(&mut client, request).await;
    let expected = sample()
        .iter()
        .filter(|f| f.source.namespace == "payments" || f.destination.namespace == "payments")
        .count();
    assert_eq!(payments.len(), expected);
    assert!(expected > 0 && expected < 10);

    let dropped = collect(
        &mut client,
        GetFlowsRequest {
            whitelist: vec![FlowFilter {
                verdict: vec![2],
                ..FlowFilter::default()
            }],
            ..GetFlowsRequest::default()
        },
    )
    .await;
    assert!(!dropped.is_empty() && dropped.iter().all(|f| f.verdict == tighten::flows::Verdict::Dropped));

    let last3 = collect(
        &mut client,
        GetFlowsRequest {
            number: 3,
            ..GetFlowsRequest::default()
        },
    )
    .await;
    assert_eq!(last3, all[7..].to_vec());
    let first2 = collect(
        &mut client,
        GetFlowsRequest {
            number: 2,
            first: true,
            ..GetFlowsRequest::default()
        },
    )
    .await;
    assert_eq!(first2, all[..2].to_vec());

    let status = client
        .server_status(ServerStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!((status.num_flows, status.seen_flows), (10, 10));
    // Like Hubble's ring buffer, the capacity is at least a small agent's.
    assert_eq!(status.max_flows, 4_096);
    assert!(status.num_connected_nodes.is_some_and(|n| n >= 1));
}

#[tokio::test]
async fn follow_streams_the_recording_at_its_pace() {
    // Five flows 200 ms apart, played at real speed.
    let flows = spaced(5);
    let (mut client, _) = serve(Replay::new(flows.clone(), 1.0, false)).await;
    let started = std::time::Instant::now();
    let got = follow(&mut client, 5).await;
    assert_eq!(got, flows);
    // The last flow is 800 ms into the recording: it cannot arrive sooner.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn first_and_follow_together_are_refused() {
    let (mut client, _) = serve(Replay::new(sample(), 1e9, false)).await;
    let err = client
        .get_flows(GetFlowsRequest {
            first: true,
            follow: true,
            ..GetFlowsRequest::default()
        })
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn health_says_the_observer_is_serving() {
    let (_, address) = serve(Replay::new(sample(), 1e9, false)).await;
    let channel = Channel::from_shared(address)
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "hubble.server.Observer".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        answer.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn tighten_replay_serves_a_recording_to_any_client() {
    let replay = tokio::task::spawn_blocking(|| {
        ReplayProcess::start(
            std::path::Path::new(SAMPLE),
            &["--listen", "127.0.0.1:0", "--speed", "1000000"],
        )
    })
    .await
    .expect("started");
    assert!(
        replay.first_line.starts_with("serving 10 flows"),
        "{}",
        replay.first_line
    );
    let mut client = ObserverClient::connect(format!("http://{}", replay.address))
        .await
        .expect("connects");
    // The recording plays in microseconds at this speed, but on the server's
    // own task: wait until it has been played before asking for history.
    played(&replay.address, 10).await;
    let flows = collect(&mut client, GetFlowsRequest::default()).await;
    assert_eq!(flows.len(), 10);
    drop(replay);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tighten"))
        .args(["replay", "/nonexistent.jsonpb", "--listen", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.jsonpb"));
}

/// The recording shipped for demos and incident drills: the demo's `databases`
/// namespace enforced mid-recording, recorded by `tighten --demo --record`.
const INCIDENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/flows/demo-databases-enforced.jsonpb"
);

#[test]
fn the_shipped_incident_recording_shows_the_enforcement() {
    let recording = file::read(std::path::Path::new(INCIDENT)).expect("reads");
    assert!(recording.flows.len() > 1_000, "{}", recording.flows.len());
    let stage_to_databases: Vec<&tighten::flows::Flow> = recording
        .flows
        .iter()
        .filter(|f| f.source.namespace == "stage" && f.destination.namespace == "databases")
        .collect();
    let last_forwarded = stage_to_databases
        .iter()
        .filter(|f| f.verdict == tighten::flows::Verdict::Forwarded)
        .map(|f| f.time)
        .max()
        .expect("forwarded before");
    let first_dropped = stage_to_databases
        .iter()
        .filter(|f| f.verdict == tighten::flows::Verdict::Dropped)
        .map(|f| f.time)
        .min()
        .expect("dropped after");
    assert!(
        last_forwarded < first_dropped,
        "allowed until the enforce, dropped after"
    );
}

#[tokio::test]
async fn rebased_flows_carry_the_time_they_are_played() {
    // Five flows 200 ms apart, recorded long ago, played at twice the speed.
    let started = jiff::Timestamp::now();
    let (mut client, _) = serve(Replay::new(spaced(5), 2.0, false).with_played_times()).await;
    let times: Vec<jiff::Timestamp> = follow(&mut client, 5).await.into_iter().map(|f| f.time).collect();
    // Now, not in the recording's past, and 100 ms apart (200 ms at speed 2).
    assert!(times[0] >= started - SignedDuration::from_millis(50), "{times:?}");
    assert!(times[4] <= jiff::Timestamp::now());
    for pair in times.windows(2) {
        assert_eq!(pair[1].duration_since(pair[0]), SignedDuration::from_millis(100));
    }
}
