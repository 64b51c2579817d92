//! Properties that must hold for any input: selector matching, the engine's
//! monotonicity, and parsers that never panic.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};

use tighten::cluster::PolicyObject;
use tighten::flows::{Direction, Endpoint, Flow, Protocol, Verdict};
use tighten::policy::LabelSelector;
use tighten::policy::engine::Engine;
use tighten::policy::parse::{ParsedPolicy, parse_policy};

fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[a-c]{1,2}", "[x-z]{1,2}", 0..5)
}

proptest! {
    /// A selector made of some of an endpoint's own labels always selects it.
    #[test]
    fn a_subset_of_its_labels_selects_an_endpoint(labels in label_map(), keep in prop::collection::vec(any::<bool>(), 5)) {
        let chosen: serde_json::Map<String, Value> = labels
            .iter()
            .zip(keep.iter().cycle())
            .filter(|(_, k)| **k)
            .map(|((k, v), _)| (format!("k8s:{k}"), Value::String(v.clone())))
            .collect();
        let selector = LabelSelector::parse(&json!({"matchLabels": chosen})).expect("valid");
        prop_assert!(selector.matches(&labels));
    }

    /// NotIn of a label's own value, and DoesNotExist of a present key, never select.
    #[test]
    fn excluding_an_own_label_never_selects(labels in label_map()) {
        for (k, v) in &labels {
            let not_in = LabelSelector::parse(&json!({"matchExpressions": [{"key": k, "operator": "NotIn", "values": [v]}]})).expect("valid");
            prop_assert!(!not_in.matches(&labels));
            let absent = LabelSelector::parse(&json!({"matchExpressions": [{"key": k, "operator": "DoesNotExist"}]})).expect("valid");
            prop_assert!(!absent.matches(&labels));
        }
    }

    /// Both ways of matching agree.
    #[test]
    fn matches_and_matches_with_agree(labels in label_map(), want in label_map()) {
        let selector = LabelSelector::parse(&json!({"matchLabels": want})).expect("valid");
        let with = selector.matches_with(|_, key| labels.get(key).map(String::as_str));
        prop_assert_eq!(selector.matches(&labels), with);
    }
}

fn pod(ns: &str, app: &str) -> Endpoint {
    Endpoint {
        namespace: ns.into(),
        labels: vec![
            format!("k8s:app={app}"),
            format!("k8s:io.kubernetes.pod.namespace={ns}"),
        ],
        ip: "10.0.0.1".into(),
        ..Endpoint::default()
    }
}

prop_compose! {
    fn flow()(src_ns in 0..2usize, src_app in 0..3usize, dst_ns in 0..2usize, dst_app in 0..3usize,
              port in prop::sample::select(vec![53u16, 80, 443, 5432, 8080]), udp in any::<bool>(), world in any::<bool>()) -> Flow {
        let ns = ["shop", "db"];
        let destination = if world {
            Endpoint { labels: vec!["reserved:world".into()], ip: "203.0.113.5".into(), ..Endpoint::default() }
        } else {
            pod(ns[dst_ns], &format!("app{dst_app}"))
        };
        Flow {
            time: Timestamp::UNIX_EPOCH,
            verdict: Verdict::Forwarded,
            drop_reason: None,
            direction: Direction::Egress,
            source: pod(ns[src_ns], &format!("app{src_app}")),
            destination,
            protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
            source_port: 40000,
            destination_port: port,
            is_reply: false,
            node: String::new(),
            destination_names: Vec::new(),
            denied_by: Vec::new(),
            icmp: None,
        }
    }
}

