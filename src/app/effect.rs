//! Work `update` asks the runtime to do. Results come back as [`Msg`](super::Msg)s
//! carrying the same request id, so a late answer to a cancelled dialog is ignored.

use std::path::PathBuf;

use crate::flows::FlowScope;
use crate::rollout::RolloutPlan;

pub use crate::shared::Shared;

/// The preview's engine, handed to the ledger's thread.
pub type SharedEngine = Shared<crate::policy::engine::Engine>;

impl<T> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Shared<{}>",
            std::any::type_name::<T>().rsplit("::").next().unwrap_or("?")
        )
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

pub use crate::repo::RepoStep;

/// A step prepared as a commit, as the confirm dialog shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitPreview {
    /// The commit's part of the review (branch, files, diffs, build).
    pub lines: Vec<crate::app::review::ReviewLine>,
    /// What the reconciler will apply once merged: what the dry run judged.
    pub rendered: RolloutPlan,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Judge the connections the ledger saw since each namespace was staged,
    /// and the paths the snapshot declares → `Msg::LedgerSoak` (now and after
    /// each ledger write).
    JudgeSoak {
        engine: SharedEngine,
        namespaces: Vec<(String, jiff::Timestamp)>,
        snapshot: Shared<crate::cluster::ClusterSnapshot>,
        senders: crate::declared::Senders,
    },
    /// Server-side dry run of a plan → `Msg::DryRunDone`; with `repo`, a
    /// forward step on a GitOps-owned namespace is prepared as a commit
    /// first, and the dry run judges what the reconciler will apply.
    DryRun {
        id: u64,
        plan: RolloutPlan,
        repo: Option<RepoStep>,
    },
    /// Perform a confirmed plan through the mutation guard → `Msg::Executed`;
    /// `diff` is the dry-run diff the operator confirmed, for the audit record.
    Execute {
        id: u64,
        plan: RolloutPlan,
        diff: Vec<String>,
        /// For a break-glass on a GitOps-owned namespace: where to commit the
        /// revert once the rollback is done → `Msg::Reverted`.
        revert: Option<RepoStep>,
    },
    /// Whether the reconciler's applied commit contains a step's pending one
    /// → `Msg::CommitChecked`.
    CheckCommit {
        pending: crate::repo::pending::Pending,
        applied: String,
    },
    /// Forget the commit prepared for dialog `id` (cancelled): its worktree goes.
    DiscardCommit { id: u64 },
    /// Read a backup file for restore → `Msg::BackupLoaded`.
    LoadBackup { id: u64, namespace: String, path: PathBuf },
    /// Check the backup directory accepts files → `Msg::BackupDirChecked`.
    CheckBackupDir,
    /// Load a theme by name → `Msg::ThemeLoaded`.
    LoadTheme(String),
    /// Ask the cluster which actions the user may take here → `Msg::AccessChecked`.
    CheckAccess { namespace: String },
    /// Connect to another kubeconfig context (or `demo`) → `Msg::ContextSwitched`
    /// or `Msg::ContextFailed`.
    SwitchContext { context: String },
    /// Ask the flow stream for these namespaces' flows only (or all again).
    ScopeFlows(FlowScope),
    /// Ask Prometheus about a namespace over the gate window →
    /// `Msg::PrometheusFetched`.
    FetchPrometheus {
        namespace: String,
        window: std::time::Duration,
    },
}
