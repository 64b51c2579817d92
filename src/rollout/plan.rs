//! What each rollout action will do to one namespace, computed purely from the
//! current objects. The confirm dialog shows a plan; the mutation layer executes it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cluster::{CiliumInfo, NamespaceInfo, ObjectRef, PolicyKind, PolicyObject};

use super::gitops::{self, GitOpsView, Owner, OwnerChange};
use super::labels;
use super::phase::{NamespaceStatus, Phase};
use super::role::PolicyRole;

/// The rollout steps an operator can take on a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutAction {
    Observe,
    ApplyBaseline,
    StageDefaultDeny,
    Enforce,
    RollbackDefaultDeny,
    RollbackNamespace,
    CarveOut,
    Restore,
    ApplySuggestions,
    /// Resume the Flux Kustomizations and Argo CD Applications a rollback paused.
    ResumeOwners,
    /// Copy another namespace's app allows here, rewritten for this namespace.
    Promote,
    /// Record intent for a rollout tighten did not start, from its posture.
    Adopt,
}

impl RolloutAction {
    pub fn title(self) -> &'static str {
        match self {
            RolloutAction::Observe => "Start observing",
            RolloutAction::ApplyBaseline => "Apply baseline",
            RolloutAction::StageDefaultDeny => "Stage default-deny (Audit)",
            RolloutAction::Enforce => "Enforce default-deny",
            RolloutAction::RollbackDefaultDeny => "Partial rollback (default-deny only)",
            RolloutAction::RollbackNamespace => "Namespace rollback (all policies)",
            RolloutAction::CarveOut => "Carve out",
            RolloutAction::Restore => "Restore backup",
            RolloutAction::ApplySuggestions => "Apply suggested allows",
            RolloutAction::ResumeOwners => "Resume GitOps owners",
            RolloutAction::Promote => "Promote app allows",
            RolloutAction::Adopt => "Adopt the namespace's rollout",
        }
    }

    /// Deletes objects: needs a typed namespace name and a backup first.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            RolloutAction::RollbackDefaultDeny | RolloutAction::RollbackNamespace
        )
    }

    /// The identifier used in audit records and file names.
    pub fn slug(self) -> &'static str {
        match self {
            RolloutAction::Observe => "observe",
            RolloutAction::ApplyBaseline => "apply-baseline",
            RolloutAction::StageDefaultDeny => "stage-default-deny",
            RolloutAction::Enforce => "enforce",
            RolloutAction::RollbackDefaultDeny => "rollback-default-deny",
            RolloutAction::RollbackNamespace => "rollback-namespace",
            RolloutAction::CarveOut => "carve-out",
            RolloutAction::Restore => "restore",
            RolloutAction::ApplySuggestions => "apply-suggestions",
            RolloutAction::ResumeOwners => "resume-gitops",
            RolloutAction::Promote => "promote",
            RolloutAction::Adopt => "adopt",
        }
    }
}

impl fmt::Display for RolloutAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// One object change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    Create(PolicyObject),
    Update { before: PolicyObject, after: PolicyObject },
    Delete(PolicyObject),
}

impl Change {
    pub fn target(&self) -> ObjectRef {
        match self {
            Change::Create(o) | Change::Delete(o) | Change::Update { after: o, .. } => o.object_ref(),
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Change::Create(_) => "create",
            Change::Update { .. } => "update",
            Change::Delete(_) => "delete",
        }
    }
}

/// Namespace annotations to set or remove, applied with the object changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AnnotationChange {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

/// Everything one confirmed action will do. All-or-nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutPlan {
    pub action: RolloutAction,
    pub namespace: String,
    /// The namespace's resourceVersion the plan was computed against.
    pub namespace_version: Option<String>,
    pub changes: Vec<Change>,
    pub annotations: AnnotationChange,
    /// Where the deleted objects are written before the first delete.
    pub backup_to: Option<PathBuf>,
    /// Why (carve-out reason, gate override reason).
    pub reason: Option<String>,
    /// Things the operator should read before confirming.
    pub warnings: Vec<String>,
    /// GitOps owners paused (before the policy changes) or resumed with the plan.
    #[serde(default)]
    pub owners: Vec<OwnerChange>,
    /// What tighten read of the namespace that the action rests on (the
    /// posture an adoption records, the default-deny a rollback removes).
    #[serde(default)]
    pub read: Vec<String>,
}

