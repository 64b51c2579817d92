use super::*;
use crate::cluster::demo::fixtures;
use crate::cluster::{ClusterSnapshot, PolicyKind};
use crate::policy::{TemplateVars, Templates};
use crate::rollout::{BaselineComponent, status_for};
use std::path::Path;

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().expect("time")
}

fn demo() -> ClusterSnapshot {
    fixtures::initial(now(), &Templates::embedded(), "/backups/payments.yaml")
}

fn plan_for(snapshot: &ClusterSnapshot, namespace: &str, request: Request) -> Result<RolloutPlan, Refusal> {
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace(namespace);
    let baseline = templates.render_baseline(&vars).expect("baseline");
    let default_deny = templates.render_default_deny(&vars).expect("default-deny");
    let ns = snapshot.namespace(namespace).expect("namespace exists");
    let policies: Vec<&PolicyObject> = snapshot.namespaced_policies(namespace).collect();
    let status = status_for(snapshot, ns);
    plan(
        request,
        &PlanInput {
            namespace: ns,
            policies: &policies,
            status: &status,
            baseline: &baseline,
            default_deny: &default_deny,
            now: now(),
            operator: "carol",
            backup_dir: Path::new("/backups/demo").to_path_buf(),
            cilium: &snapshot.cilium,
            gitops: snapshot.gitops(),
        },
    )
}

fn verbs(plan: &RolloutPlan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {}", c.verb(), c.target().name))
        .collect()
}

#[test]
fn baseline_creates_the_five_allows_and_records_intent() {
    let plan = plan_for(&demo(), "network", Request::Simple(RolloutAction::ApplyBaseline)).expect("plan");
    assert_eq!(plan.changes.len(), 5);
    assert!(plan.changes.iter().all(|c| matches!(c, Change::Create(_))));
    assert_eq!(
        plan.annotations.set.get(labels::INTENT).map(String::as_str),
        Some("baseline")
    );
    assert_eq!(
        plan.annotations.set.get(labels::INTENT_BY).map(String::as_str),
        Some("carol")
    );
    assert!(plan.backup_to.is_none(), "nothing is deleted");
    // Already present and identical: nothing to do.
    let again = plan_for(&demo(), "media", Request::Simple(RolloutAction::ApplyBaseline));
    assert!(matches!(again, Err(Refusal::NothingToDo(_))));
}

#[test]
fn baseline_repairs_a_changed_policy_with_its_resource_version() {
    let mut snapshot = demo();
    let dns = snapshot
        .policies
        .iter_mut()
        .find(|p| p.namespace.as_deref() == Some("media") && p.name == "tighten-baseline-dns")
        .expect("dns baseline");
    dns.body
        .insert("spec".into(), serde_json::json!({"endpointSelector": {}}));
    let plan = plan_for(&snapshot, "media", Request::Simple(RolloutAction::ApplyBaseline)).expect("plan");
    assert_eq!(verbs(&plan), vec!["update tighten-baseline-dns"]);
    match &plan.changes[0] {
        Change::Update { after, .. } => assert_eq!(after.resource_version.as_deref(), Some("3")),
        other => panic!("expected an update, got {other:?}"),
    }
    // A repair keeps the recorded intent.
    assert!(!plan.annotations.set.contains_key(labels::INTENT));
}

#[test]
fn stage_needs_a_complete_baseline() {
    let plan = plan_for(&demo(), "media", Request::Simple(RolloutAction::StageDefaultDeny)).expect("plan");
    assert_eq!(verbs(&plan), vec!["create tighten-default-deny"]);
    match &plan.changes[0] {
        Change::Create(dd) => assert_eq!(crate::rollout::phase::default_deny_flags(dd), (false, false)),
        other => panic!("expected a create, got {other:?}"),
    }
    assert_eq!(
        plan.annotations.set.get(labels::STAGED_AT).map(String::as_str),
        Some("2026-11-23T12:00:00Z")
    );

    let mut snapshot = demo();
    snapshot
        .policies
        .retain(|p| !(p.namespace.as_deref() == Some("media") && p.name == "tighten-baseline-dns"));
    let refused = plan_for(&snapshot, "media", Request::Simple(RolloutAction::StageDefaultDeny));
    assert!(
        matches!(refused, Err(Refusal::Invalid(ref why)) if why.contains("dns")),
        "{refused:?}"
    );

    let refused = plan_for(&demo(), "network", Request::Simple(RolloutAction::StageDefaultDeny));
    assert!(matches!(
        refused,
        Err(Refusal::WrongPhase {
            phase: Phase::Observe,
            ..
        })
    ));
}

