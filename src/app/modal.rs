//! Dialogs stacked over the main screen. The top one receives the keys.

use crate::cluster::DryRunReport;
use crate::gate::Gate;
use crate::rollout::RolloutPlan;

use super::review::ReviewLine;

use super::text_input::TextInput;

/// The confirm dialog's buttons. Focus starts on Cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Confirm,
}

/// The step before any change: the plan, the server's dry-run verdict and, where
/// required, the namespace name typed by the operator.
#[derive(Debug, Clone)]
pub struct ConfirmDialog {
    pub id: u64,
    pub plan: RolloutPlan,
    pub dry_run: Result<DryRunReport, String>,
    /// The gate for this step, shown beside the changes.
    pub gate: Option<Gate>,
    pub focus: Button,
    /// Set when the namespace name must be typed; holds what has been typed.
    pub typed: Option<TextInput>,
    /// Why typing is required (destructive, protected namespace).
    pub typed_reason: Option<&'static str>,
    pub scroll: u16,
    /// The review text, computed once from the plan, dry run and gate.
    pub review: Vec<ReviewLine>,
    /// Set when the gate for this step is not go: the operator must say why
    /// they proceed, and that goes into the audit record.
    pub override_reason: Option<OverrideReason>,
    /// The step is a commit prepared in a worktree (a GitOps-owned namespace).
    pub committing: bool,
}

/// A typed reason for going past a gate that is not go.
#[derive(Debug, Clone, Default)]
pub struct OverrideReason {
    pub input: TextInput,
    /// `enter` accepted it; typing moves on to the namespace name, if any.
    pub accepted: bool,
}

/// The shortest reason accepted: enough for "incident 4711, CAB approved".
pub const OVERRIDE_MIN_CHARS: usize = 10;

impl OverrideReason {
    pub fn long_enough(&self) -> bool {
        self.input.text().trim().chars().count() >= OVERRIDE_MIN_CHARS
    }
}

impl ConfirmDialog {
    /// Why Confirm cannot be pressed yet, if it cannot.
    pub fn blocked(&self) -> Option<String> {
        match &self.dry_run {
            Err(err) => return Some(format!("the dry run failed: {err}")),
            Ok(report) if !report.accepted() => return Some("the server refused the dry run".into()),
            Ok(_) => {}
        }
        if let Some(reason) = &self.override_reason
            && !reason.accepted
        {
            return Some(format!(
                "type why you override the gate ({OVERRIDE_MIN_CHARS}+ characters), then enter"
            ));
        }
        match &self.typed {
            Some(input) if input.text() != self.plan.namespace => {
                Some(format!("type {} to confirm", self.plan.namespace))
            }
            _ => None,
        }
    }
}

/// What a free-text prompt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptPurpose {
    CarveOutReason { namespace: String },
}

/// A dialog on the modal stack.
#[derive(Debug, Clone)]
pub enum Modal {
    Help {
        scroll: u16,
    },
    Yaml {
        title: String,
        text: String,
        scroll: u16,
    },
    Prompt {
        purpose: PromptPurpose,
        title: String,
        input: TextInput,
    },
    /// Waiting for the dry run; `esc` abandons it.
    DryRunPending {
        id: u64,
        title: String,
    },
    /// Waiting for a backup to be read for restore.
    LoadingBackup {
        id: u64,
        title: String,
    },
    Confirm(Box<ConfirmDialog>),
    /// A confirmed plan is being applied; it cannot be abandoned half-way.
    Applying {
        id: u64,
        title: String,
    },
    /// Something the operator must read (a refusal, a failed action).
    Message {
        title: String,
        lines: Vec<String>,
        danger: bool,
    },
}
