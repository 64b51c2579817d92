//! The only way to change a cluster.
//!
//! Every rule that must hold whatever the caller (TUI or command line) lives
//! here, below the UI: read-only mode refuses, a plan may only touch its own
//! namespace, deleted objects are backed up and fsynced first, and each action
//! leaves exactly one audit record.

use std::sync::Arc;

use jiff::Timestamp;

use crate::rollout::RolloutPlan;

use super::audit::{AuditLog, AuditOutcome, AuditRecord};
use super::backup::{self, BackupHeader};
use super::{Cluster, ClusterError, DryRunReport};

/// Guards a [`Cluster`]'s mutations.
#[derive(Clone)]
pub struct Mutator {
    cluster: Arc<dyn Cluster>,
    readonly: bool,
    audit: AuditLog,
}

impl Mutator {
    /// Whether every change is refused (`--readonly`).
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// Where each action's record goes.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// Who acts, and where.
    pub fn identity(&self) -> crate::cluster::ClusterIdentity {
        self.cluster.identity()
    }

    pub fn new(cluster: Arc<dyn Cluster>, readonly: bool, audit: AuditLog) -> Mutator {
        Mutator {
            cluster,
            readonly,
            audit,
        }
    }

    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    /// A server-side dry run; allowed in read-only mode since it changes nothing.
    pub async fn dry_run(&self, plan: &RolloutPlan) -> Result<DryRunReport, ClusterError> {
        check_scope(plan)?;
        self.cluster.dry_run(plan).await
    }

    /// Performs a confirmed plan and records it, with the dry-run `diff` the
    /// operator confirmed. The audit record is returned whatever the outcome.
    pub async fn execute(&self, plan: &RolloutPlan, diff: Vec<String>) -> (Result<(), ClusterError>, AuditRecord) {
        let mut backup_written = false;
        let result = self.perform(plan, &mut backup_written).await;
        let identity = self.cluster.identity();
        let mut record = AuditRecord {
            time: Timestamp::now(),
            context: identity.context,
            user: identity.user,
            namespace: plan.namespace.clone(),
            action: plan.action.slug().into(),
            outcome: match &result {
                Ok(()) => AuditOutcome::Succeeded,
                Err(e @ (ClusterError::ReadOnly | ClusterError::OutOfScope { .. })) => {
                    AuditOutcome::Refused(e.to_string())
                }
                Err(e) => AuditOutcome::Failed(e.to_string()),
            },
            changes: plan.summary(),
            objects: plan
                .changes
                .iter()
                .map(|c| {
                    let version = match c {
                        crate::rollout::Change::Create(_) => "new",
                        crate::rollout::Change::Update { before: o, .. } | crate::rollout::Change::Delete(o) => {
                            o.resource_version.as_deref().unwrap_or("?")
                        }
                    };
                    format!("{}@{version}", c.target())
                })
                .collect(),
            diff,
            // Point at the backup only when it exists on disk.
            backup: plan
                .backup_to
                .as_ref()
                .filter(|_| backup_written)
                .map(|p| p.display().to_string()),
            reason: plan.reason.clone(),
        };
        if let Err(err) = self.audit.append(&record) {
            tracing::error!(path = %self.audit.path().display(), %err, "cannot write the audit record");
            if record.outcome == AuditOutcome::Succeeded {
                record.outcome = AuditOutcome::Failed(format!(
                    "the change was made but the audit record could not be written to {}: {err}",
                    self.audit.path().display()
                ));
            }
        }
        if !matches!(result, Err(ClusterError::ReadOnly | ClusterError::OutOfScope { .. }))
            && let Err(err) = self.cluster.announce(&record).await
        {
            // The audit file has it; a missing Event must not hide the outcome.
            tracing::warn!(%err, "could not create the Kubernetes Event for the action");
        }
        (result, record)
    }

    async fn perform(&self, plan: &RolloutPlan, backup_written: &mut bool) -> Result<(), ClusterError> {
        if self.readonly {
            return Err(ClusterError::ReadOnly);
        }
        check_scope(plan)?;
        let deletes: Vec<_> = plan.deletes().collect();
        if !deletes.is_empty() {
            let path = plan
                .backup_to
                .as_deref()
                .ok_or_else(|| ClusterError::Backup("the plan deletes objects but names no backup file".into()))?;
            let header = BackupHeader {
                context: &self.cluster.identity().context,
                namespace: &plan.namespace,
                action: plan.action.slug(),
                written: Timestamp::now(),
            };
            backup::write(path, &header, &deletes).map_err(|e| ClusterError::Backup(e.to_string()))?;
            *backup_written = true;
        }
        self.cluster.apply(plan).await
    }
}

#[cfg(test)]
mod tests;

/// A plan may only touch namespaced objects of the namespace it names, and
/// the GitOps owners of that namespace's policies: a pause only for an owner
/// of a policy the plan deletes, a resume only in a resume plan.
fn check_scope(plan: &RolloutPlan) -> Result<(), ClusterError> {
    for change in &plan.changes {
        let target = change.target();
        if !target.kind.is_namespaced() || target.namespace.as_deref() != Some(plan.namespace.as_str()) {
            return Err(ClusterError::OutOfScope {
                target: target.to_string(),
                namespace: plan.namespace.clone(),
            });
        }
    }
    for owner in plan.enabled_owners() {
        let owns_a_deleted_policy = || plan.deletes().any(|p| crate::rollout::gitops::may_own(&owner.owner, p));
        let allowed = if owner.pause {
            owns_a_deleted_policy()
        } else {
            plan.action == crate::rollout::RolloutAction::ResumeOwners
        };
        if !allowed {
            return Err(ClusterError::OutOfScope {
                target: owner.owner.to_string(),
                namespace: plan.namespace.clone(),
            });
        }
    }
    Ok(())
}
