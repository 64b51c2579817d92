//! Policies that switch pods into default-deny before the rollout means to:
//! a tighten baseline without `enableDefaultDeny: false`, and a team's allow
//! that already isolates a namespace not yet rolled out.

use crate::cluster::{PolicyKind, PolicyObject};
use crate::policy::model::Rule;
use crate::rollout::labels;

use super::read::{Linted, World, default_deny_directions};
use super::{Finding, Severity, code};

fn is_tighten_baseline(policy: &PolicyObject) -> bool {
    policy.labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_TIGHTEN)
        && policy.labels.get(labels::ROLE).map(String::as_str) == Some("baseline")
}

fn is_tighten_managed(policy: &PolicyObject) -> bool {
    policy.labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_TIGHTEN)
}

/// A tighten baseline without `enableDefaultDeny: false`.
pub(super) fn baseline(p: &Linted<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    if !is_tighten_baseline(p.object) || !p.is_cilium() {
        return;
    }
    for (direction, setting) in default_deny_directions(rule) {
        let dir = direction.label();
        let state = match setting {
            Some(_) => "is true",
            None => "is not set (Cilium then defaults it to true)",
        };
        out.push(
            p.finding(
                Severity::Error,
                code::BASELINE_WITHOUT_ENABLE_DEFAULT_DENY_FALSE,
                format!(
                    "tighten baseline policy with {dir} rules, but `{}.enableDefaultDeny.{dir}` {state}: applying it \
                 switches every pod it selects into {dir} default-deny, isolating the namespace before the \
                 default-deny is staged",
                    rule.path
                ),
                "set enableDefaultDeny: {ingress: false, egress: false} on the rule, as tighten's shipped templates do",
            )
            .at(format!("{}.enableDefaultDeny", rule.path)),
        );
    }
}

/// A foreign CNP that already isolates pods of a namespace tighten has not
/// rolled out (no intent, or Observe), being the only policy there.
pub(super) fn allow_without_enable_default_deny(world: &World<'_>, p: &Linted<'_>, out: &mut Vec<Finding>) {
    if p.object.kind != PolicyKind::CiliumNetworkPolicy || is_tighten_managed(p.object) {
        return;
    }
    let Some(ns) = p.object.namespace.as_deref() else {
        return;
    };
    let Some(info) = world.namespaces.get(ns) else {
        return;
    };
    let intent = info.annotations.get(labels::INTENT).map(String::as_str);
    if !matches!(intent, None | Some("observe") | Some("unmanaged")) {
        return;
    }
    let others = world
        .input
        .policies
        .iter()
        .filter(|q| q.kind.is_namespaced() && q.namespace.as_deref() == Some(ns))
        .count();
    if others != 1 {
        return;
    }
    let phase = if intent == Some("observe") {
        "Observe"
    } else {
        "Unmanaged"
    };
    for rule in &p.parsed.policy.rules {
        let directions = default_deny_directions(rule);
        if directions.is_empty() {
            continue;
        }
        let names: Vec<&str> = directions.iter().map(|(d, _)| d.label()).collect();
        out.push(
            p.finding(
                Severity::Warning,
                code::ALLOW_WITHOUT_ENABLE_DEFAULT_DENY,
                format!(
                    "`{}` has {} rules without enableDefaultDeny false, so it already switches the pods it selects \
                 into {} default-deny, while {ns} is in phase {phase} and has no other policy",
                    rule.path,
                    names.join(" and "),
                    names.join(" and ")
                ),
                format!(
                    "if it is meant as an allow only, set enableDefaultDeny: {{ingress: false, egress: false}}; \
                 otherwise roll {ns} out with tighten (baseline first) so the isolation is deliberate"
                ),
            )
            .at(rule.path.as_str()),
        );
    }
}
