//! Declared paths at the scale of a big cluster: 10,000 namespaces, each with
//! an Ingress on the shared ingress-nginx, a Service with an EndpointSlice
//! and two pods, and a webhook for every tenth. The ledger thread derives the
//! paths of the namespaces in Audit after each policy change.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

use tighten::cluster::routes::read_declaring;
use tighten::cluster::{ClusterSnapshot, NamespaceInfo, PodInfo, ServiceInfo, ServicePort, WorkloadRef};
use tighten::declared::{Senders, declared_paths};

const NAMESPACES: usize = 10_000;

fn pod(ns: &str, name: &str, labels: &[(&str, &str)]) -> PodInfo {
    PodInfo {
        namespace: ns.into(),
        name: name.into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        workload: Some(WorkloadRef {
            kind: "Deployment".into(),
            name: labels[0].1.into(),
        }),
        service_account: None,
    }
}

fn cluster() -> ClusterSnapshot {
    let mut c = ClusterSnapshot::default();
    c.pods.push(pod(
        "ingress-nginx",
        "controller-0",
        &[
            ("app.kubernetes.io/name", "ingress-nginx"),
            ("app.kubernetes.io/component", "controller"),
        ],
    ));
    let add = |c: &mut ClusterSnapshot, kind: &str, object: serde_json::Value| {
        if let Some(object) = read_declaring(kind, &object) {
            c.declarations.add(object);
        }
    };
    add(
        &mut c,
        "IngressClass",
        json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
    );
    for i in 0..NAMESPACES {
        let ns = format!("team-{i}");
        c.namespaces.push(NamespaceInfo {
            name: ns.clone(),
            labels: BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.clone())]),
            annotations: BTreeMap::new(),
            uid: None,
            resource_version: None,
            created: None,
        });
        for n in 0..2 {
            c.pods.push(pod(&ns, &format!("web-{n}"), &[("app", "web")]));
        }
        c.services.push(ServiceInfo {
            namespace: ns.clone(),
            name: "web".into(),
            ports: vec![ServicePort {
                name: "http".into(),
                port: 80,
                target_port: "http".into(),
                protocol: "TCP".into(),
            }],
            selector: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            translated_ips: Vec::new(),
            external_name: None,
        });
        add(
            &mut c,
            "EndpointSlice",
            json!({"metadata": {"name": "web-x", "namespace": ns, "labels": {"kubernetes.io/service-name": "web"}},
                   "ports": [{"name": "http", "port": 8080}],
                   "endpoints": [{"targetRef": {"kind": "Pod", "name": "web-0", "namespace": ns}},
                                 {"targetRef": {"kind": "Pod", "name": "web-1", "namespace": ns}}]}),
        );
        add(
            &mut c,
            "Ingress",
            json!({"metadata": {"name": "web", "namespace": ns},
                   "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": "web", "port": {"name": "http"}}}}}),
        );
        if i % 10 == 0 {
            add(
                &mut c,
                "ValidatingWebhookConfiguration",
                json!({"metadata": {"name": format!("hook-{i}")},
                       "webhooks": [{"name": "x", "clientConfig": {"service": {"namespace": ns, "name": "web", "port": 80}}}]}),
            );
        }
    }
    c
}

fn benches(c: &mut Criterion) {
    let snapshot = cluster();
    let senders = Senders::new();
    let mut group = c.benchmark_group("declared");
    group.sample_size(10);
    for audit in [1usize, 100, 1000] {
        let wanted: BTreeSet<String> = (0..audit)
            .map(|i| format!("team-{}", i * (NAMESPACES / audit)))
            .collect();
        let found = declared_paths(&snapshot, &senders, &wanted);
        assert_eq!(found.len(), audit);
        group.bench_function(format!("paths_of_{audit}_in_audit_of_10k_namespaces"), |b| {
            b.iter(|| declared_paths(black_box(&snapshot), &senders, &wanted).len())
        });
    }
    group.finish();
}

criterion_group!(declared_benches, benches);
criterion_main!(declared_benches);
