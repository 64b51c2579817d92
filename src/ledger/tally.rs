//! Flows counted in memory, by connection, between two writes to the store.
//!
//! Ingest is a hash-map update per flow; the store sees one upsert per
//! connection per write, however many flows it carried.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::flows::{Flow, Verdict};

use super::key::{Connection, lasting_labels};

/// Nodes remembered per connection: enough to say where, bounded.
pub const MAX_NODES: usize = 8;

/// What was seen of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u64,
    pub forwarded: u64,
    pub dropped: u64,
    pub audit: u64,
    /// The reason of the latest drop (Cilium's drop reason code).
    pub drop_reason: Option<u32>,
    /// Nodes that reported it, at most [`MAX_NODES`].
    pub nodes: Vec<String>,
    /// The ends' labels, as the policy engine needs them to judge the
    /// connection again (the latest seen).
    pub source_labels: Vec<String>,
    pub destination_labels: Vec<String>,
}

impl Seen {
    fn new(flow: &Flow) -> Seen {
        Seen {
            first: flow.time,
            last: flow.time,
            count: 0,
            forwarded: 0,
            dropped: 0,
            audit: 0,
            drop_reason: None,
            nodes: Vec::new(),
            source_labels: lasting_labels(&flow.source),
            destination_labels: lasting_labels(&flow.destination),
        }
    }

    fn add(&mut self, flow: &Flow) {
        self.first = self.first.min(flow.time);
        self.last = self.last.max(flow.time);
        self.count += 1;
        match flow.verdict {
            Verdict::Dropped | Verdict::Error => {
                self.dropped += 1;
                self.drop_reason = flow.drop_reason.map(|r| r.0);
            }
            Verdict::Audit => self.audit += 1,
            _ => self.forwarded += 1,
        }
        if !flow.node.is_empty() && self.nodes.len() < MAX_NODES && !self.nodes.contains(&flow.node) {
            self.nodes.push(flow.node.clone());
        }
    }

    /// Folds a later tally of the same connection into this one.
    pub fn merge(&mut self, other: &Seen) {
        self.first = self.first.min(other.first);
        if other.last >= self.last {
            self.source_labels.clone_from(&other.source_labels);
            self.destination_labels.clone_from(&other.destination_labels);
            if other.drop_reason.is_some() {
                self.drop_reason = other.drop_reason;
            }
        }
        self.last = self.last.max(other.last);
        self.count += other.count;
        self.forwarded += other.forwarded;
        self.dropped += other.dropped;
        self.audit += other.audit;
        for node in &other.nodes {
            if self.nodes.len() < MAX_NODES && !self.nodes.contains(node) {
                self.nodes.push(node.clone());
            }
        }
    }
}

/// Connections counted since the last write.
#[derive(Debug, Default)]
pub struct Tally {
    pub connections: HashMap<Connection, Seen>,
    /// Flows counted (replies not included).
    pub flows: u64,
}

impl Tally {
    /// Counts one flow; replies are skipped.
    pub fn add(&mut self, flow: &Flow) {
        let Some(key) = Connection::of(flow) else { return };
        self.flows += 1;
        self.connections.entry(key).or_insert_with(|| Seen::new(flow)).add(flow);
    }

    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    /// Hands over what was counted, leaving the tally empty.
    pub fn take(&mut self) -> Tally {
        std::mem::take(self)
    }
}
