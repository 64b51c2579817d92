//! The mutating cluster commands (`baseline`, `stage`, `enforce`, `rollback`,
//! `restore`): the cockpit's confirm step on a terminal. Each computes the plan
//! the cockpit would, runs the server-side dry run, prints what will change,
//! the diff and the gate, and asks before anything is written — unless
//! `--yes`. The same rules hold: a gate that is not go needs `--override
//! REASON`; deleting or touching a protected namespace needs its name typed
//! (or `--yes --force-protected`); `--readonly` refuses in the layer that
//! writes; a backup comes before any delete; one audit record per action.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use jiff::Timestamp;

use crate::app::modal::OVERRIDE_MIN_CHARS;
use crate::app::review::review;
use crate::app::update::{ConfirmNeeds, compute_plan, confirm_needs};
use crate::app::{Msg, update};
use crate::cluster::{AuditLog, AuditOutcome, Mutator, backup};
use crate::rollout::RolloutAction;
use crate::rollout::plan::Request;
use crate::runtime::backend::Backends;

use super::exit;
use super::session::Headless;

/// Exit codes of the mutating commands (0 done, 2 bad input, 3 unreachable
/// are shared with the others).
pub mod code {
    /// The operator did not confirm at the prompt: nothing was changed.
    pub const NOT_CONFIRMED: u8 = 1;
    /// Not allowed: read-only, RBAC, the namespace's phase, or a protected
    /// namespace without its name typed.
    pub const REFUSED: u8 = 4;
    /// The gate is not go and no `--override REASON` was given.
    pub const GATE: u8 = 5;
    /// The server refused the dry run or the change: nothing was changed
    /// (a multi-object change that failed part-way was undone).
    pub const FAILED: u8 = 6;
}

/// What to do.
#[derive(Debug, Clone)]
pub enum Step {
    /// A rollout step on a namespace (`baseline`, `stage`, `enforce`, `rollback`).
    On { action: RolloutAction, namespace: String },
    /// Put back what a backup file holds, in the namespace it came from.
    Restore { backup: PathBuf },
    /// Copy `from`'s app allows to `to`, rewritten for it.
    Promote { from: String, to: String },
    /// Record intent for a rollout tighten did not start.
    Adopt { namespace: String, label_policies: bool },
}

/// How the confirm step goes.
#[derive(Debug, Clone)]
pub struct Confirm {
    /// Pause the GitOps owners of what a rollback deletes (the default).
    pub pause_owners: bool,
    /// Do not ask.
    pub yes: bool,
    /// Stop after printing the dry run, the diff and the gate.
    pub dry_run: bool,
    /// Act past a gate that is not go; goes into the audit record.
    pub override_reason: Option<String>,
    /// With `--yes`, act on a protected namespace without typing its name.
    pub force_protected: bool,
    /// The checkout of the GitOps repository (else the context's `repo`).
    pub repo: Option<PathBuf>,
    /// Push a committed step's branch.
    pub push: bool,
    /// Write a forward step on a GitOps-owned namespace into the cluster anyway.
    pub direct: bool,
}

fn say(out: &mut impl Write, text: impl AsRef<str>) -> io::Result<()> {
    writeln!(out, "{}", text.as_ref())
}

