//! tighten against a real kube-apiserver with the real Cilium and Flux CRDs.
//!
//! One control plane serves every test; each test works in namespaces of its
//! own. The first run builds the control plane from Go modules (minutes); later
//! runs reuse the cached binaries.

mod adopt;
mod cli;

mod control_plane;
mod declared;
mod flux;
mod gitops;
mod netns;
#[path = "../common/policy_variants.rs"]
mod policy_variants;
mod prometheus_discovery;
#[path = "../common/prometheus_process.rs"]
mod prometheus_process;
#[path = "../common/tighten_cli.rs"]
mod tighten_cli;
mod validity;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::mpsc;

use tighten::cluster::live::{ConnectOptions, LiveCluster, resources};
use tighten::cluster::{
    AuditLog, AuditOutcome, Cluster, ClusterError, ClusterEvent, ClusterSnapshot, ConnectionState, Mutator, PolicyKind,
    PolicyObject, backup,
};
use tighten::policy::{TemplateVars, Templates};
use tighten::rollout::plan::{self, PlanInput, Request};
use tighten::rollout::{Phase, RolloutAction, RolloutPlan, status_for};

const WAIT: Duration = Duration::from_secs(20);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        fastrand::u32(..).to_string().chars().take(6).collect::<String>()
    )
}

async fn admin() -> Client {
    control_plane::client(&control_plane::get().admin).await
}

async fn connect(kubeconfig: &Path) -> LiveCluster {
    LiveCluster::connect(&ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    })
    .await
    .expect("connects")
}

/// Creates a namespaced object from its manifest, as `kubectl create -f` would.
async fn create<K>(client: &Client, namespace: &str, manifest: serde_json::Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    let object: K = serde_json::from_value(manifest).expect("a valid manifest");
    Api::<K>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &object)
        .await
        .expect("created")
}

async fn create_namespace(client: &Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"policy-tier": "stage"}}})).expect("ns");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

/// Applies a policy as another tool would (its own field manager).
async fn apply_policy(client: &Client, manifest: serde_json::Value) -> PolicyObject {
    let policy = PolicyObject::from_manifest(&manifest).expect("policy");
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        policy.namespace.as_deref().expect("namespaced"),
        &resources::policy_resource(policy.kind),
    );
    let body = resources::policy_to_dynamic(&policy).expect("dynamic");
    let stored = api
        .patch(
            &policy.name,
            &PatchParams::apply("test-fixture").force(),
            &Patch::Apply(&body),
        )
        .await
        .expect("applied");
    resources::policy_from_dynamic(policy.kind, &stored).expect("readable")
}

/// The next snapshot (from `events`) for which `ready` holds.
async fn snapshot_where(
    events: &mut mpsc::Receiver<ClusterEvent>,
    ready: impl Fn(&ClusterSnapshot) -> bool,
) -> Arc<ClusterSnapshot> {
    snapshot_explained(events, ready, |_| String::new()).await
}

/// As [`snapshot_where`], saying what the last snapshot looked like on timeout.
async fn snapshot_explained(
    events: &mut mpsc::Receiver<ClusterEvent>,
    ready: impl Fn(&ClusterSnapshot) -> bool,
    explain: impl Fn(&ClusterSnapshot) -> String,
) -> Arc<ClusterSnapshot> {
    let mut last: Option<Arc<ClusterSnapshot>> = None;
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(ClusterEvent::Snapshot(s)) if ready(&s) => return s,
                Some(ClusterEvent::Snapshot(s)) => last = Some(s),
                Some(_) => {}
                None => panic!("the watch ended"),
            }
        }
    })
    .await;
    match found {
        Ok(s) => s,
        Err(_) => panic!(
            "the watch did not show the change in time; last: {}",
            last.as_deref().map(&explain).unwrap_or_default()
        ),
    }
}

/// Plans `request` on `namespace` as the cockpit would.
fn plan_for(snapshot: &ClusterSnapshot, namespace: &str, request: Request, backup_dir: &Path) -> RolloutPlan {
    try_plan(snapshot, namespace, request, backup_dir).expect("plannable")
}

