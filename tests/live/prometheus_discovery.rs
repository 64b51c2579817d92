//! Finding the cluster's Prometheus and asking it through the API server's
//! service proxy: a real Prometheus in a network namespace standing in for
//! its pod, a Service and Endpoints pointing at it, as the endpoints
//! controller would write them.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use tighten::prometheus::discover;
use tighten::prometheus::{PromError, PromEvidence};

use super::netns::PodNetwork;
use super::prometheus_process::{self, PrometheusProcess};
use super::{WAIT, admin, control_plane, create, create_namespace, unique};

/// Prometheus inside the pod network, scraping itself.
fn start_prometheus(network: &PodNetwork) -> PrometheusProcess {
    let address = format!("{}:9090", network.ip);
    prometheus_process::start(
        network.command(&prometheus_process::binary()),
        &address,
        "prometheus",
        &address,
    )
}

#[tokio::test]
async fn prometheus_is_found_and_asked_through_the_api_servers_service_proxy() {
    let client = admin().await;
    let namespace = unique("monitoring");
    create_namespace(&client, &namespace).await;
    let network = PodNetwork::new();
    let _prometheus = start_prometheus(&network);

    // The objects of a kube-prometheus install, as far as the proxy reads them.
    create::<Service>(
        &client,
        &namespace,
        json!({
            "metadata": {"name": "prometheus-k8s", "labels": {"app.kubernetes.io/name": "prometheus"}},
            "spec": {"selector": {"app.kubernetes.io/name": "prometheus"},
                     "ports": [{"name": "web", "port": 9090, "targetPort": "web"}]}
        }),
    )
    .await;
    create::<Pod>(
        &client,
        &namespace,
        json!({
            "metadata": {"name": "prometheus-k8s-0", "labels": {"app.kubernetes.io/name": "prometheus"}},
            "spec": {"containers": [{"name": "prometheus", "image": "quay.io/prometheus/prometheus:v2.42.0",
                                      "ports": [{"name": "web", "containerPort": 9090}]}]}
        }),
    )
    .await;
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace);
    // As the kubelet would report it: the proxy only goes to a pod's own IP.
    let ip = network.ip.to_string();
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                                   "conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status("prometheus-k8s-0", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status patched");
    create::<Endpoints>(
        &client,
        &namespace,
        json!({
            "metadata": {"name": "prometheus-k8s"},
            "subsets": [{"addresses": [{"ip": ip, "targetRef": {"kind": "Pod", "name": "prometheus-k8s-0", "namespace": namespace}}],
                         "ports": [{"name": "web", "port": 9090}]}]
        }),
    )
    .await;

    // As the cockpit does: a client that does not retry the proxy's refusals.
    let once = control_plane::client_once(&control_plane::get().admin).await;
    let (choice, prometheus) = discover::discover(once).await.expect("services listed").expect("found");
    assert_eq!(choice.chosen.to_string(), format!("{namespace}/prometheus-k8s:web"));
    assert_eq!(
        prometheus.url(),
        format!("service {namespace}/prometheus-k8s:web (through the API server)")
    );

    // Prometheus answers through the proxy once it has scraped itself.
    let up = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(samples) = prometheus.query("up{job=\"prometheus\"}").await
                && let Some(sample) = samples.first()
            {
                return sample.value;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("Prometheus answers through the API server");
    assert_eq!(up, 1.0);
    let labels = prometheus.label_names("prometheus_build_info").await.expect("labels");
    assert!(labels.contains("version"), "{labels:?}");
    // A query Prometheus rejects is its own answer, passed on as a rejection.
    match prometheus.query("sum(").await {
        Err(PromError::Rejected { message, .. }) => assert!(message.contains("parse error"), "{message}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // This Prometheus scrapes no Cilium: the gate's series are said missing, not zero.
    let evidence = PromEvidence::fetch(&prometheus, &namespace, Duration::from_secs(600)).await;
    assert_eq!(evidence.namespace_labels, Ok(None));
    assert_eq!(evidence.lost_events, Ok(None));
    assert_eq!(evidence.map_pressure, Ok(None));

    // `tighten status` finds it the same way, and the gate reads it.
    let home = tempfile::tempdir().expect("home");
    let admin_kubeconfig = control_plane::get().admin.display().to_string();
    let (code, stdout, stderr) = super::tighten_cli::run(
        home.path(),
        &[
            "status",
            "--kubeconfig",
            &admin_kubeconfig,
            "-n",
            &namespace,
            "-o",
            "json",
            "--hubble-server",
            "127.0.0.1:1",
        ],
        "",
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        report["prometheus"],
        format!("service {namespace}/prometheus-k8s:web (through the API server)")
    );
    assert!(
        report["flows"]
            .as_str()
            .is_some_and(|f| f.starts_with("unavailable: cannot connect to 127.0.0.1:1")),
        "{report}"
    );
    let items = report["namespaces"][0]["gate"]["items"]
        .as_array()
        .expect("items")
        .clone();
    let item = |name: &str| items.iter().find(|i| i["name"] == name).cloned().unwrap_or_default();
    assert_eq!(item("BPF map pressure")["check"], "info", "{items:?}");
    assert_eq!(
        item("BPF map pressure")["evidence"],
        "no cilium_bpf_map_pressure series"
    );
    assert_eq!(item("Hubble evidence")["check"], "fail");

    // The read-only operator may list Services but not use the proxy: the
    // API server's refusal is named, not taken for Prometheus's answer.
    let operator = control_plane::client_once(&control_plane::get().operator).await;
    let (_, through_operator) = discover::discover(operator).await.expect("listed").expect("found");
    match through_operator.query("up").await {
        Err(PromError::Unreachable { url, message }) => {
            assert!(url.contains("prometheus-k8s:web"), "{url}");
            assert!(
                message.starts_with("the API server answered HTTP 403") && message.contains("services/proxy"),
                "{message}"
            );
        }
        other => panic!("expected the API server's refusal, got {other:?}"),
    }

    // Without a ready endpoint (Prometheus restarting) the API server says so.
    Api::<Endpoints>::namespaced(client.clone(), &namespace)
        .delete("prometheus-k8s", &DeleteParams::default())
        .await
        .expect("endpoints deleted");
    create::<Endpoints>(&client, &namespace, json!({"metadata": {"name": "prometheus-k8s"}})).await;
    match prometheus.query("up").await {
        Err(PromError::Unreachable { message, .. }) => {
            assert!(
                message.contains("HTTP 503") && message.contains("no endpoints"),
                "{message}"
            )
        }
        other => panic!("expected no endpoints, got {other:?}"),
    }
}
