//! Rollout actions: plan → dry run → confirm → execute, each step a dialog.

use std::path::PathBuf;

use crate::app::action::Action;
use crate::app::effect::Effect;
use crate::app::modal::{Button, ConfirmDialog, Modal, OverrideReason, PromptPurpose};
use crate::app::state::{NoticeLevel, State};
use crate::app::text_input::TextInput;
use crate::cluster::{AuditOutcome, AuditRecord, DryRunReport, PolicyObject};
use crate::policy::TemplateVars;
use crate::rollout::plan::{self, PlanInput, Request};
use crate::rollout::{RolloutAction, RolloutPlan};

use super::notify;

fn next_id(state: &mut State) -> u64 {
    let id = state.next_id;
    state.next_id += 1;
    id
}

fn message(state: &mut State, title: impl Into<String>, lines: Vec<String>, danger: bool) {
    state.modals.push(Modal::Message {
        title: title.into(),
        lines,
        danger,
    });
}

/// A mutating key was pressed on the main screen.
pub(super) fn start(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(rollout) = action.rollout() else {
        return Vec::new();
    };
    let Some(namespace) = allowed_on_selected(state, rollout) else {
        return Vec::new();
    };
    match rollout {
        RolloutAction::CarveOut => {
            state.modals.push(Modal::Prompt {
                purpose: PromptPurpose::CarveOutReason {
                    namespace: namespace.clone(),
                },
                title: format!("Carve out {namespace}: why is it excluded from the rollout?"),
                input: TextInput::default(),
            });
            Vec::new()
        }
        RolloutAction::Restore => match state.selected_row().and_then(|row| row.status.intent.backup.clone()) {
            None => {
                message(
                    state,
                    "Restore",
                    vec![format!(
                        "{namespace} records no backup (annotation tighten.dev/backup)."
                    )],
                    false,
                );
                Vec::new()
            }
            Some(path) => {
                let id = next_id(state);
                state.modals.push(Modal::LoadingBackup {
                    id,
                    title: format!("Reading backup {path}"),
                });
                vec![Effect::LoadBackup {
                    id,
                    namespace,
                    path: PathBuf::from(path),
                }]
            }
        },
        RolloutAction::ApplySuggestions => {
            let policies = suggestions(state, &namespace);
            plan_and_dry_run(state, &namespace, Request::Suggestions { policies })
        }
        RolloutAction::Adopt => plan_and_dry_run(state, &namespace, Request::Adopt { label_policies: false }),
        simple => plan_and_dry_run(state, &namespace, Request::Simple(simple)),
    }
}

/// `:adopt --label-policies`: adopt the selected namespace and label the
/// team's policies with the roles tighten read.
pub(super) fn adopt_labelling(state: &mut State) -> Vec<Effect> {
    match allowed_on_selected(state, RolloutAction::Adopt) {
        Some(namespace) => plan_and_dry_run(state, &namespace, Request::Adopt { label_policies: true }),
        None => Vec::new(),
    }
}

/// The selected namespace, when `rollout` may be taken on it: not read-only,
/// a namespace selected, permitted by RBAC. Says why not otherwise.
fn allowed_on_selected(state: &mut State, rollout: RolloutAction) -> Option<String> {
    if state.config.readonly {
        notify(
            state,
            NoticeLevel::Error,
            format!(
                "read-only mode: {} is disabled (started with --readonly)",
                rollout.title()
            ),
        );
        return None;
    }
    let Some(namespace) = state.selected_row().map(|r| r.name.clone()) else {
        notify(state, NoticeLevel::Warning, "no namespace selected");
        return None;
    };
    if let Some(why) = denied(state, &namespace, rollout) {
        notify(
            state,
            NoticeLevel::Error,
            format!("{} is forbidden in {namespace}: {why}", rollout.title()),
        );
        return None;
    }
    Some(namespace)
}

