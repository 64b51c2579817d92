//! Declared paths against the real API server with the real Gateway API CRDs:
//! an Ingress behind ingress-nginx, an HTTPRoute on a Cilium Gateway and a
//! webhook the API server calls, each judged dropped when the staged
//! namespace's allows leave it out and nothing exercised it, then allowed
//! once the allow `tighten status` names is applied.

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

use super::cli::Run;
use super::{admin, control_plane, create_namespace, unique};

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

async fn create(client: &kube::Client, namespace: Option<&str>, resource: &ApiResource, object: Value) {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let object: DynamicObject = serde_json::from_value(object).expect("object");
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("{} created: {e}", resource.kind));
}

async fn pod(client: &kube::Client, ns: &str, name: &str, labels: Value) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "registry.example/app:1"}]}
    }))
    .expect("pod");
    api.create(&PostParams::default(), &pod).await.expect("pod created");
}

async fn service(client: &kube::Client, ns: &str, name: &str, port: u16, target: Value) {
    let api: Api<Service> = Api::namespaced(client.clone(), ns);
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "main", "port": port, "targetPort": target}]}
    }))
    .expect("service");
    api.create(&PostParams::default(), &service)
        .await
        .expect("service created");
}

/// The checklist line of the gate item `name` in `tighten status` output.
fn item<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| {
            l.trim_start()
                .split_once(' ')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(name))
        })
        .unwrap_or_else(|| panic!("no {name} in\n{out}"))
}

