//! The would-drop preview over the whole soak: every connection the ledger
//! saw with an end in a namespace, judged by the policy engine as if that
//! namespace's default-deny were enforced. "Seen once at 03:00 last night"
//! is exactly what a ten-minute window misses.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::flows::{Direction, Endpoint, Flow, Verdict};
use crate::policy::engine::Engine;

use super::key::{Connection, Party};
use super::store::{Evidence, Record};

/// A connection the ledger saw that enforcing the namespace would drop.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakDrop {
    pub source: String,
    pub destination: String,
    pub port: u16,
    pub protocol: crate::flows::Protocol,
    /// Where enforcing would drop it.
    pub direction: Direction,
    pub dns: String,
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u64,
    /// From Hubble's metrics rather than flows: coarser (no exact port).
    pub coarse: bool,
}

/// The connections of `records` that enforcing `namespace` would drop there,
/// most recently seen first. A connection Hubble reported at both ends (an
/// egress and an ingress record) is listed once.
pub fn would_drop(engine: &Engine, namespace: &str, records: &[Record]) -> Vec<SoakDrop> {
    let enforce = BTreeSet::from([namespace.to_string()]);
    let mut found: BTreeMap<(String, String, u16, String, String), SoakDrop> = BTreeMap::new();
    for record in records {
        let flow = flow_of(record);
        let verdict = engine.evaluate_enforcing(&flow, &enforce);
        let Some(direction) = verdict.direction.filter(|_| !verdict.allowed) else {
            continue;
        };
        let decided_here = match direction {
            Direction::Egress => flow.source.namespace == namespace,
            Direction::Ingress => flow.destination.namespace == namespace,
            Direction::Unknown => false,
        };
        if !decided_here {
            continue;
        }
        let c = &record.connection;
        let key = (
            c.source.qualified(),
            c.destination.qualified(),
            c.port,
            c.protocol.name().to_string(),
            c.dns.clone(),
        );
        let seen = &record.seen;
        found
            .entry(key)
            .and_modify(|d| {
                d.first = d.first.min(seen.first);
                d.last = d.last.max(seen.last);
                d.count = d.count.max(seen.count);
            })
            .or_insert_with(|| SoakDrop {
                source: c.source.qualified(),
                destination: c.destination.qualified(),
                port: c.port,
                protocol: c.protocol,
                direction,
                dns: c.dns.clone(),
                first: seen.first,
                last: seen.last,
                count: seen.count,
                coarse: record.evidence == Evidence::Metrics,
            });
    }
    let mut drops: Vec<SoakDrop> = found.into_values().collect();
    drops.sort_by_key(|d| std::cmp::Reverse(d.last));
    drops
}

/// A flow that stands for a ledger connection, as the engine needs it.
pub fn flow_of(record: &Record) -> Flow {
    let Connection {
        source,
        destination,
        port,
        protocol,
        direction,
        dns,
    } = &record.connection;
    Flow {
        time: record.seen.last,
        verdict: Verdict::Forwarded,
        drop_reason: None,
        direction: *direction,
        source: endpoint(source, &record.seen.source_labels),
        destination: endpoint(destination, &record.seen.destination_labels),
        protocol: *protocol,
        source_port: 40_000,
        destination_port: *port,
        is_reply: false,
        node: record.seen.nodes.first().cloned().unwrap_or_default(),
        destination_names: if dns.is_empty() { Vec::new() } else { vec![dns.clone()] },
        denied_by: Vec::new(),
        icmp: None,
    }
}

fn endpoint(party: &Party, labels: &[String]) -> Endpoint {
    let mut labels = labels.to_vec();
    let mut ip = String::new();
    if party.namespace.is_empty() {
        if let Some(bucket) = party.name.strip_prefix("world ") {
            // An address inside the bucket stands for the real ones.
            let net = bucket.split('/').next().unwrap_or_default();
            ip = match net.strip_suffix("::") {
                Some(prefix) => format!("{prefix}::1"),
                None => match net.rsplit_once('.') {
                    Some((head, _)) => format!("{head}.1"),
                    None => String::new(),
                },
            };
            if !labels.iter().any(|l| l.starts_with("reserved:")) {
                labels.push("reserved:world".into());
            }
        } else if !labels.iter().any(|l| l.starts_with("reserved:")) {
            labels.push(format!("reserved:{}", party.name));
        }
    }
    Endpoint {
        namespace: party.namespace.clone(),
        workload: if party.namespace.is_empty() {
            String::new()
        } else {
            party.name.clone()
        },
        labels,
        ip,
        ..Endpoint::default()
    }
}