fn try_plan(
    snapshot: &ClusterSnapshot,
    namespace: &str,
    request: Request,
    backup_dir: &Path,
) -> Result<RolloutPlan, tighten::rollout::Refusal> {
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace(namespace);
    let baseline = templates.render_baseline(&vars).expect("baseline");
    let default_deny = templates.render_default_deny(&vars).expect("default-deny");
    let ns = snapshot.namespace(namespace).expect("namespace in snapshot");
    let policies: Vec<&PolicyObject> = snapshot.namespaced_policies(namespace).collect();
    let status = status_for(snapshot, ns);
    plan::plan(
        request,
        &PlanInput {
            namespace: ns,
            policies: &policies,
            status: &status,
            baseline: &baseline,
            default_deny: &default_deny,
            now: Timestamp::now(),
            operator: "admin",
            backup_dir: backup_dir.to_path_buf(),
            cilium: &snapshot.cilium,
            gitops: snapshot.gitops(),
        },
    )
}

/// A connected cockpit backend with its own audit file and backup directory.
struct Live {
    cluster: Arc<LiveCluster>,
    mutator: Mutator,
    events: mpsc::Receiver<ClusterEvent>,
    dir: tempfile::TempDir,
    snapshot: Arc<ClusterSnapshot>,
}

impl Live {
    async fn new(kubeconfig: &Path, readonly: bool, namespace: &str) -> Live {
        let cluster = Arc::new(connect(kubeconfig).await);
        let dir = tempfile::tempdir().expect("tempdir");
        let mutator = Mutator::new(cluster.clone(), readonly, AuditLog::new(dir.path().join("audit.jsonl")));
        let mut events = cluster.subscribe();
        let ns = namespace.to_string();
        let snapshot = snapshot_where(&mut events, |s| s.namespace(&ns).is_some()).await;
        Live {
            cluster,
            mutator,
            events,
            dir,
            snapshot,
        }
    }

    fn phase(&self, namespace: &str) -> Phase {
        status_for(&self.snapshot, self.snapshot.namespace(namespace).expect("ns")).phase
    }

    /// Waits until the snapshot shows the namespace as the API server has it
    /// now, so a plan is never made against a view that is behind.
    async fn catch_up(&mut self, namespace: &str) {
        let client = admin().await;
        let current = Api::<Namespace>::all(client)
            .get(namespace)
            .await
            .expect("namespace")
            .metadata
            .resource_version;
        let ns = namespace.to_string();
        if self.snapshot.namespace(&ns).and_then(|n| n.resource_version.clone()) != current {
            self.snapshot = snapshot_where(&mut self.events, |s| {
                s.namespace(&ns).and_then(|n| n.resource_version.clone()) == current
            })
            .await;
        }
    }

    /// Dry-runs, executes and waits until the watch shows `expected`.
    async fn act(&mut self, namespace: &str, request: Request, expected: Phase) -> RolloutPlan {
        self.catch_up(namespace).await;
        let plan = plan_for(&self.snapshot, namespace, request, self.dir.path());
        let report = self.mutator.dry_run(&plan).await.expect("dry run");
        assert!(report.accepted(), "{:?}", report.refusals().collect::<Vec<_>>());
        let (result, record) = self.mutator.execute(&plan, vec!["diff".into()]).await;
        assert_eq!(result, Ok(()), "{}", plan.action);
        assert_eq!(record.outcome, AuditOutcome::Succeeded);
        let ns = namespace.to_string();
        self.snapshot = snapshot_explained(
            &mut self.events,
            |s| {
                s.namespace(&ns)
                    .is_some_and(|n| status_for(s, n).phase == expected && status_for(s, n).drift.is_empty())
            },
            |s| format!("{:?}", s.namespace(&ns).map(|n| status_for(s, n))),
        )
        .await;
        plan
    }