/// `:promote TO`: the selected namespace's app allows, copied to `to`
/// through the same dry run and confirm dialog as every action.
pub(super) fn promote(state: &mut State, to: &str) -> Vec<Effect> {
    if state.config.readonly {
        notify(
            state,
            NoticeLevel::Error,
            "read-only mode: promotion is disabled (started with --readonly)",
        );
        return Vec::new();
    }
    let Some(from) = state.table.selected.clone() else {
        notify(state, NoticeLevel::Warning, "no namespace selected to promote from");
        return Vec::new();
    };
    if state.snapshot.namespace(to).is_none() {
        notify(state, NoticeLevel::Error, format!("no namespace {to}"));
        return Vec::new();
    }
    if let Some(why) = denied(state, to, RolloutAction::Promote) {
        notify(
            state,
            NoticeLevel::Error,
            format!("promotion is forbidden in {to}: {why}"),
        );
        return Vec::new();
    }
    let policies = state.snapshot.namespaced_policies(&from).cloned().collect();
    plan_and_dry_run(state, to, Request::Promote { from, policies })
}

/// Allow policies for what the namespace drops: in Audit, what enforcing would
/// drop (the preview over the stream, and over the whole soak with the
/// declared paths nobody exercised, from the ledger); otherwise the policy
/// drops observed on its side.
fn suggestions(state: &State, namespace: &str) -> Vec<crate::cluster::PolicyObject> {
    let flows = state
        .traffic
        .namespace(namespace)
        .into_iter()
        .flat_map(|t| t.tail.iter().map(|f| f.as_ref()));
    let mut drops = if state.preview.is_audit(namespace) {
        state.preview.would_drop(namespace, flows)
    } else {
        crate::policy::suggest::recorded_drops(namespace, flows)
    };
    if state.preview.is_audit(namespace)
        && let Some(soak) = state.soak.as_ref().and_then(|s| s.get(namespace))
    {
        drops.extend(soak.flows.iter().map(|(flow, direction)| (flow, *direction)));
    }
    crate::policy::suggest::suggest(namespace, drops)
}

/// Why the user may not take `action` in `namespace`, when the cluster said so.
pub fn denied(state: &State, namespace: &str, action: RolloutAction) -> Option<String> {
    match state.access.get(namespace) {
        Some(Ok(report)) => report.why_denied(action),
        _ => None,
    }
}

/// The plan for `request` on `namespace` from what the state knows: the
/// cockpit's dialogs and the command line compute it the same way.
pub fn compute_plan(state: &State, namespace: &str, request: Request) -> Result<RolloutPlan, Vec<String>> {
    let snapshot = &state.snapshot;
    let Some(ns) = snapshot.namespace(namespace) else {
        return Err(vec![format!("namespace {namespace} is gone")]);
    };
    let Some(row) = state.row(namespace) else {
        return Err(vec![format!("namespace {namespace} is not listed yet")]);
    };
    let vars = TemplateVars::new(namespace, &state.config.settings.baseline);
    let templates = &state.config.templates;
    let (baseline, default_deny) = templates
        .render_baseline(&vars)
        .and_then(|b| Ok((b, templates.render_default_deny(&vars)?)))
        .map_err(|err| vec![format!("template error: {err}")])?;
    let policies: Vec<&PolicyObject> = snapshot.namespaced_policies(namespace).collect();
    plan::plan(
        request,
        &PlanInput {
            namespace: ns,
            policies: &policies,
            status: &row.status,
            baseline: &baseline,
            default_deny: &default_deny,
            now: state.now,
            operator: &state.identity.user,
            backup_dir: state.config.backup_dir.clone(),
            cilium: &snapshot.cilium,
            gitops: snapshot.gitops(),
        },
    )
    .map_err(|refusal| vec![refusal.to_string()])
}

/// Computes the plan and asks for its dry run, or says why it cannot be done.
fn plan_and_dry_run(state: &mut State, namespace: &str, request: Request) -> Vec<Effect> {
    let action = request.action();
    match compute_plan(state, namespace, request) {
        Err(lines) => {
            message(state, format!("{} — {namespace}", action.title()), lines, false);
            Vec::new()
        }
        Ok(plan) => {
            let id = next_id(state);
            state.modals.push(Modal::DryRunPending {
                id,
                title: format!("{} — {namespace}: running the server-side dry run…", action.title()),
            });
            state.pending_plans.insert(id, plan.clone());
            // A forward step may belong in Git: the runtime finds out off
            // this task (it runs git) and prepares the commit if so.
            let repo = crate::repo::step::is_forward(action).then(|| {
                let gate = confirm_needs(state, &plan).gate;
                let message = crate::repo::step::message(&plan, gate.as_ref(), None, &state.identity);
                repo_step(state, message, None, false)
            });
            vec![Effect::DryRun { id, plan, repo }]
        }
    }
}

