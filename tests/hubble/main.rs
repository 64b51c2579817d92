//! tighten's Hubble client against Hubble servers on loopback: the ring-buffer
//! observer the demo uses, `tighten replay` as a separate process (stopped and
//! restarted), a TLS server, and a hand-rolled peer that sends what no
//! well-behaved server would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{mpsc, watch};

use tighten::flows::{Flow, FlowEvent, FlowScope, FlowSource, FlowStreamState, StreamHealth, file};
use tighten::hubble::client::{HubbleClient, Target, TlsOptions};
use tighten::hubble::record::{RecordOptions, Recorder};
use tighten::hubble::server::FlowRing;

mod raw_peer;
#[path = "../common/replay_process.rs"]
mod replay_process;

use replay_process::{ReplayProcess, write_recording};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flows/sample.jsonpb");

fn sample() -> Vec<Flow> {
    let mut flows = file::read(Path::new(SAMPLE)).expect("fixture").flows;
    flows.sort_by_key(|f| f.time);
    flows
}

/// The sample moved so that it ends `ago` before now.
fn recent(ago: SignedDuration) -> Vec<Flow> {
    let flows = sample();
    let shift = (Timestamp::now() - ago).duration_since(flows.last().expect("flows").time);
    flows
        .into_iter()
        .map(|f| Flow {
            time: f.time + shift,
            ..f
        })
        .collect()
}

async fn serve(ring: FlowRing) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    tokio::spawn(ring.serve(listener, None));
    address
}

/// What a subscriber has seen so far.
#[derive(Default)]
struct Seen {
    flows: Vec<Flow>,
    states: Vec<FlowStreamState>,
    health: StreamHealth,
}

impl Seen {
    /// Reads events until `done` holds (or fails the test after ten seconds).
    async fn until(&mut self, rx: &mut mpsc::Receiver<FlowEvent>, done: impl Fn(&Seen) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(self) {
            let event = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out with {} flows, states {:?}", self.flows.len(), self.states))
                .expect("stream open");
            match event {
                FlowEvent::Batch(batch) => self.flows.extend(batch),
                FlowEvent::State(state) => self.states.push(state),
                FlowEvent::Health(health) => self.health = health,
            }
        }
    }

    /// Reads for `quiet` more, to show nothing else arrives.
    async fn settle(&mut self, rx: &mut mpsc::Receiver<FlowEvent>, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            match event {
                FlowEvent::Batch(batch) => self.flows.extend(batch),
                FlowEvent::State(state) => self.states.push(state),
                FlowEvent::Health(health) => self.health = health,
            }
        }
    }

    fn connected(&self) -> bool {
        matches!(self.states.last(), Some(FlowStreamState::Connected { .. }))
    }
}

