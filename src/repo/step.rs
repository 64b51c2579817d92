//! A forward step on a GitOps-owned namespace as a commit: the plan the
//! cockpit would apply, written as files in the owner's folder of the
//! team's checkout, with what the reconciler will apply once the pull
//! request is merged (for the server's dry run), its message carrying the
//! gate's evidence, and its one audit record; and a break-glass's revert.

use crate::gate::{Check, Gate};
use crate::rollout::{Change, RolloutAction, RolloutPlan};

use super::{Draft, RepoStep, Target};

/// Whether `action` moves a namespace forward (a step that belongs in Git);
/// the brakes (rollbacks, restore, carve-out) keep the in-cluster path.
pub fn is_forward(action: RolloutAction) -> bool {
    matches!(
        action,
        RolloutAction::ApplyBaseline
            | RolloutAction::StageDefaultDeny
            | RolloutAction::Enforce
            | RolloutAction::ApplySuggestions
            | RolloutAction::Promote
    )
}

/// A step prepared as a commit, with what the reconciler will apply.
pub struct Commit {
    pub draft: Draft,
    /// The namespace's policies as the folder builds them after the commit,
    /// against the cluster's: what the server-side dry run judges.
    pub rendered: RolloutPlan,
}

/// The commit message: the step, what it changes, and the gate's evidence,
/// so the pull request explains itself.
pub fn message(
    plan: &RolloutPlan,
    gate: Option<&Gate>,
    override_reason: Option<&str>,
    identity: &crate::cluster::ClusterIdentity,
) -> String {
    let mut out = format!(
        "tighten: {} in {}\n\n",
        plan.action.title().to_lowercase(),
        plan.namespace
    );
    for change in plan.summary() {
        out.push_str(&format!("- {change}\n"));
    }
    if let Some(gate) = gate {
        out.push_str(&format!("\n{} · {}\n", gate.title, gate.summary()));
        for item in &gate.items {
            let mark = match item.check {
                Check::Pass => "✓",
                Check::Fail => "✗",
                Check::Waiting => "…",
                Check::Info => "·",
            };
            out.push_str(&format!("{mark} {}: {}\n", item.name, item.evidence));
            if let Some(peer) = &item.worst_peer {
                out.push_str(&format!("  most: {peer}\n"));
            }
            for detail in &item.details {
                out.push_str(&format!("  - {detail}\n"));
            }
        }
    }
    if let Some(reason) = override_reason {
        out.push_str(&format!("\nGate overridden: {reason}\n"));
    }
    out.push_str(&format!(
        "\nPrepared by tighten for {} on context {}.\n",
        identity.user, identity.context
    ));
    out
}

/// The message of a break-glass's revert commit.
pub fn revert_message(plan: &RolloutPlan, target: &Target) -> String {
    let mut message = format!(
        "tighten: revert {} in {} (break-glass)\n\nThe policies were deleted in the cluster with {} suspended; merge this, then `tighten resume {}`.\n",
        plan.action.title().to_lowercase(),
        plan.namespace,
        target.owner.describe(),
        plan.namespace
    );
    for change in &plan.changes {
        message.push_str(&format!("- {} {}\n", change.verb(), change.target()));
    }
    if let Some(reason) = &plan.reason {
        message.push_str(&format!("\nReason: {reason}\n"));
    }
    message
}

/// After a break-glass in the cluster, its revert committed in the
/// reconciler's folder when the context's checkout is its repository: the
/// line to show, `None` when no reconciler owns the namespace.
pub fn revert_after_rollback(
    plan: &RolloutPlan,
    step: &RepoStep,
    readonly: bool,
    worktrees: &std::path::Path,
) -> Option<Result<String, String>> {
    let snapshot = &step.snapshot.0;
    match crate::repo::route(snapshot, &plan.namespace, step.checkout.as_deref()) {
        crate::repo::Route::Direct => None,
        crate::repo::Route::Export { owner, why } => Some(Err(format!(
            "Git still holds what was deleted: take it out there before resuming {} ({why})",
            owner.describe()
        ))),
        // A revert that cannot be written is said, never a failed rollback.
        crate::repo::Route::Git(target) => {
            let message = revert_message(plan, &target);
            let done = prepare(snapshot, &target, plan, message, &step.branch_template, worktrees)
                .and_then(|c| c.draft.commit(step.push, readonly))
                .map_err(|why| format!("its revert commit was not written: {why}"));
            Some(done.map(|done| {
                format!(
                    "revert committed: {} on branch {}; merge it, then resume ({}); {}",
                    &done.commit[..done.commit.len().min(12)],
                    done.branch,
                    format_args!("`tighten resume {}`, or U", plan.namespace),
                    done.next
                )
            }))
        }
    }
}