impl RolloutPlan {
    /// Moves the time annotations (intent-at, staged-at, enforced-at) to `now`:
    /// a plan is built when its dialog opens, but what happened, happened
    /// when it was confirmed.
    pub fn restamp(&mut self, now: Timestamp) {
        for key in [labels::INTENT_AT, labels::STAGED_AT, labels::ENFORCED_AT] {
            if let Some(value) = self.annotations.set.get_mut(key) {
                *value = annotation_time(now);
            }
        }
        for owner in &mut self.owners {
            if let Some(value) = owner.note.get_mut(labels::SUSPENDED_AT) {
                *value = annotation_time(now);
            }
        }
    }

    /// The owner changes that will be written (the operator may leave the
    /// pauses out).
    pub fn enabled_owners(&self) -> impl Iterator<Item = &OwnerChange> {
        self.owners.iter().filter(|o| o.enabled)
    }

    /// Whether the plan pauses owners, when it offers to.
    pub fn pauses_owners(&self) -> Option<bool> {
        let pauses: Vec<_> = self.owners.iter().filter(|o| o.pause).collect();
        (!pauses.is_empty()).then(|| pauses.iter().all(|o| o.enabled))
    }

    /// Includes or leaves out the owner pauses, and records on the namespace
    /// only the ones that will be made.
    pub fn set_pause_owners(&mut self, enabled: bool, already_paused: &[Owner]) {
        for owner in self.owners.iter_mut().filter(|o| o.pause) {
            owner.enabled = enabled;
        }
        let mut recorded: Vec<Owner> = already_paused.to_vec();
        recorded.extend(self.enabled_owners().filter(|o| o.pause).map(|o| o.owner.clone()));
        recorded.sort();
        recorded.dedup();
        if recorded.is_empty() {
            self.annotations.set.remove(labels::PAUSED_OWNERS);
        } else {
            self.annotations
                .set
                .insert(labels::PAUSED_OWNERS.into(), gitops::record_pauses(&recorded));
        }
    }

    /// Adds to the reason on record (after the plan's own, such as a carve-out's).
    pub fn add_reason(&mut self, text: String) {
        self.reason = Some(match self.reason.take() {
            Some(own) => format!("{own}; {text}"),
            None => text,
        });
    }

    pub fn deletes(&self) -> impl Iterator<Item = &PolicyObject> {
        self.changes.iter().filter_map(|c| match c {
            Change::Delete(o) => Some(o),
            _ => None,
        })
    }

    /// One line per change, as the confirm dialog and the audit record list them.
    pub fn summary(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.enabled_owners().map(OwnerChange::summary).collect();
        lines.extend(self.changes.iter().map(|c| format!("{} {}", c.verb(), c.target())));
        for (key, value) in &self.annotations.set {
            lines.push(format!("annotate Namespace {} {key}={value}", self.namespace));
        }
        for key in &self.annotations.remove {
            lines.push(format!("annotate Namespace {} {key}-", self.namespace));
        }
        lines
    }
}

/// Why an action cannot be planned in the namespace's current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{action} is not possible in phase {phase}: {hint}")]
    WrongPhase {
        action: RolloutAction,
        phase: Phase,
        hint: &'static str,
    },
    #[error("nothing to change: {0}")]
    NothingToDo(String),
    #[error("{0}")]
    Invalid(String),
}

/// Pauses the GitOps owners of the policies a rollback deletes, so they do
/// not re-apply them, and records them on the namespace for the resume.
fn pause_owners(plan: &mut RolloutPlan, input: &PlanInput<'_>) {
    let deleted: Vec<&PolicyObject> = plan.deletes().collect();
    let at = annotation_time(input.now);
    let reason = format!("tighten {} of {}", plan.action.slug(), plan.namespace);
    let note = gitops::PauseNote {
        operator: input.operator,
        at: &at,
        reason: &reason,
    };
    let (pauses, warnings) = gitops::pauses_for(&deleted, &input.gitops, &note);
    plan.warnings.extend(warnings);
    if pauses.is_empty() {
        return;
    }
    plan.owners = pauses;
    let already = gitops::recorded_pauses(&input.namespace.annotations);
    plan.set_pause_owners(true, &already);
}

