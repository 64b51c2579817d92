//! Suggested allow rules: the smallest CiliumNetworkPolicies that would let
//! dropped (or would-be-dropped) flows of one namespace through.
//!
//! Subjects and peers are named by their app-style label, never by pod name, so
//! a suggestion survives a rollout; peers in other namespaces are namespace-
//! qualified; outside the cluster, entities (host, kube-apiserver, world) or,
//! when Hubble saw the DNS name, `toFQDNs`. Ports are the pod's side of the
//! flow, as Cilium matches them after service translation.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::cluster::{PolicyKind, PolicyObject};
use crate::flows::{Direction, Flow, Protocol};
use crate::rollout::labels;

use super::engine::Identity;
use super::selector::POD_NAMESPACE_LABEL;

/// Labels that name a workload, best first.
const APP_LABELS: &[&str] = &["app.kubernetes.io/name", "app", "k8s-app", "name"];

/// Labels that change per pod or are Cilium's own: never part of a suggestion.
fn is_incidental(key: &str) -> bool {
    key.starts_with("io.kubernetes.")
        || key.starts_with("io.cilium.")
        || matches!(
            key,
            "pod-template-hash" | "controller-revision-hash" | "pod-template-generation"
        )
        || key.starts_with("statefulset.kubernetes.io/")
        || key.starts_with("batch.kubernetes.io/")
}

