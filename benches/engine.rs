//! Policy engine throughput: verdicts per second for a namespace with 50 rules,
//! and the same with 2,000 other namespaces loaded (the index by namespace must
//! keep the cost flat as the cluster grows).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use serde_json::json;

use tighten::cluster::PolicyObject;
use tighten::flows::{Direction, Endpoint, Flow, Protocol, Verdict};
use tighten::policy::engine::Engine;
use tighten::policy::parse::{ParsedPolicy, parse_policy};

/// 50 rules in `namespace`: per-app allows with ports, entities and CIDRs.
fn namespace_policies(namespace: &str) -> Vec<ParsedPolicy> {
    (0..50)
        .map(|i| {
            let manifest = json!({
                "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
                "metadata": {"name": format!("rule-{i}"), "namespace": namespace},
                "spec": {
                    "endpointSelector": {"matchLabels": {"app": format!("app-{}", i % 10)}},
                    "ingress": [{"fromEndpoints": [{"matchLabels": {"app": format!("client-{i}")}}],
                                 "toPorts": [{"ports": [{"port": format!("{}", 8000 + i), "protocol": "TCP"}]}]}],
                    "egress": [{"toEntities": ["kube-apiserver"]},
                               {"toCIDRSet": [{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}],
                                "toPorts": [{"ports": [{"port": "443"}]}]}]
                }
            });
            parse_policy(&PolicyObject::from_manifest(&manifest).expect("manifest")).expect("policy")
        })
        .collect()
}

fn pod(ns: &str, app: &str) -> Endpoint {
    Endpoint {
        namespace: ns.into(),
        labels: vec![
            format!("k8s:app={app}"),
            format!("k8s:io.kubernetes.pod.namespace={ns}"),
        ],
        ip: "10.0.1.1".into(),
        ..Endpoint::default()
    }
}

/// A mix of allowed and dropped flows within the namespace.
fn flows() -> Vec<Flow> {
    (0..1_000)
        .map(|i| Flow {
            time: Timestamp::UNIX_EPOCH,
            verdict: Verdict::Forwarded,
            drop_reason: None,
            direction: Direction::Egress,
            source: pod("shop", &format!("client-{}", i % 60)),
            destination: pod("shop", &format!("app-{}", i % 10)),
            protocol: Protocol::Tcp,
            source_port: 40000,
            destination_port: 8000 + (i % 60) as u16,
            is_reply: false,
            node: String::new(),
            destination_names: Vec::new(),
            denied_by: Vec::new(),
            icmp: None,
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let flows = flows();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(flows.len() as u64));

    let small = Engine::new(namespace_policies("shop"));
    group.bench_function("verdicts_50_rules", |b| {
        b.iter(|| flows.iter().filter(|f| black_box(&small).evaluate(f).allowed).count())
    });

    let mut all = namespace_policies("shop");
    for n in 0..2_000 {
        all.extend(namespace_policies(&format!("team-{n}")));
    }
    let large = Engine::new(all);
    assert_eq!(large.rule_count(), 2_001 * 50);
    group.bench_function("verdicts_50_rules_2000_namespaces", |b| {
        b.iter(|| flows.iter().filter(|f| black_box(&large).evaluate(f).allowed).count())
    });
    group.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
