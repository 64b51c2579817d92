//! Feeding the ledger from a flow stream: what `tighten observe` and the
//! cockpit do with each stream event, apart from the I/O that drives them.
//!
//! Flows are counted in memory and written every few seconds. A flow no
//! later than the newest one the ledger held when the observer started is
//! skipped, so a restarted observer (whose stream starts before where it
//! stopped) never counts a flow twice. While the stream is connected, the
//! span it covers is extended at each write, so coverage knows when nobody
//! was looking.

use jiff::Timestamp;

use crate::flows::{FlowEvent, FlowStreamState};

use super::store::{Evidence, Ledger, LedgerError};
use super::tally::Tally;

/// Figures since the observer started, for its hourly log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub flows: u64,
    /// Flows already in the ledger (a resumed stream's overlap).
    pub skipped: u64,
    pub writes: u64,
    pub reconnects: u64,
}

/// The ledger's side of a flow stream.
pub struct Observer {
    ledger: Ledger,
    tally: Tally,
    /// The newest flow in the ledger when the observer started: a resumed
    /// stream's flows up to it are counted already. (Within one run the
    /// stream itself never repeats a flow, and nodes' flows arrive a little
    /// out of order, so the mark does not move.)
    watermark: Option<Timestamp>,
    /// When the current connected stretch began.
    connected_since: Option<Timestamp>,
    /// Names the observer in the coverage spans (`observe@host`, `cockpit`).
    source: String,
    /// Whether the stream carries every namespace's flows: a narrowed stream
    /// is recorded, but does not count as observing.
    in_scope: bool,
    /// Nodes Hubble Relay says it cannot reach: their flows are missing, so
    /// while there are any the cluster is not observed.
    nodes_missing: Vec<String>,
    pub counts: Counts,
}

impl Observer {
    pub fn new(ledger: Ledger, source: String) -> Result<Observer, LedgerError> {
        let watermark = ledger.newest_flow()?;
        Ok(Observer {
            ledger,
            tally: Tally::default(),
            watermark,
            connected_since: None,
            source,
            in_scope: true,
            nodes_missing: Vec::new(),
            counts: Counts::default(),
        })
    }

    /// Takes one stream event at `now`.
    pub fn on_event(&mut self, event: &FlowEvent, now: Timestamp) -> Result<(), LedgerError> {
        match event {
            FlowEvent::Batch(flows) => {
                // Flows arriving count the stream as connected, whatever
                // state was last reported.
                if self.covering() {
                    self.connected_since.get_or_insert(now);
                }
                for flow in flows {
                    if self.watermark.is_some_and(|w| flow.time <= w) {
                        self.counts.skipped += 1;
                        continue;
                    }
                    self.counts.flows += 1;
                    self.tally.add(flow);
                }
            }
            FlowEvent::State(FlowStreamState::Connected { .. }) => {
                if self.covering() {
                    self.connected_since.get_or_insert(now);
                }
            }
            FlowEvent::State(_) => {
                // The stretch ends here: record it, then nothing until the
                // stream is back.
                if self.connected_since.is_some() {
                    self.counts.reconnects += 1;
                }
                self.flush(now)?;
                self.connected_since = None;
            }
            FlowEvent::Health(health) => {
                if health.nodes_unavailable != self.nodes_missing {
                    let before = self.covering();
                    self.nodes_missing.clone_from(&health.nodes_unavailable);
                    self.changed(before, now)?;
                }
            }
        }
        Ok(())
    }

    /// Whether the stream now observes the whole cluster.
    fn covering(&self) -> bool {
        self.in_scope && self.nodes_missing.is_empty()
    }

    /// Nodes whose flows are missing now.
    pub fn nodes_missing(&self) -> &[String] {
        &self.nodes_missing
    }

    /// Ends or starts the observed span when coverage changed.
    fn changed(&mut self, before: bool, now: Timestamp) -> Result<(), LedgerError> {
        let after = self.covering();
        if before == after {
            return Ok(());
        }
        self.flush(now)?;
        self.connected_since = after.then_some(now);
        Ok(())
    }

    /// Whether the stream now carries every namespace (the cockpit narrows
    /// it to the namespaces in view). The observed span ends while it does not.
    pub fn set_covering(&mut self, covering: bool, now: Timestamp) -> Result<(), LedgerError> {
        let before = self.covering();
        self.in_scope = covering;
        self.changed(before, now)
    }

    /// Writes what was counted, and extends the observed span to `now`.
    pub fn flush(&mut self, now: Timestamp) -> Result<(), LedgerError> {
        if !self.tally.is_empty() {
            let tally = self.tally.take();
            self.ledger.write(&tally, Evidence::Flows)?;
            self.counts.writes += 1;
        }
        if let Some(since) = self.connected_since {
            self.ledger.observed(&self.source, since, now)?;
        }
        Ok(())
    }

    pub fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledger
    }
}
