use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::policy::{TemplateVars, Templates};
use crate::rollout::PolicyRole;

fn object(kind: PolicyKind, namespace: &str, name: &str, spec: Value) -> PolicyObject {
    let key = if kind == PolicyKind::NetworkPolicy || spec.is_object() {
        "spec"
    } else {
        "specs"
    };
    PolicyObject {
        kind,
        name: name.into(),
        namespace: kind.is_namespaced().then(|| namespace.to_string()),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        uid: None,
        resource_version: None,
        created: None,
        body: serde_json::Map::from_iter([(key.to_string(), spec)]),
    }
}

fn cnp(name: &str, spec: Value) -> PolicyObject {
    object(PolicyKind::CiliumNetworkPolicy, "shop", name, spec)
}

fn pod(name: &str, app: &str) -> PodInfo {
    PodInfo {
        namespace: "shop".into(),
        name: name.into(),
        labels: BTreeMap::from([("app".to_string(), app.to_string())]),
        workload: None,
        service_account: None,
    }
}

/// The posture of `shop` (two pods, web and db) under these policies.
fn posture_of(own: &[PolicyObject], clusterwide: &[PolicyObject]) -> Posture {
    let own: Vec<&PolicyObject> = own.iter().collect();
    let clusterwide: Vec<&PolicyObject> = clusterwide.iter().collect();
    let pods = [pod("web-1", "web"), pod("db-0", "db")];
    let pods: Vec<&PodInfo> = pods.iter().collect();
    Posture::read(&PostureInput {
        namespace: "shop",
        namespace_labels: &BTreeMap::from([("team".to_string(), "shop".to_string())]),
        policies: &own,
        clusterwide: &clusterwide,
        pods: &pods,
    })
}

fn flags(ingress: Option<bool>, egress: Option<bool>) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(i) = ingress {
        out.insert("ingress".into(), json!(i));
    }
    if let Some(e) = egress {
        out.insert("egress".into(), json!(e));
    }
    Value::Object(out)
}

/// A default-deny body with `sections` (e.g. `ingressDeny: [{}]`) and the flags.
fn default_deny_body(sections: &[(&str, Value)], setting: Option<Value>) -> Value {
    let mut spec = json!({"endpointSelector": {}});
    for (key, value) in sections {
        spec[*key] = value.clone();
    }
    if let Some(s) = setting {
        spec["enableDefaultDeny"] = s;
    }
    spec
}

#[test]
fn every_cilium_default_deny_form_reads_per_direction_with_and_without_enable_default_deny() {
    let empty = json!([{}]);
    let every = json!([{"fromEntities": ["all"]}]);
    let every_egress = json!([{"toEntities": ["all"]}]);
    // (name, sections, shape in each direction it takes part in)
    type Form = (&'static str, Vec<(&'static str, Value)>, DenyShape);
    let forms: Vec<Form> = vec![
        (
            "empty allow rules",
            vec![("ingress", empty.clone()), ("egress", empty.clone())],
            DenyShape::EmptyAllow,
        ),
        (
            "explicit empty deny rules",
            vec![("ingressDeny", empty.clone()), ("egressDeny", empty.clone())],
            DenyShape::EmptyDeny,
        ),
        (
            "deny of every peer",
            vec![("ingressDeny", every), ("egressDeny", every_egress)],
            DenyShape::DenyAll,
        ),
    ];
    let settings: Vec<(&str, Option<Value>, bool, bool)> = vec![
        ("unset", None, true, true),
        ("true", Some(flags(Some(true), Some(true))), true, true),
        ("false", Some(flags(Some(false), Some(false))), false, false),
        ("ingress only", Some(flags(Some(true), Some(false))), true, false),
        ("egress unset", Some(flags(Some(false), None)), false, true),
    ];
    for (form, sections, shape) in &forms {
        for (setting_name, setting, ingress_on, egress_on) in &settings {
            let policy = cnp("lockdown", default_deny_body(sections, setting.clone()));
            let posture = posture_of(std::slice::from_ref(&policy), &[]);
            let context = format!("{form}, enableDefaultDeny {setting_name}");
            for (ingress, on) in [(true, *ingress_on), (false, *egress_on)] {
                let side = posture.side(ingress);
                // A deny of every peer is no default-deny switch: it always denies.
                let enforced = on || *shape == DenyShape::DenyAll;
                let expected = if enforced {
                    SideState::Enforced
                } else {
                    SideState::Staged
                };
                assert_eq!(side.state(posture.pods), expected, "{context}, ingress {ingress}");
                let listed = if enforced { &side.enforced } else { &side.staged };
                assert_eq!(
                    listed.iter().map(|d| d.shape).collect::<Vec<_>>(),
                    vec![*shape],
                    "{context}"
                );
                if enforced {
                    assert_eq!(side.pods_denied, 2, "{context}");
                }
            }
            let reading = &posture.readings[0];
            let staged = !ingress_on && !egress_on && *shape != DenyShape::DenyAll;
            assert_eq!(reading.function, Function::DefaultDeny { staged }, "{context}");
            assert!(reading.is_namespace_default_deny());
            assert_eq!(reading.author(), "team");
        }
    }
}

