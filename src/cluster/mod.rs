//! Cluster access behind one narrow trait.
//!
//! Two backends implement [`Cluster`]: the embedded demo cluster and (later) the
//! live kube-rs backend. Nothing above this room knows which one it talks to.
//! Mutations only go through [`Mutator`], which enforces read-only mode, the
//! one-namespace rule, backups before deletes and one audit record per action.

pub mod access;
pub mod audit;
pub mod backup;
pub mod demo;
pub mod live;
pub mod mutator;
pub mod objects;
pub mod routes;
pub mod snapshot;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::rollout::RolloutPlan;

pub use audit::{AuditLog, AuditOutcome, AuditRecord};
pub use mutator::Mutator;
pub use objects::{NamespaceInfo, ObjectRef, PodInfo, PolicyKind, PolicyObject, WorkloadRef};
pub use snapshot::{
    AddressPool, ApplicationInfo, CiliumInfo, ClusterSnapshot, GitRepositoryInfo, GitSpec, KustomizationInfo,
    NamespaceIndex, SelectedPolicy, ServiceInfo, ServicePort,
};

/// Who and where the cockpit is connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIdentity {
    pub context: String,
    pub cluster: String,
    pub user: String,
    pub demo: bool,
}

/// The health of the watch connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected,
    Reconnecting { attempt: u32, reason: String },
}

/// What a backend pushes to the cockpit.
#[derive(Debug, Clone)]
pub enum ClusterEvent {
    Snapshot(Arc<ClusterSnapshot>),
    Connection(ConnectionState),
}

/// The server's verdict on one change of a dry run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeVerdict {
    /// "create CiliumNetworkPolicy shop/x", as in the plan summary.
    pub change: String,
    /// `Ok` with the object as the server would store it, or the server's refusal.
    pub result: Result<Option<PolicyObject>, String>,
}

/// The result of a server-side dry run of a whole plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DryRunReport {
    pub verdicts: Vec<ChangeVerdict>,
}

impl DryRunReport {
    pub fn accepted(&self) -> bool {
        self.verdicts.iter().all(|v| v.result.is_ok())
    }

    pub fn refusals(&self) -> impl Iterator<Item = (&str, &str)> {
        self.verdicts
            .iter()
            .filter_map(|v| v.result.as_ref().err().map(|e| (v.change.as_str(), e.as_str())))
    }
}

/// Why a cluster operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("read-only mode: tighten refuses every change to the cluster")]
    ReadOnly,
    #[error("refusing to touch {target}: the action names namespace {namespace} only")]
    OutOfScope { target: String, namespace: String },
    #[error("{target}: {detail}. It changed since the plan was made; review the fresh dry run and confirm again")]
    Conflict { target: String, detail: String },
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("the server refused {target}: {message}")]
    Rejected { target: String, message: String },
    #[error("forbidden: {target}: {message}")]
    Forbidden { target: String, message: String },
    #[error("backup failed, nothing was deleted: {0}")]
    Backup(String),
    /// A multi-object action failed part-way; what was applied before was undone.
    #[error("{failed}{}{}", undone_note(undone), undo_failed_note(undo_failed))]
    PartlyUndone {
        failed: Box<ClusterError>,
        undone: Vec<String>,
        undo_failed: Vec<String>,
    },
    #[error("the cluster is unreachable: {0}")]
    Unavailable(String),
}

fn undone_note(undone: &[String]) -> String {
    if undone.is_empty() {
        String::new()
    } else {
        format!("; undone: {}", undone.join(", "))
    }
}

fn undo_failed_note(failed: &[String]) -> String {
    if failed.is_empty() {
        String::new()
    } else {
        format!("; UNDO FAILED, check by hand: {}", failed.join("; "))
    }
}

/// The narrow interface every backend implements.
///
/// `apply` is only called by [`Mutator`]; nothing else in the crate mutates.
#[async_trait]
pub trait Cluster: Send + Sync {
    fn identity(&self) -> ClusterIdentity;

    /// A stream of snapshots and connection changes; the first event is the
    /// current snapshot.
    fn subscribe(&self) -> mpsc::Receiver<ClusterEvent>;

    /// Runs the plan as a server-side dry run (`dryRun=All`).
    async fn dry_run(&self, plan: &RolloutPlan) -> Result<DryRunReport, ClusterError>;

    /// Performs the plan, all-or-nothing, with resourceVersion preconditions.
    async fn apply(&self, plan: &RolloutPlan) -> Result<(), ClusterError>;

    /// Which rollout actions the current user may not take in `namespace`.
    async fn access(&self, namespace: &str) -> Result<access::AccessReport, ClusterError>;

    /// Publishes an action where cluster tooling sees it (a Kubernetes Event).
    async fn announce(&self, record: &AuditRecord) -> Result<(), ClusterError>;
}
