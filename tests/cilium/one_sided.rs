//! A one-sided allow, as `tighten lint` reports it, judged by Cilium's engine:
//! the flow the allow names is dropped on the other side, and passes once the
//! rule lint proposes there is added.

use std::process::Command;

use serde_json::Value;

use tighten::cluster::PolicyObject;
use tighten::flows::{Direction, Endpoint, Flow, Protocol, Verdict};
use tighten::policy::lint::{LintInput, code, lint};

use super::generate::CLUSTER;
use super::replay_process::write_recording;
use super::tools;

/// `shop`'s api allows its egress to `payments`' gateway; `payments` denies by
/// default and has no ingress allow for it.
const POLICIES: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-to-gateway, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  enableDefaultDeny: {ingress: false, egress: false}
  egress:
  - toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": payments, app: gateway}}]
    toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: default-deny, namespace: payments}
spec: {endpointSelector: {}, ingressDeny: [{}], egressDeny: [{}]}
"#;

fn endpoint(namespace: &str, app: &str, octet: u8) -> Endpoint {
    Endpoint {
        namespace: namespace.into(),
        pod: format!("{app}-0"),
        labels: vec![
            format!("k8s:app={app}"),
            format!("k8s:io.kubernetes.pod.namespace={namespace}"),
            format!("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={namespace}"),
            format!("k8s:io.cilium.k8s.policy.cluster={CLUSTER}"),
        ],
        ip: format!("10.0.{octet}.7"),
        ..Endpoint::default()
    }
}

/// Cilium's verdict line for the one flow, over `policies`.
fn cilium(policies: &str) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("policies.yaml"), policies).expect("policies");
    let flow = Flow {
        time: "2026-12-01T00:00:00Z".parse().expect("time"),
        verdict: Verdict::Forwarded,
        drop_reason: None,
        direction: Direction::Egress,
        source: endpoint("shop", "api", 1),
        destination: endpoint("payments", "gateway", 2),
        protocol: Protocol::Tcp,
        source_port: 40_000,
        destination_port: 8443,
        is_reply: false,
        node: "node-1".into(),
        destination_names: Vec::new(),
        denied_by: Vec::new(),
        icmp: None,
    };
    write_recording(&dir.path().join("flows.jsonpb"), &[flow]);
    let output = Command::new(tools::oracle())
        .arg("--policies")
        .arg(dir.path().join("policies.yaml"))
        .arg("--flows")
        .arg(dir.path().join("flows.jsonpb"))
        .args(["--cluster-name", CLUSTER])
        .output()
        .expect("the oracle runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.lines().next().expect("one verdict")).expect("json")
}

#[test]
fn a_one_sided_allow_is_dropped_by_cilium_and_lints_fix_lets_it_through() {
    let objects: Vec<PolicyObject> = serde_yaml::Deserializer::from_str(POLICIES)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .map(|v: Value| PolicyObject::from_manifest(&v).expect("policy"))
        .collect();
    let findings = lint(&LintInput::policies_only(&objects));
    let found: Vec<_> = findings.iter().filter(|f| f.code == code::ONE_SIDED_ALLOW).collect();
    assert_eq!(found.len(), 1, "{found:#?}");

    let verdict = cilium(POLICIES);
    assert_eq!(verdict["verdict"], "dropped", "{verdict}");
    assert_eq!(verdict["direction"], "ingress", "{verdict}");
    assert_eq!(verdict["reason"], "default-deny", "{verdict}");

    // The fix names the spec of the policy to add in payments: add it.
    let fix = &found[0].fix;
    let spec: Value = serde_json::from_str(&fix[fix.find('{').expect("a spec")..]).expect("the spec is JSON");
    let added = serde_json::json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "gateway-from-api", "namespace": "payments"}, "spec": spec
    });
    let fixed = format!("{POLICIES}---\n{}", serde_yaml::to_string(&added).expect("yaml"));
    let verdict = cilium(&fixed);
    assert_eq!(verdict["verdict"], "allowed", "{verdict}");
    let objects: Vec<PolicyObject> = serde_yaml::Deserializer::from_str(&fixed)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .map(|v: Value| PolicyObject::from_manifest(&v).expect("policy"))
        .collect();
    let findings = lint(&LintInput::policies_only(&objects));
    assert!(
        findings.iter().all(|f| f.code != code::ONE_SIDED_ALLOW),
        "{findings:#?}"
    );
}
