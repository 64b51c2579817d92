//! Allows on one side only: the source's egress allows a flow that no ingress
//! policy at the destination allows (or the reverse), while the other side is
//! under default-deny, so Cilium drops it. The commonest defect of real
//! rollouts, and one that no single file shows: the pair is rarely in the
//! same file, nor the same pull request.
//!
//! Read through the one reader and decided by the engine, side by side: for
//! each allow rule naming pods as peers, each flow it opens between the pods it
//! selects (the cluster's, or, for files alone, the pods its selectors
//! describe) on each port it names is asked of the other side. A side that
//! only drops once its staged default-deny is enforced is a warning.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::cluster::{NamespaceInfo, PodInfo, PolicyObject};
use crate::flows::{Direction, Endpoint, Flow, Protocol, Verdict};
use crate::policy::engine::{Engine, Reason};
use crate::policy::model::{L4Protocol, PeerRule, PeerSelector, PortSpec, Rule};
use crate::policy::parse::ParsedPolicy;
use crate::policy::selector::{LabelSelector, NAMESPACE_LABELS_PREFIX, POD_NAMESPACE_LABEL};

use super::read::Linted;
use super::{Finding, LintInput, Severity, code};

/// A pod as lint knows it: the cluster's, or one a selector describes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pod {
    namespace: String,
    labels: BTreeMap<String, String>,
    /// `shop/web-1`, or `shop/{app=web}` for a pod a selector describes.
    name: String,
}

pub(super) fn one_sided_allows(input: &LintInput<'_>, linted: &[Linted<'_>], out: &mut Vec<Finding>) {
    // A cluster without pods has no flow to judge.
    if input.cluster_known && input.pods.is_empty() {
        return;
    }
    let parsed: Vec<(&PolicyObject, &ParsedPolicy)> = linted
        .iter()
        .filter(|l| l.applies())
        .map(|l| (l.object, &l.parsed))
        .collect();
    if parsed.is_empty() {
        return;
    }
    let engine = Engine::new(parsed.iter().map(|(_, p)| (*p).clone()));
    let pods = if input.cluster_known {
        input.pods.iter().map(real_pod).collect()
    } else {
        described_pods(&parsed)
    };
    let pods = Pods::new(pods);
    let namespaces: BTreeMap<&str, &NamespaceInfo> = input.namespaces.iter().map(|n| (n.name.as_str(), n)).collect();
    let known_ports = known_ports(&parsed, input);
    let mut seen = BTreeSet::new();
    for (object, policy) in &parsed {
        for rule in &policy.policy.rules {
            for (ingress, allows) in [(true, &rule.ingress), (false, &rule.egress)] {
                for entry in allows {
                    if entry.peers.endpoints.is_empty() {
                        continue;
                    }
                    let path = entry.path.as_str();
                    let check = Check {
                        engine: &engine,
                        namespaces: &namespaces,
                        object,
                        policy,
                        path,
                        ingress,
                        known_ports: &known_ports,
                    };
                    check.entry(rule, entry, &pods, &mut seen, out);
                }
            }
        }
    }
}

/// One allow entry being checked.
struct Check<'a> {
    engine: &'a Engine,
    namespaces: &'a BTreeMap<&'a str, &'a NamespaceInfo>,
    object: &'a PolicyObject,
    policy: &'a ParsedPolicy,
    path: &'a str,
    /// The entry is an ingress allow (the other side is the peer's egress).
    ingress: bool,
    /// The ports probed for an allow of every port.
    known_ports: &'a [(u16, Protocol)],
}

