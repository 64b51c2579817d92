//! The policy engine: decides flows as Cilium would, from the policies alone.
//!
//! Egress is decided at the source pod, ingress at the destination pod. A pod no
//! rule selects in a direction is allowed everything there; once selected, it is
//! in default-deny unless every selecting rule sets `enableDefaultDeny` false;
//! deny rules beat allow rules; replies are not subject to policy.
//!
//! Not simulated (see the README): L7 rules (judged at L4: the port is allowed),
//! named ports (they never match: the pod's ports are not known), `toServices`,
//! `fromRequires`/`toRequires`, groups, node selectors (host policies), CIDR
//! groups, and `policy-cidr-match-mode` other than the default.

pub mod identity;

use std::collections::{BTreeSet, HashMap};

use crate::flows::{Direction, Flow, Protocol};

use super::model::*;
use super::parse::ParsedPolicy;

pub use identity::Identity;

/// Why a flow got its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// No rule selects the pod in this direction.
    DefaultAllow,
    AllowedByRule,
    DefaultDeny,
    DeniedByRule,
    /// Replies of allowed connections are not subject to policy.
    Reply,
    /// The node's own stack reaching its pods: Cilium in Kubernetes always
    /// allows it (`allow-localhost`), whatever the policies say.
    Localhost,
}

/// The decision for one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowVerdict {
    pub allowed: bool,
    /// The direction that decided a drop (or allowed by rule).
    pub direction: Option<Direction>,
    pub reason: Reason,
    /// The policies that decided.
    pub policies: Vec<PolicyRef>,
    /// Parts of the matching rules tighten judged approximately (L7 at L4...).
    pub approximations: Vec<&'static str>,
}

/// A rule with where it came from.
struct IndexedRule {
    rule: Rule,
    policy: PolicyRef,
    default_deny_policy: bool,
}

/// Policies indexed by the namespace of the pods they can select, so a verdict
/// only looks at the rules that could apply.
#[derive(Default)]
pub struct Engine {
    rules: Vec<IndexedRule>,
    by_namespace: HashMap<String, Vec<usize>>,
    clusterwide: Vec<usize>,
    /// Namespaces whose default-deny is treated as enforced (the preview).
    enforce: BTreeSet<String>,
}

impl Engine {
    pub fn new(policies: impl IntoIterator<Item = ParsedPolicy>) -> Engine {
        let mut engine = Engine::default();
        for parsed in policies {
            for rule in parsed.policy.rules {
                let index = engine.rules.len();
                match &rule.subject.namespace {
                    Some(ns) => engine.by_namespace.entry(ns.clone()).or_default().push(index),
                    None => engine.clusterwide.push(index),
                }
                engine.rules.push(IndexedRule {
                    rule,
                    policy: parsed.policy.reference.clone(),
                    default_deny_policy: parsed.is_default_deny,
                });
            }
        }
        engine
    }