/// Where and how a step of this context goes to its GitOps repository;
/// `checkout` and `push` from the command line win over the context's.
pub fn repo_step(
    state: &State,
    message: String,
    checkout: Option<PathBuf>,
    push: bool,
) -> crate::app::effect::RepoStep {
    let settings = &state.config.settings;
    crate::app::effect::RepoStep {
        checkout: checkout.or_else(|| settings.repo.clone()),
        branch_template: settings
            .branch
            .clone()
            .unwrap_or_else(|| crate::repo::BRANCH_TEMPLATE.to_string()),
        message,
        push: push || settings.push,
        snapshot: crate::app::effect::Shared(std::sync::Arc::clone(&state.snapshot)),
    }
}

/// The carve-out reason was entered.
pub(super) fn on_prompt(state: &mut State, purpose: PromptPurpose, text: String) -> Vec<Effect> {
    match purpose {
        PromptPurpose::CarveOutReason { namespace } => {
            plan_and_dry_run(state, &namespace, Request::CarveOut { reason: text })
        }
    }
}

pub(super) fn on_backup_loaded(
    state: &mut State,
    id: u64,
    namespace: String,
    path: PathBuf,
    result: Result<Vec<PolicyObject>, String>,
) -> Vec<Effect> {
    if !matches!(state.modals.last(), Some(Modal::LoadingBackup { id: waiting, .. }) if *waiting == id) {
        return Vec::new(); // abandoned
    }
    state.modals.pop();
    match result {
        Ok(objects) => plan_and_dry_run(state, &namespace, Request::Restore { backup: path, objects }),
        Err(err) => {
            message(state, "Restore", vec![err], true);
            Vec::new()
        }
    }
}

/// What confirming a plan takes, in the cockpit and on the command line alike.
pub struct ConfirmNeeds {
    pub protected: bool,
    /// The gate the step passes, when the plan is the namespace's next step.
    pub gate: Option<crate::gate::Gate>,
    /// Why the namespace's name must be typed, when it must.
    pub typed_reason: Option<&'static str>,
}

pub fn confirm_needs(state: &State, plan: &RolloutPlan) -> ConfirmNeeds {
    let row = state.row(&plan.namespace);
    let protected = row.is_some_and(|r| r.protected);
    let typed_reason = if plan.action.is_destructive() {
        Some("this action deletes objects")
    } else if protected {
        Some("this namespace is protected")
    } else {
        None
    };
    ConfirmNeeds {
        protected,
        gate: row.map(|r| r.gate.clone()).filter(|g| g.step == Some(plan.action)),
        typed_reason,
    }
}

/// The dry run answered: show the confirm dialog.
pub(super) fn on_dry_run(
    state: &mut State,
    id: u64,
    result: Result<DryRunReport, String>,
    commit: Option<Box<crate::app::effect::CommitPreview>>,
) -> Vec<Effect> {
    let Some(position) = state
        .modals
        .iter()
        .position(|m| matches!(m, Modal::DryRunPending { id: waiting, .. } if *waiting == id))
    else {
        // Abandoned with esc: a commit prepared for it is not wanted either.
        return if commit.is_some() {
            vec![Effect::DiscardCommit { id }]
        } else {
            Vec::new()
        };
    };
    // The plan travels with the effect; the runtime echoes it back in the report's
    // order, but the dialog needs the plan itself: it was parked in `pending`.
    let Some(plan) = state.pending_plans.remove(&id) else {
        return Vec::new();
    };
    let ConfirmNeeds { gate, typed_reason, .. } = confirm_needs(state, &plan);
    let committing = commit.is_some();
    let review = match commit {
        Some(commit) => {
            let mut lines = commit.lines;
            lines.extend(crate::app::review::review(&commit.rendered, &result, gate.as_ref()));
            lines
        }
        None => crate::app::review::review(&plan, &result, gate.as_ref()),
    };
    // Going past a gate that is not go takes a reason, on the record.
    let override_reason = gate
        .as_ref()
        .filter(|g| !g.is_clear())
        .map(|_| OverrideReason::default());
    state.modals[position] = Modal::Confirm(Box::new(ConfirmDialog {
        review,
        id,
        plan,
        dry_run: result,
        gate,
        focus: Button::Cancel,
        typed: typed_reason.map(|_| TextInput::default()),
        typed_reason,
        scroll: 0,
        override_reason,
        committing,
    }));
    Vec::new()
}