impl Check<'_> {
    fn entry(
        &self,
        rule: &Rule,
        entry: &PeerRule,
        pods: &Pods,
        seen: &mut BTreeSet<(String, String, String, u16)>,
        out: &mut Vec<Finding>,
    ) {
        let subjects = pods
            .in_namespace(rule.subject.namespace.as_deref())
            .filter(|p| selects(rule, p));
        let mut peers: Vec<&Pod> = Vec::new();
        for selector in &entry.peers.endpoints {
            let namespace = if selector.namespace_selector.is_some() {
                None
            } else {
                selector.namespace.as_deref().or(selector.selector.pinned_namespace())
            };
            peers.extend(pods.in_namespace(namespace).filter(|p| peer_matches(selector, p)));
        }
        peers.sort();
        peers.dedup();
        let every_port = entry.ports.is_empty() || entry.ports.iter().any(|p| p.port == PortSpec::All);
        if every_port {
            self.every_port(subjects, &peers, seen, out);
            return;
        }
        let ports = probe_ports(entry);
        for subject in subjects {
            for peer in &peers {
                if subject == *peer {
                    continue;
                }
                for &(port, protocol) in &ports {
                    let (source, destination) = self.ends(subject, peer);
                    let Some((flow, Some((severity, verdict)))) = self.ask(source, destination, port, protocol) else {
                        continue;
                    };
                    let key = (self.path.to_string(), workload(source), workload(destination), port);
                    if seen.insert(key) {
                        out.push(self.finding(severity, &flow, source, destination, &verdict));
                    }
                }
            }
        }
    }

    /// An allow of every port: one-sided when the other side allows the pair
    /// on none of the ports the policies and Services name (a broader allow
    /// on this side than the other is not a defect).
    fn every_port<'p>(
        &self,
        subjects: impl Iterator<Item = &'p Pod>,
        peers: &[&'p Pod],
        seen: &mut BTreeSet<(String, String, String, u16)>,
        out: &mut Vec<Finding>,
    ) {
        let Some(&(first_port, _)) = self.known_ports.first() else {
            return;
        };
        let mut checked = BTreeSet::new();
        for subject in subjects {
            for peer in peers {
                let (source, destination) = self.ends(subject, peer);
                if subject == *peer || !checked.insert((workload(source), workload(destination))) {
                    continue;
                }
                // The mildest drop stands for the pair: a port the other side
                // only drops once its staged default-deny is enforced works today.
                let mut mildest: Option<(Severity, Flow, crate::policy::engine::FlowVerdict)> = None;
                let mut dropped_everywhere = true;
                for &(port, protocol) in self.known_ports {
                    match self.ask(source, destination, port, protocol) {
                        Some((_, None)) => {
                            dropped_everywhere = false;
                            break;
                        }
                        Some((flow, Some((severity, verdict))))
                            if mildest.as_ref().is_none_or(|(s, _, _)| severity < *s) =>
                        {
                            mildest = Some((severity, flow, verdict));
                        }
                        _ => {}
                    }
                }
                let Some((severity, flow, verdict)) = mildest.filter(|_| dropped_everywhere) else {
                    continue;
                };
                let key = (
                    self.path.to_string(),
                    workload(source),
                    workload(destination),
                    first_port,
                );
                if seen.insert(key) {
                    let mut finding = self.finding(severity, &flow, source, destination, &verdict);
                    finding.message = format!(
                        "{} (it allows every port; the other side allows none of the {} ports the policies and \
                         Services name)",
                        finding.message,
                        self.known_ports.len()
                    );
                    out.push(finding);
                }
            }
        }
    }

    /// Source and destination of a flow between the entry's subject and a peer.
    fn ends<'p>(&self, subject: &'p Pod, peer: &'p Pod) -> (&'p Pod, &'p Pod) {
        if self.ingress { (peer, subject) } else { (subject, peer) }
    }

    /// The entry's side, and the other side, of its flows.
    fn sides(&self) -> (Direction, Direction) {
        if self.ingress {
            (Direction::Ingress, Direction::Egress)
        } else {
            (Direction::Egress, Direction::Ingress)
        }
    }

    /// Asks both sides about one flow: `None` when this entry does not allow
    /// it; else the flow and the other side's drop, if it drops it.
    fn ask(
        &self,
        source: &Pod,
        destination: &Pod,
        port: u16,
        protocol: Protocol,
    ) -> Option<(Flow, Option<(Severity, crate::policy::engine::FlowVerdict)>)> {
        let (this_side, other_side) = self.sides();
        let flow = self.flow(source, destination, port, protocol);
        let allowed_here = self
            .engine
            .side(&flow, this_side, &BTreeSet::new())
            .is_some_and(|v| v.reason == Reason::AllowedByRule && v.policies.contains(&self.policy.policy.reference));
        if !allowed_here {
            return None;
        }
        let other_namespace = if self.ingress {
            &source.namespace
        } else {
            &destination.namespace
        };
        let dropped = self.other_side(&flow, other_side, other_namespace);
        Some((flow, dropped))
    }

    /// The other side's default-deny drops the flow: now (error) or once its
    /// staged default-deny is enforced (warning).
    fn other_side(
        &self,
        flow: &Flow,
        side: Direction,
        namespace: &str,
    ) -> Option<(Severity, crate::policy::engine::FlowVerdict)> {
        let dropped = |v: &crate::policy::engine::FlowVerdict| !v.allowed && v.reason == Reason::DefaultDeny;
        let now = self.engine.side(flow, side, &BTreeSet::new())?;
        if dropped(&now) {
            return Some((Severity::Error, now));
        }
        let enforced = self.engine.side(flow, side, &BTreeSet::from([namespace.to_string()]))?;
        dropped(&enforced).then_some((Severity::Warning, enforced))
    }

    fn flow(&self, source: &Pod, destination: &Pod, port: u16, protocol: Protocol) -> Flow {
        Flow {
            time: Timestamp::UNIX_EPOCH,
            verdict: Verdict::Dropped,
            drop_reason: None,
            direction: Direction::Unknown,
            source: self.endpoint(source),
            destination: self.endpoint(destination),
            protocol,
            source_port: 40000,
            destination_port: port,
            is_reply: false,
            node: String::new(),
            destination_names: Vec::new(),
            denied_by: Vec::new(),
            icmp: None,
        }
    }

    /// A pod as Hubble would report it: its labels, its namespace's name and
    /// labels as Cilium's pseudo labels.
    fn endpoint(&self, pod: &Pod) -> Endpoint {
        let no_labels = std::collections::BTreeMap::new();
        let namespace_labels = self
            .namespaces
            .get(pod.namespace.as_str())
            .map_or(&no_labels, |ns| &ns.labels);
        Endpoint::of_pod(&pod.namespace, &pod.name, "", &pod.labels, namespace_labels)
    }

    fn finding(
        &self,
        severity: Severity,
        flow: &Flow,
        source: &Pod,
        destination: &Pod,
        verdict: &crate::policy::engine::FlowVerdict,
    ) -> Finding {
        let missing = self.sides().1;
        let (other, other_pod) = match missing {
            Direction::Egress => ("egress", source),
            _ => ("ingress", destination),
        };
        let when = match severity {
            Severity::Error => "Cilium drops it",
            _ => "Cilium will drop it once that default-deny is enforced",
        };
        let denied_by: Vec<String> = verdict.policies.iter().map(ToString::to_string).collect();
        let suggested = crate::policy::suggest::suggest(&other_pod.namespace, [(flow, missing)]);
        let fix = match suggested.first().and_then(|p| p.spec()) {
            Some(spec) => format!(
                "allow it on the {other} side too: in {}, a CiliumNetworkPolicy with spec {}",
                other_pod.namespace, spec
            ),
            None => format!("allow it on the {other} side too, in {}", other_pod.namespace),
        };
        Finding {
            severity,
            code: code::ONE_SIDED_ALLOW,
            policy: Some(super::read::policy_id(self.object)),
            namespace: self.object.namespace.clone(),
            message: format!(
                "{} allows {} → {}:{}/{}, but no {other} policy selecting {} allows it and {} denies by default \
                 there ({}): {when}",
                self.path,
                source.name,
                destination.name,
                flow.destination_port,
                flow.protocol.name(),
                other_pod.name,
                other_pod.namespace,
                denied_by.join(", "),
            ),
            fix,
            path: Some(self.path.to_string()),
            peer: Some(if self.ingress {
                source.name.clone()
            } else {
                destination.name.clone()
            }),
            peer_namespace: Some(if self.ingress {
                source.namespace.clone()
            } else {
                destination.namespace.clone()
            }),
        }
    }
}