/// What a plan is computed from.
pub struct PlanInput<'a> {
    pub namespace: &'a NamespaceInfo,
    /// The namespaced policies (CNP and NP) of the namespace.
    pub policies: &'a [&'a PolicyObject],
    pub status: &'a NamespaceStatus,
    /// The baseline set rendered for this namespace.
    pub baseline: &'a [PolicyObject],
    /// The staged default-deny rendered for this namespace.
    pub default_deny: &'a PolicyObject,
    pub now: Timestamp,
    pub operator: &'a str,
    pub backup_dir: PathBuf,
    /// What the cluster's Cilium can do.
    pub cilium: &'a CiliumInfo,
    /// The Flux Kustomizations and Argo CD Applications, for pausing owners.
    pub gitops: GitOpsView<'a>,
}

/// The objects an action needs beyond the cluster's current state.
pub enum Request {
    Simple(RolloutAction),
    CarveOut {
        reason: String,
    },
    Restore {
        backup: PathBuf,
        objects: Vec<PolicyObject>,
    },
    /// Allow policies suggested from (would-be) dropped flows.
    Suggestions {
        policies: Vec<PolicyObject>,
    },
    /// Another namespace's app allows, to copy here.
    Promote {
        from: String,
        policies: Vec<PolicyObject>,
    },
    /// Record intent for the posture found; `label_policies` also labels the
    /// team's policies with the role tighten read (Git owns them: only on request).
    Adopt {
        label_policies: bool,
    },
}

impl Request {
    pub fn action(&self) -> RolloutAction {
        match self {
            Request::Simple(a) => *a,
            Request::CarveOut { .. } => RolloutAction::CarveOut,
            Request::Restore { .. } => RolloutAction::Restore,
            Request::Promote { .. } => RolloutAction::Promote,
            Request::Suggestions { .. } => RolloutAction::ApplySuggestions,
            Request::Adopt { .. } => RolloutAction::Adopt,
        }
    }
}