#[tokio::test]
async fn history_follow_and_a_narrower_scope() {
    let ring = FlowRing::new(4_096);
    let history = recent(SignedDuration::from_secs(30));
    ring.push(history.clone());
    let address = serve(ring.clone()).await;
    let (scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(address), None).subscribe(scope_rx);
    let mut seen = Seen::default();

    seen.until(&mut rx, |s| s.flows.len() == 10).await;
    assert_eq!(seen.flows, history);
    assert_eq!(seen.states[0], FlowStreamState::Connecting);
    assert!(seen.connected(), "{:?}", seen.states);

    // Following: what is pushed now arrives.
    let later: Vec<Flow> = history
        .iter()
        .map(|f| Flow {
            time: f.time + SignedDuration::from_secs(20),
            ..f.clone()
        })
        .collect();
    ring.push(later[..5].to_vec());
    seen.until(&mut rx, |s| s.flows.len() == 15).await;
    assert_eq!(seen.flows[10..], later[..5]);

    // Narrowed to payments: a new call with server-side filters, resumed
    // without sending the overlap again.
    scope.send_replace(FlowScope::Namespaces(vec!["payments".into()]));
    seen.until(
        &mut rx,
        |s| matches!(s.states.last(), Some(FlowStreamState::Connected { source }) if source.contains("1 namespaces")),
    )
    .await;
    ring.push(later[5..].to_vec());
    let payments: Vec<Flow> = later[5..]
        .iter()
        .filter(|f| f.source.namespace == "payments" || f.destination.namespace == "payments")
        .cloned()
        .collect();
    assert!(!payments.is_empty() && payments.len() < 5);
    seen.until(&mut rx, |s| s.flows.len() == 15 + payments.len()).await;
    seen.settle(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(seen.flows[15..], payments[..]);
}

#[tokio::test]
async fn a_restarted_server_is_resumed_without_counting_a_flow_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.jsonpb");
    let flows = sample();
    write_recording(&first, &flows);
    let server = ReplayProcess::start(&first, &["--listen", "127.0.0.1:0", "--speed", "1000000"]);
    let address = server.address.clone();
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(address.clone()), None).subscribe(scope_rx);
    let mut seen = Seen::default();
    seen.until(&mut rx, |s| s.flows.len() == 10).await;

    drop(server);
    seen.until(&mut rx, |s| {
        matches!(s.states.last(), Some(FlowStreamState::Reconnecting { .. }))
    })
    .await;

    // The restarted server holds the same flows and three newer ones.
    let second = dir.path().join("second.jsonpb");
    let newer: Vec<Flow> = flows[..3]
        .iter()
        .map(|f| Flow {
            time: flows[9].time + SignedDuration::from_secs(1),
            ..f.clone()
        })
        .collect();
    write_recording(&second, &[flows.clone(), newer.clone()].concat());
    let _server = ReplayProcess::start(&second, &["--listen", &address, "--speed", "1000000"]);
    seen.until(&mut rx, |s| s.flows.len() == 13).await;
    seen.settle(&mut rx, Duration::from_millis(500)).await;
    assert_eq!(seen.flows.len(), 13, "nothing counted twice");
    assert_eq!(seen.flows[10..], newer[..]);
    assert!(seen.connected());
}

#[tokio::test]
async fn recorded_served_and_read_back_equals_the_original() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recording = dir.path().join("flows.jsonpb");
    let original = sample();
    let ring = FlowRing::new(4_096);
    ring.push(original.clone());
    let address = serve(ring).await;
    let recorder = Recorder::start(RecordOptions {
        path: recording.clone(),
        max_bytes: 1 << 20,
        keep: 1,
    })
    .expect("records");
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(address), None)
        .recording(recorder)
        .subscribe(scope_rx);
    let mut seen = Seen::default();
    seen.until(&mut rx, |s| s.flows.len() == 10).await;
    drop(rx);
    // The writer thread flushes when its queue is empty.
    let mut written = Vec::new();
    for _ in 0..100 {
        written = file::read(&recording).map(|f| f.flows).unwrap_or_default();
        if written.len() == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(written, original);

    // The recording, served by `tighten replay`, read by the client.
    let server = ReplayProcess::start(&recording, &["--listen", "127.0.0.1:0", "--speed", "1000000"]);
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(server.address.clone()), None).subscribe(scope_rx);
    let mut replayed = Seen::default();
    replayed.until(&mut rx, |s| s.flows.len() == 10).await;
    assert_eq!(replayed.flows, original);
}

/// A CA and a server certificate for `localhost`, written to `dir`.
fn certificates(dir: &Path) -> (PathBuf, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let server_key = rcgen::KeyPair::generate().expect("key");
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&server_key, &issuer)
        .expect("signed");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).expect("written");
    (ca_file, server.pem(), server_key.serialize_pem())
}