#[test]
fn enforce_flips_enable_default_deny_only_from_audit() {
    let plan = plan_for(&demo(), "databases", Request::Simple(RolloutAction::Enforce)).expect("plan");
    match plan.changes.as_slice() {
        [Change::Update { before, after }] => {
            assert_eq!(crate::rollout::phase::default_deny_flags(before), (false, false));
            assert_eq!(crate::rollout::phase::default_deny_flags(after), (true, true));
            assert_eq!(after.resource_version, before.resource_version, "precondition kept");
        }
        other => panic!("expected one update, got {other:?}"),
    }
    assert_eq!(
        plan.annotations.set.get(labels::INTENT).map(String::as_str),
        Some("enforced")
    );
    for ns in ["media", "cert-manager", "network", "payments"] {
        assert!(
            matches!(
                plan_for(&demo(), ns, Request::Simple(RolloutAction::Enforce)),
                Err(Refusal::WrongPhase { .. })
            ),
            "{ns}"
        );
    }
}

#[test]
fn staging_an_enforced_namespace_steps_back_to_audit() {
    let plan = plan_for(
        &demo(),
        "cert-manager",
        Request::Simple(RolloutAction::StageDefaultDeny),
    )
    .expect("plan");
    match plan.changes.as_slice() {
        [Change::Update { after, .. }] => {
            assert_eq!(crate::rollout::phase::default_deny_flags(after), (false, false))
        }
        other => panic!("expected one update, got {other:?}"),
    }
    assert!(!plan.warnings.is_empty());
}