    /// Treat the tighten default-deny of these namespaces as enforced.
    pub fn enforcing(mut self, namespaces: impl IntoIterator<Item = String>) -> Engine {
        self.enforce = namespaces.into_iter().collect();
        self
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Decides one flow.
    pub fn evaluate(&self, flow: &Flow) -> FlowVerdict {
        self.evaluate_enforcing(flow, &self.enforce)
    }

    /// Decides one flow with the default-deny of `enforce`'s namespaces treated
    /// as enforced (instead of the engine's own set).
    pub fn evaluate_enforcing(&self, flow: &Flow, enforce: &BTreeSet<String>) -> FlowVerdict {
        if flow.is_reply {
            return FlowVerdict {
                allowed: true,
                direction: None,
                reason: Reason::Reply,
                policies: Vec::new(),
                approximations: Vec::new(),
            };
        }
        let source = Identity::of(&flow.source);
        let destination = Identity::of(&flow.destination);
        let egress = source
            .is_pod()
            .then(|| self.decide(&source, &destination, flow, Direction::Egress, enforce));
        if let Some(v) = egress.as_ref().filter(|v| !v.allowed) {
            return v.clone();
        }
        let ingress = destination
            .is_pod()
            .then(|| self.decide(&destination, &source, flow, Direction::Ingress, enforce));
        // Kubernetes demands that a node reaches its own pods (kubelet probes),
        // so Cilium allows ingress from the local host ahead of any allow or
        // default-deny; only an explicit deny rule still stops it.
        let ingress = match ingress {
            Some(v) if !v.allowed && v.reason != Reason::DeniedByRule && source.has_reserved("host") => {
                Some(FlowVerdict {
                    allowed: true,
                    direction: Some(Direction::Ingress),
                    reason: Reason::Localhost,
                    policies: Vec::new(),
                    approximations: Vec::new(),
                })
            }
            other => other,
        };
        if let Some(v) = ingress.as_ref().filter(|v| !v.allowed) {
            return v.clone();
        }
        // Allowed: by rule if either side had one, else by the localhost
        // exception, else by default.
        let localhost = ingress.clone().filter(|v| v.reason == Reason::Localhost);
        let mut allowed: Vec<FlowVerdict> = [egress, ingress]
            .into_iter()
            .flatten()
            .filter(|v| v.reason == Reason::AllowedByRule)
            .collect();
        if let (true, Some(localhost)) = (allowed.is_empty(), localhost) {
            return localhost;
        }
        match allowed.len() {
            0 => FlowVerdict {
                allowed: true,
                direction: None,
                reason: Reason::DefaultAllow,
                policies: Vec::new(),
                approximations: Vec::new(),
            },
            1 => allowed.remove(0),
            _ => {
                let mut merged = allowed.remove(0);
                for v in allowed {
                    merged.policies.extend(v.policies);
                    merged.approximations.extend(v.approximations);
                }
                merged.direction = None;
                merged.policies.sort();
                merged.policies.dedup();
                merged
            }
        }
    }

    /// One side of a flow alone: egress at its source or ingress at its
    /// destination (`None` when that end is not a pod, so no policy decides
    /// there), with the default-deny of `enforce`'s namespaces treated as
    /// enforced. Lint asks each side apart to find an allow that the other
    /// side lacks.
    pub fn side(&self, flow: &Flow, direction: Direction, enforce: &BTreeSet<String>) -> Option<FlowVerdict> {
        let source = Identity::of(&flow.source);
        let destination = Identity::of(&flow.destination);
        match direction {
            Direction::Egress => source
                .is_pod()
                .then(|| self.decide(&source, &destination, flow, Direction::Egress, enforce)),
            Direction::Ingress => destination
                .is_pod()
                .then(|| self.decide(&destination, &source, flow, Direction::Ingress, enforce)),
            Direction::Unknown => None,
        }
    }

    /// The verdict of `direction` at `subject` for traffic with `peer`.
    fn decide(
        &self,
        subject: &Identity,
        peer: &Identity,
        flow: &Flow,
        direction: Direction,
        enforce: &BTreeSet<String>,
    ) -> FlowVerdict {
        let ingress = direction == Direction::Ingress;
        let candidates = subject
            .namespace
            .as_ref()
            .and_then(|ns| self.by_namespace.get(ns))
            .into_iter()
            .flatten()
            .chain(self.clusterwide.iter())
            .map(|&i| &self.rules[i])
            .filter(|r| if ingress { r.rule.has_ingress } else { r.rule.has_egress })
            .filter(|r| selects(&r.rule.subject, subject));
        let mut selecting = Vec::new();
        let (mut denied_by, mut allowed_by, mut approximations) = (Vec::new(), Vec::new(), Vec::new());
        let mut default_deny = Vec::new();
        for r in candidates {
            selecting.push(&r.policy);
            let (allows, denies) = if ingress {
                (&r.rule.ingress, &r.rule.ingress_deny)
            } else {
                (&r.rule.egress, &r.rule.egress_deny)
            };
            if denies.iter().any(|p| peer_rule_matches(p, peer, flow, direction)) {
                denied_by.push(r.policy.clone());
            }
            if let Some(p) = allows.iter().find(|p| peer_rule_matches(p, peer, flow, direction)) {
                allowed_by.push(r.policy.clone());
                if p.has_l7 {
                    approximations.push("L7 rules are judged at L4");
                }
            }
            let setting = if ingress {
                r.rule.default_deny.ingress
            } else {
                r.rule.default_deny.egress
            };
            let enforced = r.default_deny_policy && subject.namespace.as_ref().is_some_and(|ns| enforce.contains(ns));
            if enforced || setting.unwrap_or(true) {
                default_deny.push(r.policy.clone());
            }
        }
        let verdict = |allowed, reason, mut policies: Vec<PolicyRef>, approximations| {
            policies.sort();
            policies.dedup();
            FlowVerdict {
                allowed,
                direction: Some(direction),
                reason,
                policies,
                approximations,
            }
        };
        if selecting.is_empty() {
            return FlowVerdict {
                allowed: true,
                direction: None,
                reason: Reason::DefaultAllow,
                policies: Vec::new(),
                approximations: Vec::new(),
            };
        }
        if !denied_by.is_empty() {
            return verdict(false, Reason::DeniedByRule, denied_by, Vec::new());
        }
        if !allowed_by.is_empty() {
            return verdict(true, Reason::AllowedByRule, allowed_by, approximations);
        }
        if !default_deny.is_empty() {
            return verdict(false, Reason::DefaultDeny, default_deny, Vec::new());
        }
        FlowVerdict {
            allowed: true,
            direction: None,
            reason: Reason::DefaultAllow,
            policies: Vec::new(),
            approximations: Vec::new(),
        }
    }
}

/// Whether a rule's subject selects this endpoint.
fn selects(subject: &Subject, endpoint: &Identity) -> bool {
    match (&subject.namespace, &endpoint.namespace) {
        (Some(want), Some(have)) if want != have => return false,
        (Some(_), None) => return false,
        _ => {}
    }
    // Clusterwide subjects select pods only (host policies are not simulated).
    endpoint.is_pod()
        && subject
            .selector
            .matches_with(|source, key| endpoint.lookup(source, key))
}

fn peer_rule_matches(rule: &PeerRule, peer: &Identity, flow: &Flow, direction: Direction) -> bool {
    peers_match(&rule.peers, peer, flow, direction) && l4_matches(rule, flow)
}

fn peers_match(peers: &Peers, peer: &Identity, flow: &Flow, direction: Direction) -> bool {
    if peers.unrestricted {
        return true;
    }
    peers.endpoints.iter().any(|s| endpoint_matches(s, peer))
        || peers.entities.iter().any(|e| entity_matches(*e, peer))
        || peers.cidrs.iter().any(|c| cidr_matches(c, peer))
        || (direction == Direction::Egress && peers.fqdns.iter().any(|f| fqdn_matches(f, peer, flow)))
}

fn endpoint_matches(selector: &PeerSelector, peer: &Identity) -> bool {
    if let Some(ns) = &selector.namespace
        && peer.namespace.as_ref() != Some(ns)
    {
        return false;
    }
    if let Some(namespaces) = &selector.namespace_selector
        && (!peer.is_pod() || !namespaces.matches(&peer.namespace_labels()))
    {
        return false;
    }
    // A selector naming reserved labels can select reserved identities; anything
    // else selects pods only.
    let reserved_selector = selector
        .selector
        .match_labels
        .keys()
        .any(|k| k.starts_with("reserved:"));
    (peer.is_pod() || reserved_selector) && selector.selector.matches_with(|source, key| peer.lookup(source, key))
}

fn entity_matches(entity: Entity, peer: &Identity) -> bool {
    match entity {
        Entity::All => true,
        Entity::World => peer.is_world(),
        Entity::Cluster => !peer.is_world(),
        Entity::Host => peer.has_reserved("host"),
        Entity::RemoteNode => peer.has_reserved("remote-node"),
        Entity::KubeApiserver => peer.has_reserved("kube-apiserver"),
        Entity::Ingress => peer.has_reserved("ingress"),
        Entity::Health => peer.has_reserved("health"),
        Entity::Init => peer.has_reserved("init"),
        Entity::Unmanaged => peer.has_reserved("unmanaged"),
    }
}

/// CIDR rules match addresses outside the cluster only (Cilium's default).
fn cidr_matches(rule: &CidrRule, peer: &Identity) -> bool {
    peer.is_world()
        && peer
            .ip
            .is_some_and(|ip| rule.cidr.contains(ip) && !rule.except.iter().any(|e| e.contains(ip)))
}

fn fqdn_matches(rule: &FqdnRule, peer: &Identity, flow: &Flow) -> bool {
    peer.is_world()
        && flow.destination_names.iter().any(|name| {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            match rule {
                FqdnRule::Name(want) => name == *want,
                FqdnRule::Pattern(pattern) => glob(pattern, &name),
            }
        })
}

/// Cilium's `matchPattern`: `*` alone matches every name; elsewhere it matches
/// any run of characters within one DNS label.
fn glob(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (n.first().is_some_and(|c| *c != b'.') && go(p, &n[1..])),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

fn l4_matches(rule: &PeerRule, flow: &Flow) -> bool {
    if rule.ports.is_empty() && rule.icmps.is_empty() {
        return true;
    }
    let icmp = match (flow.protocol, flow.icmp) {
        (Protocol::IcmpV4, Some(i)) => rule.icmps.iter().any(|r| !r.v6 && r.icmp_type == i.icmp_type),
        (Protocol::IcmpV6, Some(i)) => rule.icmps.iter().any(|r| r.v6 && r.icmp_type == i.icmp_type),
        _ => false,
    };
    icmp || rule.ports.iter().any(|p| port_matches(p, flow))
}

fn port_matches(rule: &PortRule, flow: &Flow) -> bool {
    let protocol_ok = matches!(
        (rule.protocol, flow.protocol),
        (L4Protocol::Any, Protocol::Tcp | Protocol::Udp | Protocol::Sctp)
            | (L4Protocol::Tcp, Protocol::Tcp)
            | (L4Protocol::Udp, Protocol::Udp)
            | (L4Protocol::Sctp, Protocol::Sctp)
    );
    protocol_ok
        && match &rule.port {
            PortSpec::All => true,
            PortSpec::Range(start, end) => (*start..=*end).contains(&flow.destination_port),
            PortSpec::Named(_) => false,
        }
}

#[cfg(test)]
mod tests;
