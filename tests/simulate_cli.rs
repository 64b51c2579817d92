//! `tighten simulate` as a user runs it: the binary, on files.

use std::path::Path;
use std::process::Command;

use tighten::policy::{TemplateVars, Templates};

const APP_ALLOWS: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: allow-web-from-frontend
  namespace: payments
  labels: {app.kubernetes.io/managed-by: tighten, tighten.dev/role: app-allow}
spec:
  endpointSelector: {matchLabels: {app: api}}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": frontend, app: web}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: allow-stripe
  namespace: payments
  labels: {app.kubernetes.io/managed-by: tighten, tighten.dev/role: app-allow}
spec:
  endpointSelector: {matchLabels: {app: api}}
  enableDefaultDeny: {ingress: false, egress: false}
  egress:
  - toFQDNs: [{matchName: api.stripe.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"#;

/// tighten's baseline and staged default-deny for payments, plus the app allows.
fn policies(dir: &Path) {
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace("payments");
    let mut docs: Vec<String> = templates
        .render_baseline(&vars)
        .expect("baseline")
        .iter()
        .map(|p| p.to_yaml())
        .collect();
    docs.push(templates.render_default_deny(&vars).expect("dd").to_yaml());
    std::fs::write(dir.join("tighten.yaml"), docs.join("---\n")).expect("write");
    std::fs::write(dir.join("apps.yaml"), APP_ALLOWS).expect("write");
}

fn simulate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tighten"))
        .arg("simulate")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const FLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flows/sample.jsonpb");

#[test]
fn staged_namespaces_drop_nothing_until_the_preview_enforces_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    policies(dir.path());
    let policies_dir = dir.path().to_str().expect("utf-8");

    let (code, out, err) = simulate(&["--policies", policies_dir, "--flows", FLOWS, "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 10, "one line per flow in the file");
    assert!(lines.iter().all(|l| l["verdict"] == "allowed"));
    assert_eq!(lines[1]["reason"], "allowed-by-rule", "DNS to kube-dns by the baseline");
    assert_eq!(lines[1]["policies"][0], "payments/tighten-baseline-dns");
    assert_eq!(lines[2]["reason"], "reply");

    let (code, out, err) = simulate(&[
        "--policies",
        policies_dir,
        "--flows",
        FLOWS,
        "--enforce",
        "payments",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "drops exit 1: {out}{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let dropped: Vec<(u64, &str)> = lines
        .iter()
        .filter(|l| l["verdict"] == "dropped")
        .map(|l| (l["flow"].as_u64().unwrap_or(99), l["direction"].as_str().unwrap_or("-")))
        .collect();
    // DNS to 1.1.1.1 (egress), the ICMP probe from the blackbox exporter and the
    // web pod reaching postgres (ingress) would be dropped; Stripe is allowed by name.
    assert_eq!(dropped, vec![(3, "egress"), (5, "ingress"), (7, "ingress")]);
    assert_eq!(lines[7]["reason"], "default-deny");
    assert_eq!(lines[7]["policies"][0], "payments/tighten-default-deny");
    assert_eq!(lines[4]["verdict"], "allowed");
    assert_eq!(lines[4]["policies"][0], "payments/allow-stripe");

    let (code, out, _) = simulate(&["--policies", policies_dir, "--flows", FLOWS, "--enforce", "payments"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("10 flows with payments enforced: 7 allowed, 3 dropped"),
        "{out}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: y}\nspec: {endpointSelector: {}, egress: [{toEntities: [moon]}]}\n").expect("write");
    let (code, _, err) = simulate(&["--policies", bad.to_str().expect("utf-8"), "--flows", FLOWS]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.yaml") && err.contains("toEntities[0]"), "{err}");

    let flows = dir.path().join("flows.json");
    std::fs::write(&flows, "{\"flow\": {\"time\": \"2026-11-22T10:00:21Z\"}}\nnot json\n").expect("write");
    let (code, _, err) = simulate(&[
        "--policies",
        bad.parent().expect("dir").join("none.yaml").to_str().expect("utf-8"),
        "--flows",
        flows.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("none.yaml"), "{err}");
}

const SHOP_FLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flows/shop.json");

/// A team's own rollout as its repository holds it: their names, no tighten
/// labels, no `metadata.namespace` (the kustomization sets it), and their
/// default-deny staged in the explicit deny form.
fn team_repository(dir: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/team-rollout");
    let staged = std::fs::read_to_string(fixtures.join("policies.yaml"))
        .expect("fixture")
        .replace(
            "  ingressDeny: [{}]\n  egressDeny: [{}]\n",
            "  enableDefaultDeny: {ingress: false, egress: false}\n  ingressDeny: [{}]\n  egressDeny: [{}]\n",
        );
    assert!(staged.contains("enableDefaultDeny: {ingress: false, egress: false}\n  ingressDeny"));
    std::fs::write(dir.join("policies.yaml"), staged).expect("write");
    std::fs::write(
        dir.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources:\n- policies.yaml\n",
    )
    .expect("write");
}

#[test]
fn enforce_treats_a_teams_staged_default_deny_as_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    team_repository(dir.path());
    let policies = dir.path().to_str().expect("utf-8");
    // Staged: nothing is dropped.
    let (code, out, err) = simulate(&["--policies", policies, "--flows", SHOP_FLOWS]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 flows: 4 allowed, 0 dropped"), "{out}");
    // As if enforced: what the team's allows do not cover is dropped, by the
    // team's own default-deny; DNS to kube-dns is not.
    let (code, out, err) = simulate(&["--policies", policies, "--flows", SHOP_FLOWS, "--enforce", "shop"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("4 flows with shop enforced: 1 allowed, 3 dropped"),
        "{out}"
    );
    let (_, json, _) = simulate(&[
        "--policies",
        policies,
        "--flows",
        SHOP_FLOWS,
        "--enforce",
        "shop",
        "-o",
        "json",
    ]);
    let dns = json.lines().nth(1).expect("the DNS flow");
    assert!(dns.contains("\"verdict\":\"allowed\""), "{dns}");
    assert!(dns.contains("shop/allow-dns"), "{dns}");
    let web = json.lines().next().expect("the ingress flow");
    assert!(web.contains("\"verdict\":\"dropped\""), "{web}");
    assert!(web.contains("shop/default-deny"), "{web}");
}

#[test]
fn a_reader_that_stops_early_ends_the_run_quietly_with_its_own_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    policies(dir.path());
    // Enough flows that the output outgrows the pipe's buffer.
    let one = std::fs::read_to_string(FLOWS).expect("flows");
    let many = dir.path().join("many.jsonpb");
    std::fs::write(&many, one.repeat(3000)).expect("write");
    let args = [
        "simulate",
        "--policies",
        dir.path().to_str().expect("utf-8"),
        "--flows",
        many.to_str().expect("utf-8"),
        "--enforce",
        "payments",
        "-o",
        "json",
    ];
    let whole = Command::new(env!("CARGO_BIN_EXE_tighten"))
        .args(args)
        .output()
        .expect("runs");
    assert!(whole.stdout.len() > 1 << 20, "the output is larger than a pipe holds");
    assert_eq!(whole.status.code(), Some(1), "the enforced preview drops flows");

    // As `tighten simulate ... | head -1`: read one line, close the pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tighten"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).expect("a line");
    assert!(first.starts_with('{'), "{first}");
    let out = child.wait_with_output().expect("ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("Broken pipe") && !err.contains('\u{1b}'), "{err}");
    assert_eq!(out.status.code(), Some(1), "exit 1 still means something dropped");
}