prop_compose! {
    /// A policy of one namespace with a random subject, peer and port.
    fn policy(allow: bool, open: bool)(ns in prop::sample::select(vec!["shop", "db"]), subject in 0..4usize, peer in 0..4usize,
              port in prop::sample::select(vec!["53", "80", "443", "5432", "0"]), ingress in any::<bool>(), n in 0..1000u32) -> ParsedPolicy {
        let select = |i: usize| if i == 3 { json!({}) } else { json!({"matchLabels": {"app": format!("app{i}")}}) };
        let peer_sel = if peer == 3 { json!({"toEntities": ["world"]}) } else { json!({"toEndpoints": [select(peer)]}) };
        let mut rule = if ingress {
            json!({"fromEndpoints": [select(peer)]})
        } else {
            peer_sel
        };
        rule["toPorts"] = json!([{"ports": [{"port": port}]}]);
        let section = match (ingress, allow) { (true, true) => "ingress", (true, false) => "ingressDeny", (false, true) => "egress", (false, false) => "egressDeny" };
        let mut spec = json!({"endpointSelector": select(subject)});
        spec[section] = json!([rule]);
        if open {
            spec["enableDefaultDeny"] = json!({"ingress": false, "egress": false});
        }
        let manifest = json!({"kind": "CiliumNetworkPolicy", "metadata": {"name": format!("p{n}"), "namespace": ns}, "spec": spec});
        parse_policy(&PolicyObject::from_manifest(&manifest).expect("manifest")).expect("policy")
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// An allow that does not switch on default-deny never drops anything more.
    #[test]
    fn adding_an_open_allow_never_drops_a_flow(base in prop::collection::vec(policy(true, false), 0..4),
                                               extra in policy(true, true), flows in prop::collection::vec(flow(), 1..20)) {
        let before = Engine::new(base.clone());
        let mut more = base;
        more.push(extra);
        let after = Engine::new(more);
        for f in &flows {
            if before.evaluate(f).allowed {
                prop_assert!(after.evaluate(f).allowed, "{} -> {}:{}", f.source.qualified_name(), f.destination.qualified_name(), f.destination_port);
            }
        }
    }

    /// A deny never lets anything more through.
    #[test]
    fn adding_a_deny_never_allows_a_flow(base in prop::collection::vec(policy(true, false), 0..4),
                                         deny in policy(false, true), flows in prop::collection::vec(flow(), 1..20)) {
        let before = Engine::new(base.clone());
        let mut more = base;
        more.push(deny);
        let after = Engine::new(more);
        for f in &flows {
            if !before.evaluate(f).allowed {
                prop_assert!(!after.evaluate(f).allowed);
            }
        }
    }

    /// Whatever the text, reading policies and flows returns, never panics.
    #[test]
    fn parsers_never_panic_on_text(text in ".{0,400}") {
        let mut loaded = tighten::policy::load::Loaded::default();
        let _ = tighten::policy::load::load_text(Path::new("fuzz.yaml"), &text, &mut loaded);
        let _ = tighten::flows::file::parse_line(&text);
    }

    /// Whatever the JSON shape under a policy's spec, parsing returns.
    #[test]
    fn policy_parsing_never_panics_on_shapes(spec in json_value(4)) {
        for kind in ["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "NetworkPolicy"] {
            let manifest = json!({"kind": kind, "metadata": {"name": "p", "namespace": "ns"}, "spec": spec, "specs": [spec]});
            if let Ok(object) = PolicyObject::from_manifest(&manifest) {
                let _ = parse_policy(&object);
            }
        }
    }
}

/// Arbitrary JSON, biased toward the keys policies use.
fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "endpointSelector",
        "ingress",
        "egress",
        "ingressDeny",
        "egressDeny",
        "toPorts",
        "ports",
        "port",
        "endPort",
        "protocol",
        "fromEndpoints",
        "toEndpoints",
        "toEntities",
        "toCIDRSet",
        "cidr",
        "except",
        "toFQDNs",
        "matchName",
        "matchLabels",
        "matchExpressions",
        "key",
        "operator",
        "values",
        "icmps",
        "fields",
        "type",
        "podSelector",
        "namespaceSelector",
        "ipBlock",
        "from",
        "to",
        "policyTypes",
        "enableDefaultDeny",
        "rules",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}
