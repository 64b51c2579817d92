//! What part a policy plays for a namespace, read from its rules: a baseline
//! allow (which components), the default-deny, an app allow, a deny. The
//! names and labels teams give their policies do not enter into it; tighten's
//! labels only say who wrote it and what it claims to be.

use std::collections::BTreeSet;

use crate::cluster::PolicyObject;
use crate::policy::model::{Entity, PeerRule, PeerSelector, Policy, PolicyRef};
use crate::policy::selector::LabelSelector;
use crate::policy::shape::DenyShape;
use crate::rollout::labels;
use crate::rollout::role::{BaselineComponent, PolicyRole};

use super::Scope;

/// What a policy does for the namespace, whatever it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Function {
    /// Allows one or more of the golden baseline's paths for every endpoint.
    Baseline {
        components: BTreeSet<BaselineComponent>,
        /// The DNS allow has no DNS L7 rule: toFQDNs rules cannot work.
        dns_without_l7: bool,
        /// It allows more than the baseline too.
        also_allows: bool,
    },
    /// Selects every endpoint and does nothing but deny by default.
    DefaultDeny {
        /// `enableDefaultDeny` is false wherever it takes part.
        staged: bool,
    },
    /// Allows traffic for some or all pods beyond the baseline.
    AppAllow,
    /// Explicit deny rules only.
    Deny,
    /// Does nothing for the namespace: selects none of its pods, has no rule,
    /// or is a host policy.
    Inert,
    /// Refused by the API server or the agent (the reader says which and
    /// why), so it enforces nothing.
    Unreadable(String),
}

impl Function {
    pub fn label(&self) -> String {
        match self {
            Function::Baseline {
                components,
                dns_without_l7,
                also_allows,
            } => {
                let names: Vec<_> = components.iter().map(|c| c.label()).collect();
                let mut text = format!("baseline/{}", names.join("+"));
                if *dns_without_l7 {
                    text.push_str(" (no DNS L7 rule)");
                }
                if *also_allows {
                    text.push_str(" + app allow");
                }
                text
            }
            Function::DefaultDeny { staged: true } => "default-deny (staged)".into(),
            Function::DefaultDeny { staged: false } => "default-deny".into(),
            Function::AppAllow => "app allow".into(),
            Function::Deny => "deny".into(),
            Function::Inert => "no effect".into(),
            Function::Unreadable(_) => "refused".into(),
        }
    }
}

/// One policy that applies to the namespace, with its function and author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyReading {
    pub policy: PolicyRef,
    pub function: Function,
    /// tighten wrote it (its managed-by label).
    pub tighten: bool,
    /// The role tighten's labels declare, when they do.
    pub labelled: Option<PolicyRole>,
    /// Each direction it takes part in, and how it denies there.
    pub shapes: Vec<(bool, DenyShape)>,
}

impl PolicyReading {
    /// `tighten` or `team`: who wrote the policy, as far as labels tell.
    pub fn author(&self) -> &'static str {
        if self.tighten { "tighten" } else { "team" }
    }

    /// A namespaced default-deny object (what a partial rollback deletes and
    /// stage/enforce flip).
    pub fn is_namespace_default_deny(&self) -> bool {
        self.policy.kind.is_namespaced() && matches!(self.function, Function::DefaultDeny { .. })
    }
}

