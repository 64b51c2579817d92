//! The offline subcommands (`simulate`, ...): they work on files, not on a
//! cluster, so they run anywhere and script well. Each returns its exit code.

pub mod act;
pub mod export;
pub mod ledger;
pub mod lint;
pub mod observe;
pub mod pipe;
pub mod replay;
pub mod session;
pub mod simulate;
pub mod status;
pub mod suggest;

/// How a command prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    #[default]
    Table,
    Json,
}

/// Exit codes shared by the commands.
pub mod exit {
    /// Done; nothing to report.
    pub const OK: u8 = 0;
    /// Done, and something was found (drops, error findings).
    pub const FOUND: u8 = 1;
    /// Bad input: a file that cannot be read.
    pub const BAD_INPUT: u8 = 2;
    /// The cluster cannot be read (cluster commands).
    pub const UNREACHABLE: u8 = 3;
}
