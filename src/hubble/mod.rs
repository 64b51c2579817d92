//! Hubble: the observer API (tighten's own .proto files, compiled at build time)
//! and conversions between its flows and the cockpit's.

pub mod convert;
pub mod filter;
pub mod replay;

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
