use super::*;
use crate::policy::TemplateVars;
use crate::rollout::plan::{self, PlanInput, Request};
use crate::rollout::{Phase, RolloutAction, status_for};
use std::collections::BTreeSet;

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().expect("time")
}

fn demo() -> (DemoCluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (DemoCluster::new(now(), dir.path()), dir)
}

fn plan_for(demo: &DemoCluster, namespace: &str, action: RolloutAction) -> RolloutPlan {
    let snapshot = demo.snapshot();
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace(namespace);
    let baseline = templates.render_baseline(&vars).expect("baseline");
    let default_deny = templates.render_default_deny(&vars).expect("dd");
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
            default_deny: &default_deny,
            now: now(),
            operator: "test",
            backup_dir: "/nonexistent".into(),
            cilium: &snapshot.cilium,
            gitops: snapshot.gitops(),
        },
    )
    .expect("plan")
}

fn phase(demo: &DemoCluster, namespace: &str) -> Phase {
    let snapshot = demo.snapshot();
    status_for(&snapshot, snapshot.namespace(namespace).expect("ns")).phase
}

#[test]
fn the_demo_spans_every_phase_with_drift_foreign_and_broken_policies() {
    let (demo, dir) = demo();
    let snapshot = demo.snapshot();
    assert!(snapshot.namespaces.len() >= 12);
    let phases: BTreeSet<Phase> = snapshot
        .namespaces
        .iter()
        .map(|n| status_for(&snapshot, n).phase)
        .collect();
    assert_eq!(phases, Phase::ALL.into_iter().collect::<BTreeSet<_>>());
    let lab = status_for(&snapshot, snapshot.namespace("lab").expect("lab"));
    assert!(!lab.drift.is_empty(), "lab shows drift");
    assert!(
        snapshot
            .policies
            .iter()
            .any(|p| p.kind == crate::cluster::PolicyKind::NetworkPolicy)
    );
    assert!(snapshot.policies.iter().any(|p| {
        p.body
            .get("status")
            .is_some_and(|s| s.to_string().contains("\"False\""))
    }));
    // The payments backup exists for restore.
    let backup_path = dir.path().join("payments/20261122T031500Z-rollback-namespace.yaml");
    assert!(!backup::read(&backup_path).expect("seed backup").is_empty());
}

#[tokio::test]
async fn dry_runs_change_nothing_and_apply_changes_everything() {
    let (demo, _dir) = demo();
    let plan = plan_for(&demo, "databases", RolloutAction::Enforce);
    let report = demo.dry_run(&plan).await.expect("dry run");
    assert!(report.accepted());
    assert_eq!(report.verdicts.len(), 2, "the update and the annotation");
    assert_eq!(phase(&demo, "databases"), Phase::Audit);
    demo.apply(&plan).await.expect("apply");
    assert_eq!(phase(&demo, "databases"), Phase::Enforced);
}

#[tokio::test]
async fn stale_plans_conflict_and_change_nothing() {
    let (demo, _dir) = demo();
    let plan = plan_for(&demo, "databases", RolloutAction::Enforce);
    demo.apply(&plan).await.expect("first apply");
    let before = demo.snapshot();
    // The same plan again: its resourceVersions are stale.
    let report = demo.dry_run(&plan).await.expect("dry run");
    assert!(!report.accepted());
    let err = demo.apply(&plan).await.expect_err("conflict");
    assert!(matches!(err, ClusterError::Conflict { .. }), "{err}");
    assert_eq!(demo.snapshot().policies, before.policies, "all or nothing");
    assert_eq!(demo.snapshot().namespaces, before.namespaces);
}

#[tokio::test]
async fn subscribers_see_every_applied_change() {
    let (demo, _dir) = demo();
    let mut events = Cluster::subscribe(&demo);
    let mut snapshots = 0;
    while let Ok(event) = events.try_recv() {
        snapshots += usize::from(matches!(event, ClusterEvent::Snapshot(_)));
    }
    assert_eq!(snapshots, 1, "the current snapshot first");
    demo.apply(&plan_for(&demo, "network", RolloutAction::ApplyBaseline))
        .await
        .expect("apply");
    match events.try_recv() {
        Ok(ClusterEvent::Snapshot(s)) => assert_eq!(s.namespaced_policies("network").count(), 5),
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

#[test]
fn traffic_follows_enforcement() {
    let (demo, _dir) = demo();
    let from = now() - SignedDuration::from_mins(10);
    let flows = demo.flows_between(from, now(), 7);
    let policy_drops = |ns: &str, flows: &[crate::flows::Flow]| {
        flows
            .iter()
            .filter(|f| f.drop_reason.is_some_and(|r| r.is_policy()))
            .filter(|f| f.source.namespace == ns || f.destination.namespace == ns)
            .count()
    };
    assert!(policy_drops("cert-manager", &flows) > 0, "ACME self-check drops");
    assert!(policy_drops("auth", &flows) > 0, "legacy client drops");
    assert_eq!(policy_drops("databases", &flows), 0, "staged: nothing dropped yet");
    assert!(flows.windows(2).all(|w| w[0].time <= w[1].time));
    // Deterministic per seed.
    assert_eq!(flows, demo.flows_between(from, now(), 7));

    // Enforcing databases drops the clients it never allowed.
    let plan = plan_for(&demo, "databases", RolloutAction::Enforce);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(demo.apply(&plan))
        .expect("apply");
    let flows = demo.flows_between(from, now(), 7);
    assert!(policy_drops("databases", &flows) > 0);
}

#[test]
fn orders_is_a_teams_own_rollout_read_as_enforced_and_not_adopted() {
    let (demo, _dir) = demo();
    let snapshot = demo.snapshot();
    let status = status_for(&snapshot, snapshot.namespace("orders").expect("orders"));
    assert_eq!(status.phase, Phase::Enforced);
    assert_eq!(status.intent.phase, None, "nothing of tighten's is recorded");
    assert!(status.drift.is_empty(), "{:?}", status.drift);
    assert_eq!(status.observed.baseline.len(), 5);
    assert!(status.observed.posture.readings.iter().all(|r| r.author() == "team"));

    // Break-glass removes the team's default-deny only, pausing its Flux
    // Kustomization (whose parent is named).
    let plan = plan_for(&demo, "orders", RolloutAction::RollbackDefaultDeny);
    let deleted: Vec<&str> = plan.deletes().map(|p| p.name.as_str()).collect();
    assert_eq!(deleted, ["default-deny"]);
    assert_eq!(plan.owners.len(), 1);
    assert!(
        plan.owners[0].summary().contains("flux-system/orders"),
        "{:?}",
        plan.owners[0].summary()
    );
}
