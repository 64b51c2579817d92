//! Hubble: the observer API (tighten's own .proto files, compiled at build
//! time), the client the cockpit reads flows with, the server that replays
//! recordings, and the recording format.

pub mod client;
pub mod codec;
pub mod convert;
pub mod filter;
pub mod history;
pub mod jsonpb;
pub mod portforward;
pub mod record;
pub mod replay;
pub mod resume;
pub mod server;

/// Generated from `proto/`: the subset of Hubble's API tighten speaks.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    pub mod flow {
        tonic::include_proto!("flow");
    }
    pub mod relay {
        tonic::include_proto!("relay");
    }
    pub mod observer {
        tonic::include_proto!("observer");
    }
}