    /// Restores the backup `rollback` wrote, as the cockpit's restore does.
    async fn restore(&mut self, namespace: &str, rollback: &RolloutPlan, expected: Phase) -> RolloutPlan {
        let path = rollback.backup_to.clone().expect("the rollback wrote a backup");
        let objects = backup::read(&path).expect("backup readable");
        self.act(namespace, Request::Restore { backup: path, objects }, expected)
            .await
    }

    fn policies(&self, namespace: &str) -> Vec<PolicyObject> {
        let mut policies: Vec<_> = self.snapshot.namespaced_policies(namespace).cloned().collect();
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        policies
    }
}

/// Name and resourceVersion of every object in a namespace, to prove it untouched.
async fn fingerprint(client: &Client, namespace: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for kind in [PolicyKind::CiliumNetworkPolicy, PolicyKind::NetworkPolicy] {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), namespace, &resources::policy_resource(kind));
        for o in api.list(&Default::default()).await.expect("list").items {
            out.insert(
                format!("{kind} {}", o.metadata.name.unwrap_or_default()),
                o.metadata.resource_version.unwrap_or_default(),
            );
        }
    }
    let ns = Api::<Namespace>::all(client.clone()).get(namespace).await.expect("ns");
    out.insert("namespace".into(), ns.metadata.resource_version.unwrap_or_default());
    out
}

#[tokio::test]
async fn watches_follow_changes_made_by_another_client() {
    let client = admin().await;
    let ns = unique("watch");
    create_namespace(&client, &ns).await;
    let cluster = connect(&control_plane::get().admin).await;
    assert_eq!(cluster.identity().user, "admin", "user from SelfSubjectReview");
    let mut events = cluster.subscribe();
    let first = snapshot_where(&mut events, |s| s.namespace(&ns).is_some()).await;
    assert!(first.cilium.crds_installed);
    assert_eq!(
        first.cilium.default_deny_supported,
        Some(true),
        "read from the real v1.19 CRD"
    );
    assert!(first.kustomizations.is_some(), "the Flux CRD is installed");

    apply_policy(
        &client,
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "from-elsewhere", "namespace": ns}, "spec": {"endpointSelector": {}, "ingress": [{}]}}),
    )
    .await;
    snapshot_where(&mut events, |s| {
        s.namespaced_policies(&ns).any(|p| p.name == "from-elsewhere")
    })
    .await;

    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
    );
    api.delete("from-elsewhere", &DeleteParams::default())
        .await
        .expect("deleted");
    snapshot_where(&mut events, |s| s.namespaced_policies(&ns).count() == 0).await;
}

