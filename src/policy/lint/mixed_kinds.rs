//! NetworkPolicies next to CiliumNetworkPolicies in one namespace: they
//! combine, and the NetworkPolicy narrows what the CNPs allow.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cluster::{PolicyKind, PolicyObject};
use crate::policy::parse::network_policy_types;
use crate::rollout::labels;

use super::read::policy_id;
use super::{Finding, LintInput, Severity, code};

/// NetworkPolicies next to CiliumNetworkPolicies.
pub(super) fn check(input: &LintInput<'_>, out: &mut Vec<Finding>) {
    let mut by_namespace: BTreeMap<&str, (Vec<&PolicyObject>, Vec<&PolicyObject>)> = BTreeMap::new();
    for policy in input.policies {
        let Some(ns) = policy.namespace.as_deref() else {
            continue;
        };
        match policy.kind {
            PolicyKind::NetworkPolicy => by_namespace.entry(ns).or_default().0.push(policy),
            PolicyKind::CiliumNetworkPolicy => by_namespace.entry(ns).or_default().1.push(policy),
            PolicyKind::CiliumClusterwideNetworkPolicy => {}
        }
    }
    for (namespace, (nps, cnps)) in by_namespace {
        if nps.is_empty() || cnps.is_empty() {
            continue;
        }
        let mut cnp_names: Vec<&str> = cnps.iter().map(|c| c.name.as_str()).collect();
        cnp_names.sort_unstable();
        let listed = if cnp_names.len() > 4 {
            format!("{}, ...", cnp_names.get(..4).unwrap_or_default().join(", "))
        } else {
            cnp_names.join(", ")
        };
        for np in nps {
            let types = np_policy_types(np);
            let helm = np.annotations.get(labels::HELM_RELEASE).cloned().or_else(|| {
                (np.labels.get(labels::MANAGED_BY).map(String::as_str) == Some("Helm"))
                    .then(|| np.labels.get("app.kubernetes.io/instance").cloned().unwrap_or_default())
            });
            let fix = match helm {
                Some(release) => format!(
                    "turn the chart's NetworkPolicy off in Helm release {} (often networkPolicy.enabled: false) \
                     and express its rules as a CiliumNetworkPolicy, or make it allow everything the CNPs allow",
                    if release.is_empty() {
                        "(unknown)"
                    } else {
                        release.as_str()
                    }
                ),
                None => "translate it into a CiliumNetworkPolicy and delete it, or make it allow everything the \
                         CNPs allow"
                    .to_string(),
            };
            out.push(Finding {
                severity: Severity::Warning,
                code: code::MIXED_POLICY_KINDS,
                policy: Some(policy_id(np)),
                namespace: Some(namespace.to_string()),
                message: format!(
                    "NetworkPolicy {} sits next to {} CiliumNetworkPolicies in {namespace} ({listed}): they combine: \
                     the NetworkPolicy narrows what the CNPs allow, since its selection switches the pods it \
                     selects into default-deny for {} even where enableDefaultDeny is false",
                    np.name,
                    cnps.len(),
                    types
                ),
                fix,
                path: None,
                peer: None,
                peer_namespace: None,
            });
        }
    }
}

fn np_policy_types(np: &PolicyObject) -> String {
    let types = np
        .spec()
        .and_then(Value::as_object)
        .map_or((true, false), network_policy_types);
    match types {
        (true, true) => "Ingress and Egress".into(),
        (false, true) => "Egress".into(),
        (true, false) => "Ingress".into(),
        (false, false) => "no direction".into(),
    }
}
