//! Backfilling the ledger from Hubble's flow metrics in Prometheus, where the
//! metrics carry workload context (`hubble_flows_processed_total` with
//! `source_workload`/`destination_workload`): the pairs they show over a
//! window. Coarser than flows — no exact time, and ports only from
//! `hubble_port_distribution_total` by destination — so such rows are marked
//! [`Evidence::Metrics`](super::Evidence::Metrics).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::flows::{Direction, Protocol};
use crate::prometheus::{PromError, Prometheus};

use super::key::{Connection, Party};
use super::tally::{Seen, Tally};

/// The pairs Prometheus saw over `window` before `now`, one connection per
/// port the destination was seen on (port 0 when none is known).
pub async fn backfill(prometheus: &Prometheus, window: Duration, now: Timestamp) -> Result<Tally, PromError> {
    let range = format!("{}s", window.as_secs().max(60));
    let pairs = prometheus
        .query(&format!(
            "sum by (source_namespace, source_workload, destination_namespace, destination_workload, verdict) \
             (increase(hubble_flows_processed_total{{source_workload!=\"\",destination_workload!=\"\"}}[{range}])) > 0"
        ))
        .await?;
    let ports = prometheus
        .query(&format!(
            "sum by (destination_namespace, destination_workload, port, protocol) \
             (increase(hubble_port_distribution_total[{range}])) > 0"
        ))
        .await
        .unwrap_or_default();
    let mut by_destination: BTreeMap<(String, String), Vec<(u16, Protocol)>> = BTreeMap::new();
    for sample in &ports {
        let port = sample.label("port").parse::<u16>().unwrap_or(0);
        let protocol = match sample.label("protocol").to_ascii_uppercase().as_str() {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            _ => Protocol::Other,
        };
        by_destination
            .entry((
                sample.label("destination_namespace").to_string(),
                sample.label("destination_workload").to_string(),
            ))
            .or_default()
            .push((port, protocol));
    }
    let first = now - SignedDuration::try_from(window).unwrap_or(SignedDuration::ZERO);
    let mut tally = Tally::default();
    for sample in &pairs {
        let party = |ns: &str, workload: &str| Party {
            namespace: ns.to_string(),
            name: workload.to_string(),
        };
        let labels = |ns: &str, workload: &str| {
            vec![
                format!("k8s:app={workload}"),
                format!("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}"),
                format!("k8s:io.kubernetes.pod.namespace={ns}"),
            ]
        };
        let (sns, swl) = (sample.label("source_namespace"), sample.label("source_workload"));
        let (dns, dwl) = (
            sample.label("destination_namespace"),
            sample.label("destination_workload"),
        );
        let count = sample.value.round().max(1.0) as u64;
        let verdict = sample.label("verdict").to_ascii_uppercase();
        let destination_ports = by_destination
            .get(&(dns.to_string(), dwl.to_string()))
            .cloned()
            .unwrap_or_else(|| vec![(0, Protocol::Other)]);
        for (port, protocol) in destination_ports {
            let key = Connection {
                source: party(sns, swl),
                destination: party(dns, dwl),
                port,
                protocol,
                direction: Direction::Unknown,
                dns: String::new(),
            };
            let seen = Seen {
                first,
                last: now,
                count,
                forwarded: if verdict == "FORWARDED" { count } else { 0 },
                dropped: if verdict == "DROPPED" { count } else { 0 },
                audit: if verdict == "AUDIT" { count } else { 0 },
                drop_reason: None,
                nodes: Vec::new(),
                source_labels: labels(sns, swl),
                destination_labels: labels(dns, dwl),
            };
            tally.flows += count;
            tally
                .connections
                .entry(key)
                .and_modify(|s| s.merge(&seen))
                .or_insert(seen);
        }
    }
    Ok(tally)
}
