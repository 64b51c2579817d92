//! A namespace's rollout phase, derived from the objects in it and the intent the
//! operator recorded on it, and every way the two can disagree (drift).
//!
//! The objects are the truth for what is enforced; the `tighten.dev/*` annotations
//! say what the operator meant and when. Carved-out and Rolled-back leave no policy
//! behind, so only the intent can name them. A disagreement is reported as
//! [`Drift`], never resolved silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use serde_json::Value;

use crate::cluster::PolicyObject;

use super::labels;
use super::role::{BaselineComponent, PolicyRole};

/// Where a namespace stands in the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    Unmanaged,
    Observe,
    Baseline,
    Audit,
    Enforced,
    CarvedOut,
    RolledBack,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Unmanaged,
        Phase::Observe,
        Phase::Baseline,
        Phase::Audit,
        Phase::Enforced,
        Phase::CarvedOut,
        Phase::RolledBack,
    ];

    /// The value written to the `tighten.dev/intent` annotation.
    pub fn intent_value(self) -> &'static str {
        match self {
            Phase::Unmanaged => "unmanaged",
            Phase::Observe => "observe",
            Phase::Baseline => "baseline",
            Phase::Audit => "audit",
            Phase::Enforced => "enforced",
            Phase::CarvedOut => "carved-out",
            Phase::RolledBack => "rolled-back",
        }
    }

    pub fn from_intent_value(value: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.intent_value() == value)
    }

    /// Display name.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Unmanaged => "Unmanaged",
            Phase::Observe => "Observe",
            Phase::Baseline => "Baseline",
            Phase::Audit => "Audit",
            Phase::Enforced => "Enforced",
            Phase::CarvedOut => "Carved-out",
            Phase::RolledBack => "Rolled-back",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The operator's intent, as recorded in namespace annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Intent {
    pub phase: Option<Phase>,
    pub at: Option<Timestamp>,
    pub by: Option<String>,
    pub staged_at: Option<Timestamp>,
    pub enforced_at: Option<Timestamp>,
    pub carve_out_reason: Option<String>,
    pub backup: Option<String>,
    /// Annotations that exist but cannot be read.
    pub problems: Vec<String>,
}

impl Intent {
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Intent {
        let mut problems = Vec::new();
        let mut time = |key: &str| -> Option<Timestamp> {
            let raw = annotations.get(key)?;
            match raw.parse::<Timestamp>() {
                Ok(t) => Some(t),
                Err(_) => {
                    problems.push(format!("{key}={raw:?} is not an RFC 3339 time"));
                    None
                }
            }
        };
        let at = time(labels::INTENT_AT);
        let staged_at = time(labels::STAGED_AT);
        let enforced_at = time(labels::ENFORCED_AT);
        let phase = annotations.get(labels::INTENT).and_then(|raw| {
            let phase = Phase::from_intent_value(raw).filter(|p| *p != Phase::Unmanaged);
            if phase.is_none() {
                problems.push(format!("{}={raw:?} is not a phase", labels::INTENT));
            }
            phase
        });
        Intent {
            phase,
            at,
            by: annotations.get(labels::INTENT_BY).cloned(),
            staged_at,
            enforced_at,
            carve_out_reason: annotations.get(labels::CARVE_OUT_REASON).cloned(),
            backup: annotations.get(labels::BACKUP).cloned(),
            problems,
        }
    }
}

/// The namespace's default-deny policies, combined as Cilium combines them: a
/// direction is enforced when any of them enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultDeny {
    pub count: usize,
    pub ingress_enforced: bool,
    pub egress_enforced: bool,
}

impl DefaultDeny {
    pub fn is_staged(&self) -> bool {
        !self.ingress_enforced && !self.egress_enforced
    }
    pub fn is_fully_enforced(&self) -> bool {
        self.ingress_enforced && self.egress_enforced
    }
}

