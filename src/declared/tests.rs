use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::cluster::routes::{Declaring, read_declaring};
use crate::cluster::{NamespaceInfo, ServicePort, WorkloadRef};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn pod(ns: &str, name: &str, workload: &str, pairs: &[(&str, &str)]) -> PodInfo {
    PodInfo {
        namespace: ns.into(),
        name: name.into(),
        labels: labels(pairs),
        workload: Some(WorkloadRef {
            kind: "Deployment".into(),
            name: workload.into(),
        }),
        service_account: None,
    }
}

fn service(ns: &str, name: &str, selector: Option<&[(&str, &str)]>, ports: &[(&str, u16, &str)]) -> ServiceInfo {
    ServiceInfo {
        namespace: ns.into(),
        name: name.into(),
        ports: ports
            .iter()
            .map(|(port_name, port, target)| ServicePort {
                name: port_name.to_string(),
                port: *port,
                target_port: target.to_string(),
                protocol: "TCP".into(),
            })
            .collect(),
        selector: selector.map(labels),
        translated_ips: Vec::new(),
        external_name: None,
    }
}

fn declare(snapshot: &mut ClusterSnapshot, kind: &str, object: serde_json::Value) {
    let object = read_declaring(kind, &object).unwrap_or_else(|| panic!("{kind} reads"));
    snapshot.declarations.add(object);
}