/// Computes the plan for `request` or says why it cannot be done.
pub fn plan(request: Request, input: &PlanInput<'_>) -> Result<RolloutPlan, Refusal> {
    let action = request.action();
    let phase = input.status.phase;
    let mut plan = RolloutPlan {
        action,
        namespace: input.namespace.name.clone(),
        namespace_version: input.namespace.resource_version.clone(),
        changes: Vec::new(),
        annotations: AnnotationChange::default(),
        backup_to: None,
        reason: None,
        warnings: Vec::new(),
        owners: Vec::new(),
        read: Vec::new(),
    };
    let wrong_phase = |hint| Refusal::WrongPhase { action, phase, hint };

    match request {
        Request::Simple(RolloutAction::Observe) => {
            if !matches!(phase, Phase::Unmanaged | Phase::CarvedOut | Phase::RolledBack) {
                return Err(wrong_phase("the namespace is already observed or further along"));
            }
            set_intent(&mut plan, input, Phase::Observe);
            plan.annotations.remove.push(labels::CARVE_OUT_REASON.into());
        }
        Request::Simple(RolloutAction::ApplyBaseline) => {
            if phase == Phase::CarvedOut {
                return Err(wrong_phase("carved-out namespaces are skipped; observe it first"));
            }
            for wanted in input.baseline {
                plan.changes.extend(converge(input.policies, wanted.clone()));
            }
            if plan.changes.is_empty() {
                return Err(Refusal::NothingToDo("the baseline is present and up to date".into()));
            }
            if matches!(phase, Phase::Unmanaged | Phase::Observe | Phase::RolledBack) {
                set_intent(&mut plan, input, Phase::Baseline);
            }
        }
        Request::Simple(RolloutAction::StageDefaultDeny) => {
            match phase {
                Phase::Baseline => {
                    let missing = input.status.observed.missing_baseline();
                    if !missing.is_empty() {
                        return Err(Refusal::Invalid(format!(
                            "the baseline is incomplete (missing {}); apply the baseline first",
                            missing.iter().map(|c| c.label()).collect::<Vec<_>>().join(", ")
                        )));
                    }
                    plan.changes.push(Change::Create(input.default_deny.clone()));
                }
                Phase::Enforced => {
                    // Back from Enforced to Audit: a softer brake than deleting.
                    let targets = flippable_default_denies(input, "staged")?;
                    for dd in targets {
                        plan.changes.push(Change::Update {
                            before: dd.clone(),
                            after: with_enforcement(dd, false),
                        });
                    }
                    plan.warnings
                        .push("enforcement stops: the default-deny stays staged".into());
                    still_enforcing_warnings(&mut plan, input);
                }
                _ => return Err(wrong_phase("the default-deny is staged once the baseline is applied")),
            }
            set_intent(&mut plan, input, Phase::Audit);
            plan.annotations
                .set
                .insert(labels::STAGED_AT.into(), annotation_time(input.now));
        }
        Request::Simple(RolloutAction::Enforce) => {
            if phase != Phase::Audit {
                return Err(wrong_phase("stage the default-deny (Audit) first"));
            }
            for dd in flippable_default_denies(input, "enforced")? {
                plan.changes.push(Change::Update {
                    before: dd.clone(),
                    after: with_enforcement(dd, true),
                });
            }
            set_intent(&mut plan, input, Phase::Enforced);
            plan.annotations
                .set
                .insert(labels::ENFORCED_AT.into(), annotation_time(input.now));
        }
        Request::Simple(RolloutAction::RollbackDefaultDeny) => {
            let targets: Vec<_> = default_denies(input).cloned().collect();
            let posture = &input.status.observed.posture;
            let clusterwide = posture.clusterwide_denies();
            if targets.is_empty() {
                if let Some(first) = clusterwide.first() {
                    return Err(Refusal::Invalid(format!(
                        "the default-deny of {ns} comes from {kind} {first}, which a namespace action cannot \
                         remove: change it cluster-wide. The namespace rollback removes only {ns}'s own policies",
                        ns = input.namespace.name,
                        kind = first.kind,
                    )));
                }
                let enforcing = enforcing_policies(posture, &[]);
                if !enforcing.is_empty() {
                    return Err(Refusal::Invalid(format!(
                        "no policy of {} is only a default-deny: its pods are denied by default because {} select \
                         them with rules and no enableDefaultDeny: false. Removing that means removing allows: use \
                         the namespace rollback",
                        input.namespace.name,
                        enforcing.join(", ")
                    )));
                }
                return Err(wrong_phase("there is no default-deny to remove"));
            }
            for target in &targets {
                if !super::posture::is_tighten(target) {
                    plan.warnings.push(format!(
                        "{} was written outside tighten (its backup brings it back as it is)",
                        target.object_ref()
                    ));
                }
            }
            for policy in clusterwide {
                plan.warnings.push(format!(
                    "{} {policy} still denies by default: a namespace action cannot remove it",
                    policy.kind
                ));
            }
            let removed: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
            let remaining = enforcing_policies(posture, &removed);
            if !remaining.is_empty() {
                plan.warnings.push(format!(
                    "pods stay in default-deny where {} select them (rules without enableDefaultDeny: false)",
                    remaining.join(", ")
                ));
            }
            // During an incident: what denies, not every policy.
            plan.read = posture.summary();
            plan.changes.extend(targets.into_iter().map(Change::Delete));
            set_intent(&mut plan, input, Phase::Baseline);
            pause_owners(&mut plan, input);
        }
        Request::Simple(RolloutAction::RollbackNamespace) => {
            if input.policies.is_empty() {
                return Err(Refusal::NothingToDo("the namespace has no policies".into()));
            }
            plan.changes
                .extend(input.policies.iter().map(|p| Change::Delete((*p).clone())));
            if input.policies.iter().any(|p| PolicyRole::of(p) == PolicyRole::Foreign) {
                plan.warnings
                    .push("policies tighten does not manage are deleted too (they are in the backup)".into());
            }
            set_intent(&mut plan, input, Phase::RolledBack);
            pause_owners(&mut plan, input);
        }
        Request::Simple(RolloutAction::ResumeOwners) => {
            let recorded = gitops::recorded_pauses(&input.namespace.annotations);
            if recorded.is_empty() {
                return Err(Refusal::NothingToDo(
                    "no paused GitOps owner is recorded on the namespace".into(),
                ));
            }
            for owner in recorded {
                match input.gitops.state(&owner) {
                    Some(state) if state.paused => plan.owners.push(OwnerChange {
                        owner,
                        pause: false,
                        resource_version: state.resource_version,
                        automated: state.saved_automated,
                        note: BTreeMap::new(),
                        enabled: true,
                    }),
                    Some(_) => plan.warnings.push(format!("{owner} was already resumed")),
                    None => plan
                        .warnings
                        .push(format!("{owner} cannot be read here: resume it by hand")),
                }
            }
            if !plan.owners.is_empty() {
                plan.warnings.push(
                    "once resumed, each re-applies what Git holds: policies the rollback deleted come back unless \
                     they were removed from Git"
                        .into(),
                );
            }
            plan.annotations.remove.push(labels::PAUSED_OWNERS.into());
        }
        Request::CarveOut { reason } => {
            if phase == Phase::CarvedOut {
                return Err(wrong_phase("the namespace is already carved out"));
            }
            let reason = reason.trim().to_string();
            if reason.is_empty() {
                return Err(Refusal::Invalid("a carve-out needs a reason".into()));
            }
            if input.status.observed.posture.enforcing() {
                plan.warnings
                    .push("the enforced default-deny stays: roll it back to stop enforcing".into());
            }
            set_intent(&mut plan, input, Phase::CarvedOut);
            plan.annotations
                .set
                .insert(labels::CARVE_OUT_REASON.into(), reason.clone());
            plan.reason = Some(reason);
        }
        Request::Restore { backup, objects } => {
            if objects.is_empty() {
                return Err(Refusal::Invalid(format!(
                    "backup {} holds no objects",
                    backup.display()
                )));
            }
            if let Some(stray) = objects
                .iter()
                .find(|o| o.namespace.as_deref() != Some(input.namespace.name.as_str()))
            {
                return Err(Refusal::Invalid(format!(
                    "backup {} holds {} from another namespace; refusing to touch it",
                    backup.display(),
                    stray.object_ref()
                )));
            }
            for wanted in &objects {
                plan.changes
                    .extend(converge(input.policies, wanted.without_server_fields()));
            }
            if plan.changes.is_empty() {
                return Err(Refusal::NothingToDo(
                    "every object of the backup is already present".into(),
                ));
            }
            let restored = super::phase::ObservedPolicies::from_objects(&input.namespace.name, &objects);
            let target = NamespaceStatus::derive(super::phase::Intent::default(), restored).phase;
            set_intent(
                &mut plan,
                input,
                if target == Phase::Unmanaged {
                    Phase::Observe
                } else {
                    target
                },
            );
            plan.reason = Some(format!("restore of {}", backup.display()));
        }
        Request::Suggestions { policies } => {
            if policies.is_empty() {
                return Err(Refusal::NothingToDo(
                    "no flow of the namespace is, or would be, dropped".into(),
                ));
            }
            for wanted in &policies {
                if wanted.namespace.as_deref() != Some(input.namespace.name.as_str()) {
                    return Err(Refusal::Invalid(format!(
                        "a suggestion for {} is outside {}",
                        wanted.object_ref(),
                        input.namespace.name
                    )));
                }
                plan.changes.extend(converge(input.policies, wanted.clone()));
            }
            if plan.changes.is_empty() {
                return Err(Refusal::NothingToDo("the suggested allows are already applied".into()));
            }
            plan.warnings
                .push("review each rule: a suggestion allows what was observed, not what should be".into());
        }
        Request::Promote { from, policies } => {
            if phase == Phase::CarvedOut {
                return Err(wrong_phase("carved-out namespaces are skipped; observe it first"));
            }
            if from == input.namespace.name {
                return Err(Refusal::Invalid("a namespace cannot be promoted to itself".into()));
            }
            let originals: Vec<&PolicyObject> = policies.iter().collect();
            let allows = super::promote::promotable(&originals);
            if allows.is_empty() {
                return Err(Refusal::NothingToDo(format!("{from} has no app allows to promote")));
            }
            for original in allows {
                let wanted = super::promote::rewrite(original, &from, &input.namespace.name);
                plan.changes.extend(converge(input.policies, wanted));
            }
            if plan.changes.is_empty() {
                return Err(Refusal::NothingToDo(format!(
                    "{}'s app allows already match {from}'s",
                    input.namespace.name
                )));
            }
            if phase == Phase::Enforced {
                plan.warnings
                    .push("the namespace enforces: a promoted allow that is wrong drops nothing new, but one missing still does".into());
            }
            plan.reason = Some(format!("promoted from {from}"));
        }
        Request::Adopt { label_policies } => adopt(&mut plan, input, label_policies)?,
        Request::Simple(
            RolloutAction::CarveOut
            | RolloutAction::Restore
            | RolloutAction::ApplySuggestions
            | RolloutAction::Promote
            | RolloutAction::Adopt,
        ) => {
            return Err(Refusal::Invalid(format!("{action} needs its input")));
        }
    }

    let writes_cilium = plan
        .changes
        .iter()
        .any(|c| c.target().kind != PolicyKind::NetworkPolicy);
    if writes_cilium && !input.cilium.crds_installed {
        return Err(Refusal::Invalid(
            "Cilium's CRDs are not installed in this cluster: CiliumNetworkPolicies cannot be written".into(),
        ));
    }
    if matches!(action, RolloutAction::StageDefaultDeny | RolloutAction::Enforce)
        && input.cilium.default_deny_supported == Some(false)
    {
        return Err(Refusal::Invalid(
            "this Cilium predates 1.16: its CRD has no enableDefaultDeny, so a default-deny cannot be staged \
             without enforcing at once. Upgrade Cilium first"
                .into(),
        ));
    }
    if plan.deletes().next().is_some() {
        let path = backup_path(&input.backup_dir, &plan.namespace, action, input.now);
        plan.annotations
            .set
            .insert(labels::BACKUP.into(), path.display().to_string());
        plan.backup_to = Some(path);
    }
    Ok(plan)
}

