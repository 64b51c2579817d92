//! Prometheus: the drop and telemetry series the gate weighs, read through
//! the HTTP API. An unreachable or unconfigured Prometheus degrades the
//! evidence that needs it, nothing else.

pub mod client;
pub mod discover;
pub mod evidence;

pub use client::{PromError, Prometheus, Sample};
pub use evidence::{NodeDrops, PromEvidence, Queries};