/// The pods, grouped by namespace: a rule's subject and most peer selectors
/// look in one namespace only.
struct Pods {
    all: Vec<Pod>,
    by_namespace: BTreeMap<String, Vec<usize>>,
}

impl Pods {
    fn new(all: Vec<Pod>) -> Pods {
        let mut by_namespace: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, pod) in all.iter().enumerate() {
            by_namespace.entry(pod.namespace.clone()).or_default().push(i);
        }
        Pods { all, by_namespace }
    }

    /// The pods of `namespace`, or every pod for `None`.
    fn in_namespace<'p>(&'p self, namespace: Option<&str>) -> Box<dyn Iterator<Item = &'p Pod> + 'p> {
        match namespace {
            Some(ns) => Box::new(self.by_namespace.get(ns).into_iter().flatten().map(|&i| &self.all[i])),
            None => Box::new(self.all.iter()),
        }
    }
}

fn real_pod(pod: &PodInfo) -> Pod {
    Pod {
        namespace: pod.namespace.clone(),
        labels: pod.labels.clone(),
        name: format!("{}/{}", pod.namespace, pod.name),
    }
}

/// Without a cluster: the pods the policies' selectors describe, one per
/// subject and peer selector whose namespace is known and whose labels are
/// all plain equalities.
fn described_pods(parsed: &[(&PolicyObject, &ParsedPolicy)]) -> Vec<Pod> {
    let mut pods = BTreeSet::new();
    let mut add = |namespace: Option<&str>, selector: &LabelSelector| {
        let (Some(namespace), true) = (namespace, selector.match_expressions.is_empty()) else {
            return;
        };
        let labels: BTreeMap<String, String> = selector
            .match_labels
            .iter()
            .map(|(k, v)| (k.split_once(':').map_or(k.as_str(), |(_, k)| k).to_string(), v.clone()))
            .filter(|(k, _)| k != POD_NAMESPACE_LABEL && !k.starts_with(NAMESPACE_LABELS_PREFIX))
            .collect();
        let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pods.insert(Pod {
            namespace: namespace.to_string(),
            name: format!("{namespace}/{{{}}}", shown.join(",")),
            labels,
        });
    };
    for (_, policy) in parsed {
        for rule in &policy.policy.rules {
            add(rule.subject.namespace.as_deref(), &rule.subject.selector);
            for entry in rule.ingress.iter().chain(&rule.egress) {
                for peer in &entry.peers.endpoints {
                    let namespace = peer.namespace.as_deref().or(peer.selector.pinned_namespace());
                    add(namespace, &peer.selector);
                }
            }
        }
    }
    pods.into_iter().collect()
}

