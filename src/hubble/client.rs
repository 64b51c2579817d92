//! The Hubble client: one long-lived task per session that connects to Hubble
//! Relay (an address, or a port-forward through the API server), follows
//! `GetFlows` for the namespaces in view, and feeds the cockpit in batches.
//!
//! The cockpit never waits on it, and it never waits on the cockpit: batches go
//! through a bounded channel, and when the cockpit falls behind a batch is
//! dropped and counted rather than queued without limit. Lost connections are
//! retried with backoff and resumed where the stream left off (see
//! [`Resume`]), so no flow is counted twice.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use prost::Message;
use tokio::sync::{mpsc, watch};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::backoff::Backoff;
use crate::flows::{Flow, FlowEvent, FlowScope, FlowSource, FlowStreamState, History, StreamHealth};

use super::codec::RawResponses;
use super::convert::from_wire;
use super::portforward::{self, Forward};
use super::proto::flow::FlowFilter;
use super::proto::observer::observer_client::ObserverClient;
use super::proto::observer::{GetFlowsRequest, GetFlowsResponse, ServerStatusRequest, get_flows_response};
use super::proto::relay::NodeState;
use super::record::Recorder;
use super::resume::{self, Resume};

/// Batches the cockpit may fall behind by before flows are dropped.
const CHANNEL: usize = 64;
/// Flows per batch, at most.
const BATCH: usize = 1_024;
/// How long a flow waits for its batch to fill.
const FLUSH: Duration = Duration::from_millis(50);
/// How often Relay's node status is asked for.
const STATUS_EVERY: Duration = Duration::from_secs(15);
/// How long an impossible connection (no Relay, bad TLS files) waits before
/// it is tried again.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(30);
/// Flows of history the first stream asks for: more than Relay keeps.
const HISTORY: u64 = 1 << 20;
/// The largest message accepted: a flow is a few kilobytes at most.
pub(super) const MAX_MESSAGE: usize = 16 << 20;

/// TLS as the hubble CLI offers it.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// CA certificates (PEM) to trust instead of the public roots.
    pub ca: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// The name to expect in the server's certificate.
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// The TLS configuration, or which file is wrong.
    pub fn config(&self) -> Result<ClientTlsConfig, String> {
        let read = |flag: &str, path: &PathBuf| -> Result<Vec<u8>, String> {
            let pem = std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN ") {
                return Err(format!("{flag} {}: not a PEM file", path.display()));
            }
            Ok(pem)
        };
        let mut config = ClientTlsConfig::new();
        config = match &self.ca {
            Some(ca) => config.ca_certificate(Certificate::from_pem(read("--hubble-tls-ca", ca)?)),
            None => config.with_webpki_roots(),
        };
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(
                    read("--hubble-tls-client-cert", cert)?,
                    read("--hubble-tls-client-key", key)?,
                ));
            }
            (None, None) => {}
            _ => return Err("--hubble-tls-client-cert and --hubble-tls-client-key go together".into()),
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        Ok(config)
    }
}

/// Where Hubble is.
#[derive(Clone)]
pub enum Target {
    /// `host:port` (or a URL).
    Address(String),
    /// The `hubble-relay` Service of this namespace, through the API server.
    PortForward { client: kube::Client, namespace: String },
}

/// A Hubble Relay (or any observer API server) as the cockpit's flow source.
#[derive(Clone)]
pub struct HubbleClient {
    target: Target,
    tls: Option<TlsOptions>,
    recorder: Option<Recorder>,
    /// What the status bar calls the source, instead of its address.
    label: Option<String>,
}

impl HubbleClient {
    pub fn new(target: Target, tls: Option<TlsOptions>) -> HubbleClient {
        HubbleClient {
            target,
            tls,
            recorder: None,
            label: None,
        }
    }

    /// Names the source on screen (tighten's own servers: the demo, a file).
    pub fn labelled(mut self, label: String) -> HubbleClient {
        self.label = Some(label);
        self
    }

    /// Also writes every flow received to `recorder`.
    pub fn recording(mut self, recorder: Recorder) -> HubbleClient {
        self.recorder = Some(recorder);
        self
    }
}

