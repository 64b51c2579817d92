//! The text of a confirm dialog, computed once when the dry run answers: what will
//! be created, changed or deleted, the server's verdict on each, and the diff.

use similar::{ChangeTag, TextDiff};

use crate::cluster::DryRunReport;
use crate::gate::{Check, Gate};
use crate::rollout::{Change, RolloutPlan};

/// How a review line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Heading,
    Ok,
    Error,
    Warning,
    Added,
    Removed,
    Context,
    Plain,
    Pass,
    Fail,
    Waiting,
}

/// One line of the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewLine {
    pub kind: LineKind,
    pub text: String,
}

fn line(kind: LineKind, text: impl Into<String>) -> ReviewLine {
    ReviewLine {
        kind,
        text: text.into(),
    }
}

/// The heading the diff follows.
const DIFF_HEADING: &str = "Diff";

/// The diff part of a review: what the audit record keeps of what the
/// operator confirmed.
pub fn diff_lines(review: &[ReviewLine]) -> Vec<String> {
    review
        .iter()
        .skip_while(|l| l.text != DIFF_HEADING)
        .skip(1)
        .map(|l| l.text.clone())
        .collect()
}

/// Builds the review of `plan`.
pub fn review(plan: &RolloutPlan, dry_run: &Result<DryRunReport, String>, gate: Option<&Gate>) -> Vec<ReviewLine> {
    let mut out = Vec::new();
    match dry_run {
        Ok(report) if report.accepted() => out.push(line(
            LineKind::Heading,
            "What will change · server-side dry run accepted",
        )),
        Ok(_) => out.push(line(
            LineKind::Error,
            "What will change · the server REFUSED the dry run",
        )),
        Err(err) => out.push(line(LineKind::Error, format!("The dry run failed: {err}"))),
    }
    let verdicts = dry_run.as_ref().ok();
    let verdict_for = |change: &str| verdicts.and_then(|r| r.verdicts.iter().find(|v| v.change == change));
    // GitOps owners first: they are written first.
    for owner in &plan.owners {
        let summary = owner.summary();
        let boxed = if owner.pause {
            if owner.enabled { "[x] " } else { "[ ] " }
        } else {
            ""
        };
        out.push(match (owner.enabled, verdict_for(&summary).map(|v| &v.result)) {
            (false, _) => line(
                LineKind::Warning,
                format!("  · {boxed}{summary}: left out, so it will re-apply what this deletes"),
            ),
            (true, Some(Ok(_))) => line(LineKind::Ok, format!("  ✓ {boxed}{summary}")),
            (true, Some(Err(why))) => line(LineKind::Error, format!("  ✗ {boxed}{summary}: {why}")),
            (true, None) => line(LineKind::Plain, format!("  · {boxed}{summary}")),
        });
    }
    if plan.pauses_owners().is_some() {
        out.push(line(
            LineKind::Plain,
            "    (the pause can be left out: ctrl-s in the dialog, --no-suspend on the command line)",
        ));
    }
    for change in &plan.changes {
        let summary = format!("{} {}", change.verb(), change.target());
        out.push(match verdict_for(&summary).map(|v| &v.result) {
            Some(Ok(_)) => line(LineKind::Ok, format!("  ✓ {summary}")),
            Some(Err(why)) => line(LineKind::Error, format!("  ✗ {summary}: {why}")),
            None => line(LineKind::Plain, format!("  · {summary}")),
        });
    }
    let annotations = format!("annotate Namespace {}", plan.namespace);
    let annotation_verdict = verdict_for(&annotations).map(|v| v.result.as_ref().map(|_| ()).map_err(Clone::clone));
    for (key, value) in &plan.annotations.set {
        out.push(annotation_line(
            &annotation_verdict,
            format!("{annotations} {key}={value}"),
        ));
    }
    for key in &plan.annotations.remove {
        out.push(annotation_line(&annotation_verdict, format!("{annotations} {key}-")));
    }
    if let Some(backup) = &plan.backup_to {
        out.push(line(
            LineKind::Warning,
            format!(
                "Before the first delete the objects are written to {}",
                backup.display()
            ),
        ));
    }
    for warning in &plan.warnings {
        out.push(line(LineKind::Warning, format!("⚠ {warning}")));
    }
    if !plan.read.is_empty() {
        out.push(line(LineKind::Heading, "What tighten read"));
        out.extend(plan.read.iter().map(|l| line(LineKind::Plain, format!("  {l}"))));
    }
    if let Some(gate) = gate {
        out.push(line(LineKind::Plain, ""));
        out.push(line(LineKind::Heading, format!("{} · {}", gate.title, gate.summary())));
        for item in &gate.items {
            let (kind, mark) = match item.check {
                Check::Pass => (LineKind::Pass, "✓"),
                Check::Fail => (LineKind::Fail, "✗"),
                Check::Waiting => (LineKind::Waiting, "…"),
                Check::Info => (LineKind::Plain, "·"),
            };
            out.push(line(kind, format!("  {mark} {:<30}{}", item.name, item.evidence)));
            if let Some(peer) = &item.worst_peer {
                out.push(line(LineKind::Plain, format!("    {:<30}most: {peer}", "")));
            }
        }
    }
    let diffs: Vec<_> = plan.changes.iter().flat_map(diff).collect();
    if !diffs.is_empty() {
        out.push(line(LineKind::Plain, ""));
        out.push(line(LineKind::Heading, DIFF_HEADING));
        out.extend(diffs);
    }
    out
}

