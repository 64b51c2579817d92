//! `tighten lint` and `tighten suggest` as a user runs them: the binary, on files;
//! and the offline commands on a team's GitOps checkout.

#[path = "common/tighten_cli.rs"]
mod tighten_cli;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The offline commands read files only; the home is a fresh directory.
fn tighten(args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().expect("home");
    tighten_cli::run(home.path(), args, "")
}

#[test]
fn lint_finds_the_failure_stories_and_exits_1_on_errors() {
    let traps = format!("{FIXTURES}/policies/traps.yaml");
    let cluster = format!("{FIXTURES}/cluster.yaml");
    let (code, out, err) = tighten(&["lint", "--policies", &traps, "--cluster", &cluster, "-o", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let findings: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(codes.contains(&"cidr-for-cluster-entity"), "{codes:?}");
    assert!(codes.contains(&"service-port"), "{codes:?}");
    let port = findings.iter().find(|f| f["code"] == "service-port").expect("finding");
    assert!(port["fix"].as_str().is_some_and(|f| f.contains("8080")), "{port}");

    // Without the cluster, the checks that need Services are skipped, and said to be.
    let (_, out, _) = tighten(&["lint", "--policies", &traps]);
    assert!(!out.contains("service-port") && out.contains("pass --cluster"), "{out}");

    let (code, _, err) = tighten(&["lint", "--policies", &traps, "--cluster", "/nonexistent.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.yaml"), "{err}");
}

#[test]
fn suggest_prints_policies_for_what_a_namespace_drops() {
    let flows = format!("{FIXTURES}/flows/sample.jsonpb");
    let (code, out, err) = tighten(&["suggest", "--flows", &flows, "-n", "payments"]);
    assert_eq!(code, 0, "{err}");
    let docs: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&out)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect();
    assert!(!docs.is_empty(), "{out}");
    assert!(
        docs.iter()
            .all(|d| d["kind"] == "CiliumNetworkPolicy" && d["metadata"]["namespace"] == "payments")
    );
    assert!(
        out.contains("matchName: api.stripe.com"),
        "the DNS name Hubble saw: {out}"
    );
    // What it prints, tighten reads back as valid policies.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("suggested.yaml");
    std::fs::write(&path, &out).expect("write");
    let (code, lint_out, _) = tighten(&["lint", "--policies", path.to_str().expect("utf-8")]);
    assert!(code == 0 || code == 1, "readable: {lint_out}");
    assert!(
        !lint_out.contains("malformed") && !lint_out.contains("invalid"),
        "{lint_out}"
    );
}

#[test]
fn completions_name_every_command_and_its_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = tighten(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for word in [
            "status", "baseline", "stage", "enforce", "rollback", "restore", "partial", "override",
        ] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let (code, _, err) = tighten(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

#[test]
fn help_documents_the_exit_codes_of_the_mutating_commands() {
    let (code, out, _) = tighten(&["enforce", "--help"]);
    assert_eq!(code, 0);
    for line in [
        "5  the gate is not go",
        "--override <REASON>",
        "--force-protected",
        "--dry-run",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
}

/// A Flux repository as a team writes it: apps/shop's kustomization sets the
/// namespace, policies/allow-db.yaml takes ${DB_CIDR} from the Flux Kustomization.
const GITOPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gitops-repo");

#[test]
fn a_gitops_checkout_is_read_with_the_kustomization_namespace_and_flux_variables() {
    let flows = format!("{FIXTURES}/flows/shop.json");
    let var = "DB_CIDR=192.168.50.0/24";
    let (code, out, err) = tighten(&["lint", "--policies", GITOPS, "--var", var, "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = tighten(&["lint", "--policies", GITOPS, "--var", var]);
    assert!(out.contains("4 policies: 0 errors"), "{out}");

    let (code, out, err) = tighten(&[
        "simulate",
        "--policies",
        GITOPS,
        "--var",
        var,
        "--flows",
        &flows,
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "the flow to 1.1.1.1 is dropped: {out}{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let decided: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["verdict"].as_str().expect("verdict"),
                l["policies"][0].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        decided,
        [
            ("allowed", "shop/allow-web"),
            ("allowed", "shop/allow-dns"),
            ("allowed", "shop/allow-db"),
            ("dropped", "shop/allow-db"),
        ],
        "the JSON policy, the namespace from kustomization.yaml, the CIDR from --var"
    );
    assert!(
        lines[3]["policies"]
            .as_array()
            .expect("list")
            .iter()
            .any(|p| p == "shop/deny-all")
    );

    // Without the variable, the file and line of ${DB_CIDR} are named.
    let (code, _, err) = tighten(&["simulate", "--policies", GITOPS, "--flows", &flows]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("apps/shop/policies/allow-db.yaml:13: ${DB_CIDR} has no value: give it with --var DB_CIDR=..."),
        "{err}"
    );
    // A directory with no policy in it is bad input, not a pass.
    let (code, _, err) = tighten(&["lint", "--policies", &format!("{GITOPS}/clusters")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("clusters: no policy in the 2 files under the directory"),
        "{err}"
    );
}

#[test]
fn kustomize_builds_need_kubectl_on_the_path() {
    let home = tempfile::tempdir().expect("home");
    let bin = tempfile::tempdir().expect("bin");
    let path = bin.path().to_str().expect("utf-8");
    let shop = format!("{GITOPS}/apps/shop");
    let (code, _, err) = tighten_cli::run_with_env(home.path(), &["lint", "-k", &shop], "", &[("PATH", path)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{shop}: kubectl is not on the PATH")), "{err}");
    assert!(err.contains("--policies"), "the way without kubectl: {err}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A kubectl that prints one built policy, or fails as kustomize does.
        let kubectl = bin.path().join("kubectl");
        std::fs::write(
            &kubectl,
            r#"#!/bin/sh
case "$2" in
  *broken*) echo "error: accumulating resources: 'missing.yaml': no such file" >&2; exit 1 ;;
esac
printf '%s\n' 'apiVersion: cilium.io/v2' 'kind: CiliumNetworkPolicy' 'metadata: {name: allow-db, namespace: shop}' \
  'spec: {endpointSelector: {}, egress: [{toCIDR: ["${DB_CIDR}"]}]}'
"#,
        )
        .expect("write");
        std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let env = [("PATH", path)];
        let args = ["lint", "-k", &shop, "--var", "DB_CIDR=10.1.0.0/16", "-o", "json"];
        let (code, out, err) = tighten_cli::run_with_env(home.path(), &args, "", &env);
        assert_eq!(code, 0, "{out}{err}");
        let (code, _, err) = tighten_cli::run_with_env(home.path(), &["lint", "-k", &shop], "", &env);
        assert_eq!(code, 2);
        assert!(
            err.contains("${DB_CIDR} has no value"),
            "substituted after the build: {err}"
        );
        let broken = bin.path().join("broken");
        std::fs::create_dir(&broken).expect("dir");
        let broken = broken.to_str().expect("utf-8");
        let (code, _, err) = tighten_cli::run_with_env(home.path(), &["lint", "-k", broken], "", &env);
        assert_eq!(code, 2);
        assert!(
            err.contains(&format!("{broken}: kubectl kustomize failed"))
                && err.contains("'missing.yaml': no such file"),
            "{err}"
        );
    }
}