/// What tighten's labels say is present in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedPolicies {
    pub baseline: BTreeSet<BaselineComponent>,
    /// Baseline policies whose component label is missing or unknown.
    pub baseline_unlabelled: usize,
    pub default_deny: Option<DefaultDeny>,
    pub app_allows: usize,
    pub foreign: usize,
    /// Names of tighten policies with a role tighten does not know.
    pub unrecognized: Vec<String>,
}

impl ObservedPolicies {
    /// Reads the policies of one namespace (namespaced ones; clusterwide policies
    /// that select its pods count as foreign).
    pub fn from_policies<'a>(policies: impl IntoIterator<Item = &'a PolicyObject>) -> ObservedPolicies {
        let mut observed = ObservedPolicies::default();
        for policy in policies {
            match PolicyRole::of(policy) {
                PolicyRole::Baseline(Some(component)) => {
                    observed.baseline.insert(component);
                }
                PolicyRole::Baseline(None) => observed.baseline_unlabelled += 1,
                PolicyRole::DefaultDeny => {
                    let (ingress, egress) = default_deny_flags(policy);
                    let dd = observed.default_deny.get_or_insert(DefaultDeny {
                        count: 0,
                        ingress_enforced: false,
                        egress_enforced: false,
                    });
                    dd.count += 1;
                    dd.ingress_enforced |= ingress;
                    dd.egress_enforced |= egress;
                }
                PolicyRole::AppAllow => observed.app_allows += 1,
                PolicyRole::Unrecognized(_) => observed.unrecognized.push(policy.name.clone()),
                PolicyRole::Foreign => observed.foreign += 1,
            }
        }
        observed
    }

    /// Number of policies tighten manages here.
    pub fn managed_count(&self) -> usize {
        self.baseline.len()
            + self.baseline_unlabelled
            + self.default_deny.map_or(0, |d| d.count)
            + self.app_allows
            + self.unrecognized.len()
    }

    pub fn missing_baseline(&self) -> Vec<BaselineComponent> {
        BaselineComponent::ALL
            .into_iter()
            .filter(|c| !self.baseline.contains(c))
            .collect()
    }

    /// The phase the objects alone show, if any of tighten's policies exist.
    fn phase(&self) -> Option<Phase> {
        match self.default_deny {
            Some(dd) if dd.is_staged() => Some(Phase::Audit),
            Some(_) => Some(Phase::Enforced),
            None if !self.baseline.is_empty() || self.baseline_unlabelled > 0 => Some(Phase::Baseline),
            None => None,
        }
    }
}

/// `enableDefaultDeny` of a policy's first rule. Cilium defaults each direction to
/// true when the policy has rules in it, which a default-deny always has.
pub fn default_deny_flags(policy: &PolicyObject) -> (bool, bool) {
    let settings = policy
        .cilium_rules()
        .first()
        .and_then(|rule| rule.get("enableDefaultDeny"))
        .cloned()
        .unwrap_or(Value::Null);
    let flag = |direction: &str| settings.get(direction).and_then(Value::as_bool).unwrap_or(true);
    (flag("ingress"), flag("egress"))
}

