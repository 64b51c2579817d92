//! `toFQDNs` without DNS going through Cilium's DNS proxy for the same pods:
//! the FQDN rule then matches nothing.

use std::collections::BTreeMap;

use crate::policy::model::Rule;
use crate::policy::selector::LabelSelector;

use super::read::{DnsProvider, Endpoint, Linted, World};
use super::{Finding, Severity, code};

pub(super) fn check(world: &World<'_>, p: &Linted<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    let fqdn_entries: Vec<_> = rule.egress.iter().filter(|e| !e.peers.fqdns.is_empty()).collect();
    if fqdn_entries.is_empty() || dns_covers(world, p.scope(), &rule.subject.selector) {
        return;
    }
    for entry in fqdn_entries {
        out.push(
            p.finding(
                Severity::Error,
                code::FQDN_WITHOUT_DNS_RULE,
                format!(
                    "`{}.toFQDNs` only matches names the pods looked up through Cilium's DNS proxy, but no policy \
                 selecting these pods allows egress to port 53 with `rules: {{dns: [...]}}`: the FQDN rule matches \
                 nothing and the traffic is dropped",
                    entry.path
                ),
                "allow egress to kube-dns (k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns) on \
             port 53 UDP and TCP with rules: {dns: [{matchPattern: \"*\"}]}; tighten's DNS baseline \
             (tighten-baseline-dns) is exactly that: apply the baseline to this namespace",
            )
            .at(format!("{}.toFQDNs", entry.path)),
        );
    }
}

/// Whether DNS-proxy rules select every pod a subject selector selects.
fn dns_covers(world: &World<'_>, namespace: Option<&str>, selector: &LabelSelector) -> bool {
    let providers: Vec<&DnsProvider> = world
        .dns
        .iter()
        .filter(|d| d.namespace.is_none() || (namespace.is_some() && d.namespace.as_deref() == namespace))
        .collect();
    if providers.is_empty() {
        return false;
    }
    if world.input.cluster_known {
        let selected: Vec<&Endpoint<'_>> = world.selected(namespace, selector).collect();
        if !selected.is_empty() {
            return selected.iter().all(|e| {
                providers.iter().any(|d| {
                    d.namespace.as_deref().is_none_or(|ns| ns == e.pod.namespace) && d.selector.matches(&e.labels)
                })
            });
        }
    }
    providers.iter().any(|d| selector_covers(&d.selector, selector))
}

/// Whether `wide` selects at least what `narrow` selects, judged from the
/// selectors alone.
fn selector_covers(wide: &LabelSelector, narrow: &LabelSelector) -> bool {
    if wide.is_empty() || wide == narrow {
        return true;
    }
    let bare = |s: &LabelSelector| -> BTreeMap<String, String> {
        s.match_labels
            .iter()
            .map(|(k, v)| (strip_source(k).to_string(), v.clone()))
            .collect()
    };
    let narrow_labels = bare(narrow);
    wide.match_expressions.is_empty() && bare(wide).iter().all(|(k, v)| narrow_labels.get(k) == Some(v))
}

fn strip_source(key: &str) -> &str {
    match key.split_once(':') {
        Some((source, rest)) if !source.contains('/') => rest,
        _ => key,
    }
}
