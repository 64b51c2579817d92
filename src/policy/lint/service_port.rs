//! A port rule that names a Service's port while the Service targets another:
//! Cilium matches the pod's port after service translation. Compared only
//! with the Services whose selector takes in the pods on the other end of
//! the rule's traffic, so a correct rule is never told to switch to an
//! unrelated Service's port.

use std::collections::BTreeSet;

use crate::cluster::ServiceInfo;
use crate::policy::model::{Entity, PortSpec, Rule};
use crate::policy::selector::LabelSelector;

use super::read::{Direction, Endpoint, Linted, World, allows_name, allows_number, entries, numbers, protocol_matches};
use super::{Finding, Severity, code};

/// Which namespaces a peer can be in, for Service lookups.
enum PeerNamespace<'s> {
    /// The policy's own namespace (any namespace for a clusterwide policy).
    Own,
    Named(String),
    /// NetworkPolicy `namespaceSelector`: namespaces whose labels match.
    Labels(&'s LabelSelector),
}

pub(super) fn check(world: &World<'_>, p: &Linted<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    let own = p.scope();
    for entry in entries(rule) {
        if entry.ports().iter().all(|port| numbers(port).is_none()) {
            continue;
        }
        let mut peer_namespaces: Vec<PeerNamespace<'_>> = Vec::new();
        for peer in entry.endpoints() {
            peer_namespaces.push(match (&peer.namespace_selector, &peer.namespace) {
                (Some(labels), _) => PeerNamespace::Labels(labels),
                (None, Some(ns)) => PeerNamespace::Named(ns.clone()),
                (None, None) => match peer.selector.pinned_namespace() {
                    Some(ns) => PeerNamespace::Named(ns.to_string()),
                    None => PeerNamespace::Own,
                },
            });
        }
        let peers = &entry.rule.peers;
        if peers.unrestricted
            || peers
                .entities
                .iter()
                .any(|e| matches!(e, Entity::Cluster | Entity::All))
            || peers.unsupported.iter().any(|u| u.ends_with(".toServices"))
        {
            peer_namespaces.push(PeerNamespace::Own);
        }
        // The namespaces whose Services this entry's port is compared with.
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        let mut anywhere = false;
        match entry.direction {
            Direction::Ingress => match own {
                Some(ns) => {
                    namespaces.insert(ns.to_string());
                }
                None => {
                    namespaces.extend(
                        world
                            .selected(None, &rule.subject.selector)
                            .map(|e| e.pod.namespace.clone()),
                    );
                }
            },
            Direction::Egress => {
                for peer in &peer_namespaces {
                    match peer {
                        PeerNamespace::Own => match own {
                            Some(ns) => {
                                namespaces.insert(ns.to_string());
                            }
                            None => anywhere = true,
                        },
                        PeerNamespace::Named(ns) => {
                            namespaces.insert(ns.clone());
                        }
                        PeerNamespace::Labels(selector) => {
                            namespaces.extend(
                                world
                                    .input
                                    .namespaces
                                    .iter()
                                    .filter(|n| selector.matches(&n.labels))
                                    .map(|n| n.name.clone()),
                            );
                            if let Some(name) = selector.match_labels.get("kubernetes.io/metadata.name") {
                                namespaces.insert(name.clone());
                            }
                        }
                    }
                }
            }
        }
        // The pods on the other end of this entry's traffic: the Services that
        // matter are those whose selector takes one of them in. Peers named by
        // entity or CIDR only: every Service.
        let peer_pods: Option<Vec<&Endpoint<'_>>> = match entry.direction {
            Direction::Egress if entry.endpoints().is_empty() => None,
            Direction::Egress => {
                let candidates: Vec<&Endpoint<'_>> = if anywhere {
                    world.in_scope(None).collect()
                } else {
                    namespaces.iter().flat_map(|ns| world.in_scope(Some(ns))).collect()
                };
                Some(
                    candidates
                        .into_iter()
                        .filter(|e| entry.endpoints().iter().any(|s| s.selector.matches(&e.labels)))
                        .collect(),
                )
            }
            Direction::Ingress => Some(world.selected(own, &rule.subject.selector).collect()),
        };
        let serves_peer = |service: &ServiceInfo| match (&peer_pods, &service.selector) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(pods), Some(selector)) => pods.iter().any(|e| {
                e.pod.namespace == service.namespace && selector.iter().all(|(k, v)| e.pod.labels.get(k) == Some(v))
            }),
        };
        let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
        for port in entry.ports() {
            // Single ports only: a range is deliberate, and may well hold the
            // targetPort.
            let Some((first, last)) = numbers(port).filter(|(first, last)| first == last) else {
                continue;
            };
            let services = world
                .input
                .services
                .iter()
                .filter(|s| anywhere || namespaces.contains(&s.namespace))
                .filter(|s| serves_peer(s));
            for service in services {
                for sp in &service.ports {
                    let protocol = if sp.protocol.is_empty() {
                        "TCP"
                    } else {
                        sp.protocol.as_str()
                    };
                    if !(first..=last).contains(&sp.port) || !protocol_matches(port.protocol, protocol) {
                        continue;
                    }
                    let target = sp.target_port.trim();
                    if target.is_empty() || target == sp.port.to_string() {
                        continue;
                    }
                    let allowed = match target.parse::<u16>() {
                        Ok(n) => entry.ports().iter().any(|q| allows_number(q, n, protocol)),
                        // A named port resolves in the pod; a range or every port
                        // may hold it.
                        Err(_) => entry.ports().iter().any(|q| {
                            allows_name(q, target, protocol)
                                || (protocol_matches(q.protocol, protocol)
                                    && numbers(q).is_none_or(|(first, last)| first != last)
                                    && !matches!(q.port, PortSpec::Named(_)))
                        }),
                    };
                    if allowed {
                        continue;
                    }
                    let key = (
                        port.path.clone(),
                        format!("{}/{}", service.namespace, service.name),
                        target.to_string(),
                    );
                    if !seen.insert(key) {
                        continue;
                    }
                    let effect = if entry.deny {
                        "so it does not deny traffic sent through the Service"
                    } else {
                        "so it does not allow traffic sent through the Service"
                    };
                    out.push(
                        p.finding(
                            Severity::Warning,
                            code::SERVICE_PORT,
                            format!(
                                "`{}` is {first}, the port of Service {}/{} ({}/{protocol} → targetPort {target}); \
                             Cilium matches the pod's port after service translation, {effect} (it arrives on \
                             {target})",
                                port.path, service.namespace, service.name, sp.port
                            ),
                            format!("use port {target} (the Service's targetPort)"),
                        )
                        .at(port.path.as_str()),
                    );
                }
            }
        }
    }
}
