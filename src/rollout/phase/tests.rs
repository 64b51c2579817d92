use super::*;
use crate::cluster::PolicyKind;
use serde_json::json;

fn tighten_policy(name: &str, role: &str, component: Option<&str>, spec: Value) -> PolicyObject {
    let mut labels = BTreeMap::from([
        (labels::MANAGED_BY.to_string(), "tighten".to_string()),
        (labels::ROLE.to_string(), role.to_string()),
    ]);
    if let Some(c) = component {
        labels.insert(labels::BASELINE_COMPONENT.to_string(), c.to_string());
    }
    PolicyObject {
        kind: PolicyKind::CiliumNetworkPolicy,
        name: name.into(),
        namespace: Some("shop".into()),
        labels,
        annotations: BTreeMap::new(),
        uid: None,
        resource_version: None,
        created: None,
        body: serde_json::Map::from_iter([("spec".to_string(), spec)]),
    }
}

/// The rules of each baseline component, as tighten's templates write them.
pub(crate) fn baseline_spec(component: BaselineComponent) -> Value {
    let rules = match component {
        BaselineComponent::Dns => json!({"egress": [{
            "toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}}],
            "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}, {"port": "53", "protocol": "TCP"}],
                         "rules": {"dns": [{"matchPattern": "*"}]}}]}]}),
        BaselineComponent::KubeApiserver => json!({"egress": [{"toEntities": ["kube-apiserver"]}]}),
        BaselineComponent::IntraNamespace => {
            json!({"ingress": [{"fromEndpoints": [{}]}], "egress": [{"toEndpoints": [{}]}]})
        }
        BaselineComponent::MonitoringScrape => json!({"ingress": [{
            "fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "monitoring"}}],
            "toPorts": [{"ports": [{"port": "9090", "protocol": "TCP"}]}]}]}),
        BaselineComponent::HostProbes => json!({"ingress": [{"fromEntities": ["host"]}]}),
    };
    let mut spec = json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false}});
    for (key, value) in rules.as_object().into_iter().flatten() {
        spec[key] = value.clone();
    }
    spec
}

fn baseline(components: &[BaselineComponent]) -> Vec<PolicyObject> {
    components
        .iter()
        .map(|c| tighten_policy(&format!("baseline-{c}"), "baseline", Some(c.label()), baseline_spec(*c)))
        .collect()
}

fn observe(objects: &[PolicyObject]) -> ObservedPolicies {
    ObservedPolicies::from_objects("shop", objects)
}

fn default_deny(ingress: Option<bool>, egress: Option<bool>) -> PolicyObject {
    let mut flags = serde_json::Map::new();
    if let Some(i) = ingress {
        flags.insert("ingress".into(), json!(i));
    }
    if let Some(e) = egress {
        flags.insert("egress".into(), json!(e));
    }
    let mut spec = json!({"endpointSelector": {}, "ingress": [{}], "egress": [{}]});
    if ingress.is_some() || egress.is_some() {
        spec["enableDefaultDeny"] = Value::Object(flags);
    }
    tighten_policy("default-deny", "default-deny", None, spec)
}

/// Named object states covering every branch of the object-side derivation.
fn object_states() -> Vec<(&'static str, Vec<PolicyObject>)> {
    let full = baseline(&BaselineComponent::ALL);
    let with = |extra: Vec<PolicyObject>| -> Vec<PolicyObject> { full.iter().cloned().chain(extra).collect() };
    vec![
        ("nothing", vec![]),
        (
            "app allow only",
            vec![tighten_policy("allow-web", "app-allow", None, json!({}))],
        ),
        (
            "foreign only",
            vec![PolicyObject {
                labels: BTreeMap::new(),
                ..default_deny(Some(true), Some(true))
            }],
        ),
        ("partial baseline", baseline(&[BaselineComponent::Dns])),
        ("full baseline", full.clone()),
        ("staged", with(vec![default_deny(Some(false), Some(false))])),
        ("enforced", with(vec![default_deny(Some(true), Some(true))])),
        ("enforced by default", with(vec![default_deny(None, None)])),
        ("ingress only", with(vec![default_deny(Some(true), Some(false))])),
        ("enforced without baseline", vec![default_deny(Some(true), Some(true))]),
    ]
}

fn phase_from_objects(state: &str) -> Option<Phase> {
    match state {
        "nothing" | "app allow only" => None,
        "partial baseline" | "full baseline" => Some(Phase::Baseline),
        "staged" => Some(Phase::Audit),
        _ => Some(Phase::Enforced),
    }
}

fn intent(phase: Option<Phase>) -> Intent {
    Intent {
        phase,
        ..Intent::default()
    }
}

