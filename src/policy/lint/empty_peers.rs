//! Peer selectors that select no pod the cluster has (`toEndpoints`,
//! `fromEndpoints`, a NetworkPolicy peer): usually a chart's label named
//! wrong, or a namespace misspelt. The allow then opens nothing, and the
//! flow it was written for is dropped once default-deny is on.

use std::collections::BTreeSet;

use crate::policy::model::PeerSelector;

use super::read::{Linted, World, describe_selector, entries};
use super::{Finding, Severity, code};

pub(super) fn check(world: &World<'_>, p: &Linted<'_>, out: &mut Vec<Finding>) {
    if !p.applies() {
        return;
    }
    let mut seen = BTreeSet::new();
    for rule in &p.parsed.policy.rules {
        for entry in entries(rule) {
            for peer in entry.endpoints() {
                if !seen.insert(peer.path.as_str()) || names_other_sources(peer) {
                    continue;
                }
                if world.peers(peer).next().is_some() {
                    continue;
                }
                if let Some(finding) = finding(world, p, peer, entry.deny) {
                    out.push(finding);
                }
            }
        }
    }
}

/// Selectors on `reserved:`, `cidr:` or other non-pod labels select
/// identities lint does not list.
fn names_other_sources(peer: &PeerSelector) -> bool {
    let keys = peer
        .selector
        .match_labels
        .keys()
        .map(String::as_str)
        .chain(peer.selector.match_expressions.iter().map(|r| r.key()));
    keys.map(|k| k.split_once(':').map(|(source, _)| source))
        .any(|source| source.is_some_and(|s| !s.contains('/') && !matches!(s, "k8s" | "any")))
}

fn finding(world: &World<'_>, p: &Linted<'_>, peer: &PeerSelector, deny: bool) -> Option<Finding> {
    let namespace = peer.namespace.clone().or_else(|| {
        peer.namespace_selector
            .is_none()
            .then(|| peer.selector.pinned_namespace().map(str::to_string))
            .flatten()
    });
    let what = if deny { "deny" } else { "allow" };
    let described = describe_selector(&peer.selector);
    match namespace.as_deref() {
        Some(ns) => {
            let known = world.namespaces.contains_key(ns);
            let pods: Vec<_> = world.in_scope(Some(ns)).collect();
            if known && pods.is_empty() {
                // A namespace whose pods are still to come.
                return None;
            }
            if !known {
                // Often a namespace still to come (monitoring installed later),
                // sometimes a name misspelt.
                return Some(
                    p.finding(
                        Severity::Info,
                        code::PEER_SELECTS_NO_PODS,
                        format!(
                            "`{}` ({described}) names namespace {ns}, which the cluster does not have: this {what} \
                         matches no pod",
                            peer.path
                        ),
                        "check the namespace's name (k8s:io.kubernetes.pod.namespace)",
                    )
                    .at(peer.path.as_str()),
                );
            }
            let mut labels: BTreeSet<String> = BTreeSet::new();
            for e in &pods {
                for key in ["app", "app.kubernetes.io/name", "k8s-app"] {
                    if let Some(v) = e.pod.labels.get(key) {
                        labels.insert(format!("{key}={v}"));
                    }
                }
            }
            let sample: Vec<String> = labels.into_iter().take(5).collect();
            let hint = if sample.is_empty() {
                String::new()
            } else {
                format!(" (pods there carry {})", sample.join(", "))
            };
            Some(
                p.finding(
                    Severity::Warning,
                    code::PEER_SELECTS_NO_PODS,
                    format!(
                        "`{}` ({described}) selects none of the {} pods in namespace {ns}: this {what} matches no pod",
                        peer.path,
                        pods.len()
                    ),
                    format!("match the selector to the peer pods' labels{hint}"),
                )
                .at(peer.path.as_str()),
            )
        }
        None => {
            if world.endpoints.is_empty() {
                return None;
            }
            let scope = if peer.namespace_selector.is_some() {
                "the namespaces its namespaceSelector selects"
            } else {
                "the cluster"
            };
            Some(
                p.finding(
                    Severity::Warning,
                    code::PEER_SELECTS_NO_PODS,
                    format!(
                        "`{}` ({described}) selects no pod in {scope}: this {what} matches no pod",
                        peer.path
                    ),
                    "match the selector to the peer pods' labels and namespace",
                )
                .at(peer.path.as_str()),
            )
        }
    }
}