impl HubbleClient {
    /// Opens a channel to the observer (through a port-forward when that is
    /// the target).
    pub(super) async fn connect(&self) -> Result<Connection, Ended> {
        let (address, label, forward) = match &self.target {
            Target::Address(address) => {
                let label = self.label.clone().unwrap_or_else(|| format!("hubble {address}"));
                (address.clone(), label, None)
            }
            Target::PortForward { client, namespace } => {
                let forward = portforward::open(client.clone(), namespace)
                    .await
                    .map_err(Ended::Impossible)?;
                let label = format!("hubble-relay (port-forward to {})", forward.target);
                (forward.local.to_string(), label, Some(forward))
            }
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let uri = if address.contains("://") {
            address.clone()
        } else {
            format!("{scheme}://{address}")
        };
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| Ended::Impossible(format!("Hubble address {address}: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10));
        if let Some(tls) = &self.tls {
            let config = tls.config().map_err(Ended::Impossible)?;
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| Ended::Impossible(format!("TLS for {address}: {}", crate::errors::with_causes(&e))))?;
        }
        let channel = endpoint.connect().await.map_err(|e| {
            Ended::Failed(format!(
                "cannot connect to {address}: {}",
                crate::errors::with_causes(&e)
            ))
        })?;
        Ok(Connection {
            channel,
            label,
            _forward: forward,
        })
    }
}

#[async_trait::async_trait]
impl FlowSource for HubbleClient {
    fn subscribe(&self, scope: watch::Receiver<FlowScope>) -> mpsc::Receiver<FlowEvent> {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let session = Stream {
            client: self.clone(),
            out: Outbox::new(tx),
            resume: Resume::default(),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
            attempt: 0,
            scope,
        };
        tokio::spawn(session.run());
        rx
    }

    async fn history(&self, since: Timestamp) -> Result<History, String> {
        super::history::read(self, since).await
    }
}

/// Why a connection ended.
pub(super) enum Ended {
    /// The cockpit is gone: stop.
    Closed,
    /// Worth retrying soon.
    Failed(String),
    /// Not worth retrying soon; the message says what to do.
    Impossible(String),
}

pub(super) struct Connection {
    pub(super) channel: Channel,
    pub(super) label: String,
    /// Keeps the port-forward listening while the connection lives.
    _forward: Option<Forward>,
}

struct Stream {
    client: HubbleClient,
    out: Outbox,
    resume: Resume,
    backoff: Backoff,
    attempt: u32,
    scope: watch::Receiver<FlowScope>,
}

impl Stream {
    async fn run(mut self) {
        let mut state = FlowStreamState::Connecting;
        loop {
            if !self.out.state(state).await {
                return;
            }
            let ended = match self.connect().await {
                Ok(connection) => self.follow(connection).await,
                Err(ended) => ended,
            };
            let pause = match ended {
                Ended::Closed => return,
                Ended::Failed(reason) => {
                    tracing::warn!(%reason, "Hubble stream lost");
                    self.attempt += 1;
                    state = FlowStreamState::Reconnecting {
                        attempt: self.attempt,
                        reason,
                    };
                    self.backoff.next().unwrap_or(UNAVAILABLE_RETRY)
                }
                Ended::Impossible(reason) => {
                    tracing::warn!(%reason, "Hubble unavailable");
                    if !self.out.state(FlowStreamState::Unavailable(reason)).await {
                        return;
                    }
                    state = FlowStreamState::Connecting;
                    UNAVAILABLE_RETRY
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.out.tx.closed() => return,
            }
        }
    }

    async fn connect(&self) -> Result<Connection, Ended> {
        self.client.connect().await
    }

    /// Follows flows on `connection` until it fails or the cockpit goes;
    /// a change of scope starts a new call on the same connection.
    async fn follow(&mut self, connection: Connection) -> Ended {
        let mut observer = ObserverClient::new(connection.channel.clone());
        // Asking for the status first proves the peer speaks the observer API.
        match observer.server_status(ServerStatusRequest {}).await {
            Ok(status) => self.out.nodes(&status.into_inner()),
            Err(status) => return Ended::Failed(describe_status(&connection.label, &status)),
        }
        let mut grpc = tonic::client::Grpc::new(connection.channel.clone()).max_decoding_message_size(MAX_MESSAGE);
        loop {
            let scope = self.scope.borrow_and_update().clone();
            // The first stream asks for the buffer's history (however old: a
            // replayed incident keeps its times); a resumed one for what follows
            // the flows already counted.
            let since = self.resume.since();
            let request = GetFlowsRequest {
                number: if since.is_none() { HISTORY } else { 0 },
                follow: true,
                since: since.map(timestamp),
                whitelist: filters(&scope),
                ..GetFlowsRequest::default()
            };
            if let Err(e) = grpc.ready().await {
                return Ended::Failed(format!("{}: {}", connection.label, crate::errors::with_causes(&e)));
            }
            let path = PathAndQuery::from_static("/observer.Observer/GetFlows");
            let mut flows = match grpc
                .server_streaming(tonic::Request::new(request), path, RawResponses::default())
                .await
            {
                Ok(response) => response.into_inner(),
                Err(status) => return Ended::Failed(describe_status(&connection.label, &status)),
            };
            let source = match &scope {
                FlowScope::All => connection.label.clone(),
                FlowScope::Namespaces(names) => format!("{} ({} namespaces)", connection.label, names.len()),
            };
            if !self.out.state(FlowStreamState::Connected { source }).await {
                return Ended::Closed;
            }
            self.attempt = 0;
            self.backoff.restart();
            let mut flush = tokio::time::interval(FLUSH);
            let mut status = tokio::time::interval(STATUS_EVERY);
            status.tick().await;
            loop {
                tokio::select! {
                    message = flows.message() => match message {
                        Ok(Some(bytes)) => self.receive(bytes),
                        Ok(None) => return Ended::Failed(format!("{} ended the stream", connection.label)),
                        Err(status) => return Ended::Failed(describe_status(&connection.label, &status)),
                    },
                    _ = flush.tick() => if !self.out.flush() {
                        return Ended::Closed;
                    },
                    _ = status.tick() => {
                        let asked = tokio::time::timeout(Duration::from_secs(2), observer.server_status(ServerStatusRequest {}));
                        if let Ok(Ok(status)) = asked.await {
                            self.out.nodes(&status.into_inner());
                        }
                    },
                    changed = self.scope.changed() => {
                        if changed.is_err() {
                            return Ended::Closed;
                        }
                        self.out.flush();
                        break;
                    },
                    () = self.out.tx.closed() => return Ended::Closed,
                }
            }
        }
    }

    /// One streamed message: decoded, checked, deduplicated, batched.
    fn receive(&mut self, bytes: Bytes) {
        let health = &mut self.out.health;
        match decode(&bytes) {
            Decoded::Flow { flow, unknown_values } => {
                if unknown_values {
                    health.unknown_values += 1;
                    self.out.dirty = true;
                }
                if self.resume.admit(flow.time, resume::key(&bytes)) {
                    if let Some(recorder) = &self.client.recorder {
                        recorder.write(&flow);
                    }
                    self.out.flow(*flow);
                }
            }
            Decoded::Malformed => {
                health.malformed += 1;
                self.out.dirty = true;
            }
            Decoded::Lost(count) => {
                health.lost = health.lost.saturating_add(count);
                self.out.dirty = true;
            }
            Decoded::Nodes { names, unavailable } => {
                for node in names {
                    health.nodes_unavailable.retain(|n| *n != node);
                    if unavailable {
                        health.nodes_unavailable.push(node);
                    }
                }
                self.out.dirty = true;
            }
            Decoded::Other => {}
        }
    }
}

/// What one `GetFlows` message held.
#[derive(Debug)]
pub enum Decoded {
    Flow {
        flow: Box<Flow>,
        unknown_values: bool,
    },
    /// Hubble lost this many events before they could be sent.
    Lost(u64),
    /// Nodes Relay gained or lost.
    Nodes {
        names: Vec<String>,
        unavailable: bool,
    },
    /// Not a `GetFlowsResponse`, or a flow without a time.
    Malformed,
    /// A response type newer than this build.
    Other,
}

/// Decodes one message as the client does (the benchmarks time this).
pub fn decode(bytes: &[u8]) -> Decoded {
    let Ok(response) = GetFlowsResponse::decode(bytes) else {
        return Decoded::Malformed;
    };
    match response.response_types {
        Some(get_flows_response::ResponseTypes::Flow(mut wire)) => {
            if wire.time.is_none() {
                wire.time = response.time;
            }
            if wire.node_name.is_empty() {
                wire.node_name = response.node_name;
            }
            let unknown_values = !(0..=7).contains(&wire.verdict) || !(0..=2).contains(&wire.traffic_direction);
            match from_wire(&wire) {
                Some(flow) => Decoded::Flow {
                    flow: Box::new(flow),
                    unknown_values,
                },
                None => Decoded::Malformed,
            }
        }
        Some(get_flows_response::ResponseTypes::LostEvents(lost)) => Decoded::Lost(lost.num_events_lost),
        Some(get_flows_response::ResponseTypes::NodeStatus(status)) => Decoded::Nodes {
            unavailable: matches!(
                NodeState::try_from(status.state_change),
                Ok(NodeState::NodeUnavailable | NodeState::NodeError | NodeState::NodeGone)
            ),
            names: status.node_names,
        },
        None => Decoded::Other,
    }
}

/// Hubble's filters for a scope: either end in one of the namespaces.
fn filters(scope: &FlowScope) -> Vec<FlowFilter> {
    match scope {
        FlowScope::All => Vec::new(),
        FlowScope::Namespaces(names) => {
            let pods: Vec<String> = names.iter().map(|n| format!("{n}/")).collect();
            vec![
                FlowFilter {
                    source_pod: pods.clone(),
                    ..FlowFilter::default()
                },
                FlowFilter {
                    destination_pod: pods,
                    ..FlowFilter::default()
                },
            ]
        }
    }
}

pub(super) fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

pub(super) fn describe_status(peer: &str, status: &tonic::Status) -> String {
    let message = status.message();
    if message.is_empty() {
        format!("{peer}: {:?}", status.code())
    } else {
        format!("{peer}: {message}")
    }
}

/// What goes to the cockpit: batches of flows and the stream's health.
struct Outbox {
    tx: mpsc::Sender<FlowEvent>,
    batch: Vec<Flow>,
    health: StreamHealth,
    /// The health changed since it was last sent.
    dirty: bool,
}

impl Outbox {
    fn new(tx: mpsc::Sender<FlowEvent>) -> Outbox {
        Outbox {
            tx,
            batch: Vec::with_capacity(BATCH),
            health: StreamHealth::default(),
            dirty: false,
        }
    }

    fn flow(&mut self, flow: Flow) {
        self.batch.push(flow);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn nodes(&mut self, status: &super::proto::observer::ServerStatusResponse) {
        self.health.nodes_connected = status.num_connected_nodes;
        if status.num_unavailable_nodes.is_some() {
            self.health.nodes_unavailable = status.unavailable_nodes.clone();
            // Relay lists at most a few names; the count is the truth.
            let count = status.num_unavailable_nodes.unwrap_or(0) as usize;
            while self.health.nodes_unavailable.len() < count {
                let n = self.health.nodes_unavailable.len() + 1;
                self.health.nodes_unavailable.push(format!("(unnamed node {n})"));
            }
        }
        self.dirty = true;
    }

    /// Sends what is pending without waiting; false once the cockpit is gone.
    fn flush(&mut self) -> bool {
        use mpsc::error::TrySendError;
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            match self.tx.try_send(FlowEvent::Batch(batch)) {
                Ok(()) => {}
                Err(TrySendError::Full(FlowEvent::Batch(dropped))) => {
                    self.health.overflow = self.health.overflow.saturating_add(dropped.len() as u64);
                    self.dirty = true;
                }
                Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Closed(_)) => return false,
            }
        }
        if self.dirty {
            match self.tx.try_send(FlowEvent::Health(self.health.clone())) {
                Ok(()) => self.dirty = false,
                Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        true
    }

    /// A change of state is never dropped: it waits for room.
    async fn state(&mut self, state: FlowStreamState) -> bool {
        self.flush();
        self.tx.send(FlowEvent::State(state)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::{Direction, Endpoint, Protocol, Verdict};

    fn flow() -> Flow {
        Flow {
            time: Timestamp::UNIX_EPOCH,
            verdict: Verdict::Forwarded,
            drop_reason: None,
            direction: Direction::Ingress,
            source: Endpoint::default(),
            destination: Endpoint::default(),
            protocol: Protocol::Tcp,
            source_port: 1,
            destination_port: 2,
            is_reply: false,
            node: String::new(),
            destination_names: Vec::new(),
            denied_by: Vec::new(),
            icmp: None,
        }
    }

    #[test]
    fn a_full_channel_drops_the_batch_and_counts_it() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut out = Outbox::new(tx);
        for _ in 0..3 {
            out.flow(flow());
        }
        assert!(out.flush());
        // The channel is full: the next batch is dropped, not queued.
        out.flow(flow());
        out.flow(flow());
        assert!(out.flush());
        assert_eq!(out.health.overflow, 2);
        assert!(matches!(rx.try_recv(), Ok(FlowEvent::Batch(b)) if b.len() == 3));
        // With room again, the count reaches the cockpit.
        assert!(out.flush());
        assert!(matches!(rx.try_recv(), Ok(FlowEvent::Health(h)) if h.overflow == 2));
        drop(rx);
        out.flow(flow());
        assert!(!out.flush(), "a closed channel ends the stream");
    }

    #[test]
    fn a_scope_becomes_hubbles_namespace_filters() {
        assert!(filters(&FlowScope::All).is_empty());
        let f = filters(&FlowScope::Namespaces(vec!["a".into(), "b".into()]));
        // Either end in either namespace: two filters, ORed, as `hubble observe -n` sends.
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].source_pod, ["a/", "b/"]);
        assert_eq!(f[1].destination_pod, ["a/", "b/"]);
        assert!(f[0].destination_pod.is_empty() && f[1].source_pod.is_empty());
    }
}