#[tokio::test]
async fn ingress_route_and_webhook_paths_are_judged_dropped_then_allowed() {
    let client = admin().await;
    let shop = unique("declared");
    let edge = unique("edge");
    create_namespace(&client, &shop).await;
    create_namespace(&client, &edge).await;
    let ingress_class = unique("nginx");
    let gateway_class = unique("cilium");
    let webhook = unique("schema-check");

    pod(&client, &shop, "web-0", json!({"app": "web"})).await;
    pod(&client, &shop, "api-0", json!({"app": "api"})).await;
    pod(&client, &shop, "hook-0", json!({"app": "hook"})).await;
    pod(
        &client,
        &edge,
        "controller-0",
        json!({"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}),
    )
    .await;
    service(&client, &shop, "web", 80, json!(8080)).await;
    // api's targetPort is named: only its EndpointSlice says 9090.
    service(&client, &shop, "api", 80, json!("grpc")).await;
    service(&client, &shop, "hook", 443, json!(9443)).await;
    create(
        &client,
        Some(&shop),
        &resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "api-1", "labels": {"kubernetes.io/service-name": "api"}},
            "addressType": "IPv4",
            "ports": [{"name": "main", "port": 9090, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.0.0.7"], "targetRef": {"kind": "Pod", "name": "api-0", "namespace": shop}}]
        }),
    )
    .await;
    create(
        &client,
        None,
        &resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": ingress_class}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
    )
    .await;
    create(
        &client,
        Some(&shop),
        &resource("networking.k8s.io", "v1", "Ingress", "ingresses"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "storefront"},
        "spec": {"ingressClassName": ingress_class, "rules": [{"host": "shop.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
        ]}}]}}),
    )
    .await;
    let gateway_api = |kind: &str, plural: &str| resource("gateway.networking.k8s.io", "v1", kind, plural);
    create(
        &client,
        None,
        &gateway_api("GatewayClass", "gatewayclasses"),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
               "metadata": {"name": gateway_class}, "spec": {"controllerName": "io.cilium/gateway-controller"}}),
    )
    .await;
    create(
        &client,
        Some(&edge),
        &gateway_api("Gateway", "gateways"),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "public"},
               "spec": {"gatewayClassName": gateway_class, "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                        "allowedRoutes": {"namespaces": {"from": "All"}}}]}}),
    )
    .await;
    create(
        &client,
        Some(&shop),
        &gateway_api("HTTPRoute", "httproutes"),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
               "metadata": {"name": "api"},
               "spec": {"parentRefs": [{"name": "public", "namespace": edge}],
                        "rules": [{"backendRefs": [{"name": "api", "port": 80}]}]}}),
    )
    .await;
    // Called for nothing that exists, and ignored if it fails: the shared
    // control plane must not depend on a webhook no one serves.
    let webhooks = resource(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
    );
    create(
        &client,
        None,
        &webhooks,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": webhook},
               "webhooks": [{"name": "schema.tighten.example", "failurePolicy": "Ignore", "sideEffects": "None",
                             "admissionReviewVersions": ["v1"],
                             "clientConfig": {"service": {"namespace": shop, "name": "hook"}},
                             "rules": [{"apiGroups": ["never.tighten.example"], "apiVersions": ["v1"],
                                        "operations": ["CREATE"], "resources": ["widgets"]}]}]}),
    )
    .await;

    let home = tempfile::tempdir().expect("home");
    let run = Run {
        home: home.path(),
        kubeconfig: control_plane::get().admin.clone(),
    };
    let over = ["--override", "no Hubble in the test cluster"];
    for step in ["baseline", "stage"] {
        let (code, out, err) = run.tighten(&[step, &shop, "--yes", over[0], over[1]], "");
        assert_eq!(code, 0, "{step}: {out}{err}");
    }

    // Staged, nothing observed: all three paths would be dropped, each with
    // the allow to add; the status is judged as the restricted operator sees it.
    let operator = Run {
        home: home.path(),
        kubeconfig: control_plane::get().operator.clone(),
    };
    let (_, out, err) = operator.tighten(&["status", "-n", &shop], "");
    let line = item(&out, "Declared paths");
    assert!(line.contains("✗"), "{out}{err}");
    assert!(
        line.contains("3 declared paths never exercised during the soak, would be dropped"),
        "{line}"
    );
    for path in [
        // Pods without an owner are named by their own name.
        format!("{edge}/controller-0 → {shop}/web-0:8080/TCP"),
        format!("ingress → {shop}/api-0:9090/TCP"),
        format!("kube-apiserver → {shop}/hook-0:9443/TCP"),
    ] {
        let detail = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("- {path}")))
            .unwrap_or_else(|| panic!("no {path} in\n{out}"));
        assert!(
            detail.contains(": add ingress to app=") && detail.contains(r#"{"enableDefaultDeny""#),
            "{detail}"
        );
    }
    let (_, json_out, _) = operator.tighten(&["status", "-n", &shop, "-o", "json"], "");
    assert!(json_out.contains("\"details\""), "{json_out}");
    // The allows tighten suggests, applied as a team would: the paths work.
    let allows = [
        json!({"endpointSelector": {"matchLabels": {"app": "web"}},
               "ingress": [{"fromEndpoints": [{"matchLabels": {
                   "app.kubernetes.io/name": "ingress-nginx", "k8s:io.kubernetes.pod.namespace": edge}}],
                   "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}),
        json!({"endpointSelector": {"matchLabels": {"app": "api"}},
               "ingress": [{"fromEntities": ["ingress"], "toPorts": [{"ports": [{"port": "9090", "protocol": "TCP"}]}]}]}),
        json!({"endpointSelector": {"matchLabels": {"app": "hook"}},
               "ingress": [{"fromEntities": ["kube-apiserver"], "toPorts": [{"ports": [{"port": "9443", "protocol": "TCP"}]}]}]}),
    ];
    for (i, spec) in allows.into_iter().enumerate() {
        let mut spec = spec;
        spec["enableDefaultDeny"] = json!({"ingress": false, "egress": false});
        super::apply_policy(
            &client,
            json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
                   "metadata": {"name": format!("allow-declared-{i}"), "namespace": shop},
                   "spec": spec}),
        )
        .await;
    }
    let (_, out, err) = operator.tighten(&["status", "-n", &shop], "");
    let line = item(&out, "Declared paths");
    assert!(line.contains("✓"), "{out}{err}");
    assert!(line.contains("3 declared paths allowed as if enforced"), "{line}");

    Api::<DynamicObject>::all_with(client.clone(), &webhooks)
        .delete(&webhook, &DeleteParams::default())
        .await
        .expect("webhook deleted");
}
