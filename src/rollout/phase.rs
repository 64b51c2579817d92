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
use super::posture::{Function, PolicyReading, Posture, PostureInput, SideState};
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

/// What the policies applying to a namespace do, read by function (see
/// [`Posture`]), with what tighten's labels add: who wrote which.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedPolicies {
    /// The baseline components some policy provides for every endpoint,
    /// whoever wrote it and whatever it is called.
    pub baseline: BTreeSet<BaselineComponent>,
    /// Policies allowing beyond the baseline.
    pub app_allows: usize,
    /// The namespace's own policies carrying tighten's labels.
    pub managed: usize,
    /// The namespace's own policies.
    pub total: usize,
    /// Names of tighten policies with a role tighten does not know.
    pub unrecognized: Vec<String>,
    /// tighten policies whose rules do not do what their labels say.
    pub mislabelled: Vec<(String, String)>,
    pub posture: Posture,
    /// When the namespace's own default-deny was created, and its name: when
    /// a reconciler applied it from Git, that is when the namespace was
    /// staged (nobody recorded it on the namespace).
    pub default_deny_created: Option<(Timestamp, String)>,
}

impl ObservedPolicies {
    /// Reads a namespace's policies, the clusterwide ones that may select its
    /// pods, and its pods.
    pub fn read(input: &PostureInput<'_>) -> ObservedPolicies {
        let posture = Posture::read(input);
        let mut observed = ObservedPolicies {
            baseline: posture.baseline(),
            total: input.policies.len(),
            ..ObservedPolicies::default()
        };
        for reading in posture.readings.iter().filter(|r| r.policy.kind.is_namespaced()) {
            if reading.tighten {
                observed.managed += 1;
            }
            match &reading.function {
                Function::AppAllow => observed.app_allows += 1,
                Function::Baseline { also_allows: true, .. } => observed.app_allows += 1,
                _ => {}
            }
            if let Some(why) = mislabel(reading) {
                observed.mislabelled.push((reading.policy.name.clone(), why));
            }
            if let Some(PolicyRole::Unrecognized(_)) = reading.labelled {
                observed.unrecognized.push(reading.policy.name.clone());
            }
        }
        observed.default_deny_created = posture
            .default_denies()
            .filter_map(|r| {
                let policy = input
                    .policies
                    .iter()
                    .find(|p| p.kind == r.policy.kind && p.name == r.policy.name)?;
                Some((policy.created?, policy.name.clone()))
            })
            .min();
        observed.posture = posture;
        observed
    }

    /// Reads policies alone (a backup's objects): no pods, no clusterwide policy.
    pub fn from_objects(namespace: &str, objects: &[PolicyObject]) -> ObservedPolicies {
        let policies: Vec<&PolicyObject> = objects.iter().collect();
        ObservedPolicies::read(&PostureInput {
            namespace,
            namespace_labels: &BTreeMap::new(),
            policies: &policies,
            clusterwide: &[],
            pods: &[],
        })
    }

    pub fn missing_baseline(&self) -> Vec<BaselineComponent> {
        BaselineComponent::ALL
            .into_iter()
            .filter(|c| !self.baseline.contains(c))
            .collect()
    }

    /// The phase the objects alone show: the posture of the whole namespace.
    fn phase(&self) -> Option<Phase> {
        let sides = [self.posture.ingress_state(), self.posture.egress_state()];
        if sides.contains(&SideState::Enforced) {
            Some(Phase::Enforced)
        } else if sides.contains(&SideState::Staged) {
            Some(Phase::Audit)
        } else if !self.baseline.is_empty() {
            Some(Phase::Baseline)
        } else {
            None
        }
    }
}

/// Where a tighten label and the policy's rules disagree.
fn mislabel(reading: &PolicyReading) -> Option<String> {
    let labelled = reading.labelled.as_ref()?;
    let found = &reading.function;
    let agrees = match (labelled, found) {
        (PolicyRole::Baseline(Some(c)), Function::Baseline { components, .. }) => components.contains(c),
        (PolicyRole::Baseline(_), Function::Baseline { .. }) => true,
        (PolicyRole::DefaultDeny, Function::DefaultDeny { .. }) => true,
        (PolicyRole::AppAllow, _) => true,
        (PolicyRole::Unrecognized(_), _) => true,
        (_, Function::Unreadable(_) | Function::Inert) => true,
        _ => false,
    };
    (!agrees).then(|| format!("labelled {} but its rules make it {}", labelled.label(), found.label()))
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
    /// Rolled back, yet policies are present (re-applied by Git, or by hand).
    RolledBackButPoliciesPresent(usize),
    /// A tighten policy whose rules do not do what its labels say.
    Mislabelled { policy: String, why: String },
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
                write!(f, "rolled back, but {n} policies are present")
            }
            Drift::Mislabelled { policy, why } => write!(f, "{policy} is {why}"),
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
        let posture = &observed.posture;
        let (ingress, egress) = (posture.ingress_state(), posture.egress_state());
        let enforcing = ingress == SideState::Enforced || egress == SideState::Enforced;
        match intent.phase {
            Some(Phase::CarvedOut) if enforcing => drift.push(Drift::CarvedOutButEnforced),
            Some(Phase::RolledBack) if observed.total > 0 => {
                drift.push(Drift::RolledBackButPoliciesPresent(observed.total))
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
        if egress == SideState::Enforced && !observed.baseline.contains(&BaselineComponent::Dns) {
            drift.push(Drift::DefaultDenyWithoutDns);
        }
        if matches!(phase, Phase::Baseline | Phase::Audit | Phase::Enforced) {
            let missing = observed.missing_baseline();
            if !missing.is_empty() {
                drift.push(Drift::IncompleteBaseline(missing));
            }
        }
        if enforcing && !posture.fully_enforced() {
            drift.push(Drift::PartialEnforcement {
                ingress: ingress == SideState::Enforced,
                egress: egress == SideState::Enforced,
            });
        }
        let default_denies = posture.default_denies().count();
        if default_denies > 1 {
            drift.push(Drift::DuplicateDefaultDeny(default_denies));
        }
        drift.extend(observed.mislabelled.iter().map(|(policy, why)| Drift::Mislabelled {
            policy: policy.clone(),
            why: why.clone(),
        }));
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