pub async fn run(
    backends: &Backends,
    context: &str,
    step: &Step,
    confirm: &Confirm,
    input: &mut impl BufRead,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    if let Some(reason) = &confirm.override_reason
        && reason.trim().chars().count() < OVERRIDE_MIN_CHARS
    {
        say(
            err,
            format!("tighten: --override needs a reason of at least {OVERRIDE_MIN_CHARS} characters"),
        )?;
        return Ok(exit::BAD_INPUT);
    }
    let (namespace, request) = match step {
        Step::On { action, namespace } => (namespace.clone(), Request::Simple(*action)),
        Step::Adopt {
            namespace,
            label_policies,
        } => (
            namespace.clone(),
            Request::Adopt {
                label_policies: *label_policies,
            },
        ),
        // The source's policies are read once the session is open.
        Step::Promote { from, to } => (
            to.clone(),
            Request::Promote {
                from: from.clone(),
                policies: Vec::new(),
            },
        ),
        Step::Restore { backup: path } => match restore_request(path) {
            Ok(found) => found,
            Err(why) => {
                say(err, format!("tighten: {why}"))?;
                return Ok(exit::BAD_INPUT);
            }
        },
    };
    let action = request.action();
    let mut wanted = vec![namespace.clone()];
    if let Step::Promote { from, .. } = step {
        wanted.push(from.clone());
    }
    let mut session = match Headless::open(backends, context, &wanted).await {
        Ok(session) => session,
        Err(failure) => return failure.report(err),
    };
    // A break-glass should not wait on Hubble or Prometheus: only a gated
    // step reads the evidence.
    if crate::gate::decides(action) {
        session.gather_evidence(std::slice::from_ref(&namespace)).await;
    }
    let state = &mut session.state;
    let access = session
        .backend
        .cluster
        .access(&namespace)
        .await
        .map_err(|e| e.to_string());
    if let Ok(report) = &access
        && let Some(why) = report.why_denied(action)
    {
        say(
            err,
            format!("tighten: {} is forbidden in {namespace}: {why}", action.title()),
        )?;
        return Ok(code::REFUSED);
    }
    update(
        state,
        Msg::AccessChecked {
            namespace: namespace.clone(),
            result: access,
        },
    );

    let request = match request {
        Request::Promote { from, .. } => Request::Promote {
            policies: state.snapshot.namespaced_policies(&from).cloned().collect(),
            from,
        },
        other => other,
    };
    let mut plan = match compute_plan(state, &namespace, request) {
        Ok(plan) => plan,
        Err(lines) => {
            for line in &lines {
                say(err, format!("tighten: {line}"))?;
            }
            // Asking for what is already there is done, not refused.
            let done = lines.iter().all(|l| l.starts_with("nothing to change"));
            return Ok(if done { exit::OK } else { code::REFUSED });
        }
    };
    let mutator = Mutator::new(
        session.backend.cluster.clone(),
        backends.readonly,
        AuditLog::new(backends.paths.audit_file()),
    );
    if !confirm.pause_owners && plan.pauses_owners().is_some() {
        plan.set_pause_owners(false, &state.snapshot.paused_owners(&namespace));
    }
    let ConfirmNeeds {
        protected,
        gate,
        typed_reason,
    } = confirm_needs(state, &plan);
    // A forward step on a namespace a reconciler owns is a commit in its
    // repository; the brakes stay in the cluster.
    let mut commit = if crate::repo::step::is_forward(action) && !confirm.direct {
        let message = crate::repo::step::message(
            &plan,
            gate.as_ref(),
            confirm.override_reason.as_deref(),
            &state.identity,
        );
        let step = crate::app::update::repo_step(state, message, confirm.repo.clone(), confirm.push);
        match crate::repo::step::prepare_step(&plan, &step, &backends.paths.worktrees_dir()) {
            Ok(commit) => commit,
            Err(crate::repo::step::NotPrepared::Refused(why)) => {
                say(err, format!("tighten: {why}"))?;
                return Ok(code::REFUSED);
            }
            Err(crate::repo::step::NotPrepared::Failed(why)) => {
                say(err, format!("tighten: cannot prepare the commit: {why}"))?;
                return Ok(code::FAILED);
            }
        }
    } else {
        None
    };
    let judged = commit.as_ref().map_or(&plan, |c| &c.rendered);
    let dry_run = mutator.dry_run(judged).await.map_err(|e| e.to_string());
    let mut lines = commit
        .as_ref()
        .map(crate::app::review::commit_review)
        .unwrap_or_default();
    lines.extend(review(judged, &dry_run, gate.as_ref()));
    let title = match &commit {
        Some(c) => format!("{} — {namespace}, as a commit on {}", action.title(), c.draft.branch),
        None => format!("{} — {namespace}", action.title()),
    };
    say(out, format!("{title} (context {})", state.identity.context))?;
    for line in &lines {
        say(out, &line.text)?;
    }
    let accepted = matches!(&dry_run, Ok(report) if report.accepted());
    if !accepted {
        say(err, "tighten: the server-side dry run refused it; nothing was changed")?;
        return Ok(code::FAILED);
    }
    if let Some(gate) = gate.as_ref().filter(|g| !g.is_clear()) {
        match &confirm.override_reason {
            Some(reason) => plan.add_reason(gate.override_note(reason)),
            None if confirm.dry_run => {}
            None => {
                say(
                    err,
                    format!(
                        "tighten: the gate is not go ({}); pass --override REASON to act anyway",
                        gate.summary()
                    ),
                )?;
                return Ok(code::GATE);
            }
        }
    }
    if confirm.dry_run {
        say(out, "dry run: nothing was changed")?;
        return Ok(exit::OK);
    }
    if backends.readonly {
        // The mutator and the commit refuse too; saying so here spares the prompt.
        say(
            err,
            format!(
                "tighten: read-only: {} is refused (started with --readonly)",
                action.title()
            ),
        )?;
        return Ok(code::REFUSED);
    }
    let question = match &commit {
        Some(c) => format!("Commit {} in {namespace} on {}?", action.title(), c.draft.branch),
        None => format!("{} in {namespace}?", action.title()),
    };
    if let Some(code) = ask(confirm, &namespace, protected, typed_reason, &question, input, err)? {
        return Ok(code);
    }
    if let Some(commit) = &mut commit {
        let push = confirm.push || state.config.settings.push;
        return commit_step(commit, &plan, push, backends, state, &lines, out, err);
    }
    // A break-glass stays in the cluster; the follow-up pull request that
    // takes the same policies out of Git is written with it (the runbooks'
    // "revert the PR, then resume").
    let revert = matches!(
        action,
        RolloutAction::RollbackDefaultDeny | RolloutAction::RollbackNamespace
    )
    .then(|| crate::app::update::repo_step(state, String::new(), confirm.repo.clone(), confirm.push));
    plan.restamp(Timestamp::now());
    let (result, record) = mutator.execute(&plan, crate::app::review::diff_lines(&lines)).await;
    match (result, &record.outcome) {
        (Ok(()), AuditOutcome::Succeeded) => {
            say(
                out,
                format!("done: {} on {namespace}{}", action.slug(), record.backup_note()),
            )?;
            let reverted = revert.and_then(|step| {
                crate::repo::step::revert_after_rollback(
                    &plan,
                    &step,
                    backends.readonly,
                    &backends.paths.worktrees_dir(),
                )
            });
            match reverted {
                Some(Ok(line)) => say(out, line)?,
                Some(Err(why)) => say(err, format!("tighten: the rollback is done; {why}"))?,
                None => {}
            }
            Ok(exit::OK)
        }
        (Ok(()), AuditOutcome::Failed(why) | AuditOutcome::Refused(why)) => {
            say(err, format!("tighten: done, with a problem: {why}"))?;
            Ok(code::FAILED)
        }
        (Err(e), _) => {
            say(err, format!("tighten: {} on {namespace} failed: {e}", action.slug()))?;
            Ok(code::FAILED)
        }
    }
}

