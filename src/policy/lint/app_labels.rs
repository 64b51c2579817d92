//! Pods without `app` or `app.kubernetes.io/name`: no allow can name their
//! workload, so under default-deny what they serve or call is dropped.

use std::collections::BTreeMap;

use super::read::{Linted, World, default_deny_directions};
use super::{Finding, Severity, code};

/// Pods without `app` or `app.kubernetes.io/name`; a warning under default-deny.
///
/// Where a policy puts such pods under default-deny, no allow can name their
/// workload, so what they serve or call is dropped.
pub(super) fn check(world: &World<'_>, linted: &[Linted<'_>], out: &mut Vec<Finding>) {
    // Per namespace: the unlabelled pods, and those under default-deny.
    let mut by_namespace: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for endpoint in &world.endpoints {
        let pod = endpoint.pod;
        if pod.labels.contains_key("app") || pod.labels.contains_key("app.kubernetes.io/name") {
            continue;
        }
        let denied = linted.iter().filter(|p| p.applies()).any(|p| {
            p.scope().is_none_or(|ns| ns == pod.namespace)
                && p.parsed.policy.rules.iter().any(|rule| {
                    rule.subject.selector.matches(&endpoint.labels) && !default_deny_directions(rule).is_empty()
                })
        });
        let entry = by_namespace.entry(&pod.namespace).or_default();
        entry.0.push(&pod.name);
        if denied {
            entry.1.push(&pod.name);
        }
    }
    for (namespace, (mut pods, mut denied)) in by_namespace {
        pods.sort_unstable();
        denied.sort_unstable();
        let listed = |pods: &[&str]| {
            let shown: Vec<&str> = pods.iter().take(5).copied().collect();
            let more = if pods.len() > shown.len() {
                format!(" and {} more", pods.len() - shown.len())
            } else {
                String::new()
            };
            format!("{}{more}", shown.join(", "))
        };
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let (severity, message) = if denied.is_empty() {
            (
                Severity::Info,
                format!(
                    "{} pod{} in {namespace} carry neither `app` nor `app.kubernetes.io/name`: {}; policies and \
                     flow views cannot name their workloads",
                    pods.len(),
                    plural(pods.len()),
                    listed(&pods)
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "{} pod{} in {namespace} carry neither `app` nor `app.kubernetes.io/name` and are under \
                     default-deny: {}; no allow can select them by workload, so what they serve or call is \
                     dropped unless an allow names them by other labels",
                    denied.len(),
                    plural(denied.len()),
                    listed(&denied)
                ),
            )
        };
        out.push(Finding {
            severity,
            code: code::MISSING_APP_LABEL,
            policy: None,
            namespace: Some(namespace.to_string()),
            message,
            fix: "label the workloads' pod templates with app.kubernetes.io/name (or app)".into(),
            path: None,
            peer: None,
            peer_namespace: None,
        });
    }
}
