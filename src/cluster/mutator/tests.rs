use super::*;
use crate::cluster::audit::AuditOutcome;
use crate::cluster::backup;
use crate::cluster::demo::DemoCluster;
use crate::policy::{TemplateVars, Templates};
use crate::rollout::Change;
use crate::rollout::plan::{self, PlanInput, Request};
use crate::rollout::{RolloutAction, status_for};

struct Fixture {
    demo: DemoCluster,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = DemoCluster::new(Timestamp::now(), &dir.path().join("backups"));
    Fixture { demo, dir }
}

impl Fixture {
    fn mutator(&self, readonly: bool) -> Mutator {
        Mutator::new(
            Arc::new(self.demo.clone()),
            readonly,
            AuditLog::new(self.dir.path().join("audit.jsonl")),
        )
    }

    fn plan(&self, namespace: &str, action: RolloutAction) -> RolloutPlan {
        let snapshot = self.demo.snapshot();
        let templates = Templates::embedded();
        let vars = TemplateVars::for_namespace(namespace);
        let baseline = templates.render_baseline(&vars).expect("baseline");
        let dd = templates.render_default_deny(&vars).expect("dd");
        let ns = snapshot.namespace(namespace).expect("ns");
        let policies: Vec<_> = snapshot.namespaced_policies(namespace).collect();
        let status = status_for(&snapshot, ns);
        plan::plan(
            Request::Simple(action),
            &PlanInput {
                namespace: ns,
                policies: &policies,
                status: &status,
                baseline: &baseline,
                default_deny: &dd,
                now: Timestamp::now(),
                operator: "test",
                backup_dir: self.dir.path().join("backups"),
                cilium: &snapshot.cilium,
                gitops: snapshot.gitops(),
            },
        )
        .expect("plan")
    }

    fn audit(&self) -> Vec<AuditRecord> {
        AuditLog::new(self.dir.path().join("audit.jsonl")).load("demo").0
    }
}

#[tokio::test]
async fn read_only_refuses_below_the_ui_and_is_audited() {
    let f = fixture();
    let before = f.demo.snapshot();
    let plan = f.plan("media", RolloutAction::RollbackNamespace);
    let (result, record) = f.mutator(true).execute(&plan, Vec::new()).await;
    assert_eq!(result, Err(ClusterError::ReadOnly));
    assert!(matches!(record.outcome, AuditOutcome::Refused(_)));
    assert_eq!(f.demo.snapshot().policies, before.policies, "nothing changed");
    assert!(
        !plan.backup_to.as_ref().expect("path").exists(),
        "nothing backed up either"
    );
    assert_eq!(f.audit().len(), 1);
    // A dry run is still allowed: it changes nothing.
    assert!(f.mutator(true).dry_run(&plan).await.is_ok());
}

#[tokio::test]
async fn deletes_are_backed_up_before_they_happen() {
    let f = fixture();
    let plan = f.plan("cert-manager", RolloutAction::RollbackDefaultDeny);
    let path = plan.backup_to.clone().expect("backup path");
    let (result, record) = f.mutator(false).execute(&plan, Vec::new()).await;
    assert_eq!(result, Ok(()));
    let saved = backup::read(&path).expect("backup written");
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].name, "tighten-default-deny");
    assert_eq!(record.backup.as_deref(), Some(path.display().to_string().as_str()));
    assert_eq!(record.outcome, AuditOutcome::Succeeded);
    assert_eq!(f.audit(), vec![record]);
}

#[tokio::test]
async fn a_failed_backup_deletes_nothing() {
    let f = fixture();
    let mut plan = f.plan("cert-manager", RolloutAction::RollbackDefaultDeny);
    // A path whose parent is a file cannot be created.
    let blocker = f.dir.path().join("blocker");
    std::fs::write(&blocker, "x").expect("file");
    plan.backup_to = Some(blocker.join("backup.yaml"));
    let before = f.demo.snapshot();
    let (result, record) = f.mutator(false).execute(&plan, Vec::new()).await;
    assert!(matches!(result, Err(ClusterError::Backup(_))), "{result:?}");
    assert_eq!(f.demo.snapshot().policies, before.policies);
    assert!(record.backup.is_none());
    assert!(matches!(record.outcome, AuditOutcome::Failed(_)));
}

#[tokio::test]
async fn plans_may_not_reach_into_another_namespace() {
    let f = fixture();
    let mut plan = f.plan("media", RolloutAction::RollbackNamespace);
    let foreign = f
        .demo
        .snapshot()
        .namespaced_policies("auth")
        .next()
        .cloned()
        .expect("auth policy");
    plan.changes.push(Change::Delete(foreign));
    let before = f.demo.snapshot();
    let (result, _) = f.mutator(false).execute(&plan, Vec::new()).await;
    assert!(matches!(result, Err(ClusterError::OutOfScope { .. })), "{result:?}");
    assert!(f.mutator(false).dry_run(&plan).await.is_err());
    assert_eq!(f.demo.snapshot().policies, before.policies);
}