#[test]
fn one_direction_default_denies_leave_the_other_open() {
    for (key, ingress) in [
        ("ingress", true),
        ("egress", false),
        ("ingressDeny", true),
        ("egressDeny", false),
    ] {
        let policy = cnp("half", default_deny_body(&[(key, json!([{}]))], None));
        let posture = posture_of(&[policy], &[]);
        assert_eq!(posture.side(ingress).state(2), SideState::Enforced, "{key}");
        assert_eq!(posture.side(!ingress).state(2), SideState::Open, "{key}");
        assert!(!posture.fully_enforced());
    }
}

#[test]
fn network_policy_deny_alls_enforce_at_once() {
    let both = object(
        PolicyKind::NetworkPolicy,
        "shop",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    );
    let posture = posture_of(std::slice::from_ref(&both), &[]);
    assert!(posture.fully_enforced());
    assert_eq!(posture.ingress.enforced[0].shape, DenyShape::NoRules);
    assert_eq!(posture.readings[0].function, Function::DefaultDeny { staged: false });

    // Without policyTypes a NetworkPolicy always takes part in ingress.
    let ingress_only = object(
        PolicyKind::NetworkPolicy,
        "shop",
        "deny-ingress",
        json!({"podSelector": {}}),
    );
    let posture = posture_of(&[ingress_only], &[]);
    assert_eq!(posture.ingress_state(), SideState::Enforced);
    assert_eq!(posture.egress_state(), SideState::Open);

    // A NetworkPolicy with rules for some pods puts only those in default-deny.
    let chart = object(
        PolicyKind::NetworkPolicy,
        "shop",
        "web",
        json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
               "ingress": [{"ports": [{"port": 8080}]}]}),
    );
    let posture = posture_of(&[chart], &[]);
    assert_eq!(posture.ingress_state(), SideState::Partial);
    assert_eq!(posture.ingress.pods_denied, 1);
    assert_eq!(posture.readings[0].function, Function::AppAllow);
    assert!(posture.summary()[0].contains("1 of 2 pods"), "{:?}", posture.summary());
}

#[test]
fn the_first_policy_selecting_every_endpoint_enforces_unless_it_says_false() {
    let intra = json!({"endpointSelector": {}, "ingress": [{"fromEndpoints": [{}]}]});
    let posture = posture_of(&[cnp("allow-same-namespace", intra.clone())], &[]);
    assert_eq!(posture.ingress_state(), SideState::Enforced);
    assert_eq!(posture.ingress.enforced[0].shape, DenyShape::FirstSelecting);
    // It is an allow (intra-namespace), not a default-deny object.
    assert!(posture.default_denies().next().is_none());
    assert!(matches!(posture.readings[0].function, Function::Baseline { .. }));

    let mut off = intra;
    off["enableDefaultDeny"] = flags(Some(false), Some(false));
    let posture = posture_of(&[cnp("allow-same-namespace", off)], &[]);
    assert_eq!(posture.ingress_state(), SideState::Open);
}

#[test]
fn clusterwide_default_denies_apply_to_the_namespaces_they_select() {
    let everywhere = object(
        PolicyKind::CiliumClusterwideNetworkPolicy,
        "",
        "cluster-default-deny",
        default_deny_body(&[("ingress", json!([{}])), ("egress", json!([{}]))], None),
    );
    let posture = posture_of(&[], std::slice::from_ref(&everywhere));
    assert!(posture.fully_enforced());
    assert_eq!(posture.clusterwide_denies().len(), 1);
    // Not the namespace's own: a namespace action cannot remove it.
    assert!(posture.default_denies().next().is_none());

    let by_label = |value: &str| {
        object(
            PolicyKind::CiliumClusterwideNetworkPolicy,
            "",
            "team-default-deny",
            json!({"endpointSelector": {"matchLabels": {"k8s:io.cilium.k8s.namespace.labels.team": value}},
                   "ingress": [{}], "enableDefaultDeny": {"ingress": false}}),
        )
    };
    let posture = posture_of(&[], &[by_label("shop")]);
    assert_eq!(posture.ingress_state(), SideState::Staged);
    assert_eq!(posture.readings[0].function, Function::DefaultDeny { staged: true });
    let posture = posture_of(&[], &[by_label("other")]);
    assert_eq!(posture.ingress_state(), SideState::Open);
    assert!(
        posture.readings.is_empty(),
        "a CCNP selecting no pod here is not listed"
    );

    // A clusterwide policy selecting some pods by their labels is partial.
    let web = object(
        PolicyKind::CiliumClusterwideNetworkPolicy,
        "",
        "web-lockdown",
        json!({"endpointSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}),
    );
    let posture = posture_of(&[], &[web]);
    assert_eq!(posture.ingress_state(), SideState::Partial);
}

#[test]
fn a_teams_baseline_is_read_by_function_whatever_it_is_called() {
    let team = vec![
        cnp(
            "allow-dns",
            json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                   "egress": [{"toEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns"}}],
                               "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}]}]}),
        ),
        cnp(
            "allow-apiserver",
            json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                   "egress": [{"toEntities": ["kube-apiserver"], "toPorts": [{"ports": [{"port": "443"}]}]}]}),
        ),
        cnp(
            "same-namespace",
            json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                   "ingress": [{"fromEndpoints": [{}]}], "egress": [{"toEndpoints": [{}]}]}),
        ),
        object(
            PolicyKind::NetworkPolicy,
            "shop",
            "prometheus-scrape",
            json!({"podSelector": {}, "policyTypes": ["Ingress"],
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                                "ports": [{"port": 9090}]}]}),
        ),
        cnp(
            "kubelet-probes",
            json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                   "ingress": [{"fromEntities": ["host"]}]}),
        ),
        cnp(
            "web-to-db",
            json!({"endpointSelector": {"matchLabels": {"app": "web"}}, "enableDefaultDeny": {"ingress": false, "egress": false},
                   "egress": [{"toEndpoints": [{"matchLabels": {"app": "db"}}], "toPorts": [{"ports": [{"port": "5432"}]}]}]}),
        ),
    ];
    let posture = posture_of(&team, &[]);
    assert_eq!(posture.baseline(), BaselineComponent::ALL.into_iter().collect());
    let functions: Vec<String> = posture.readings.iter().map(|r| r.function.label()).collect();
    assert_eq!(
        functions,
        [
            "baseline/dns",
            "baseline/kube-apiserver",
            "baseline/intra-namespace",
            "baseline/monitoring-scrape",
            "baseline/host-probes",
            "app allow"
        ]
    );
    assert!(posture.readings.iter().all(|r| r.author() == "team"));
    let dns: Vec<(&str, bool)> = posture
        .dns_allows()
        .map(|(r, without_l7)| (r.policy.name.as_str(), without_l7))
        .collect();
    assert_eq!(dns, [("allow-dns", false)]);
    // The NetworkPolicy has no enableDefaultDeny: its ingress denies by default.
    assert_eq!(posture.ingress_state(), SideState::Enforced);
    assert_eq!(posture.egress_state(), SideState::Open);
}