impl Scope<'_> {
    /// The policy's function here, and who wrote it.
    pub(super) fn read(&self, object: &PolicyObject, policy: &Policy) -> PolicyReading {
        let mut shapes = Vec::new();
        for rule in policy.rules.iter().filter(|r| self.selects_any(r)) {
            for ingress in [true, false] {
                if let Some(effect) = rule.effect(ingress)
                    && !shapes.contains(&(ingress, effect.shape))
                {
                    shapes.push((ingress, effect.shape));
                }
            }
        }
        let function = if !policy.rules.iter().any(|r| self.selects_any(r)) {
            Function::Inert
        } else if self.is_default_deny(policy) {
            let staged = policy
                .rules
                .iter()
                .filter(|r| self.selects_any(r))
                .all(|r| [r.effect(true), r.effect(false)].iter().flatten().all(|e| !e.enforced));
            Function::DefaultDeny { staged }
        } else {
            self.allow_function(policy)
        };
        PolicyReading {
            policy: policy.reference.clone(),
            function,
            tighten: is_tighten(object),
            labelled: labelled(object),
            shapes,
        }
    }

    /// Baseline components, app allows, denies.
    fn allow_function(&self, policy: &Policy) -> Function {
        let mut components = BTreeSet::new();
        let (mut dns_l7, mut dns_plain, mut other, mut denies) = (false, false, false, false);
        for rule in policy.rules.iter().filter(|r| self.selects_any(r)) {
            let wide = self.namespace_wide(rule);
            denies |= rule
                .ingress_deny
                .iter()
                .chain(&rule.egress_deny)
                .any(|r| !r.matches_nothing());
            for (ingress, allows) in [(true, &rule.ingress), (false, &rule.egress)] {
                for peer_rule in allows.iter().filter(|r| !r.matches_nothing()) {
                    match self.component(ingress, peer_rule).filter(|_| wide) {
                        Some(BaselineComponent::Dns) => {
                            components.insert(BaselineComponent::Dns);
                            if peer_rule.has_l7 {
                                dns_l7 = true;
                            } else {
                                dns_plain = true;
                            }
                        }
                        Some(c) => {
                            components.insert(c);
                        }
                        None => other = true,
                    }
                }
            }
        }
        if !components.is_empty() {
            Function::Baseline {
                components,
                dns_without_l7: dns_plain && !dns_l7,
                also_allows: other,
            }
        } else if other {
            Function::AppAllow
        } else if denies {
            Function::Deny
        } else {
            Function::Inert
        }
    }

    /// Which baseline path one allow rule opens, if it is one.
    fn component(&self, ingress: bool, rule: &PeerRule) -> Option<BaselineComponent> {
        let peers = &rule.peers;
        if ingress {
            if peers.entities.contains(&Entity::Host) {
                return Some(BaselineComponent::HostProbes);
            }
            if peers.endpoints.iter().any(|s| self.is_own_namespace(s)) {
                return Some(BaselineComponent::IntraNamespace);
            }
            if peers.endpoints.iter().any(is_monitoring) {
                return Some(BaselineComponent::MonitoringScrape);
            }
            None
        } else {
            if rule.covers_dns() {
                return Some(BaselineComponent::Dns);
            }
            if peers.entities.contains(&Entity::KubeApiserver) {
                return Some(BaselineComponent::KubeApiserver);
            }
            if peers.endpoints.iter().any(|s| self.is_own_namespace(s)) {
                return Some(BaselineComponent::IntraNamespace);
            }
            None
        }
    }

    /// Every pod of this namespace (`fromEndpoints: [{}]` in a CNP, `podSelector: {}`
    /// alone in a NetworkPolicy, or a selector pinning this namespace and nothing else).
    fn is_own_namespace(&self, peer: &PeerSelector) -> bool {
        let scoped_here = peer.namespace.as_deref() == Some(self.namespace) && peer.namespace_selector.is_none();
        let pinned_here = peer.namespace.is_none()
            && peer.namespace_selector.is_none()
            && peer.selector.pinned_namespace() == Some(self.namespace)
            && peer.selector.match_labels.len() == 1
            && peer.selector.match_expressions.is_empty();
        (scoped_here && peer.selector.is_empty()) || pinned_here
    }
}

/// Words that name a metrics scraper or the namespace it runs in.
const MONITORING_WORDS: &[&str] = &[
    "monitoring",
    "prometheus",
    "observability",
    "vmagent",
    "victoria-metrics",
    "grafana-agent",
    "alloy",
    "otel",
];

/// A peer that is a metrics scraper: its namespace or labels name one.
fn is_monitoring(peer: &PeerSelector) -> bool {
    let values = |s: &LabelSelector| -> Vec<String> {
        let mut out: Vec<String> = s.match_labels.values().cloned().collect();
        for requirement in &s.match_expressions {
            if let crate::policy::selector::Requirement::In(_, values) = requirement {
                out.extend(values.iter().cloned());
            }
        }
        out
    };
    values(&peer.selector)
        .into_iter()
        .chain(peer.namespace_selector.iter().flat_map(values))
        .chain(peer.namespace.iter().cloned())
        .any(|v| {
            let v = v.to_ascii_lowercase();
            MONITORING_WORDS.iter().any(|w| v.contains(w))
        })
}

/// tighten wrote it: its `app.kubernetes.io/managed-by: tighten` label.
pub fn is_tighten(object: &PolicyObject) -> bool {
    object.labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_TIGHTEN)
}

/// The role tighten's labels declare, when the policy carries them.
pub(super) fn labelled(object: &PolicyObject) -> Option<PolicyRole> {
    match PolicyRole::of(object) {
        PolicyRole::Foreign => None,
        role => Some(role),
    }
}
