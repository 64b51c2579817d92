//! Flows: the domain type, bounded per-namespace statistics, and the source
//! trait the demo cluster (and later Hubble) implement.

pub mod aggregate;
pub mod file;
pub mod flow;
pub mod window;

use tokio::sync::mpsc;

pub use aggregate::{DropPeer, NamespaceTraffic, Side, Traffic};
pub use flow::{Direction, DropReason, Endpoint, Flow, Icmp, Protocol, SharedFlow, SharedFlowList, Verdict};

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

/// What a flow source pushes to the cockpit.
#[derive(Debug, Clone)]
pub enum FlowEvent {
    Batch(Vec<Flow>),
    State(FlowStreamState),
}

/// A stream of flows (the demo generator, a Hubble Relay, a recording).
pub trait FlowSource: Send + Sync {
    fn subscribe(&self) -> mpsc::Receiver<FlowEvent>;
}