/// Whether a rule's subject selects the pod (its namespace, its labels).
fn selects(rule: &Rule, pod: &Pod) -> bool {
    rule.subject.namespace.as_deref().is_none_or(|ns| ns == pod.namespace)
        && rule.subject.selector.matches(&with_namespace(pod))
}

/// A peer selector that could name the pod (the engine decides exactly).
fn peer_matches(peer: &PeerSelector, pod: &Pod) -> bool {
    peer.namespace_selector.is_some()
        || (peer.namespace.as_deref().is_none_or(|ns| ns == pod.namespace)
            && peer.selector.matches(&with_namespace(pod)))
}

fn with_namespace(pod: &Pod) -> BTreeMap<String, String> {
    let mut labels = pod.labels.clone();
    labels.insert(POD_NAMESPACE_LABEL.to_string(), pod.namespace.clone());
    labels
}

/// One port per port rule the entry names (its first), as the flow to ask
/// about; named ports and "every port" need the pods' specs and are left out.
/// The ports an allow of every port is probed on: every port an allow rule
/// names (its first, for a range) and every Service port and numeric
/// targetPort, at most 64; 80, 443 and 8080 when nothing names one.
fn known_ports(parsed: &[(&PolicyObject, &ParsedPolicy)], input: &LintInput<'_>) -> Vec<(u16, Protocol)> {
    let mut ports: BTreeSet<(u16, Protocol)> = parsed
        .iter()
        .flat_map(|(_, p)| &p.policy.rules)
        .flat_map(|r| r.ingress.iter().chain(&r.egress))
        .flat_map(probe_ports)
        .collect();
    for service in input.services {
        for port in &service.ports {
            let protocol = match port.protocol.as_str() {
                "UDP" => Protocol::Udp,
                "SCTP" => Protocol::Sctp,
                _ => Protocol::Tcp,
            };
            ports.insert((port.port, protocol));
            if let Ok(target) = port.target_port.parse::<u16>() {
                ports.insert((target, protocol));
            }
        }
    }
    if ports.is_empty() {
        // Nothing names a port: the common ones.
        ports.extend([(80, Protocol::Tcp), (443, Protocol::Tcp), (8080, Protocol::Tcp)]);
    }
    ports.into_iter().take(64).collect()
}

fn probe_ports(entry: &PeerRule) -> Vec<(u16, Protocol)> {
    let mut ports = BTreeSet::new();
    for rule in &entry.ports {
        let PortSpec::Range(first, _) = rule.port else { continue };
        match rule.protocol {
            L4Protocol::Udp => {
                ports.insert((first, Protocol::Udp));
            }
            L4Protocol::Sctp => {
                ports.insert((first, Protocol::Sctp));
            }
            L4Protocol::Tcp | L4Protocol::Any => {
                ports.insert((first, Protocol::Tcp));
            }
        }
    }
    ports.into_iter().collect()
}

/// The workload a pod stands for, to report each pair once.
fn workload(pod: &Pod) -> String {
    let app = ["app.kubernetes.io/name", "app", "k8s-app"]
        .iter()
        .find_map(|k| pod.labels.get(*k));
    match app {
        Some(app) => format!("{}/{app}", pod.namespace),
        None => pod.name.clone(),
    }
}