#[tokio::test]
async fn tls_with_a_private_ca_and_a_clear_error_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let ring = FlowRing::new(4_096);
    ring.push(recent(SignedDuration::from_secs(5)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tls = tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(cert, key));
    tokio::spawn(ring.serve(listener, Some(tls)));

    let trusted = TlsOptions {
        ca: Some(ca),
        server_name: Some("localhost".into()),
        ..TlsOptions::default()
    };
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(format!("127.0.0.1:{port}")), Some(trusted)).subscribe(scope_rx);
    let mut seen = Seen::default();
    seen.until(&mut rx, |s| s.flows.len() == 10).await;

    // The public roots do not know the private CA: the handshake fails, and says so.
    let untrusted = TlsOptions {
        server_name: Some("localhost".into()),
        ..TlsOptions::default()
    };
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(format!("127.0.0.1:{port}")), Some(untrusted)).subscribe(scope_rx);
    let mut refused = Seen::default();
    refused
        .until(&mut rx, |s| {
            matches!(s.states.last(), Some(FlowStreamState::Reconnecting { .. }))
        })
        .await;
    let Some(FlowStreamState::Reconnecting { reason, .. }) = refused.states.last() else {
        unreachable!()
    };
    assert!(reason.contains(&format!("127.0.0.1:{port}")), "{reason}");
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");

    // A CA file that is not PEM is named, and not retried every half second.
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").expect("written");
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let options = TlsOptions {
        ca: Some(bad.clone()),
        ..TlsOptions::default()
    };
    let mut rx = HubbleClient::new(Target::Address(format!("127.0.0.1:{port}")), Some(options)).subscribe(scope_rx);
    let mut bad_file = Seen::default();
    bad_file
        .until(&mut rx, |s| {
            matches!(s.states.last(), Some(FlowStreamState::Unavailable(_)))
        })
        .await;
    let Some(FlowStreamState::Unavailable(reason)) = bad_file.states.last() else {
        unreachable!()
    };
    assert!(
        reason.contains("--hubble-tls-ca") && reason.contains("bad.pem"),
        "{reason}"
    );
}

#[tokio::test]
async fn nothing_listening_is_retried_with_the_reason_on_screen() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(format!("127.0.0.1:{port}")), None).subscribe(scope_rx);
    let mut seen = Seen::default();
    seen.until(&mut rx, |s| {
        s.states
            .iter()
            .filter(|st| matches!(st, FlowStreamState::Reconnecting { .. }))
            .count()
            >= 2
    })
    .await;
    let attempts: Vec<u32> = seen
        .states
        .iter()
        .filter_map(|s| match s {
            FlowStreamState::Reconnecting { attempt, reason } => {
                assert!(
                    reason.contains(&format!("cannot connect to 127.0.0.1:{port}")),
                    "{reason}"
                );
                Some(*attempt)
            }
            _ => None,
        })
        .collect();
    assert_eq!(attempts[..2], [1, 2]);
}

#[tokio::test]
async fn malformed_messages_and_unknown_values_are_tolerated_and_counted() {
    use prost::Message;
    use tighten::hubble::convert::to_wire;
    use tighten::hubble::proto::observer::{GetFlowsResponse, get_flows_response::ResponseTypes};
    let flows = recent(SignedDuration::from_secs(5));
    let encode = |flow: tighten::hubble::proto::flow::Flow| {
        GetFlowsResponse {
            response_types: Some(ResponseTypes::Flow(flow)),
            ..GetFlowsResponse::default()
        }
        .encode_to_vec()
    };
    let mut unknown = to_wire(&flows[1]);
    unknown.verdict = 99;
    let lost = GetFlowsResponse {
        response_types: Some(ResponseTypes::LostEvents(tighten::hubble::proto::flow::LostEvent {
            num_events_lost: 7,
            ..Default::default()
        })),
        ..GetFlowsResponse::default()
    };
    let messages = vec![
        encode(to_wire(&flows[0])),
        // A length-delimited field that runs past the end of the message.
        vec![0x0a, 0xff, 0x01, 0x02],
        encode(unknown),
        lost.encode_to_vec(),
        encode(to_wire(&flows[2])),
    ];
    let address = raw_peer::serve(messages).await;
    let (_scope, scope_rx) = watch::channel(FlowScope::All);
    let mut rx = HubbleClient::new(Target::Address(address), None).subscribe(scope_rx);
    let mut seen = Seen::default();
    seen.until(&mut rx, |s| s.flows.len() == 3 && s.health.lost == 7).await;
    assert_eq!(seen.flows[0], flows[0]);
    assert_eq!(seen.flows[1].verdict, tighten::flows::Verdict::Unknown);
    assert_eq!(seen.flows[2], flows[2]);
    assert_eq!(seen.health.malformed, 1);
    assert_eq!(seen.health.unknown_values, 1);
}