#[test]
fn every_intent_and_object_state_derives_the_documented_phase() {
    let intents = [None]
        .into_iter()
        .chain(Phase::ALL.into_iter().filter(|p| *p != Phase::Unmanaged).map(Some));
    for recorded in intents {
        for (name, objects) in object_states() {
            let status = NamespaceStatus::derive(intent(recorded), observe(&objects));
            let expected = match (recorded, phase_from_objects(name)) {
                (Some(Phase::CarvedOut), _) => Phase::CarvedOut,
                (Some(Phase::RolledBack), None) => Phase::RolledBack,
                (_, Some(p)) => p,
                (Some(_), None) => Phase::Observe,
                (None, None) => Phase::Unmanaged,
            };
            assert_eq!(status.phase, expected, "intent {recorded:?}, objects {name}");

            // Drift on intent is reported exactly when the recorded phase disagrees.
            let mismatch = status.drift.iter().any(|d| matches!(d, Drift::IntentMismatch { .. }));
            let disagrees = matches!(
                recorded,
                Some(p @ (Phase::Observe | Phase::Baseline | Phase::Audit | Phase::Enforced)) if p != expected
            );
            assert_eq!(
                mismatch, disagrees,
                "intent {recorded:?}, objects {name}: {:?}",
                status.drift
            );
        }
    }
}

#[test]
fn no_intent_is_never_drift() {
    for (name, objects) in object_states() {
        let status = NamespaceStatus::derive(intent(None), observe(&objects));
        assert!(
            !status.drift.iter().any(|d| matches!(d, Drift::IntentMismatch { .. })),
            "objects {name}"
        );
    }
}

#[test]
fn the_rollout_path_is_drift_free_when_intent_follows_objects() {
    let full = baseline(&BaselineComponent::ALL);
    let steps: Vec<(Option<Phase>, Vec<PolicyObject>, Phase)> = vec![
        (None, vec![], Phase::Unmanaged),
        (Some(Phase::Observe), vec![], Phase::Observe),
        (Some(Phase::Baseline), full.clone(), Phase::Baseline),
        (
            Some(Phase::Audit),
            full.iter()
                .cloned()
                .chain([default_deny(Some(false), Some(false))])
                .collect(),
            Phase::Audit,
        ),
        (
            Some(Phase::Enforced),
            full.iter()
                .cloned()
                .chain([default_deny(Some(true), Some(true))])
                .collect(),
            Phase::Enforced,
        ),
        (Some(Phase::Baseline), full.clone(), Phase::Baseline),
        (Some(Phase::RolledBack), vec![], Phase::RolledBack),
        (Some(Phase::CarvedOut), vec![], Phase::CarvedOut),
    ];
    for (recorded, objects, expected) in steps {
        let status = NamespaceStatus::derive(intent(recorded), observe(&objects));
        assert_eq!(status.phase, expected);
        assert!(status.drift.is_empty(), "{expected}: {:?}", status.drift);
    }
}

#[test]
fn enforcing_without_dns_is_flagged() {
    let objects = vec![default_deny(Some(true), Some(true))];
    let status = NamespaceStatus::derive(intent(Some(Phase::Enforced)), observe(&objects));
    assert!(status.drift.contains(&Drift::DefaultDenyWithoutDns));
    assert!(
        status
            .drift
            .contains(&Drift::IncompleteBaseline(BaselineComponent::ALL.to_vec()))
    );
    // Staged (not enforcing) without DNS is incomplete but not yet breaking lookups.
    let staged = vec![default_deny(Some(false), Some(false))];
    let status = NamespaceStatus::derive(intent(Some(Phase::Audit)), observe(&staged));
    assert!(!status.drift.contains(&Drift::DefaultDenyWithoutDns));
}

#[test]
fn partial_and_duplicate_default_deny_are_flagged() {
    let mut objects = baseline(&BaselineComponent::ALL);
    objects.push(default_deny(Some(true), Some(false)));
    let status = NamespaceStatus::derive(intent(Some(Phase::Enforced)), observe(&objects));
    assert_eq!(status.phase, Phase::Enforced);
    assert_eq!(
        status.drift,
        vec![Drift::PartialEnforcement {
            ingress: true,
            egress: false
        }]
    );

    // Two default-denies combine: any enforcing direction enforces.
    let mut second = default_deny(Some(false), Some(true));
    second.name = "default-deny-egress".into();
    objects.push(second);
    let observed = observe(&objects);
    assert!(observed.posture.fully_enforced());
    assert_eq!(observed.posture.default_denies().count(), 2);
    let status = NamespaceStatus::derive(intent(Some(Phase::Enforced)), observed);
    assert_eq!(status.drift, vec![Drift::DuplicateDefaultDeny(2)]);
}