/// `<dir>/<namespace>/<time>-<action>.yaml`, unique per millisecond and action
/// (a script may roll back twice in one second; a backup is never overwritten).
pub fn backup_path(dir: &std::path::Path, namespace: &str, action: RolloutAction, now: Timestamp) -> PathBuf {
    let stamp = now.strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    dir.join(namespace).join(format!("{stamp}-{}.yaml", action.slug()))
}

/// RFC 3339 at whole seconds: what kubectl users read in annotations.
pub fn annotation_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn set_intent(plan: &mut RolloutPlan, input: &PlanInput<'_>, phase: Phase) {
    let set = &mut plan.annotations.set;
    set.insert(labels::INTENT.into(), phase.intent_value().into());
    set.insert(labels::INTENT_AT.into(), annotation_time(input.now));
    set.insert(labels::INTENT_BY.into(), input.operator.into());
}

/// The change that makes the cluster hold `wanted`: a create, an update
/// conditioned on the current object's version, or nothing when it already does.
fn converge(policies: &[&PolicyObject], wanted: PolicyObject) -> Option<Change> {
    match find(policies, &wanted) {
        None => Some(Change::Create(wanted)),
        Some(current) if !same_content(current, &wanted) => Some(Change::Update {
            before: current.clone(),
            after: with_identity_of(&wanted, current),
        }),
        Some(_) => None,
    }
}

