//! What the checks look at: each policy as the one reader reads it, its
//! rule entries by direction, and the cluster's pods and namespaces to look
//! things up in.

use std::collections::{BTreeMap, HashMap};

use crate::cluster::{NamespaceInfo, PodInfo, PolicyKind, PolicyObject};
use crate::policy::model::{CidrRule, Entity, L4Protocol, PeerRule, PeerSelector, PortRule, PortSpec, Rule};
use crate::policy::parse::{ParsedPolicy, Problem, read_policy};
use crate::policy::selector::{LabelSelector, Requirement, endpoint_labels};

use super::{Finding, LintInput, Severity};

/// A policy as lint sees it: the reader's model and problems.
pub(super) struct Linted<'a> {
    pub object: &'a PolicyObject,
    /// `ns/name`, or the name of a clusterwide policy.
    pub id: String,
    pub parsed: ParsedPolicy,
    pub problems: Vec<Problem>,
}

impl<'a> Linted<'a> {
    pub fn read(object: &'a PolicyObject) -> Linted<'a> {
        let reading = read_policy(object);
        Linted {
            object,
            id: policy_id(object),
            parsed: reading.parsed,
            problems: reading.problems,
        }
    }

    /// Whether the engine applies it (no problem refuses it).
    pub fn applies(&self) -> bool {
        !self.problems.iter().any(|p| p.judge.refuses())
    }

    pub fn is_cilium(&self) -> bool {
        self.object.kind != PolicyKind::NetworkPolicy
    }

    pub fn is_clusterwide(&self) -> bool {
        !self.object.kind.is_namespaced()
    }

    /// The namespace a namespaced policy lives in; `None` for clusterwide ones.
    pub fn scope(&self) -> Option<&str> {
        if self.is_clusterwide() {
            None
        } else {
            self.object.namespace.as_deref()
        }
    }

    pub fn finding(&self, severity: Severity, code: &'static str, message: String, fix: impl Into<String>) -> Finding {
        Finding {
            severity,
            code,
            policy: Some(self.id.clone()),
            namespace: self.object.namespace.clone(),
            message,
            fix: fix.into(),
            path: None,
            peer: None,
            peer_namespace: None,
        }
    }
}

/// `ns/name`, or the name of a clusterwide policy.
pub(super) fn policy_id(policy: &PolicyObject) -> String {
    match &policy.namespace {
        Some(ns) if policy.kind.is_namespaced() => format!("{ns}/{}", policy.name),
        _ => policy.name.clone(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// `from` or `to`, the prefix of peer fields.
    pub fn peer_prefix(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }
}

/// One entry of a rule list (`ingress[0]`...), with where it sits.
#[derive(Clone, Copy)]
pub(super) struct Entry<'r> {
    pub direction: Direction,
    pub deny: bool,
    pub rule: &'r PeerRule,
}

impl<'r> Entry<'r> {
    pub fn path(&self) -> &'r str {
        &self.rule.path
    }

    pub fn entities(&self) -> &'r [Entity] {
        &self.rule.peers.entities
    }

    pub fn cidrs(&self) -> &'r [CidrRule] {
        &self.rule.peers.cidrs
    }

    pub fn ports(&self) -> &'r [PortRule] {
        &self.rule.ports
    }

    pub fn endpoints(&self) -> &'r [PeerSelector] {
        &self.rule.peers.endpoints
    }

    /// Whether the entry is limited to some ports (or ICMP types).
    pub fn restricts_ports(&self) -> bool {
        !self.rule.icmps.is_empty() || self.rule.ports.iter().any(|p| p.port != PortSpec::All)
    }

    pub fn entities_path(&self) -> String {
        format!("{}.{}Entities", self.rule.path, self.direction.peer_prefix())
    }
}

/// Every entry of a rule, allow and deny, both directions.
pub(super) fn entries(rule: &Rule) -> impl Iterator<Item = Entry<'_>> {
    [
        (Direction::Ingress, false, &rule.ingress),
        (Direction::Ingress, true, &rule.ingress_deny),
        (Direction::Egress, false, &rule.egress),
        (Direction::Egress, true, &rule.egress_deny),
    ]
    .into_iter()
    .flat_map(|(direction, deny, list)| list.iter().map(move |rule| Entry { direction, deny, rule }))
}

/// Where a rule's subject selector sits: `spec.endpointSelector`,
/// `spec.podSelector`.
pub(super) fn subject_path(policy: &Linted<'_>, rule: &Rule) -> String {
    if policy.is_cilium() {
        format!("{}.endpointSelector", rule.path)
    } else {
        format!("{}.podSelector", rule.path)
    }
}

/// The directions in which a rule puts its subjects into default-deny, with
/// what its `enableDefaultDeny` says there.
pub(super) fn default_deny_directions(rule: &Rule) -> Vec<(Direction, Option<bool>)> {
    let mut directions = Vec::new();
    if rule.has_ingress && rule.default_deny.ingress != Some(false) {
        directions.push((Direction::Ingress, rule.default_deny.ingress));
    }
    if rule.has_egress && rule.default_deny.egress != Some(false) {
        directions.push((Direction::Egress, rule.default_deny.egress));
    }
    directions
}

/// A port rule's range of numbers, when it names numbers.
pub(super) fn numbers(port: &PortRule) -> Option<(u16, u16)> {
    match port.port {
        PortSpec::Range(first, last) => Some((first, last)),
        _ => None,
    }
}