#[tokio::test]
async fn every_action_against_the_api_server_touching_only_its_namespace() {
    let client = admin().await;
    let (ns, bystander) = (unique("rollout"), unique("bystander"));
    create_namespace(&client, &ns).await;
    create_namespace(&client, &bystander).await;
    apply_policy(
        &client,
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "keep-me", "namespace": bystander}, "spec": {"endpointSelector": {}, "ingress": [{}]}}),
    )
    .await;
    // A chart's NetworkPolicy for its own pods: foreign to tighten, removed by
    // namespace rollback only. (One with `podSelector: {}` and no rule would be
    // a deny-all, and the namespace enforced from the start.)
    let np: k8s_openapi::api::networking::v1::NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "chart-netpol", "namespace": ns},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "chart"}}, "policyTypes": ["Ingress"],
                 "ingress": [{"ports": [{"port": 8080}]}]}}))
    .expect("np");
    Api::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &np)
        .await
        .expect("np created");
    let untouched = fingerprint(&client, &bystander).await;

    let mut live = Live::new(&control_plane::get().admin, false, &ns).await;
    live.act(&ns, Request::Simple(RolloutAction::Observe), Phase::Observe)
        .await;

    // Baseline: five policies, server-side applied by field manager tighten.
    let baseline = live
        .act(&ns, Request::Simple(RolloutAction::ApplyBaseline), Phase::Baseline)
        .await;
    assert_eq!(baseline.changes.len(), 5);
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
    );
    let dns = api.get("tighten-baseline-dns").await.expect("dns baseline");
    let managers: Vec<_> = dns
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| (m.manager.clone(), m.operation.clone()))
        .collect();
    assert!(
        managers.contains(&(Some("tighten".into()), Some("Apply".into()))),
        "{managers:?}"
    );

    // Stage, and what the enforce dry run shows.
    live.act(&ns, Request::Simple(RolloutAction::StageDefaultDeny), Phase::Audit)
        .await;
    let enforce = plan_for(
        &live.snapshot,
        &ns,
        Request::Simple(RolloutAction::Enforce),
        live.dir.path(),
    );
    let report = live.mutator.dry_run(&enforce).await.expect("dry run");
    let returned = report.verdicts[0]
        .result
        .clone()
        .expect("accepted")
        .expect("the server's object");
    assert_eq!(
        tighten::rollout::phase::default_deny_flags(&returned),
        (true, true),
        "the dry run shows the enforced object"
    );
    assert_eq!(live.phase(&ns), Phase::Audit, "a dry run changes nothing");
    live.act(&ns, Request::Simple(RolloutAction::Enforce), Phase::Enforced)
        .await;

    // Partial rollback: backup first, then only the default-deny goes.
    let before = live.policies(&ns);
    let partial = live
        .act(
            &ns,
            Request::Simple(RolloutAction::RollbackDefaultDeny),
            Phase::Baseline,
        )
        .await;
    let saved = backup::read(partial.backup_to.as_deref().expect("backup")).expect("backup readable");
    assert_eq!(
        saved.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["tighten-default-deny"]
    );
    let ns_object = live.snapshot.namespace(&ns).expect("ns");
    assert_eq!(
        ns_object.annotations.get("tighten.dev/backup"),
        Some(&partial.backup_to.as_ref().expect("path").display().to_string())
    );

    // Restore: the specs come back exactly.
    live.restore(&ns, &partial, Phase::Enforced).await;
    let spec_of = |ps: &[PolicyObject]| -> BTreeMap<String, serde_json::Value> {
        ps.iter()
            .map(|p| (p.name.clone(), p.spec().cloned().unwrap_or_default()))
            .collect()
    };
    assert_eq!(
        spec_of(&live.policies(&ns)),
        spec_of(&before),
        "restored specs equal the originals"
    );

    // Namespace rollback removes every policy, the chart's too, with a backup.
    let full = live
        .act(
            &ns,
            Request::Simple(RolloutAction::RollbackNamespace),
            Phase::RolledBack,
        )
        .await;
    assert_eq!(full.changes.len(), 7);
    assert!(live.policies(&ns).is_empty());
    live.restore(&ns, &full, Phase::Enforced).await;
    assert_eq!(
        spec_of(&live.policies(&ns)),
        spec_of(&before),
        "round trip through a full rollback"
    );

    // Carving out leaves policies alone: after a partial rollback nothing enforces.
    live.act(
        &ns,
        Request::Simple(RolloutAction::RollbackDefaultDeny),
        Phase::Baseline,
    )
    .await;
    live.act(
        &ns,
        Request::CarveOut {
            reason: "vendor appliance".into(),
        },
        Phase::CarvedOut,
    )
    .await;

    // One audit record and one Kubernetes Event per action.
    let (records, bad) = AuditLog::new(live.dir.path().join("audit.jsonl")).load("tighten-test-admin");
    assert_eq!(bad, 0);
    assert_eq!(records.len(), 10);
    assert!(
        records
            .iter()
            .all(|r| r.user == "admin" && r.namespace == ns && r.diff == ["diff"])
    );
    assert!(
        records
            .iter()
            .any(|r| r.objects.iter().any(|o| o.contains("tighten-default-deny@")))
    );
    live.cluster
        .announce(&records[0])
        .await
        .expect("the Event for an action can be created");
    let events = Api::<Event>::namespaced(client.clone(), &ns)
        .list(&Default::default())
        .await
        .expect("events");
    let reasons: Vec<_> = events.items.iter().filter_map(|e| e.reason.clone()).collect();
    assert_eq!(reasons.len(), 11, "one per action, plus the one above: {reasons:?}");
    assert!(reasons.contains(&"TightenRollbackNamespace".to_string()));

    assert_eq!(
        fingerprint(&client, &bystander).await,
        untouched,
        "the other namespace was not touched"
    );
}