/// The objects of a backup file and the one namespace they belong to.
fn restore_request(path: &std::path::Path) -> Result<(String, Request), String> {
    let objects = backup::read(path).map_err(|e| e.to_string())?;
    let mut namespaces: Vec<&str> = objects.iter().filter_map(|o| o.namespace.as_deref()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    match namespaces.as_slice() {
        [one] => Ok((
            (*one).to_string(),
            Request::Restore {
                backup: path.to_path_buf(),
                objects,
            },
        )),
        [] => Err(format!("{}: no namespaced policies in the backup", path.display())),
        many => Err(format!(
            "{}: the backup spans several namespaces ({})",
            path.display(),
            many.join(", ")
        )),
    }
}

/// The confirm step: `--yes` (with `--force-protected` for a protected
/// namespace), else the prompt, `y` or the namespace's name typed. `Some`
/// exit code when not confirmed.
fn ask(
    confirm: &Confirm,
    namespace: &str,
    protected: bool,
    typed_reason: Option<&str>,
    question: &str,
    input: &mut impl BufRead,
    err: &mut impl Write,
) -> io::Result<Option<u8>> {
    if confirm.yes {
        if protected && !confirm.force_protected {
            say(
                err,
                format!(
                    "tighten: {namespace} is protected: type its name at the prompt (without --yes), or pass --yes --force-protected"
                ),
            )?;
            return Ok(Some(code::REFUSED));
        }
        return Ok(None);
    }
    let prompt = match typed_reason {
        Some(why) => format!("{why}: type {namespace} to confirm: "),
        None => format!("{question} [y/N] "),
    };
    write!(err, "{prompt}")?;
    err.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer)?;
    let answer = answer.trim();
    let confirmed = if typed_reason.is_some() {
        answer == namespace
    } else {
        matches!(answer, "y" | "Y" | "yes")
    };
    if confirmed {
        Ok(None)
    } else {
        say(err, "not confirmed; nothing was changed")?;
        Ok(Some(code::NOT_CONFIRMED))
    }
}

/// Commits a prepared step, records it in the audit log, and says how to
/// open the pull request.
#[allow(clippy::too_many_arguments)]
fn commit_step(
    commit: &mut crate::repo::step::Commit,
    plan: &crate::rollout::RolloutPlan,
    push: bool,
    backends: &Backends,
    state: &crate::app::state::State,
    lines: &[crate::app::review::ReviewLine],
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let (result, _) = crate::repo::step::commit_and_record(
        commit,
        plan,
        push,
        backends.readonly,
        &state.identity,
        &AuditLog::new(backends.paths.audit_file()),
        crate::app::review::diff_lines(lines),
    );
    match result {
        Ok(done) => {
            say(
                out,
                format!(
                    "committed {} on branch {} in {}{}",
                    &done.commit[..done.commit.len().min(12)],
                    done.branch,
                    commit.draft.target.checkout.display(),
                    if done.pushed { " and pushed it" } else { "" }
                ),
            )?;
            say(out, format!("next: {}", done.next))?;
            say(
                out,
                format!(
                    "once merged, {} applies it; `tighten status -n {}` shows when",
                    commit.draft.target.owner.describe(),
                    plan.namespace
                ),
            )?;
            Ok(exit::OK)
        }
        Err(why) => {
            say(err, format!("tighten: the commit failed: {why}"))?;
            Ok(code::FAILED)
        }
    }
}