/// One way the objects and the recorded intent disagree, or the objects are unsafe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The operator asked for one phase; the objects show another.
    IntentMismatch { intended: Phase, observed: Phase },
    /// A default-deny enforces while DNS is not allowed: every lookup fails.
    DefaultDenyWithoutDns,
    /// Some baseline allows are missing while the namespace is past Observe.
    IncompleteBaseline(Vec<BaselineComponent>),
    /// The default-deny enforces one direction only.
    PartialEnforcement { ingress: bool, egress: bool },
    /// More than one default-deny policy.
    DuplicateDefaultDeny(usize),
    /// Carved out, yet a default-deny enforces.
    CarvedOutButEnforced,
    /// Rolled back, yet tighten policies are present.
    RolledBackButPoliciesPresent(usize),
    /// An intent annotation that cannot be read.
    UnreadableIntent(String),
    /// A tighten policy whose role label is unknown.
    UnrecognizedRole(String),
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::IntentMismatch { intended, observed } => {
                write!(f, "intent is {intended} but the objects show {observed}")
            }
            Drift::DefaultDenyWithoutDns => {
                f.write_str("default-deny enforces without the DNS baseline: lookups will fail")
            }
            Drift::IncompleteBaseline(missing) => {
                let names: Vec<_> = missing.iter().map(|c| c.label()).collect();
                write!(f, "baseline incomplete: missing {}", names.join(", "))
            }
            Drift::PartialEnforcement { ingress, egress } => write!(
                f,
                "default-deny enforces {} only",
                match (ingress, egress) {
                    (true, false) => "ingress",
                    (false, true) => "egress",
                    _ => "one direction",
                }
            ),
            Drift::DuplicateDefaultDeny(n) => write!(f, "{n} default-deny policies (expected one)"),
            Drift::CarvedOutButEnforced => f.write_str("carved out, but a default-deny still enforces"),
            Drift::RolledBackButPoliciesPresent(n) => {
                write!(f, "rolled back, but {n} tighten policies are present")
            }
            Drift::UnreadableIntent(why) => write!(f, "unreadable annotation: {why}"),
            Drift::UnrecognizedRole(name) => write!(f, "policy {name} has an unknown tighten role"),
        }
    }
}

/// The derived state of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceStatus {
    pub phase: Phase,
    pub intent: Intent,
    pub observed: ObservedPolicies,
    pub drift: Vec<Drift>,
}

impl NamespaceStatus {
    pub fn derive(intent: Intent, observed: ObservedPolicies) -> NamespaceStatus {
        let from_objects = observed.phase();
        let phase = match (intent.phase, from_objects) {
            (Some(Phase::CarvedOut), _) => Phase::CarvedOut,
            (Some(Phase::RolledBack), None) => Phase::RolledBack,
            (_, Some(p)) => p,
            // tighten recorded an intent but nothing is applied: it is watching.
            (Some(_), None) => Phase::Observe,
            (None, None) => Phase::Unmanaged,
        };

        let mut drift = Vec::new();
        let enforcing = observed
            .default_deny
            .is_some_and(|dd| dd.ingress_enforced || dd.egress_enforced);
        match intent.phase {
            Some(Phase::CarvedOut) if enforcing => drift.push(Drift::CarvedOutButEnforced),
            Some(Phase::RolledBack) if observed.managed_count() > 0 => {
                drift.push(Drift::RolledBackButPoliciesPresent(observed.managed_count()))
            }
            Some(intended @ (Phase::Observe | Phase::Baseline | Phase::Audit | Phase::Enforced))
                if intended != phase =>
            {
                drift.push(Drift::IntentMismatch {
                    intended,
                    observed: phase,
                })
            }
            _ => {}
        }
        if enforcing && !observed.baseline.contains(&BaselineComponent::Dns) {
            drift.push(Drift::DefaultDenyWithoutDns);
        }
        if matches!(phase, Phase::Baseline | Phase::Audit | Phase::Enforced) {
            let missing = observed.missing_baseline();
            if !missing.is_empty() {
                drift.push(Drift::IncompleteBaseline(missing));
            }
        }
        if let Some(dd) = observed.default_deny {
            if enforcing && !dd.is_fully_enforced() {
                drift.push(Drift::PartialEnforcement {
                    ingress: dd.ingress_enforced,
                    egress: dd.egress_enforced,
                });
            }
            if dd.count > 1 {
                drift.push(Drift::DuplicateDefaultDeny(dd.count));
            }
        }
        drift.extend(intent.problems.iter().cloned().map(Drift::UnreadableIntent));
        drift.extend(observed.unrecognized.iter().cloned().map(Drift::UnrecognizedRole));

        NamespaceStatus {
            phase,
            intent,
            observed,
            drift,
        }
    }
}

#[cfg(test)]
mod tests;