#[tokio::test]
async fn a_concurrent_edit_between_confirm_and_apply_is_a_conflict_and_changes_nothing() {
    let client = admin().await;
    let ns = unique("conflict");
    create_namespace(&client, &ns).await;
    let mut live = Live::new(&control_plane::get().admin, false, &ns).await;
    live.act(&ns, Request::Simple(RolloutAction::ApplyBaseline), Phase::Baseline)
        .await;
    live.act(&ns, Request::Simple(RolloutAction::StageDefaultDeny), Phase::Audit)
        .await;

    let enforce = plan_for(
        &live.snapshot,
        &ns,
        Request::Simple(RolloutAction::Enforce),
        live.dir.path(),
    );
    assert!(live.mutator.dry_run(&enforce).await.expect("dry run").accepted());
    // Someone edits the default-deny after the operator confirmed.
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
    );
    api.patch(
        "tighten-default-deny",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"edited-by": "someone"}}})),
    )
    .await
    .expect("concurrent edit");
    let before = fingerprint(&client, &ns).await;
    let (result, record) = live.mutator.execute(&enforce, Vec::new()).await;
    assert!(matches!(result, Err(ClusterError::Conflict { .. })), "{result:?}");
    assert!(
        matches!(record.outcome, AuditOutcome::Failed(ref m) if m.contains("changed since the plan")),
        "{:?}",
        record.outcome
    );
    assert_eq!(fingerprint(&client, &ns).await, before, "nothing was written");
    // A fresh plan from the fresh snapshot goes through.
    live.snapshot = snapshot_where(&mut live.events, |s| {
        s.namespaced_policies(&ns).any(|p| p.labels.contains_key("edited-by"))
    })
    .await;
    live.act(&ns, Request::Simple(RolloutAction::Enforce), Phase::Enforced)
        .await;
}

#[tokio::test]
async fn the_restricted_operator_is_denied_before_and_refused_if_forced() {
    let client = admin().await;
    let ns = unique("rbac");
    create_namespace(&client, &ns).await;
    let operator = Live::new(&control_plane::get().operator, false, &ns).await;
    assert_eq!(operator.cluster.identity().user, "operator");

    let access = operator.cluster.access(&ns).await.expect("access reviewed");
    let why = access
        .why_denied(RolloutAction::ApplyBaseline)
        .expect("baseline is denied");
    assert!(
        why.contains("create ciliumnetworkpolicies.cilium.io in") && why.contains(&ns),
        "{why}"
    );
    assert!(
        access
            .why_denied(RolloutAction::RollbackNamespace)
            .is_some_and(|w| w.contains("delete networkpolicies.networking.k8s.io"))
    );
    assert_eq!(
        access.denied.len(),
        tighten::cluster::access::ACTIONS.len(),
        "every action needs a write the operator lacks"
    );
    // The admin may do everything.
    let admin_live = Live::new(&control_plane::get().admin, false, &ns).await;
    assert!(
        admin_live
            .cluster
            .access(&ns)
            .await
            .expect("reviewed")
            .denied
            .is_empty()
    );

    // Forced anyway (as a script could): the API server refuses, nothing changes.
    let before = fingerprint(&client, &ns).await;
    let plan = plan_for(
        &operator.snapshot,
        &ns,
        Request::Simple(RolloutAction::ApplyBaseline),
        operator.dir.path(),
    );
    let report = operator.mutator.dry_run(&plan).await.expect("dry run answered");
    assert!(!report.accepted());
    assert!(
        report.refusals().all(|(_, why)| why.contains("forbidden")),
        "{:?}",
        report.refusals().collect::<Vec<_>>()
    );
    let (result, record) = operator.mutator.execute(&plan, Vec::new()).await;
    assert!(matches!(result, Err(ClusterError::Forbidden { .. })), "{result:?}");
    assert!(matches!(record.outcome, AuditOutcome::Failed(_)));
    assert_eq!(fingerprint(&client, &ns).await, before);
}