/// The effect that removes a cancelled dialog's prepared commit, if any.
pub(super) fn discard(id: u64, committing: bool) -> Vec<Effect> {
    if committing {
        vec![Effect::DiscardCommit { id }]
    } else {
        Vec::new()
    }
}

/// Enter in the confirm dialog.
pub(super) fn on_confirm_submit(state: &mut State) -> Vec<Effect> {
    let Some(Modal::Confirm(dialog)) = state.modals.last() else {
        return Vec::new();
    };
    if dialog.focus == Button::Cancel {
        let (id, committing) = (dialog.id, dialog.committing);
        state.modals.pop();
        return discard(id, committing);
    }
    if let Some(why) = dialog.blocked() {
        notify(state, NoticeLevel::Warning, why);
        return Vec::new();
    }
    let Some(Modal::Confirm(mut dialog)) = state.modals.pop() else {
        return Vec::new();
    };
    if let (Some(reason), Some(gate)) = (&dialog.override_reason, &dialog.gate) {
        dialog.plan.add_reason(gate.override_note(reason.input.text()));
    }
    dialog.plan.restamp(state.now);
    let id = dialog.id;
    let title = format!("{} — {}: applying…", dialog.plan.action.title(), dialog.plan.namespace);
    let diff = crate::app::review::diff_lines(&dialog.review);
    state.modals.push(Modal::Applying { id, title });
    let revert = matches!(
        dialog.plan.action,
        crate::rollout::RolloutAction::RollbackDefaultDeny | crate::rollout::RolloutAction::RollbackNamespace
    )
    .then(|| repo_step(state, String::new(), None, false));
    vec![Effect::Execute {
        id,
        plan: dialog.plan,
        diff,
        revert,
    }]
}

/// The confirmed plan was executed (or refused).
pub(super) fn on_executed(state: &mut State, id: u64, result: Result<(), String>, record: AuditRecord) -> Vec<Effect> {
    if let Some(position) = state
        .modals
        .iter()
        .position(|m| matches!(m, Modal::Applying { id: a, .. } if *a == id))
    {
        state.modals.remove(position);
    }
    let headline = format!("{} on {}", record.action, record.namespace);
    let committed = record.changes.first().filter(|c| c.starts_with("commit "));
    match (&result, &record.outcome) {
        (Ok(()), AuditOutcome::Succeeded) if committed.is_some() => {
            let mut lines = record.changes.clone();
            lines.push(String::new());
            lines.push("Push the branch and open a pull request; once it is merged, the reconciler applies it and the phase moves.".into());
            message(state, format!("Committed: {headline}"), lines, false);
        }
        (Ok(()), AuditOutcome::Succeeded) => {
            let done = format!("done: {headline}{}", record.backup_note());
            notify(state, NoticeLevel::Info, done);
        }
        (Ok(()), AuditOutcome::Failed(why) | AuditOutcome::Refused(why)) => {
            message(
                state,
                format!("Done, with a problem: {headline}"),
                vec![why.clone()],
                true,
            );
        }
        (Err(err), _) => {
            message(
                state,
                format!("Failed: {headline}"),
                vec![err.clone(), "Nothing was changed.".into()],
                true,
            );
        }
    }
    state.audit.push(record);
    // A commit now waits for its reconciler: the row says so.
    super::view::refresh_rows(state);
    vec![Effect::CheckBackupDir]
}
