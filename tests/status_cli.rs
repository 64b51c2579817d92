//! `tighten status` as a user runs it: the binary, on the embedded demo
//! cluster, with its own config, data and state directories.

#[path = "common/tighten_cli.rs"]
mod tighten_cli;

fn tighten(home: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    tighten_cli::run(home, args, "")
}

#[test]
fn status_lists_every_namespace_with_what_holds_its_gate() {
    let home = tempfile::tempdir().expect("home");
    let (code, out, err) = tighten(home.path(), &["status", "--demo"]);
    // Some gates in the demo are open: exit 1, as documented.
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("context     demo\nflows       demo Hubble 127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("prometheus  not configured"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let row = |name: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}: {out}"))
    };
    // Sorted by name; open gates list their open items under the row.
    assert!(
        row("auth") < row("databases") && row("databases") < row("stage"),
        "{out}"
    );
    let databases = lines[row("databases")];
    assert!(
        databases.contains("Audit") && databases.contains("enforce") && databases.contains("open"),
        "{databases}"
    );
    assert!(
        lines[row("databases") + 1..]
            .iter()
            .take(3)
            .any(|l| l.contains("✗ Would-drop preview")),
        "{out}"
    );
    assert!(lines[row("lab") + 1].contains("✗ No drift"), "{out}");
    // A go gate lists nothing under it.
    let media = row("media");
    assert!(
        lines[media].contains("✓ go") && !lines[media + 1].starts_with("    "),
        "{out}"
    );
    // Logs went to the state directory, not the terminal.
    assert!(err.is_empty(), "{err}");
    let log = std::fs::read_to_string(home.path().join("state/tighten/tighten.log")).expect("log file");
    assert!(log.contains("status read") && log.contains("context=\"demo\""), "{log}");
}

#[test]
fn status_of_one_namespace_as_json_and_yaml() {
    let home = tempfile::tempdir().expect("home");
    let (code, out, err) = tighten(home.path(), &["status", "--demo", "-n", "databases", "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["context"], "demo");
    let namespaces = report["namespaces"].as_array().expect("namespaces");
    assert_eq!(namespaces.len(), 1);
    let ns = &namespaces[0];
    assert_eq!(ns["namespace"], "databases");
    assert_eq!(ns["phase"], "Audit");
    assert_eq!(ns["gate"]["step"], "enforce");
    assert_eq!(ns["gate"]["verdict"], "open");
    let item = |name: &str| {
        ns["gate"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {ns}"))
            .clone()
    };
    assert_eq!(item("Would-drop preview")["check"], "fail");
    assert_eq!(item("Soak window")["check"], "waiting");
    assert_eq!(item("Hubble evidence")["check"], "pass");
    assert_eq!(item("Rollback ready")["check"], "pass");
    assert_eq!(item("Prometheus")["check"], "info");

    // A go gate alone exits 0; the table then shows every item.
    let (code, out, _) = tighten(home.path(), &["status", "--demo", "-n", "media"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✓ Baseline present"), "{out}");
    let (code, out, _) = tighten(home.path(), &["status", "--demo", "-n", "media", "-o", "yaml"]);
    assert_eq!(code, 0);
    let yaml: serde_json::Value = serde_yaml::from_str(&out).expect("yaml");
    assert_eq!(yaml["namespaces"][0]["gate"]["verdict"], "go");
    assert_eq!(yaml["namespaces"][0]["gate"]["step"], "stage-default-deny");
}

#[test]
fn status_says_what_is_wrong_with_exit_codes_2_and_3() {
    let home = tempfile::tempdir().expect("home");
    let (code, _, err) = tighten(home.path(), &["status", "--demo", "-n", "nope"]);
    assert_eq!(code, 2);
    assert_eq!(err.trim(), "tighten: no namespace nope in context demo");
    let (code, _, err) = tighten(home.path(), &["status", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/kubeconfig"), "{err}");
    // A kubeconfig whose server is not there: the cluster cannot be read.
    let kubeconfig = home.path().join("kubeconfig");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\n\
             users:\n- name: me\n  user: {{token: x}}\ncontexts:\n- name: gone\n  context: {{cluster: gone, user: me}}\n"
        ),
    )
    .expect("kubeconfig");
    let (code, _, err) = tighten(
        home.path(),
        &["status", "--kubeconfig", &kubeconfig.display().to_string()],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("gone"), "{err}");
}