#[tokio::test]
async fn read_only_refuses_below_the_ui_against_the_api_server() {
    let client = admin().await;
    let ns = unique("readonly");
    create_namespace(&client, &ns).await;
    let live = Live::new(&control_plane::get().admin, true, &ns).await;
    let before = fingerprint(&client, &ns).await;
    let plan = plan_for(
        &live.snapshot,
        &ns,
        Request::Simple(RolloutAction::ApplyBaseline),
        live.dir.path(),
    );
    let (result, _) = live.mutator.execute(&plan, Vec::new()).await;
    assert_eq!(result, Err(ClusterError::ReadOnly));
    assert_eq!(fingerprint(&client, &ns).await, before);
}

#[tokio::test]
async fn a_failure_in_the_middle_of_a_multi_object_action_is_undone() {
    let client = admin().await;
    let ns = unique("undo");
    create_namespace(&client, &ns).await;
    let mut live = Live::new(&control_plane::get().admin, false, &ns).await;
    live.act(&ns, Request::Simple(RolloutAction::ApplyBaseline), Phase::Baseline)
        .await;
    let before = live.policies(&ns);

    let rollback = plan_for(
        &live.snapshot,
        &ns,
        Request::Simple(RolloutAction::RollbackNamespace),
        live.dir.path(),
    );
    assert_eq!(rollback.changes.len(), 5);
    // Injected failure: the fourth object changes under the plan, so its
    // conditioned delete fails after three deletes have happened.
    let fourth = rollback.changes[3].target().name;
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
    );
    api.patch(
        &fourth,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
    )
    .await
    .expect("edit");

    let (result, _) = live.mutator.execute(&rollback, Vec::new()).await;
    match &result {
        Err(ClusterError::PartlyUndone {
            failed,
            undone,
            undo_failed,
        }) => {
            assert!(matches!(**failed, ClusterError::Conflict { .. }), "{failed}");
            assert_eq!(undone.len(), 3, "{undone:?}");
            assert!(undo_failed.is_empty(), "{undo_failed:?}");
        }
        other => panic!("expected a part-way failure, got {other:?}"),
    }
    let message = result.expect_err("failed").to_string();
    assert!(message.contains("undone: re-created"), "{message}");

    // Everything is back: the same five policies with the same specs, and the
    // namespace still says Baseline.
    let names: Vec<String> = before.iter().map(|p| p.name.clone()).collect();
    live.snapshot = snapshot_where(&mut live.events, |s| {
        let now: Vec<_> = s.namespaced_policies(&ns).map(|p| p.name.clone()).collect();
        names.iter().all(|n| now.contains(n))
    })
    .await;
    let specs = |ps: &[PolicyObject]| {
        ps.iter()
            .map(|p| (p.name.clone(), p.spec().cloned()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(specs(&live.policies(&ns)), specs(&before));
    assert_eq!(live.phase(&ns), Phase::Baseline);
}

#[tokio::test]
async fn the_watch_resumes_after_the_api_server_restarts() {
    let client = admin().await;
    let ns = unique("restart");
    create_namespace(&client, &ns).await;
    let mut server = control_plane::get().extra_apiserver(&format!("restart-{ns}"));
    let cluster = LiveCluster::connect(&ConnectOptions {
        kubeconfig: Some(server.kubeconfig.clone()),
        context: None,
    })
    .await
    .expect("connects");
    let mut events = cluster.subscribe();
    snapshot_where(&mut events, |s| s.namespace(&ns).is_some()).await;

    server.stop();
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(ClusterEvent::Connection(ConnectionState::Reconnecting { .. })) = events.recv().await {
                return;
            }
        }
    })
    .await
    .expect("the lost connection is reported");

    // Changes made while it is down (through the other API server)...
    apply_policy(
        &client,
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "while-down", "namespace": ns}, "spec": {"endpointSelector": {}, "ingress": [{}]}}),
    )
    .await;
    server.start();
    // ...are there once the watch resumes, and the state is healthy again.
    snapshot_where(&mut events, |s| {
        s.namespaced_policies(&ns).any(|p| p.name == "while-down")
    })
    .await;
    // A fresh subscription starts from the current state, so a Connected that
    // arrived while waiting for the snapshot is not missed.
    let mut fresh = cluster.subscribe();
    let mut last = None;
    let healthy = tokio::time::timeout(WAIT, async {
        loop {
            match fresh.recv().await {
                Some(ClusterEvent::Connection(ConnectionState::Connected)) => return,
                Some(ClusterEvent::Connection(other)) => last = Some(other),
                _ => {}
            }
        }
    })
    .await;
    assert!(healthy.is_ok(), "not connected again; last state: {last:?}");
}