fn find<'a>(policies: &[&'a PolicyObject], wanted: &PolicyObject) -> Option<&'a PolicyObject> {
    policies
        .iter()
        .find(|p| p.kind == wanted.kind && p.name == wanted.name)
        .copied()
}

/// The namespace's own default-deny objects, by function: tighten's and the
/// team's alike (a CNP selecting every endpoint that allows nothing, a
/// NetworkPolicy deny-all).
fn default_denies<'a>(input: &'a PlanInput<'a>) -> impl Iterator<Item = &'a PolicyObject> + 'a {
    let names: Vec<(PolicyKind, String)> = input
        .status
        .observed
        .posture
        .default_denies()
        .map(|r| (r.policy.kind, r.policy.name.clone()))
        .collect();
    input
        .policies
        .iter()
        .copied()
        .filter(move |p| names.iter().any(|(kind, name)| *kind == p.kind && *name == p.name))
}

/// The default-denies that `enableDefaultDeny` switches, for stage or enforce;
/// refuses when one that matters cannot be switched (a NetworkPolicy, a
/// clusterwide policy) or there is none.
fn flippable_default_denies<'a>(input: &'a PlanInput<'a>, to: &str) -> Result<Vec<&'a PolicyObject>, Refusal> {
    let all: Vec<&PolicyObject> = default_denies(input).collect();
    if let Some(np) = all.iter().find(|p| !super::posture::switchable(p.kind)) {
        return Err(Refusal::Invalid(format!(
            "{} denies as soon as it exists and has no staged form: it cannot be {to}; roll it back instead",
            np.object_ref()
        )));
    }
    if all.is_empty() {
        let clusterwide = input.status.observed.posture.clusterwide_denies();
        let staged_elsewhere: Vec<String> = [
            &input.status.observed.posture.ingress.staged,
            &input.status.observed.posture.egress.staged,
        ]
        .into_iter()
        .flatten()
        .filter(|d| !d.policy.kind.is_namespaced())
        .map(|d| format!("{} {}", d.policy.kind, d.policy))
        .chain(clusterwide.iter().map(|p| format!("{} {p}", p.kind)))
        .collect();
        return Err(Refusal::Invalid(match staged_elsewhere.first() {
            Some(first) => format!(
                "the default-deny of {} is clusterwide ({first}): a namespace action cannot make it {to}",
                input.namespace.name
            ),
            None => format!("{} has no default-deny that can be {to}", input.namespace.name),
        }));
    }
    Ok(all)
}

