//! tighten judged by Cilium's own code, built from its Go module: the policy
//! engine (`policy.LookupFlow`) as a differential oracle for tighten's verdicts,
//! and the real hubble CLI as a client of `tighten replay` and a reader of
//! tighten's recordings.

mod differential;
mod generate;
mod hubble_cli;
mod one_sided;
#[path = "../common/policy_variants.rs"]
mod policy_variants;
#[path = "../common/replay_process.rs"]
mod replay_process;
mod tools;
mod validity;