#[test]
fn a_dns_allow_without_the_l7_rule_says_so() {
    let plain = cnp(
        "dns",
        json!({"endpointSelector": {}, "enableDefaultDeny": {"egress": false},
               "egress": [{"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system"}}],
                           "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}]}]}]}),
    );
    let posture = posture_of(&[plain], &[]);
    assert_eq!(
        posture
            .dns_allows()
            .map(|(_, without_l7)| without_l7)
            .collect::<Vec<_>>(),
        [true]
    );
    assert_eq!(posture.readings[0].function.label(), "baseline/dns (no DNS L7 rule)");
    // A DNS allow for some pods only is no baseline.
    let some = cnp(
        "dns-web",
        json!({"endpointSelector": {"matchLabels": {"app": "web"}}, "enableDefaultDeny": {"egress": false},
               "egress": [{"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system"}}],
                           "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}]}]}]}),
    );
    let posture = posture_of(&[some], &[]);
    assert!(posture.baseline().is_empty());
    assert_eq!(posture.readings[0].function, Function::AppAllow);
}

#[test]
fn tightens_own_templates_read_by_function_as_their_labels_say() {
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace("shop");
    let mut objects = templates.render_baseline(&vars).expect("baseline renders");
    objects.push(templates.render_default_deny(&vars).expect("default-deny renders"));
    let posture = posture_of(&objects, &[]);
    for reading in &posture.readings {
        assert_eq!(reading.author(), "tighten");
        match (&reading.labelled, &reading.function) {
            (Some(PolicyRole::Baseline(Some(c))), Function::Baseline { components, .. }) => {
                assert_eq!(components, &BTreeSet::from([*c]), "{}", reading.policy)
            }
            (Some(PolicyRole::DefaultDeny), Function::DefaultDeny { staged: true }) => {}
            other => panic!("{}: {other:?}", reading.policy),
        }
    }
    assert_eq!(posture.ingress_state(), SideState::Staged);
    assert_eq!(posture.egress_state(), SideState::Staged);
}

#[test]
fn unreadable_policies_enforce_nothing_and_are_named() {
    let broken = cnp(
        "broken",
        json!({"endpointSelector": {}, "ingress": [{"fromEntities": ["moon"]}]}),
    );
    let posture = posture_of(&[broken], &[]);
    assert_eq!(posture.ingress_state(), SideState::Open);
    assert!(matches!(posture.readings[0].function, Function::Unreadable(_)));
}

#[test]
fn multi_rule_default_denies_count_as_one_object() {
    let specs = json!([
        {"endpointSelector": {}, "ingressDeny": [{}], "enableDefaultDeny": {"ingress": false}},
        {"endpointSelector": {}, "egressDeny": [{}], "enableDefaultDeny": {"egress": false}}
    ]);
    let posture = posture_of(&[cnp("lockdown", specs)], &[]);
    assert_eq!(posture.default_denies().count(), 1);
    assert_eq!(posture.ingress_state(), SideState::Staged);
    assert_eq!(posture.egress_state(), SideState::Staged);
}