/// shop's web behind ingress-nginx (named targetPort, resolved by its slice),
/// api behind a Gateway; guard's webhook; infra runs the gateway's pods.
fn cluster() -> ClusterSnapshot {
    let mut c = ClusterSnapshot {
        namespaces: ["shop", "guard", "infra", "ingress-nginx", "reports"]
            .iter()
            .map(|n| NamespaceInfo {
                name: n.to_string(),
                labels: labels(&[("kubernetes.io/metadata.name", n)]),
                annotations: BTreeMap::new(),
                uid: None,
                resource_version: None,
                created: None,
            })
            .collect(),
        pods: vec![
            pod("shop", "web-1", "web", &[("app", "web")]),
            pod("shop", "web-2", "web", &[("app", "web")]),
            pod("shop", "api-1", "api", &[("app", "api")]),
            pod("guard", "hook-1", "hook", &[("app", "hook")]),
            pod(
                "infra",
                "public-gw-1",
                "public-gw",
                &[("gateway.networking.k8s.io/gateway-name", "public")],
            ),
            pod(
                "ingress-nginx",
                "controller-1",
                "ingress-nginx-controller",
                &[
                    ("app.kubernetes.io/name", "ingress-nginx"),
                    ("app.kubernetes.io/component", "controller"),
                ],
            ),
            pod("reports", "nightly-1", "nightly", &[("app", "nightly")]),
        ],
        services: vec![
            service("shop", "web", Some(&[("app", "web")]), &[("http", 80, "http")]),
            service("shop", "api", Some(&[("app", "api")]), &[("", 80, "8080")]),
            service("guard", "hook", Some(&[("app", "hook")]), &[("", 443, "9443")]),
        ],
        ..ClusterSnapshot::default()
    };
    declare(
        &mut c,
        "IngressClass",
        json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
    );
    declare(
        &mut c,
        "Ingress",
        json!({"metadata": {"name": "web", "namespace": "shop"},
               "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": "web", "port": {"name": "http"}}}}}),
    );
    declare(
        &mut c,
        "EndpointSlice",
        json!({"metadata": {"name": "web-x", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
               "ports": [{"name": "http", "port": 8081, "protocol": "TCP"}],
               "endpoints": [{"targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}},
                             {"targetRef": {"kind": "Pod", "name": "web-2", "namespace": "shop"}}]}),
    );
    declare(
        &mut c,
        "GatewayClass",
        json!({"metadata": {"name": "envoy"}, "spec": {"controllerName": "example.com/envoy"}}),
    );
    declare(
        &mut c,
        "Gateway",
        json!({"metadata": {"name": "public", "namespace": "infra"}, "spec": {"gatewayClassName": "envoy"}}),
    );
    declare(
        &mut c,
        "HTTPRoute",
        json!({"metadata": {"name": "api", "namespace": "shop"},
               "spec": {"parentRefs": [{"name": "public", "namespace": "infra"}],
                        "rules": [{"backendRefs": [{"name": "api", "port": 80}]}]}}),
    );
    declare(
        &mut c,
        "ValidatingWebhookConfiguration",
        json!({"metadata": {"name": "guard"},
               "webhooks": [{"name": "check.guard.io", "clientConfig": {"service": {"namespace": "guard", "name": "hook"}}}]}),
    );
    c
}

fn wanted(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn described(paths: &NamespacePaths) -> Vec<String> {
    paths.paths.iter().map(DeclaredPath::describe).collect()
}

#[test]
fn each_declaring_object_gives_the_path_its_traffic_really_takes() {
    let c = cluster();
    let found = declared_paths(&c, &Senders::new(), &wanted(&["shop", "guard"]));
    let shop = &found["shop"];
    assert!(shop.unjudged.is_empty(), "{:?}", shop.unjudged);
    // The Ingress lands on the port the EndpointSlice resolved (8081), not
    // the Service's 80; both web pods are one workload, so one path.
    assert_eq!(
        described(shop),
        [
            "infra/public-gw → shop/api:8080/TCP",
            "ingress-nginx/ingress-nginx-controller → shop/web:8081/TCP",
        ]
    );
    let api = &shop.paths[0];
    assert_eq!(
        api.origin,
        "HTTPRoute shop/api via Gateway infra/public → Service shop/api:80"
    );
    assert_eq!(api.service, "shop/api:80");
    assert!(api.destination.labels.contains(&"k8s:app=api".to_string()));
    assert!(
        api.sources[0]
            .labels
            .contains(&"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=infra".to_string())
    );
    assert_eq!(described(&found["guard"]), ["kube-apiserver → guard/hook:9443/TCP"]);
    // The gateway's own namespace is asked about too: enforcing it may drop
    // the gateway's egress to every backend.
    let infra = declared_paths(&c, &Senders::new(), &wanted(&["infra"]));
    assert_eq!(described(&infra["infra"]), ["infra/public-gw → shop/api:8080/TCP"]);
}

#[test]
fn cilium_ingress_and_gateway_send_as_the_ingress_identity() {
    let mut c = cluster();
    declare(
        &mut c,
        "GatewayClass",
        json!({"metadata": {"name": "cilium"}, "spec": {"controllerName": "io.cilium/gateway-controller"}}),
    );
    declare(
        &mut c,
        "Gateway",
        json!({"metadata": {"name": "edge", "namespace": "infra"}, "spec": {"gatewayClassName": "cilium"}}),
    );
    declare(
        &mut c,
        "GRPCRoute",
        json!({"metadata": {"name": "orders", "namespace": "shop"},
               "spec": {"parentRefs": [{"name": "edge", "namespace": "infra"}],
                        "rules": [{"backendRefs": [{"name": "api", "port": 80}]}]}}),
    );
    let found = declared_paths(&c, &Senders::new(), &wanted(&["shop"]));
    let grpc: Vec<_> = found["shop"]
        .paths
        .iter()
        .filter(|p| p.origin.starts_with("GRPCRoute"))
        .collect();
    assert_eq!(grpc.len(), 1);
    assert_eq!(grpc[0].describe(), "ingress → shop/api:8080/TCP");
    assert_eq!(grpc[0].sources[0].labels, ["reserved:ingress"]);
}

#[test]
fn a_path_that_cannot_be_judged_says_why() {
    let mut c = cluster();
    // The slice that resolved web's named targetPort is gone.
    c.declarations.slices.clear();
    declare(
        &mut c,
        "IngressClass",
        json!({"metadata": {"name": "edge"}, "spec": {"controller": "example.com/edge-proxy"}}),
    );
    declare(
        &mut c,
        "Ingress",
        json!({"metadata": {"name": "api", "namespace": "shop"},
               "spec": {"ingressClassName": "edge", "defaultBackend": {"service": {"name": "api", "port": {"number": 80}}}}}),
    );
    let found = declared_paths(&c, &Senders::new(), &wanted(&["shop"]));
    let whys: Vec<&str> = found["shop"].unjudged.iter().map(|u| u.why.as_str()).collect();
    assert!(
        whys.iter()
            .any(|w| w.contains("named port \"http\", which only its EndpointSlices resolve")),
        "{whys:?}"
    );
    assert!(
        whys.iter()
            .any(|w| w.contains("IngressClass edge (example.com/edge-proxy)") && w.contains("[senders.")),
        "{whys:?}"
    );
    // Named in the config, the edge proxy's pods are the senders.
    let senders = Senders::from([(
        "example.com/edge-proxy".to_string(),
        SenderPods {
            namespace: Some("ingress-nginx".into()),
            labels: labels(&[("app.kubernetes.io/component", "controller")]),
        },
    )]);
    let found = declared_paths(&c, &senders, &wanted(&["shop"]));
    assert!(
        found["shop"]
            .paths
            .iter()
            .any(|p| p.origin.starts_with("Ingress shop/api via IngressClass edge")),
        "{:?}",
        found["shop"]
    );
    // A list tighten may not read is not "nothing declared".
    c.declarations.unreadable = vec![("ingresses", "forbidden".into())];
    let found = declared_paths(&c, &senders, &wanted(&["guard"]));
    assert!(
        found["guard"]
            .unjudged
            .iter()
            .any(|u| u.origin == "every ingresses" && u.why.contains("forbidden"))
    );
}

#[test]
fn a_namespace_consuming_another_through_an_alias_is_a_path_from_any_of_its_workloads() {
    let mut c = cluster();
    c.services.push(ServiceInfo {
        external_name: Some("api.shop.svc.cluster.local".into()),
        ..service("reports", "shop-api", None, &[])
    });
    // A Service without a selector whose slice lists another namespace's pod.
    c.services.push(service("reports", "hook", None, &[("", 443, "443")]));
    declare(
        &mut c,
        "EndpointSlice",
        json!({"metadata": {"name": "hook-x", "namespace": "reports", "labels": {"kubernetes.io/service-name": "hook"}},
               "ports": [{"port": 9443}],
               "endpoints": [{"targetRef": {"kind": "Pod", "name": "hook-1", "namespace": "guard"}}]}),
    );
    let found = declared_paths(&c, &Senders::new(), &wanted(&["shop", "guard", "reports"]));
    let alias = found["shop"]
        .paths
        .iter()
        .find(|p| p.origin.starts_with("ExternalName Service reports/shop-api"))
        .unwrap_or_else(|| panic!("{:?}", found["shop"]));
    assert_eq!(alias.describe(), "reports/nightly → shop/api:8080/TCP");
    let slice = found["guard"]
        .paths
        .iter()
        .find(|p| p.origin.starts_with("Service reports/hook (EndpointSlices"))
        .unwrap_or_else(|| panic!("{:?}", found["guard"]));
    assert_eq!(slice.describe(), "reports/nightly → guard/hook:9443/TCP");
    // Both are the consumer's business too.
    assert_eq!(found["reports"].paths.len(), 2);
}

#[test]
fn in_cluster_names_are_service_and_namespace() {
    assert_eq!(in_cluster("pg.databases.svc.cluster.local"), Some(("pg", "databases")));
    assert_eq!(in_cluster("pg.databases.svc"), Some(("pg", "databases")));
    assert_eq!(in_cluster("pg.databases.svc.cluster.local."), Some(("pg", "databases")));
    assert_eq!(in_cluster("api.example.com"), None);
    assert_eq!(in_cluster("pg"), None);
}

#[test]
fn ingresses_without_a_class_take_the_default_one() {
    let mut c = cluster();
    declare(
        &mut c,
        "Ingress",
        json!({"metadata": {"name": "bare", "namespace": "shop"},
               "spec": {"defaultBackend": {"service": {"name": "api", "port": {"number": 80}}}}}),
    );
    let found = declared_paths(&c, &Senders::new(), &wanted(&["shop"]));
    assert!(
        found["shop"]
            .unjudged
            .iter()
            .any(|u| u.why.contains("no IngressClass is the default"))
    );
    c.declarations.classes.retain(|k| k.name != "nginx");
    let Some(Declaring::Class(class)) = read_declaring(
        "IngressClass",
        &json!({"metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
                "spec": {"controller": "k8s.io/ingress-nginx"}}),
    ) else {
        panic!("class");
    };
    c.declarations.classes.push(class);
    let found = declared_paths(&c, &Senders::new(), &wanted(&["shop"]));
    assert!(found["shop"].unjudged.is_empty(), "{:?}", found["shop"].unjudged);
    assert!(
        found["shop"]
            .paths
            .iter()
            .any(|p| p.origin.starts_with("Ingress shop/bare via the default IngressClass"))
    );
}