/// Commits a prepared step and writes its one audit record; `reason` (the
/// gate override typed in the dialog) joins the message when it is not
/// there yet.
pub fn commit_and_record(
    commit: &mut Commit,
    plan: &RolloutPlan,
    push: bool,
    readonly: bool,
    identity: &crate::cluster::ClusterIdentity,
    audit: &crate::cluster::AuditLog,
    diff: Vec<String>,
) -> (Result<crate::repo::Committed, String>, crate::cluster::AuditRecord) {
    if let Some(reason) = &plan.reason
        && !commit.draft.message.contains(reason.as_str())
    {
        commit.draft.message.push_str(&format!("\nReason: {reason}\n"));
    }
    let result = commit.draft.commit(push, readonly);
    let mut changes: Vec<String> = match &result {
        Ok(done) => vec![format!(
            "commit {} on branch {} in {}{}",
            done.commit,
            done.branch,
            commit.draft.target.checkout.display(),
            if done.pushed { ", pushed" } else { "" }
        )],
        Err(_) => Vec::new(),
    };
    changes.extend(commit.draft.file_summary());
    let record = crate::cluster::AuditRecord {
        time: jiff::Timestamp::now(),
        context: identity.context.clone(),
        user: identity.user.clone(),
        namespace: plan.namespace.clone(),
        action: plan.action.slug().into(),
        outcome: match &result {
            Ok(_) => crate::cluster::AuditOutcome::Succeeded,
            Err(why) if why.starts_with("read-only") => crate::cluster::AuditOutcome::Refused(why.clone()),
            Err(why) => crate::cluster::AuditOutcome::Failed(why.clone()),
        },
        changes,
        objects: Vec::new(),
        diff,
        backup: None,
        reason: plan.reason.clone(),
    };
    if let Err(e) = audit.append(&record) {
        tracing::warn!(%e, "audit record not written");
    }
    (result, record)
}

/// Why a forward step cannot be prepared as a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPrepared {
    /// A reconciler owns the namespace but the checkout cannot take the step
    /// (none configured, another repository, two owners): refused.
    Refused(String),
    /// The folder or Git failed while preparing it.
    Failed(String),
}

/// Routes a forward step and, when a reconciler owns the namespace and the
/// checkout is its repository, prepares it as a commit: `Ok(None)` for the
/// direct path. The cockpit's runtime and the command line both ask here.
pub fn prepare_step(
    plan: &RolloutPlan,
    step: &RepoStep,
    worktrees: &std::path::Path,
) -> Result<Option<Commit>, NotPrepared> {
    let snapshot = &step.snapshot.0;
    match super::route(snapshot, &plan.namespace, step.checkout.as_deref()) {
        super::Route::Direct => Ok(None),
        super::Route::Export { owner, why } => Err(NotPrepared::Refused(format!(
            "{why}. {} would put back what is written into the cluster, so {} was not applied: \
             give the checkout (repo = \"…\" for the context, or --repo PATH), \
             write the files for the repository with `tighten export {} DIR`, \
             or write into the cluster anyway with --direct on the command line",
            owner.describe(),
            plan.action.title(),
            plan.namespace
        ))),
        super::Route::Git(target) => prepare(
            snapshot,
            &target,
            plan,
            step.message.clone(),
            &step.branch_template,
            worktrees,
        )
        .map(Some)
        .map_err(NotPrepared::Failed),
    }
}

/// Prepares `plan` as a commit in `target`'s folder; `snapshot` is what the
/// reconciler's result is judged against.
pub fn prepare(
    snapshot: &crate::cluster::ClusterSnapshot,
    target: &Target,
    plan: &RolloutPlan,
    message: String,
    template: &str,
    work_dir: &std::path::Path,
) -> Result<Commit, String> {
    let draft = Draft::prepare(target, plan, message, template, work_dir)?;
    let rendered = match draft.rendered() {
        Ok(policies) => rendered_plan(snapshot, target, plan, policies),
        // Without a build (kubectl missing, a folder kustomize refuses), the
        // plan's own objects are what the commit adds.
        Err(_) => RolloutPlan {
            annotations: Default::default(),
            owners: Vec::new(),
            backup_to: None,
            ..plan.clone()
        },
    };
    Ok(Commit { draft, rendered })
}

/// The changes the reconciler will make once the commit is merged: the
/// folder's build of the namespace against the cluster's policies (those the
/// owner applied and the build no longer has are pruned).
fn rendered_plan(
    snapshot: &crate::cluster::ClusterSnapshot,
    target: &Target,
    plan: &RolloutPlan,
    rendered: Vec<crate::cluster::PolicyObject>,
) -> RolloutPlan {
    let gitops = snapshot.gitops();
    let current: Vec<&crate::cluster::PolicyObject> = snapshot.namespaced_policies(&plan.namespace).collect();
    let mut changes = Vec::new();
    for policy in &rendered {
        match current.iter().find(|c| c.kind == policy.kind && c.name == policy.name) {
            None => changes.push(Change::Create(policy.clone())),
            Some(existing) if existing.spec() != policy.spec() => changes.push(Change::Update {
                before: (*existing).clone(),
                after: crate::cluster::PolicyObject {
                    resource_version: existing.resource_version.clone(),
                    ..policy.clone()
                },
            }),
            Some(_) => {}
        }
    }
    for existing in current {
        let rendered_too = rendered
            .iter()
            .any(|p| p.kind == existing.kind && p.name == existing.name);
        if !rendered_too && gitops.owner_of(existing).as_ref() == Some(&target.owner) {
            changes.push(Change::Delete(existing.clone()));
        }
    }
    RolloutPlan {
        changes,
        annotations: Default::default(),
        owners: Vec::new(),
        backup_to: None,
        ..plan.clone()
    }
}
