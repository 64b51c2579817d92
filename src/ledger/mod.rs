//! The connection ledger: every distinct connection Hubble showed, kept for
//! the whole soak (and longer), so the gate and the preview weigh what
//! happened over days, not the last minutes the cockpit streamed.
//!
//! [`key`] says what one connection is, [`tally`] counts flows in memory,
//! [`store`] keeps them in a SQLite file per cluster context, and
//! [`coverage`] says which part of a window was observed at all.

pub mod coverage;
pub mod feed;
pub mod judge;
pub mod key;
pub mod metrics;
pub mod observer;
pub mod store;
pub mod tally;

pub use coverage::{Coverage, Span, coverage, describe};
pub use feed::LedgerFeed;
pub use judge::{SoakDrop, would_drop};
pub use key::{Connection, Party};
pub use observer::{Counts, Observer};
pub use store::{Evidence, Ledger, LedgerError, Record, Summary};
pub use tally::{Seen, Tally};

/// The ledger file of a cluster context under the data directory.
pub fn path_for(data_dir: &std::path::Path, context: &str) -> std::path::PathBuf {
    let safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    data_dir.join("ledger").join(format!("{safe}.sqlite"))
}

#[cfg(test)]
mod tests;
