//! Flows: the domain type, bounded per-namespace statistics, and the source
//! trait the Hubble client implements.

pub mod aggregate;
pub mod file;
pub mod flow;
pub mod window;

use tokio::sync::{mpsc, watch};

pub use aggregate::{DropPeer, NamespaceTraffic, Side, Traffic};
pub use flow::{
    Direction, DropReason, Endpoint, Flow, Icmp, Protocol, SharedFlow, SharedFlowList, Verdict, policy_parts,
    qualified_policy,
};

/// Health of the flow stream, shown in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowStreamState {
    Connecting,
    Connected {
        source: String,
    },
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// No flow source can be reached; the reason says why.
    Unavailable(String),
}

/// What the stream has lost or could not read, and the nodes behind it: the
/// caveats an operator must see before trusting a quiet drop count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamHealth {
    /// Nodes Hubble Relay reaches, when it says.
    pub nodes_connected: Option<u32>,
    /// Nodes Hubble Relay cannot reach: their flows are missing.
    pub nodes_unavailable: Vec<String>,
    /// Events Hubble reported lost (ring buffers, slow queues).
    pub lost: u64,
    /// Flows tighten dropped because the cockpit fell behind the stream.
    pub overflow: u64,
    /// Messages that could not be decoded, and flows without a time.
    pub malformed: u64,
    /// Flows carrying enum values newer than this build (read as unknown).
    pub unknown_values: u64,
}

/// What a flow source pushes to the cockpit.
#[derive(Debug, Clone)]
pub enum FlowEvent {
    Batch(Vec<Flow>),
    State(FlowStreamState),
    Health(StreamHealth),
}

/// Which flows the cockpit asks for: the namespaces in view, or all of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FlowScope {
    #[default]
    All,
    /// Flows with either end in one of these namespaces (sorted, deduplicated).
    Namespaces(Vec<String>),
}

/// What a source still holds since a moment, read once.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Where it came from, as the status line names it.
    pub source: String,
    pub flows: Vec<Flow>,
    /// Events the source reported lost in that time.
    pub lost: u64,
    /// Messages that could not be decoded.
    pub malformed: u64,
}

/// A stream of flows (Hubble Relay, a replayed recording, the demo's traffic).
#[async_trait::async_trait]
pub trait FlowSource: Send + Sync {
    /// Streams flows of `scope`; a change of scope takes effect without a
    /// reconnect and without counting a flow twice.
    fn subscribe(&self, scope: watch::Receiver<FlowScope>) -> mpsc::Receiver<FlowEvent>;

    /// The flows since `since`, read once without following (one-shot
    /// commands); the error says why there are none.
    async fn history(&self, since: jiff::Timestamp) -> Result<History, String>;
}

/// A source that cannot be read (a broken recording): it says why on screen
/// instead of showing an empty, healthy-looking stream.
pub struct Unavailable(pub String);

#[async_trait::async_trait]
impl FlowSource for Unavailable {
    async fn history(&self, _since: jiff::Timestamp) -> Result<History, String> {
        Err(self.0.clone())
    }

    fn subscribe(&self, _scope: watch::Receiver<FlowScope>) -> mpsc::Receiver<FlowEvent> {
        let (tx, rx) = mpsc::channel(1);
        let reason = self.0.clone();
        tokio::spawn(async move {
            if tx
                .send(FlowEvent::State(FlowStreamState::Unavailable(reason)))
                .await
                .is_ok()
            {
                tx.closed().await;
            }
        });
        rx
    }
}