#[test]
fn partial_rollback_deletes_only_the_default_deny_with_a_backup() {
    let plan = plan_for(
        &demo(),
        "cert-manager",
        Request::Simple(RolloutAction::RollbackDefaultDeny),
    )
    .expect("plan");
    assert_eq!(verbs(&plan), vec!["delete tighten-default-deny"]);
    let backup = plan.backup_to.clone().expect("backup path");
    assert_eq!(
        backup,
        Path::new("/backups/demo/cert-manager/20261123T120000.000Z-rollback-default-deny.yaml")
    );
    assert_eq!(
        plan.annotations.set.get(labels::BACKUP),
        Some(&backup.display().to_string())
    );
    assert_eq!(
        plan.annotations.set.get(labels::INTENT).map(String::as_str),
        Some("baseline")
    );
    assert!(RolloutAction::RollbackDefaultDeny.is_destructive());
    // media has no default-deny object: only its Helm chart's NetworkPolicy puts
    // jellyfin's pods in default-deny, and removing that removes an allow.
    let refused = plan_for(&demo(), "media", Request::Simple(RolloutAction::RollbackDefaultDeny));
    match refused {
        Err(Refusal::Invalid(why)) => {
            assert!(why.contains("NetworkPolicy media/jellyfin"), "{why}");
            assert!(why.contains("namespace rollback"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // A namespace with no policy that denies anything has nothing to remove.
    let refused = plan_for(&demo(), "network", Request::Simple(RolloutAction::RollbackDefaultDeny));
    assert!(matches!(refused, Err(Refusal::WrongPhase { .. })), "{refused:?}");
}

#[test]
fn namespace_rollback_deletes_every_policy_of_the_namespace_only() {
    let snapshot = demo();
    let plan = plan_for(&snapshot, "media", Request::Simple(RolloutAction::RollbackNamespace)).expect("plan");
    assert_eq!(
        plan.changes.len(),
        6,
        "five baseline allows and the Helm chart's NetworkPolicy"
    );
    assert!(
        plan.changes
            .iter()
            .all(|c| c.target().namespace.as_deref() == Some("media"))
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.target().kind == PolicyKind::NetworkPolicy)
    );
    assert!(!plan.warnings.is_empty(), "foreign policies are called out");
    assert!(plan.backup_to.is_some());
    assert_eq!(
        plan.annotations.set.get(labels::INTENT).map(String::as_str),
        Some("rolled-back")
    );
    let refused = plan_for(&snapshot, "network", Request::Simple(RolloutAction::RollbackNamespace));
    assert!(matches!(refused, Err(Refusal::NothingToDo(_))));
}

#[test]
fn carve_out_needs_a_reason_and_is_not_destructive() {
    let refused = plan_for(&demo(), "network", Request::CarveOut { reason: "  ".into() });
    assert!(matches!(refused, Err(Refusal::Invalid(_))));
    let plan = plan_for(
        &demo(),
        "network",
        Request::CarveOut {
            reason: "vendor appliance".into(),
        },
    )
    .expect("plan");
    assert!(plan.changes.is_empty());
    assert_eq!(
        plan.annotations.set.get(labels::CARVE_OUT_REASON).map(String::as_str),
        Some("vendor appliance")
    );
    assert!(plan.backup_to.is_none());
    let warned = plan_for(&demo(), "auth", Request::CarveOut { reason: "x".into() }).expect("plan");
    assert!(!warned.warnings.is_empty(), "enforced default-deny stays");
    assert!(matches!(
        plan_for(&demo(), "kube-system", Request::CarveOut { reason: "again".into() }),
        Err(Refusal::WrongPhase { .. })
    ));
}

#[test]
fn observe_ends_a_carve_out() {
    let plan = plan_for(&demo(), "kube-system", Request::Simple(RolloutAction::Observe)).expect("plan");
    assert_eq!(
        plan.annotations.set.get(labels::INTENT).map(String::as_str),
        Some("observe")
    );
    assert_eq!(plan.annotations.remove, vec![labels::CARVE_OUT_REASON.to_string()]);
    assert!(plan_for(&demo(), "auth", Request::Simple(RolloutAction::Observe)).is_err());
}

#[test]
fn restore_recreates_the_backup_in_its_namespace_only() {
    let objects = fixtures::payments_before_rollback(&Templates::embedded());
    let plan = plan_for(
        &demo(),
        "payments",
        Request::Restore {
            backup: "/b/payments.yaml".into(),
            objects: objects.clone(),
        },
    )
    .expect("plan");
    assert_eq!(plan.changes.len(), objects.len());
    assert!(plan.changes.iter().all(|c| matches!(c, Change::Create(_))));
    assert_eq!(
        plan.annotations.set.get(labels::INTENT).map(String::as_str),
        Some("enforced")
    );

    let mut foreign = objects;
    foreign[0].namespace = Some("auth".into());
    let refused = plan_for(
        &demo(),
        "payments",
        Request::Restore {
            backup: "/b/x.yaml".into(),
            objects: foreign,
        },
    );
    assert!(
        matches!(refused, Err(Refusal::Invalid(ref why)) if why.contains("another namespace")),
        "{refused:?}"
    );
}

#[test]
fn summaries_list_every_change_and_annotation() {
    let plan = plan_for(&demo(), "databases", Request::Simple(RolloutAction::Enforce)).expect("plan");
    let summary = plan.summary();
    assert_eq!(summary[0], "update CiliumNetworkPolicy databases/tighten-default-deny");
    assert!(
        summary
            .iter()
            .any(|l| l == "annotate Namespace databases tighten.dev/intent=enforced")
    );
    let _ = BaselineComponent::ALL;
}

#[test]
fn an_old_cilium_or_missing_crds_refuse_what_they_cannot_do() {
    let mut old = demo();
    old.cilium.default_deny_supported = Some(false);
    for (ns, action) in [
        ("media", RolloutAction::StageDefaultDeny),
        ("databases", RolloutAction::Enforce),
    ] {
        let refused = plan_for(&old, ns, Request::Simple(action));
        assert!(
            matches!(refused, Err(Refusal::Invalid(ref why)) if why.contains("1.16")),
            "{refused:?}"
        );
    }
    // The baseline works on any Cilium: it never needs enableDefaultDeny true.
    assert!(plan_for(&old, "network", Request::Simple(RolloutAction::ApplyBaseline)).is_ok());

    let mut bare = demo();
    bare.cilium.crds_installed = false;
    let refused = plan_for(&bare, "network", Request::Simple(RolloutAction::ApplyBaseline));
    assert!(
        matches!(refused, Err(Refusal::Invalid(ref why)) if why.contains("CRDs")),
        "{refused:?}"
    );
    // Annotations alone need no CRD.
    assert!(plan_for(&bare, "legacy-batch", Request::Simple(RolloutAction::Observe)).is_ok());
}

#[test]
fn confirming_later_moves_the_time_annotations_to_the_confirmation() {
    let snapshot = demo();
    let mut plan = plan_for(&snapshot, "databases", Request::Simple(RolloutAction::Enforce)).expect("plannable");
    let opened = plan.annotations.set.get(labels::INTENT_AT).cloned();
    assert_eq!(opened.as_deref(), Some("2026-11-23T12:00:00Z"));
    let confirmed = now() + jiff::SignedDuration::from_secs(95);
    plan.restamp(confirmed);
    for key in [labels::INTENT_AT, labels::ENFORCED_AT] {
        assert_eq!(
            plan.annotations.set.get(key).map(String::as_str),
            Some("2026-11-23T12:01:35Z"),
            "{key}"
        );
    }
    // Only the time annotations move; nothing is added.
    assert!(!plan.annotations.set.contains_key(labels::STAGED_AT));
}

/// A team's rollout tighten did not start: their baseline allows and their
/// `default-deny` (explicit deny form), in `shop`, with `extra` policies.
fn team_snapshot(mutate: impl Fn(&mut PolicyObject)) -> ClusterSnapshot {
    let mut snapshot = demo();
    snapshot.namespaces.push(NamespaceInfo {
        name: "shop".into(),
        labels: Default::default(),
        annotations: Default::default(),
        uid: Some("shop-uid".into()),
        resource_version: Some("7".into()),
        created: None,
    });
    let text = include_str!("../../../tests/fixtures/team-rollout/policies.yaml");
    for document in serde_yaml::Deserializer::from_str(text) {
        let mut manifest: Value = serde::Deserialize::deserialize(document).expect("yaml");
        manifest["metadata"]["namespace"] = json!("shop");
        let mut policy = PolicyObject::from_manifest(&manifest).expect("policy");
        policy.resource_version = Some("3".into());
        mutate(&mut policy);
        snapshot.policies.push(policy);
    }
    snapshot
}

fn team_enforced() -> ClusterSnapshot {
    team_snapshot(|_| {})
}

/// The team's default-deny staged: `enableDefaultDeny` false.
fn team_staged() -> ClusterSnapshot {
    team_snapshot(|p| {
        if p.name == "default-deny" {
            *p = with_enforcement(p, false);
        }
    })
}

#[test]
fn a_teams_rollout_reads_enforced_and_only_baseline_reads_baseline() {
    let snapshot = team_enforced();
    let status = status_for(&snapshot, snapshot.namespace("shop").expect("shop"));
    assert_eq!(status.phase, Phase::Enforced);
    assert!(status.drift.is_empty(), "{:?}", status.drift);
    assert_eq!(status.observed.baseline.len(), 5);

    let staged = team_staged();
    let status = status_for(&staged, staged.namespace("shop").expect("shop"));
    assert_eq!(status.phase, Phase::Audit);

    let mut baseline_only = team_enforced();
    baseline_only.policies.retain(|p| p.name != "default-deny");
    let status = status_for(&baseline_only, baseline_only.namespace("shop").expect("shop"));
    assert_eq!(status.phase, Phase::Baseline);
}

#[test]
fn partial_rollback_removes_the_teams_default_deny_and_keeps_every_allow() {
    let plan = plan_for(
        &team_enforced(),
        "shop",
        Request::Simple(RolloutAction::RollbackDefaultDeny),
    )
    .expect("plan");
    assert_eq!(verbs(&plan), vec!["delete default-deny"]);
    assert!(plan.backup_to.is_some());
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("default-deny was written outside tighten")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn a_network_policy_deny_all_is_rolled_back_too() {
    let mut snapshot = team_enforced();
    snapshot.policies.retain(|p| p.name != "default-deny");
    let deny_all = PolicyObject::from_manifest(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    }))
    .expect("np");
    snapshot.policies.push(deny_all);
    let status = status_for(&snapshot, snapshot.namespace("shop").expect("shop"));
    assert_eq!(status.phase, Phase::Enforced);
    let plan = plan_for(&snapshot, "shop", Request::Simple(RolloutAction::RollbackDefaultDeny)).expect("plan");
    assert_eq!(verbs(&plan), vec!["delete deny-all"]);
    // A NetworkPolicy has no staged form.
    let refused = plan_for(&snapshot, "shop", Request::Simple(RolloutAction::StageDefaultDeny));
    assert!(
        matches!(&refused, Err(Refusal::Invalid(why)) if why.contains("NetworkPolicy shop/deny-all")),
        "{refused:?}"
    );
}

#[test]
fn a_clusterwide_default_deny_is_explained_not_rolled_back() {
    let mut snapshot = team_enforced();
    snapshot.policies.retain(|p| p.name != "default-deny");
    snapshot.policies.push(
        PolicyObject::from_manifest(&json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
            "metadata": {"name": "platform-default-deny"},
            "spec": {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop"}},
                     "ingress": [{}], "egress": [{}]}
        }))
        .expect("ccnp"),
    );
    let status = status_for(&snapshot, snapshot.namespace("shop").expect("shop"));
    assert_eq!(status.phase, Phase::Enforced);
    let refused = plan_for(&snapshot, "shop", Request::Simple(RolloutAction::RollbackDefaultDeny));
    match refused {
        Err(Refusal::Invalid(why)) => {
            assert!(
                why.contains("CiliumClusterwideNetworkPolicy platform-default-deny"),
                "{why}"
            );
            assert!(why.contains("cannot remove"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // The namespace rollback still removes what is in the namespace, and no more.
    let plan = plan_for(&snapshot, "shop", Request::Simple(RolloutAction::RollbackNamespace)).expect("plan");
    assert_eq!(plan.changes.len(), 5);
    assert!(plan.deletes().all(|p| p.namespace.as_deref() == Some("shop")));
}

#[test]
fn adopt_records_intent_from_the_posture_and_labels_only_on_request() {
    let snapshot = team_enforced();
    let plan = plan_for(&snapshot, "shop", Request::Adopt { label_policies: false }).expect("plan");
    assert!(plan.changes.is_empty());
    let set = &plan.annotations.set;
    assert_eq!(set.get(labels::INTENT).map(String::as_str), Some("enforced"));
    assert!(set.contains_key(labels::STAGED_AT) && set.contains_key(labels::ENFORCED_AT));
    let reason = plan.reason.clone().expect("reason");
    assert!(reason.contains("ingressDeny: [{}]"), "{reason}");
    assert!(reason.contains("allow-dns (baseline/dns, team)"), "{reason}");

    let labelled = plan_for(&snapshot, "shop", Request::Adopt { label_policies: true }).expect("plan");
    assert_eq!(labelled.changes.len(), 6);
    for change in &labelled.changes {
        let Change::Update { after, .. } = change else {
            panic!("{change:?}")
        };
        assert!(after.labels.contains_key(labels::ROLE), "{}", after.name);
        assert!(
            !after.labels.contains_key(labels::MANAGED_BY),
            "Git owns {}",
            after.name
        );
    }

    // Adopted, it is not adopted twice.
    let mut adopted = snapshot.clone();
    if let Some(ns) = adopted.namespaces.iter_mut().find(|n| n.name == "shop") {
        ns.annotations.extend(plan.annotations.set.clone());
    }
    let again = plan_for(&adopted, "shop", Request::Adopt { label_policies: false });
    assert!(matches!(again, Err(Refusal::NothingToDo(_))), "{again:?}");
    let status = status_for(&adopted, adopted.namespace("shop").expect("shop"));
    assert!(status.drift.is_empty(), "{:?}", status.drift);
}

#[test]
fn stage_and_enforce_flip_the_teams_default_deny_not_a_second_one() {
    let plan = plan_for(&team_staged(), "shop", Request::Simple(RolloutAction::Enforce)).expect("plan");
    assert_eq!(verbs(&plan), vec!["update default-deny"]);
    let Change::Update { after, .. } = &plan.changes[0] else {
        panic!()
    };
    assert_eq!(crate::rollout::phase::default_deny_flags(after), (true, true));
    // The explicit deny form is kept: only the switch moves.
    assert_eq!(after.spec().and_then(|s| s.get("ingressDeny")), Some(&json!([{}])));

    let plan = plan_for(
        &team_enforced(),
        "shop",
        Request::Simple(RolloutAction::StageDefaultDeny),
    )
    .expect("plan");
    assert_eq!(verbs(&plan), vec!["update default-deny"]);
    let Change::Update { after, .. } = &plan.changes[0] else {
        panic!()
    };
    assert_eq!(crate::rollout::phase::default_deny_flags(after), (false, false));
}