fn annotation_line(verdict: &Option<Result<(), String>>, text: String) -> ReviewLine {
    match verdict {
        Some(Ok(())) => line(LineKind::Ok, format!("  ✓ {text}")),
        Some(Err(why)) => line(LineKind::Error, format!("  ✗ {text}: {why}")),
        None => line(LineKind::Plain, format!("  · {text}")),
    }
}

/// The YAML diff of one change, with two lines of context for updates.
fn diff(change: &Change) -> Vec<ReviewLine> {
    let (before, after) = match change {
        Change::Create(o) => (String::new(), o.to_yaml()),
        Change::Delete(o) => (o.to_yaml(), String::new()),
        Change::Update { before, after } => (before.to_yaml(), after.to_yaml()),
    };
    let mut out = vec![line(
        LineKind::Heading,
        format!("── {} {}", change.verb(), change.target()),
    )];
    out.extend(text_diff(&before, &after));
    out
}

/// The line diff of two texts, with two lines of context around each change.
pub fn text_diff(before: &str, after: &str) -> Vec<ReviewLine> {
    let mut out = Vec::new();
    let text = TextDiff::from_lines(before, after);
    for group in text.grouped_ops(2) {
        for op in group {
            for change in text.iter_changes(&op) {
                let value = change.value().trim_end_matches('\n');
                out.push(match change.tag() {
                    ChangeTag::Insert => line(LineKind::Added, format!("+ {value}")),
                    ChangeTag::Delete => line(LineKind::Removed, format!("- {value}")),
                    ChangeTag::Equal => line(LineKind::Context, format!("  {value}")),
                });
            }
        }
        out.push(line(LineKind::Context, "  ⋯"));
    }
    out.pop_if(|l| l.text == "  ⋯");
    out
}

/// The commit's part of a step's review: where, which files, their diff,
/// and the folder's build before and after.
pub fn commit_review(commit: &crate::repo::step::Commit) -> Vec<ReviewLine> {
    let draft = &commit.draft;
    let target = &draft.target;
    let mut out = vec![
        line(
            LineKind::Heading,
            format!(
                "What will be committed · branch {} from {} in {}",
                draft.branch,
                target.base(),
                target.checkout.display()
            ),
        ),
        line(
            LineKind::Plain,
            format!(
                "  {} applies {} (the namespace's files are in {})",
                target.owner.describe(),
                if target.folder.as_os_str().is_empty() {
                    ".".to_string()
                } else {
                    target.folder.display().to_string()
                },
                draft.placement.home.display()
            ),
        ),
    ];
    out.extend(
        draft
            .file_summary()
            .into_iter()
            .map(|f| line(LineKind::Plain, format!("  {f}"))),
    );
    for edit in &draft.edits {
        out.push(line(LineKind::Heading, format!("── {}", edit.path.display())));
        out.extend(text_diff(
            edit.before.as_deref().unwrap_or_default(),
            edit.after.as_deref().unwrap_or_default(),
        ));
    }
    let folder = target.folder.display();
    match (&draft.built_before, &draft.built_after) {
        (Ok(before), Ok(after)) => {
            out.push(line(
                LineKind::Heading,
                format!("kubectl kustomize {folder}: before → after"),
            ));
            out.extend(text_diff(before, after));
        }
        (_, Err(why)) if why.starts_with("kubectl is not on the PATH") => out.push(line(
            LineKind::Warning,
            "⚠ kubectl is not installed: the folder's build was not checked (the dry run judges the policies as written)",
        )),
        (_, Err(why)) => out.push(line(
            LineKind::Error,
            format!("✗ kubectl kustomize {folder} fails after the change: {why}"),
        )),
        (Err(why), Ok(_)) => out.push(line(
            LineKind::Warning,
            format!("⚠ kubectl kustomize {folder} failed before the change: {why}"),
        )),
    }
    out.push(line(LineKind::Plain, ""));
    out.push(line(LineKind::Heading, "What the reconciler will apply once merged"));
    out
}