/// `TCP`, `UDP`, `SCTP`, `ANY`.
pub(super) fn protocol_name(protocol: L4Protocol) -> &'static str {
    match protocol {
        L4Protocol::Tcp => "TCP",
        L4Protocol::Udp => "UDP",
        L4Protocol::Sctp => "SCTP",
        L4Protocol::Any => "ANY",
    }
}

pub(super) fn protocol_matches(rule: L4Protocol, other: &str) -> bool {
    rule == L4Protocol::Any || other.eq_ignore_ascii_case("ANY") || protocol_name(rule).eq_ignore_ascii_case(other)
}

pub(super) fn allows_number(port: &PortRule, number: u16, protocol: &str) -> bool {
    protocol_matches(port.protocol, protocol)
        && match &port.port {
            PortSpec::All => true,
            PortSpec::Range(first, last) => (*first..=*last).contains(&number),
            PortSpec::Named(_) => false,
        }
}

pub(super) fn allows_name(port: &PortRule, name: &str, protocol: &str) -> bool {
    protocol_matches(port.protocol, protocol) && matches!(&port.port, PortSpec::Named(n) if n == name)
}

pub(super) fn describe_selector(selector: &LabelSelector) -> String {
    if selector.is_empty() {
        return "{} (every pod)".into();
    }
    let mut parts: Vec<String> = selector.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.extend(selector.match_expressions.iter().map(|req| match req {
        Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
        Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
        Requirement::Exists(k) => k.clone(),
        Requirement::DoesNotExist(k) => format!("!{k}"),
    }));
    parts.join(", ")
}

/// A pod with the labels selectors match against.
pub(super) struct Endpoint<'a> {
    pub pod: &'a PodInfo,
    pub labels: BTreeMap<String, String>,
}

/// A policy rule that sends DNS through Cilium's proxy.
pub(super) struct DnsProvider {
    /// `None` for a clusterwide policy.
    pub namespace: Option<String>,
    pub selector: LabelSelector,
}

/// What the checks look things up in.
pub(super) struct World<'a> {
    pub input: &'a LintInput<'a>,
    pub namespaces: HashMap<&'a str, &'a NamespaceInfo>,
    pub endpoints: Vec<Endpoint<'a>>,
    /// Indices into `endpoints` by namespace: most lookups are in one.
    by_namespace: HashMap<&'a str, Vec<usize>>,
    pub dns: Vec<DnsProvider>,
}

impl<'a> World<'a> {
    pub fn new(input: &'a LintInput<'a>, linted: &[Linted<'_>]) -> World<'a> {
        let namespaces: HashMap<&str, &NamespaceInfo> = input.namespaces.iter().map(|n| (n.name.as_str(), n)).collect();
        let no_labels = BTreeMap::new();
        let endpoints: Vec<Endpoint<'a>> = input
            .pods
            .iter()
            .map(|pod| {
                let ns_labels = namespaces.get(pod.namespace.as_str()).map_or(&no_labels, |n| &n.labels);
                Endpoint {
                    pod,
                    labels: endpoint_labels(&pod.labels, &pod.namespace, ns_labels),
                }
            })
            .collect();
        let mut by_namespace: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (i, pod) in input.pods.iter().enumerate() {
            by_namespace.entry(pod.namespace.as_str()).or_default().push(i);
        }
        let mut dns = Vec::new();
        for policy in linted.iter().filter(|p| p.is_cilium()) {
            for rule in &policy.parsed.policy.rules {
                if rule.egress.iter().any(|e| e.dns_proxy) {
                    dns.push(DnsProvider {
                        namespace: policy.scope().map(str::to_string),
                        selector: rule.subject.selector.clone(),
                    });
                }
            }
        }
        World {
            input,
            namespaces,
            endpoints,
            by_namespace,
            dns,
        }
    }

    /// The endpoints a subject selector selects: in `namespace`, or anywhere.
    pub fn selected<'s>(
        &'s self,
        namespace: Option<&'s str>,
        selector: &'s LabelSelector,
    ) -> impl Iterator<Item = &'s Endpoint<'a>> + 's {
        self.in_scope(namespace).filter(move |e| selector.matches(&e.labels))
    }

    pub fn in_scope<'s>(&'s self, namespace: Option<&'s str>) -> Box<dyn Iterator<Item = &'s Endpoint<'a>> + 's> {
        match namespace {
            Some(ns) => Box::new(
                self.by_namespace
                    .get(ns)
                    .into_iter()
                    .flatten()
                    .filter_map(|&i| self.endpoints.get(i)),
            ),
            None => Box::new(self.endpoints.iter()),
        }
    }

    /// The endpoints a peer selector matches.
    pub fn peers<'s>(&'s self, peer: &'s PeerSelector) -> impl Iterator<Item = &'s Endpoint<'a>> + 's {
        let namespace = peer.namespace.as_deref().or_else(|| {
            peer.namespace_selector
                .is_none()
                .then(|| peer.selector.pinned_namespace())
                .flatten()
        });
        self.in_scope(namespace).filter(move |e| {
            peer.selector.matches(&e.labels)
                && peer.namespace_selector.as_ref().is_none_or(|ns| {
                    self.namespaces
                        .get(e.pod.namespace.as_str())
                        .is_some_and(|info| ns.matches(&info.labels))
                })
        })
    }
}
