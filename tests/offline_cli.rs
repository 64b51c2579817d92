//! `tighten lint` and `tighten suggest` as a user runs them: the binary, on files.

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