/// The labels that select a workload's pods.
fn workload_labels(identity: &Identity) -> BTreeMap<String, String> {
    if let Some((k, v)) = APP_LABELS
        .iter()
        .find_map(|k| identity.labels.get(*k).map(|v| (k.to_string(), v.clone())))
    {
        return BTreeMap::from([(k, v)]);
    }
    identity
        .labels
        .iter()
        .filter(|(k, _)| !is_incidental(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What a rule lets in or out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    Pods {
        namespace: Option<String>,
        labels: BTreeMap<String, String>,
    },
    Entity(&'static str),
    Fqdn(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum L4 {
    Port(u16, &'static str),
    Icmp(bool, u8),
}

/// Groups flows into rules: subject workload → direction → peer → ports.
type Grouped = BTreeMap<Vec<(String, String)>, BTreeMap<(bool, Peer), BTreeSet<L4>>>;

/// Recorded flows a policy dropped on `namespace`'s side, with the direction.
pub fn recorded_drops<'a>(namespace: &str, flows: impl IntoIterator<Item = &'a Flow>) -> Vec<(&'a Flow, Direction)> {
    use crate::flows::Verdict;
    flows
        .into_iter()
        .filter(|f| {
            matches!(f.verdict, Verdict::Dropped | Verdict::Audit) && f.drop_reason.is_none_or(|r| r.is_policy())
        })
        .filter_map(|f| on_side(namespace, f, f.direction))
        .collect()
}

/// Flows that enforcing `namespace` would drop on its side, per the engine.
pub fn would_drops<'a>(
    engine: &super::engine::Engine,
    namespace: &str,
    flows: impl IntoIterator<Item = &'a Flow>,
) -> Vec<(&'a Flow, Direction)> {
    let enforce = std::collections::BTreeSet::from([namespace.to_string()]);
    flows
        .into_iter()
        .filter_map(|f| {
            let v = engine.evaluate_enforcing(f, &enforce);
            if v.allowed {
                None
            } else {
                on_side(namespace, f, v.direction?)
            }
        })
        .collect()
}

/// The flow with its direction, when that direction is decided in `namespace`.
fn on_side<'a>(namespace: &str, flow: &'a Flow, direction: Direction) -> Option<(&'a Flow, Direction)> {
    match direction {
        Direction::Ingress if flow.destination.namespace == namespace => Some((flow, direction)),
        Direction::Egress if flow.source.namespace == namespace => Some((flow, direction)),
        _ => None,
    }
}

/// Suggests policies for `namespace` from flows dropped there, each with the
/// direction in which it was (or would be) dropped.
pub fn suggest<'a>(namespace: &str, drops: impl IntoIterator<Item = (&'a Flow, Direction)>) -> Vec<PolicyObject> {
    let mut grouped: Grouped = BTreeMap::new();
    for (flow, direction) in drops {
        let ingress = direction == Direction::Ingress;
        let (subject, peer) = if ingress {
            (Identity::of(&flow.destination), Identity::of(&flow.source))
        } else {
            (Identity::of(&flow.source), Identity::of(&flow.destination))
        };
        if subject.namespace.as_deref() != Some(namespace) {
            continue;
        }
        let peer = if peer.is_pod() {
            let peer_ns = peer.namespace.clone().filter(|ns| ns != namespace);
            Peer::Pods {
                namespace: peer_ns,
                labels: workload_labels(&peer),
            }
        } else if peer.has_reserved("kube-apiserver") {
            Peer::Entity("kube-apiserver")
        } else if peer.has_reserved("host") {
            Peer::Entity("host")
        } else if peer.has_reserved("remote-node") {
            Peer::Entity("remote-node")
        } else if peer.has_reserved("ingress") {
            // Cilium's Ingress and Gateway send to backends as this identity.
            Peer::Entity("ingress")
        } else if !ingress && let Some(name) = flow.destination_names.first() {
            Peer::Fqdn(name.trim_end_matches('.').to_ascii_lowercase())
        } else {
            Peer::Entity("world")
        };
        let l4 = match (flow.protocol, flow.icmp) {
            (Protocol::Tcp, _) => L4::Port(flow.destination_port, "TCP"),
            (Protocol::Udp, _) => L4::Port(flow.destination_port, "UDP"),
            (Protocol::Sctp, _) => L4::Port(flow.destination_port, "SCTP"),
            (Protocol::IcmpV4, Some(i)) => L4::Icmp(false, i.icmp_type),
            (Protocol::IcmpV6, Some(i)) => L4::Icmp(true, i.icmp_type),
            _ => continue,
        };
        let key: Vec<(String, String)> = workload_labels(&subject).into_iter().collect();
        grouped
            .entry(key)
            .or_default()
            .entry((ingress, peer))
            .or_default()
            .insert(l4);
    }
    grouped
        .into_iter()
        .map(|(subject, rules)| render(namespace, &subject, &rules))
        .collect()
}

fn render(namespace: &str, subject: &[(String, String)], rules: &BTreeMap<(bool, Peer), BTreeSet<L4>>) -> PolicyObject {
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    let mut fqdn = false;
    for ((is_ingress, peer), l4) in rules {
        let mut rule = serde_json::Map::new();
        let (endpoints, entities) = if *is_ingress {
            ("fromEndpoints", "fromEntities")
        } else {
            ("toEndpoints", "toEntities")
        };
        match peer {
            Peer::Pods {
                namespace: peer_ns,
                labels,
            } => {
                let mut match_labels: serde_json::Map<String, Value> = labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                if let Some(ns) = peer_ns {
                    match_labels.insert(format!("k8s:{POD_NAMESPACE_LABEL}"), Value::String(ns.clone()));
                }
                rule.insert(endpoints.into(), json!([{ "matchLabels": match_labels }]));
            }
            Peer::Entity(entity) => {
                rule.insert(entities.into(), json!([entity]));
            }
            Peer::Fqdn(name) => {
                fqdn = true;
                rule.insert("toFQDNs".into(), json!([{ "matchName": name }]));
            }
        }
        let ports: Vec<Value> = l4
            .iter()
            .filter_map(|l| match l {
                L4::Port(port, protocol) => Some(json!({"port": port.to_string(), "protocol": protocol})),
                L4::Icmp(..) => None,
            })
            .collect();
        if !ports.is_empty() {
            rule.insert("toPorts".into(), json!([{ "ports": ports }]));
        }
        let icmps: Vec<Value> = l4
            .iter()
            .filter_map(|l| match l {
                L4::Icmp(v6, t) => Some(json!({"type": t, "family": if *v6 { "IPv6" } else { "IPv4" }})),
                L4::Port(..) => None,
            })
            .collect();
        if !icmps.is_empty() {
            rule.insert("icmps".into(), json!([{ "fields": icmps }]));
        }
        if *is_ingress {
            ingress.push(Value::Object(rule))
        } else {
            egress.push(Value::Object(rule))
        }
    }
    let name = subject.first().map_or("pods".to_string(), |(_, v)| v.clone());
    let mut spec = serde_json::Map::new();
    spec.insert(
        "description".into(),
        Value::String(if fqdn {
            "suggested by tighten from dropped flows; toFQDNs needs the DNS baseline (DNS through Cilium's proxy)"
                .into()
        } else {
            "suggested by tighten from dropped flows".into()
        }),
    );
    let match_labels: serde_json::Map<String, Value> = subject
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    spec.insert("endpointSelector".into(), json!({ "matchLabels": match_labels }));
    // An allow must never isolate pods by itself: only the default-deny does.
    spec.insert("enableDefaultDeny".into(), json!({"ingress": false, "egress": false}));
    if !ingress.is_empty() {
        spec.insert("ingress".into(), Value::Array(ingress));
    }
    if !egress.is_empty() {
        spec.insert("egress".into(), Value::Array(egress));
    }
    PolicyObject {
        kind: PolicyKind::CiliumNetworkPolicy,
        name: format!("tighten-allow-{}", dns_label(&name)),
        namespace: Some(namespace.to_string()),
        labels: BTreeMap::from([
            (labels::MANAGED_BY.to_string(), labels::MANAGED_BY_TIGHTEN.to_string()),
            (labels::ROLE.to_string(), "app-allow".to_string()),
            ("tighten.dev/suggested".to_string(), "true".to_string()),
        ]),
        annotations: BTreeMap::new(),
        uid: None,
        resource_version: None,
        created: None,
        body: serde_json::Map::from_iter([("spec".to_string(), Value::Object(spec))]),
    }
}

/// A Kubernetes object name from a label value.
fn dns_label(value: &str) -> String {
    let cleaned: String = value
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let short: String = trimmed.chars().take(50).collect();
    if short.is_empty() { "pods".into() } else { short }
}

#[cfg(test)]
mod tests;