/// Names the namespaced policies (other than `except`) that put pods into
/// default-deny by having rules without `enableDefaultDeny: false`.
fn enforcing_policies(posture: &super::posture::Posture, except: &[String]) -> Vec<String> {
    let mut names: Vec<String> = [&posture.ingress, &posture.egress]
        .into_iter()
        .flat_map(|side| side.enforced.iter().chain(&side.partial))
        .filter(|d| d.policy.kind.is_namespaced() && !except.contains(&d.policy.name))
        .map(|d| format!("{} {}", d.policy.kind, d.policy))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// After stepping back to Audit, what still denies by default.
fn still_enforcing_warnings(plan: &mut RolloutPlan, input: &PlanInput<'_>) {
    let posture = &input.status.observed.posture;
    let flipped: Vec<String> = posture.default_denies().map(|r| r.policy.name.clone()).collect();
    let remaining = enforcing_policies(posture, &flipped);
    if !remaining.is_empty() {
        plan.warnings.push(format!(
            "pods stay in default-deny where {} select them (rules without enableDefaultDeny: false)",
            remaining.join(", ")
        ));
    }
    for policy in posture.clusterwide_denies() {
        plan.warnings.push(format!(
            "{} {policy} still denies by default: a namespace action cannot change it",
            policy.kind
        ));
    }
}

/// The posture, then each policy's role and author, as the review lists them.
fn posture_lines(posture: &super::posture::Posture) -> Vec<String> {
    let mut lines = posture.summary();
    lines.extend(posture.readings.iter().map(|r| {
        format!(
            "{:<7} {} {}: {}",
            r.author(),
            r.policy.kind,
            r.policy,
            r.function.label()
        )
    }));
    lines
}

/// Records intent for a rollout tighten did not start: the phase its posture
/// shows, and when the clocks start (now: tighten cannot know when the team
/// staged or enforced).
fn adopt(plan: &mut RolloutPlan, input: &PlanInput<'_>, label_policies: bool) -> Result<(), Refusal> {
    let status = input.status;
    if let Some(intended) = status.intent.phase {
        return Err(Refusal::NothingToDo(format!(
            "tighten already records intent for {} ({intended})",
            input.namespace.name
        )));
    }
    let phase = match status.phase {
        Phase::Unmanaged => Phase::Observe,
        other => other,
    };
    set_intent(plan, input, phase);
    let now = annotation_time(input.now);
    if matches!(phase, Phase::Audit | Phase::Enforced) {
        plan.annotations.set.insert(labels::STAGED_AT.into(), now.clone());
        plan.warnings
            .push("the soak clock starts now: tighten cannot know when the default-deny was staged".into());
    }
    if phase == Phase::Enforced {
        plan.annotations.set.insert(labels::ENFORCED_AT.into(), now);
    }
    let posture = &status.observed.posture;
    let found: Vec<String> = posture
        .readings
        .iter()
        .filter(|r| r.policy.kind.is_namespaced())
        .map(|r| format!("{} ({}, {})", r.policy.name, r.function.label(), r.author()))
        .collect();
    plan.read = posture_lines(posture);
    plan.reason = Some(format!(
        "adopted as {phase}: {}{}",
        posture.summary().join("; "),
        if found.is_empty() {
            String::new()
        } else {
            format!("; policies: {}", found.join(", "))
        }
    ));
    if label_policies {
        for reading in posture
            .readings
            .iter()
            .filter(|r| r.policy.kind.is_namespaced() && !r.tighten)
        {
            let Some(policy) = input
                .policies
                .iter()
                .find(|p| p.kind == reading.policy.kind && p.name == reading.policy.name)
            else {
                continue;
            };
            let mut after = (*policy).clone();
            match &reading.function {
                super::posture::Function::DefaultDeny { .. } => {
                    after.labels.insert(labels::ROLE.into(), "default-deny".into());
                }
                super::posture::Function::Baseline { components, .. } if components.len() == 1 => {
                    after.labels.insert(labels::ROLE.into(), "baseline".into());
                    if let Some(c) = components.first() {
                        after.labels.insert(labels::BASELINE_COMPONENT.into(), c.label().into());
                    }
                }
                _ => continue,
            }
            after.body.remove("status");
            plan.changes.push(Change::Update {
                before: (*policy).clone(),
                after,
            });
        }
        if !plan.changes.is_empty() {
            plan.warnings.push(
                "labels on the team's policies: Git owns them, and the next reconcile removes labels Git does not \
                 have"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Equal in what tighten writes: labels and body without status.
fn same_content(current: &PolicyObject, wanted: &PolicyObject) -> bool {
    let strip = |o: &PolicyObject| {
        let mut body = o.body.clone();
        body.remove("status");
        body
    };
    current.labels == wanted.labels && strip(current) == strip(wanted)
}

/// `wanted`, carrying `current`'s uid and resourceVersion as update preconditions.
fn with_identity_of(wanted: &PolicyObject, current: &PolicyObject) -> PolicyObject {
    PolicyObject {
        uid: current.uid.clone(),
        resource_version: current.resource_version.clone(),
        ..wanted.clone()
    }
}

/// A copy of a default-deny with `enableDefaultDeny` set in both directions, on
/// every rule (`spec` and each of `specs`).
pub fn with_enforcement(policy: &PolicyObject, enforce: bool) -> PolicyObject {
    let mut updated = policy.clone();
    let flags = json!({"ingress": enforce, "egress": enforce});
    if let Some(Value::Object(spec)) = updated.body.get_mut("spec") {
        spec.insert("enableDefaultDeny".into(), flags.clone());
    }
    if let Some(Value::Array(specs)) = updated.body.get_mut("specs") {
        for spec in specs.iter_mut().filter_map(Value::as_object_mut) {
            spec.insert("enableDefaultDeny".into(), flags.clone());
        }
    }
    updated.body.remove("status");
    updated
}

#[cfg(test)]
mod tests;
