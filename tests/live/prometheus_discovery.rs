//! Finding the cluster's Prometheus and asking it through the API server's
//! service proxy: a real Prometheus in a network namespace standing in for
//! its pod, a Service and Endpoints pointing at it, as the endpoints
//! controller would write them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use tighten::prometheus::discover;
use tighten::prometheus::{PromError, PromEvidence};

use super::netns::PodNetwork;
use super::{WAIT, admin, control_plane, create_namespace, unique};

/// Debian's Prometheus, fetched and unpacked under target/ by the script the
/// Prometheus tests use.
fn prometheus_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(root.join("tests/prometheus/fetch"))
        .stderr(Stdio::inherit())
        .output()
        .expect("tests/prometheus/fetch runs");
    assert!(output.status.success(), "tests/prometheus/fetch failed");
    PathBuf::from(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .expect("a path")
            .trim(),
    )
}

/// Prometheus inside the pod network, scraping itself; killed by PID on drop.
struct PodPrometheus {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for PodPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(network: &PodNetwork) -> PodPrometheus {
    let dir = tempfile::tempdir().expect("tempdir");
    let address = format!("{}:9090", network.ip);
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n- job_name: prometheus\n  \
             static_configs: [{{targets: [\"{address}\"]}}]\n"
        ),
    )
    .expect("config");
    let child = network
        .command(&prometheus_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={address}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    PodPrometheus { child, _dir: dir }
}

#[tokio::test]
async fn prometheus_is_found_and_asked_through_the_api_servers_service_proxy() {
    let client = admin().await;
    let namespace = unique("monitoring");
    create_namespace(&client, &namespace).await;
    let network = PodNetwork::new();
    let _prometheus = start_prometheus(&network);

    // The objects of a kube-prometheus install, as far as the proxy reads them.
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "prometheus-k8s", "labels": {"app.kubernetes.io/name": "prometheus"}},
        "spec": {"selector": {"app.kubernetes.io/name": "prometheus"},
                 "ports": [{"name": "web", "port": 9090, "targetPort": "web"}]}
    }))
    .expect("service");
    Api::<Service>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &service)
        .await
        .expect("service created");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "prometheus-k8s-0", "labels": {"app.kubernetes.io/name": "prometheus"}},
        "spec": {"containers": [{"name": "prometheus", "image": "quay.io/prometheus/prometheus:v2.42.0",
                                  "ports": [{"name": "web", "containerPort": 9090}]}]}
    }))
    .expect("pod");
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace);
    pods.create(&PostParams::default(), &pod).await.expect("pod created");
    // As the kubelet would report it: the proxy only goes to a pod's own IP.
    let ip = network.ip.to_string();
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                                   "conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status("prometheus-k8s-0", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status patched");
    let endpoints: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "prometheus-k8s"},
        "subsets": [{"addresses": [{"ip": ip, "targetRef": {"kind": "Pod", "name": "prometheus-k8s-0", "namespace": namespace}}],
                     "ports": [{"name": "web", "port": 9090}]}]
    }))
    .expect("endpoints");
    let endpoints_api = Api::<Endpoints>::namespaced(client.clone(), &namespace);
    endpoints_api
        .create(&PostParams::default(), &endpoints)
        .await
        .expect("endpoints created");

    // As the cockpit does: a client that does not retry the proxy's refusals.
    let once = control_plane::client_once(&control_plane::get().admin).await;
    let (candidate, prometheus) = discover::discover(once).await.expect("services listed").expect("found");
    assert_eq!(candidate.to_string(), format!("{namespace}/prometheus-k8s:web"));
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
    let output = Command::new(env!("CARGO_BIN_EXE_tighten"))
        .args([
            "status",
            "--kubeconfig",
            &admin_kubeconfig,
            "-n",
            &namespace,
            "-o",
            "json",
        ])
        .args(["--hubble-server", "127.0.0.1:1"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env_remove("TIGHTEN_PROMETHEUS")
        .output()
        .expect("tighten status runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
    endpoints_api
        .delete("prometheus-k8s", &DeleteParams::default())
        .await
        .expect("endpoints deleted");
    let empty: Endpoints = serde_json::from_value(json!({"metadata": {"name": "prometheus-k8s"}})).expect("endpoints");
    endpoints_api
        .create(&PostParams::default(), &empty)
        .await
        .expect("empty endpoints created");
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
