//! Policies the API server or Cilium refuses, which then silently never
//! apply: the reader's problems as findings, the agent's own `Valid=False`
//! verdict, and the NetworkPolicy sections Cilium enforces although
//! `policyTypes` leaves them out.

use serde_json::Value;

use crate::policy::parse::{Judge, ProblemKind, network_policy_types, network_policy_types_by_kubernetes};

use super::read::Linted;
use super::{Finding, Severity, code};

/// Each problem the reader recorded, as a finding of its kind.
pub(super) fn problems(policy: &Linted<'_>, out: &mut Vec<Finding>) {
    for problem in &policy.problems {
        let code = match problem.kind {
            ProblemKind::Malformed => code::MALFORMED_RULE,
            ProblemKind::Selector => code::INVALID_SELECTOR,
            ProblemKind::Cidr => code::INVALID_CIDR,
            ProblemKind::Entity => code::UNKNOWN_ENTITY,
            ProblemKind::Port => code::INVALID_PORT,
            ProblemKind::NoRules => code::EMPTY_RULE_LIST,
            ProblemKind::NullList => code::NULL_RULE_LIST,
            ProblemKind::Unsupported => code::UNSUPPORTED_COMBINATION,
        };
        let message = match problem.judge {
            Judge::ServerSideApply => problem.message.clone(),
            _ if problem.message.contains("refuse") => problem.message.clone(),
            judge => format!("{} ({}; none of the policy applies)", problem.message, judge.said()),
        };
        out.push(
            policy
                .finding(Severity::Error, code, message, problem.fix.clone())
                .at(&problem.path),
        );
    }
}

/// The agent's `Valid=False` condition.
pub(super) fn rejected_by_cilium(policy: &Linted<'_>, out: &mut Vec<Finding>) {
    if let Some(said) = crate::gate::rejection(policy.object) {
        out.push(policy.finding(
            Severity::Error,
            code::REJECTED_BY_CILIUM,
            format!(
                "the Cilium agent rejected this policy (status condition Valid=False): {said}; none of its \
                 rules are enforced"
            ),
            "fix the spec as the agent's message says and apply it again",
        ));
    }
}

/// A NetworkPolicy whose `policyTypes` leaves out a section it has: Kubernetes
/// says that direction is not isolated, Cilium 1.19 enforces the section
/// anyway (cilium/cilium#48703).
pub(super) fn policy_types_ignored(policy: &Linted<'_>, out: &mut Vec<Finding>) {
    if policy.is_cilium() {
        return;
    }
    let Some(spec) = policy.object.spec().and_then(Value::as_object) else {
        return;
    };
    let by_cilium = network_policy_types(spec);
    let by_kubernetes = network_policy_types_by_kubernetes(spec);
    for (direction, cilium, kubernetes) in [
        ("ingress", by_cilium.0, by_kubernetes.0),
        ("egress", by_cilium.1, by_kubernetes.1),
    ] {
        if cilium && !kubernetes {
            out.push(policy.finding(
                Severity::Warning,
                code::POLICY_TYPES_IGNORED,
                format!(
                    "`spec.policyTypes` leaves out {} but `spec.{direction}` has rules: Kubernetes leaves {direction} \
                     open, while Cilium 1.19 enforces those rules and isolates {direction} of the pods selected \
                     (cilium/cilium#48703); tighten decides as Cilium does",
                    if direction == "ingress" { "Ingress" } else { "Egress" }
                ),
                format!(
                    "add {} to policyTypes if the {direction} rules are meant, or delete the {direction} section",
                    if direction == "ingress" { "Ingress" } else { "Egress" }
                ),
            ).at("spec.policyTypes"));
        }
    }
}