#[test]
fn carve_out_and_rollback_disagreements_are_flagged() {
    let mut enforced = baseline(&BaselineComponent::ALL);
    enforced.push(default_deny(Some(true), Some(true)));
    let status = NamespaceStatus::derive(intent(Some(Phase::CarvedOut)), observe(&enforced));
    assert_eq!(status.phase, Phase::CarvedOut);
    assert!(status.drift.contains(&Drift::CarvedOutButEnforced));

    let status = NamespaceStatus::derive(intent(Some(Phase::RolledBack)), observe(&enforced));
    assert_eq!(status.phase, Phase::Enforced);
    assert!(status.drift.contains(&Drift::RolledBackButPoliciesPresent(6)));

    // Carved out with only the baseline left is fine: it isolates nothing.
    let baseline_only = baseline(&BaselineComponent::ALL);
    let status = NamespaceStatus::derive(intent(Some(Phase::CarvedOut)), observe(&baseline_only));
    assert!(status.drift.is_empty(), "{:?}", status.drift);
}

#[test]
fn annotations_are_read_and_bad_ones_reported() {
    let annotations = BTreeMap::from([
        (labels::INTENT.to_string(), "audit".to_string()),
        (labels::INTENT_AT.to_string(), "2026-11-20T10:00:00Z".to_string()),
        (labels::INTENT_BY.to_string(), "alice".to_string()),
        (labels::STAGED_AT.to_string(), "yesterday".to_string()),
        (labels::BACKUP.to_string(), "/backups/shop.yaml".to_string()),
    ]);
    let intent = Intent::from_annotations(&annotations);
    assert_eq!(intent.phase, Some(Phase::Audit));
    assert_eq!(intent.at, Some("2026-11-20T10:00:00Z".parse().expect("time")));
    assert_eq!(intent.by.as_deref(), Some("alice"));
    assert_eq!(intent.staged_at, None);
    assert_eq!(intent.backup.as_deref(), Some("/backups/shop.yaml"));
    assert_eq!(intent.problems.len(), 1);
    assert!(intent.problems[0].contains("staged-at"));

    let bogus = Intent::from_annotations(&BTreeMap::from([(labels::INTENT.to_string(), "yolo".to_string())]));
    assert_eq!(bogus.phase, None);
    let status = NamespaceStatus::derive(bogus, ObservedPolicies::default());
    assert_eq!(status.phase, Phase::Unmanaged);
    assert!(matches!(status.drift.as_slice(), [Drift::UnreadableIntent(_)]));
}

#[test]
fn unknown_roles_are_visible_and_labels_do_not_make_a_baseline() {
    let objects = vec![
        tighten_policy("odd", "canary", None, json!({})),
        // Labelled a baseline, but its rules allow nothing: not a baseline.
        tighten_policy("b", "baseline", None, json!({})),
    ];
    let observed = observe(&objects);
    assert!(observed.baseline.is_empty());
    assert_eq!(observed.managed, 2);
    let status = NamespaceStatus::derive(intent(None), observed);
    assert_eq!(status.phase, Phase::Unmanaged);
    assert!(status.drift.contains(&Drift::UnrecognizedRole("odd".into())));
}

#[test]
fn a_label_that_disagrees_with_the_rules_is_drift() {
    // Labelled the DNS baseline, but someone replaced its rules with host probes.
    let objects = vec![tighten_policy(
        "tighten-baseline-dns",
        "baseline",
        Some("dns"),
        baseline_spec(BaselineComponent::HostProbes),
    )];
    let observed = observe(&objects);
    assert_eq!(observed.baseline, BTreeSet::from([BaselineComponent::HostProbes]));
    let status = NamespaceStatus::derive(intent(Some(Phase::Baseline)), observed);
    assert!(
        status
            .drift
            .iter()
            .any(|d| matches!(d, Drift::Mislabelled { policy, why }
            if policy == "tighten-baseline-dns" && why.contains("baseline/host-probes"))),
        "{:?}",
        status.drift
    );
}

#[test]
fn phase_names_round_trip_through_annotations() {
    for phase in Phase::ALL {
        assert_eq!(Phase::from_intent_value(phase.intent_value()), Some(phase));
        assert!(!phase.label().is_empty());
    }
    for drift in [
        Drift::IntentMismatch {
            intended: Phase::Audit,
            observed: Phase::Enforced,
        },
        Drift::PartialEnforcement {
            ingress: false,
            egress: true,
        },
    ] {
        assert!(!drift.to_string().is_empty());
    }
}
