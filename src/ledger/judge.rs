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
    would_drop_flows(engine, namespace, records)
        .into_iter()
        .map(|(drop, _)| drop)
        .collect()
}

/// As [`would_drop`], each with a flow that stands for it, for suggestions.
pub fn would_drop_flows(engine: &Engine, namespace: &str, records: &[Record]) -> Vec<(SoakDrop, Flow)> {
    let enforce = BTreeSet::from([namespace.to_string()]);
    // Keyed without the direction: a connection both ends reported is one.
    type Key = (String, String, u16, String, String);
    let mut found: BTreeMap<Key, (SoakDrop, Flow)> = BTreeMap::new();
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
            .and_modify(|(d, _)| {
                d.first = d.first.min(seen.first);
                d.last = d.last.max(seen.last);
                d.count = d.count.max(seen.count);
            })
            .or_insert_with(|| {
                let drop = SoakDrop {
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
                };
                (drop, flow.clone())
            });
    }
    let mut drops: Vec<(SoakDrop, Flow)> = found.into_values().collect();
    drops.sort_by_key(|(d, _)| std::cmp::Reverse(d.last));
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

/// A declared path that enforcing the namespace would drop there and that
/// nothing exercised over the soak, with the allow that lets it through.
#[derive(Debug, Clone, PartialEq)]
pub struct Unexercised {
    pub path: crate::declared::DeclaredPath,
    pub direction: Direction,
    /// The smallest policy that allows it, as `tighten suggest` writes one.
    pub allow: Option<crate::cluster::PolicyObject>,
}

impl Unexercised {
    /// The allow as one line of JSON (which YAML reads too): the suggested
    /// spec, `enableDefaultDeny: false` kept, as without it the allow would
    /// put its pods under default-deny the moment it is applied.
    pub fn allow_line(&self) -> String {
        match self.allow.as_ref().and_then(|p| p.spec()) {
            Some(spec) => {
                let mut spec = spec.clone();
                if let Some(fields) = spec.as_object_mut() {
                    fields.remove("description");
                }
                spec.to_string()
            }
            None => "(no allow can be suggested)".into(),
        }
    }

    /// The allow in words, for a table cell: `ingress to app=hook from
    /// kube-apiserver on 9443/TCP`.
    pub fn allow_summary(&self) -> String {
        let Some(spec) = self.allow.as_ref().and_then(|p| p.spec()) else {
            return "(no allow can be suggested)".into();
        };
        let labels = |v: Option<&serde_json::Value>| {
            let pairs: Vec<String> = v
                .and_then(|m| m.as_object())
                .into_iter()
                .flatten()
                .map(|(k, v)| match k.strip_prefix("k8s:") {
                    Some("io.kubernetes.pod.namespace") => format!("namespace {}", v.as_str().unwrap_or_default()),
                    _ => format!("{k}={}", v.as_str().unwrap_or_default()),
                })
                .collect();
            pairs.join(",")
        };
        let subject = labels(spec.pointer("/endpointSelector/matchLabels"));
        let (direction, rule, to_or_from, peer_key, entity_key) = if spec.get("ingress").is_some() {
            (
                "ingress",
                spec.pointer("/ingress/0"),
                "from",
                "fromEndpoints",
                "fromEntities",
            )
        } else {
            ("egress", spec.pointer("/egress/0"), "to", "toEndpoints", "toEntities")
        };
        let Some(rule) = rule else {
            return spec.to_string();
        };
        let peer = match (
            rule.pointer(&format!("/{entity_key}/0")),
            rule.pointer(&format!("/{peer_key}/0")),
        ) {
            (Some(entity), _) => entity.as_str().unwrap_or_default().to_string(),
            (None, Some(selector)) => labels(selector.get("matchLabels")),
            (None, None) => "?".into(),
        };
        let ports: Vec<String> = rule
            .pointer("/toPorts/0/ports")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.get("port").and_then(|v| v.as_str()).unwrap_or("*"),
                    p.get("protocol").and_then(|v| v.as_str()).unwrap_or("ANY")
                )
            })
            .collect();
        format!(
            "{direction} {} {subject} {to_or_from} {peer} on {}",
            if direction == "ingress" { "to" } else { "of" },
            ports.join(",")
        )
    }
}

/// The declared paths of one namespace, judged as if it were enforced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeclaredVerdict {
    /// Paths judged.
    pub judged: usize,
    /// Would be dropped and never seen over the soak: the gate's finding.
    pub unexercised: Vec<Unexercised>,
    /// Would be dropped but seen, so already in the soak's would-drops.
    pub dropped_seen: usize,
    pub unjudged: Vec<crate::declared::Unjudged>,
}

/// Judges `paths` against `engine` as if `namespace` were enforced, and
/// looks each one up among the connections the ledger saw (`records`).
pub fn judge_declared(
    engine: &Engine,
    namespace: &str,
    paths: &crate::declared::NamespacePaths,
    records: &[Record],
) -> DeclaredVerdict {
    let enforce = BTreeSet::from([namespace.to_string()]);
    let seen: std::collections::HashSet<(&Party, &Party, u16, crate::flows::Protocol)> = records
        .iter()
        .map(|r| {
            let c = &r.connection;
            (&c.source, &c.destination, c.port, c.protocol)
        })
        .collect();
    let mut verdict = DeclaredVerdict {
        judged: paths.paths.len(),
        unjudged: paths.unjudged.clone(),
        ..DeclaredVerdict::default()
    };
    for path in &paths.paths {
        let mut dropped = None;
        let mut exercised = false;
        for source in &path.sources {
            let flow = path.flow(source);
            exercised |= seen.contains(&(
                &Party::of(&flow.source),
                &Party::of(&flow.destination),
                flow.destination_port,
                flow.protocol,
            ));
            let v = engine.evaluate_enforcing(&flow, &enforce);
            let here = v.direction.filter(|d| {
                !v.allowed
                    && match d {
                        Direction::Egress => flow.source.namespace == namespace,
                        Direction::Ingress => flow.destination.namespace == namespace,
                        Direction::Unknown => false,
                    }
            });
            match here {
                // One sender getting through is the path working.
                None => {
                    dropped = None;
                    break;
                }
                Some(direction) => {
                    dropped.get_or_insert((flow, direction));
                }
            }
        }
        let Some((flow, direction)) = dropped else {
            continue;
        };
        if exercised {
            verdict.dropped_seen += 1;
            continue;
        }
        let allow = crate::policy::suggest::suggest(namespace, [(&flow, direction)])
            .into_iter()
            .next();
        verdict.unexercised.push(Unexercised {
            path: path.clone(),
            direction,
            allow,
        });
    }
    verdict
}