/// The automatic port-forward to Hubble Relay: what is missing is said, with
/// what to do instead; once a ready pod is behind the Service, the forward
/// resolves the Service's named port to the pod's and listens on loopback.
/// (The bytes themselves need a kubelet, which this control plane has not.)
#[tokio::test]
async fn hubble_port_forward_finds_relay_or_says_what_is_missing() {
    use k8s_openapi::api::core::v1::{Pod, Service};
    use tighten::flows::{FlowEvent, FlowScope, FlowSource, FlowStreamState};
    use tighten::hubble::client::{HubbleClient, Target};
    use tighten::hubble::portforward;

    let client = admin().await;
    let namespace = unique("cilium");
    create_namespace(&client, &namespace).await;

    let missing = portforward::open(client.clone(), &namespace)
        .await
        .expect_err("no relay");
    assert!(
        missing.contains(&format!("no Service {namespace}/hubble-relay")) && missing.contains("--hubble-server"),
        "{missing}"
    );
    // The cockpit shows the same on the flows line.
    let (_scope, scope_rx) = tokio::sync::watch::channel(FlowScope::All);
    let source = HubbleClient::new(
        Target::PortForward {
            client: client.clone(),
            namespace: namespace.clone(),
        },
        None,
    );
    let mut events = source.subscribe(scope_rx);
    let shown = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(FlowEvent::State(FlowStreamState::Unavailable(reason))) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("said in time");
    assert_eq!(shown, missing);

    create::<Service>(
        &client,
        &namespace,
        json!({
            "metadata": {"name": "hubble-relay"},
            "spec": {"selector": {"k8s-app": "hubble-relay"}, "ports": [{"port": 80, "targetPort": "grpc"}]}
        }),
    )
    .await;
    create::<Pod>(
        &client,
        &namespace,
        json!({
            "metadata": {"name": "hubble-relay-0", "labels": {"k8s-app": "hubble-relay"}},
            "spec": {"containers": [{"name": "relay", "image": "quay.io/cilium/hubble-relay:v1.19.4",
                                      "ports": [{"name": "grpc", "containerPort": 4245}]}]}
        }),
    )
    .await;
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace);
    let pending = portforward::open(client.clone(), &namespace)
        .await
        .expect_err("not running");
    assert!(
        pending.contains(&format!("no running hubble-relay pod in {namespace}")) && pending.contains("1 match"),
        "{pending}"
    );

    // As the kubelet would report it: running and ready.
    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status("hubble-relay-0", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status patched");
    let forward = portforward::open(client.clone(), &namespace)
        .await
        .expect("forward opens");
    assert_eq!(forward.target, format!("{namespace}/hubble-relay-0:4245"));
    assert!(forward.local.ip().is_loopback());
}
