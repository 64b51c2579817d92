//! What each rollout action needs to be allowed to do, and what the cluster
//! said about it. A forbidden action is shown disabled, naming the missing
//! permission, before the operator tries it.

use std::collections::BTreeMap;
use std::fmt;

use crate::rollout::RolloutAction;

/// One RBAC permission.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    /// The namespace for namespaced resources.
    pub namespace: Option<String>,
    /// The object name (the namespace itself, for `namespaces`).
    pub name: Option<String>,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resource = if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        write!(f, "{} {resource}", self.verb)?;
        if let Some(name) = &self.name {
            write!(f, "/{name}")?;
        }
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        Ok(())
    }
}

const CILIUM: &str = "cilium.io";
const NETWORKING: &str = "networking.k8s.io";

/// The permissions `action` needs on `namespace`.
pub fn required(action: RolloutAction, namespace: &str) -> Vec<Permission> {
    let ns = || Some(namespace.to_string());
    let on = |verb, group, resource| Permission {
        verb,
        group,
        resource,
        namespace: ns(),
        name: None,
    };
    let annotate = Permission {
        verb: "patch",
        group: "",
        resource: "namespaces",
        namespace: None,
        name: ns(),
    };
    // Server-side apply of an object that does not exist yet needs create too.
    let apply = |group, resource| vec![on("create", group, resource), on("patch", group, resource)];
    let mut needed = match action {
        // The owners live in their own namespaces (flux-system, argocd): the
        // dry run asks the API server about those writes.
        RolloutAction::Observe | RolloutAction::CarveOut | RolloutAction::ResumeOwners => vec![],
        RolloutAction::ApplyBaseline
        | RolloutAction::StageDefaultDeny
        | RolloutAction::ApplySuggestions
        | RolloutAction::Promote => apply(CILIUM, "ciliumnetworkpolicies"),
        RolloutAction::Enforce => vec![on("patch", CILIUM, "ciliumnetworkpolicies")],
        // A team's default-deny may be a NetworkPolicy deny-all.
        RolloutAction::RollbackDefaultDeny => vec![
            on("delete", CILIUM, "ciliumnetworkpolicies"),
            on("delete", NETWORKING, "networkpolicies"),
        ],
        // Annotations only, unless the team's policies are labelled too: the
        // dry run asks about those writes.
        RolloutAction::Adopt => vec![],
        RolloutAction::RollbackNamespace => {
            vec![
                on("delete", CILIUM, "ciliumnetworkpolicies"),
                on("delete", NETWORKING, "networkpolicies"),
            ]
        }
        RolloutAction::Restore => {
            let mut both = apply(CILIUM, "ciliumnetworkpolicies");
            both.extend(apply(NETWORKING, "networkpolicies"));
            both
        }
    };
    needed.push(annotate);
    needed
}

/// Every action, for checking them all at once.
pub const ACTIONS: [RolloutAction; 12] = [
    RolloutAction::Observe,
    RolloutAction::ApplyBaseline,
    RolloutAction::StageDefaultDeny,
    RolloutAction::Enforce,
    RolloutAction::RollbackDefaultDeny,
    RolloutAction::RollbackNamespace,
    RolloutAction::CarveOut,
    RolloutAction::Restore,
    RolloutAction::ApplySuggestions,
    RolloutAction::ResumeOwners,
    RolloutAction::Promote,
    RolloutAction::Adopt,
];

/// Which actions the current user may not take in a namespace, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessReport {
    pub denied: BTreeMap<RolloutAction, Vec<Permission>>,
}

impl AccessReport {
    /// The report for a user allowed `allowed(permission)`.
    pub fn from_check(namespace: &str, allowed: impl Fn(&Permission) -> bool) -> AccessReport {
        let denied = ACTIONS
            .into_iter()
            .filter_map(|action| {
                let missing: Vec<_> = required(action, namespace)
                    .into_iter()
                    .filter(|p| !allowed(p))
                    .collect();
                (!missing.is_empty()).then_some((action, missing))
            })
            .collect();
        AccessReport { denied }
    }

    /// Why `action` is not allowed, if it is not.
    pub fn why_denied(&self, action: RolloutAction) -> Option<String> {
        self.denied.get(&action).map(|missing| {
            let list: Vec<_> = missing.iter().map(ToString::to_string).collect();
            format!("missing permission: {}", list.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_needs_to_annotate_the_namespace() {
        for action in ACTIONS {
            assert!(
                required(action, "shop")
                    .iter()
                    .any(|p| p.resource == "namespaces" && p.name.as_deref() == Some("shop"))
            );
        }
    }

    #[test]
    fn denials_name_the_missing_permission() {
        let read_only = AccessReport::from_check("shop", |p| p.verb == "get");
        assert_eq!(read_only.denied.len(), ACTIONS.len());
        assert_eq!(
            read_only.why_denied(RolloutAction::RollbackDefaultDeny).as_deref(),
            Some(
                "missing permission: delete ciliumnetworkpolicies.cilium.io in shop, delete \
                 networkpolicies.networking.k8s.io in shop, patch namespaces/shop"
            )
        );
        let no_delete = AccessReport::from_check("shop", |p| p.verb != "delete");
        assert!(no_delete.why_denied(RolloutAction::Enforce).is_none());
        assert!(
            no_delete
                .why_denied(RolloutAction::RollbackNamespace)
                .is_some_and(|w| w.contains("networkpolicies.networking.k8s.io"))
        );
    }
}
