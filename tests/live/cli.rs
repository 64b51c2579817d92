//! The mutating commands as an operator runs them against a real API server:
//! the binary, its prompts on stdin, its exit codes, and what the cluster
//! holds afterwards.

use std::path::Path;

use kube::api::{Api, DynamicObject};

use tighten::cluster::PolicyKind;
use tighten::cluster::live::resources;

use super::{admin, control_plane, create_namespace, unique};

/// One run of `tighten`, with its own config, data and state directories,
/// no Hubble and a Prometheus that is not there (so the gates are not go
/// and need --override, as on a cluster without evidence).
pub(super) struct Run<'a> {
    pub(super) home: &'a Path,
    pub(super) kubeconfig: std::path::PathBuf,
}

impl Run<'_> {
    pub(super) fn tighten(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let kubeconfig = self.kubeconfig.display().to_string();
        let mut all = args.to_vec();
        all.extend(["--kubeconfig", &kubeconfig]);
        all.extend(["--hubble-server", "127.0.0.1:1", "--prometheus", "http://127.0.0.1:1"]);
        super::tighten_cli::run(self.home, &all, stdin)
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.home.join("state/tighten/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit json"))
            .collect()
    }
}

async fn cnps(namespace: &str) -> Vec<DynamicObject> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        admin().await,
        namespace,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
    );
    api.list(&Default::default()).await.expect("list").items
}

fn names(objects: &[DynamicObject]) -> Vec<String> {
    let mut names: Vec<String> = objects.iter().filter_map(|o| o.metadata.name.clone()).collect();
    names.sort();
    names
}

const REASON: &str = "no Hubble in the test cluster";

#[tokio::test]
async fn every_command_through_its_dry_run_prompt_and_yes() {
    let client = admin().await;
    let ns = unique("cli");
    create_namespace(&client, &ns).await;
    let home = tempfile::tempdir().expect("home");
    let run = Run {
        home: home.path(),
        kubeconfig: control_plane::get().admin.clone(),
    };
    let over = ["--override", REASON];

    // --dry-run prints the plan, the server's verdict and the gate, and changes nothing.
    let (code, out, err) = run.tighten(&["baseline", &ns, "--dry-run"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("server-side dry run accepted"), "{out}");
    assert!(
        out.contains(&format!("✓ create CiliumNetworkPolicy {ns}/tighten-baseline-dns")),
        "{out}"
    );
    assert!(out.contains("✗ Hubble evidence"), "{out}");
    assert!(out.ends_with("dry run: nothing was changed\n"), "{out}");
    assert!(cnps(&ns).await.is_empty());

    // The gate is not go: refused without --override.
    let (code, _, err) = run.tighten(&["baseline", &ns, "--yes"], "");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("pass --override REASON"), "{err}");
    let (code, _, err) = run.tighten(&["baseline", &ns, "--yes", "--override", "short"], "");
    assert_eq!(code, 2, "{err}");
    assert!(cnps(&ns).await.is_empty());

    // Asked, and not confirmed.
    let (code, _, err) = run.tighten(&["baseline", &ns, over[0], over[1]], "n\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("Apply baseline in {ns}? [y/N]")), "{err}");
    assert!(cnps(&ns).await.is_empty());
    // Confirmed.
    let (code, out, err) = run.tighten(&["baseline", &ns, over[0], over[1]], "y\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("done: apply-baseline on {ns}")), "{out}");
    let baseline = names(&cnps(&ns).await);
    assert_eq!(baseline.len(), 5, "{baseline:?}");
    let record = run.audit().pop().expect("an audit record");
    assert_eq!(record["action"], "apply-baseline");
    assert_eq!(record["namespace"], ns.as_str());
    assert!(
        record["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("gate override (") && r.ends_with(REASON)),
        "{record}"
    );
    // Again: nothing to change is done, not an error.
    let (code, _, err) = run.tighten(&["baseline", &ns, "--yes", over[0], over[1]], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to change"), "{err}");

    // Stage: dry run, then asked and confirmed.
    let (code, out, err) = run.tighten(&["stage", &ns, "--dry-run"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("✓ create CiliumNetworkPolicy {ns}/tighten-default-deny")),
        "{out}"
    );
    assert_eq!(cnps(&ns).await.len(), 5);
    let (code, out, err) = run.tighten(&["stage", &ns, over[0], over[1]], "y\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(names(&cnps(&ns).await).contains(&"tighten-default-deny".to_string()));
    // Enforce: the dry run prints the open gate without stopping; acting needs
    // the override; asked and declined; then --yes.
    let (code, out, err) = run.tighten(&["enforce", &ns, "--dry-run"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Gate: enforce · ✗"), "{out}");
    let (code, _, err) = run.tighten(&["enforce", &ns, "--yes"], "");
    assert_eq!(code, 5, "no evidence, no override: {err}");
    let (code, _, err) = run.tighten(&["enforce", &ns, over[0], over[1]], "\n");
    assert_eq!(code, 1, "an empty answer is no: {err}");
    let (code, out, err) = run.tighten(&["enforce", &ns, "--yes", over[0], over[1]], "");
    assert_eq!(code, 0, "{out}{err}");
    let deny = cnps(&ns)
        .await
        .into_iter()
        .find(|o| o.metadata.name.as_deref() == Some("tighten-default-deny"))
        .expect("default-deny");
    assert_eq!(deny.data["spec"]["enableDefaultDeny"]["ingress"], true);

    // Read-only: the dry run runs, nothing is written.
    let (code, _, err) = run.tighten(&["rollback", &ns, "--partial", "--yes", "--readonly"], "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(cnps(&ns).await.len(), 6);

    // Partial rollback: a typed name, not y.
    let (code, _, err) = run.tighten(&["rollback", &ns, "--partial"], "y\n");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("this action deletes objects: type {ns} to confirm")),
        "{err}"
    );
    let (code, out, err) = run.tighten(&["rollback", &ns, "--partial"], &format!("{ns}\n"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(names(&cnps(&ns).await), baseline);

    // Whole namespace with --yes (not protected), then restore from its backup.
    let (code, out, err) = run.tighten(&["rollback", &ns, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(cnps(&ns).await.is_empty());
    let backup = out
        .lines()
        .find_map(|l| l.split("; backup ").nth(1))
        .expect("the backup is named")
        .to_string();
    assert!(Path::new(&backup).exists(), "{backup}");
    let (code, _, err) = run.tighten(&["restore", &backup, "--dry-run"], "");
    assert_eq!(code, 0, "{err}");
    assert!(cnps(&ns).await.is_empty());
    let (code, _, err) = run.tighten(&["restore", &backup], "no\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("Restore backup in {ns}? [y/N]")), "{err}");
    assert!(cnps(&ns).await.is_empty());
    let (code, out, err) = run.tighten(&["restore", &backup, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(names(&cnps(&ns).await), baseline);

    // Every action left one record, refusals included.
    let actions: Vec<String> = run
        .audit()
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "apply-baseline",
            "stage-default-deny",
            "enforce",
            "rollback-default-deny",
            "rollback-namespace",
            "restore"
        ],
        "{actions:?}"
    );
}

#[tokio::test]
async fn protected_namespaces_rbac_and_unknown_names() {
    let client = admin().await;
    let ns = unique("guarded");
    create_namespace(&client, &ns).await;
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join("config.toml");
    std::fs::write(&config, format!("protected_namespaces = [\"{ns}\"]\n")).expect("config");
    let run = Run {
        home: home.path(),
        kubeconfig: control_plane::get().admin.clone(),
    };
    let cfg = config.display().to_string();
    let base = ["baseline", ns.as_str(), "--config", cfg.as_str(), "--override", REASON];

    // --yes alone does not act on a protected namespace.
    let (code, _, err) = run.tighten(&[&base[..], &["--yes"]].concat(), "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("--force-protected"), "{err}");
    // At the prompt its name must be typed, even for a step that deletes nothing.
    let (code, _, err) = run.tighten(&base, "y\n");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("this namespace is protected: type {ns} to confirm")),
        "{err}"
    );
    assert!(cnps(&ns).await.is_empty());
    let (code, _, err) = run.tighten(&[&base[..], &["--yes", "--force-protected"]].concat(), "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(cnps(&ns).await.len(), 5);

    // The read-only operator is refused before any prompt.
    let operator = Run {
        home: home.path(),
        kubeconfig: control_plane::get().operator.clone(),
    };
    let (code, _, err) = operator.tighten(&["rollback", &ns, "--yes", "--force-protected", "--config", &cfg], "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("forbidden"), "{err}");
    assert_eq!(cnps(&ns).await.len(), 5);

    let (code, _, err) = run.tighten(&["enforce", "no-such-namespace-here", "--yes"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no namespace no-such-namespace-here"), "{err}");
}

#[tokio::test]
async fn export_builds_with_kubectl_kustomize_and_promotion_rewrites_the_namespace() {
    use kube::api::PostParams;
    let client = admin().await;
    let (lab, prod) = (unique("lab"), unique("prod"));
    create_namespace(&client, &lab).await;
    create_namespace(&client, &prod).await;
    let home = tempfile::tempdir().expect("home");
    let run = Run {
        home: home.path(),
        kubeconfig: control_plane::get().admin.clone(),
    };
    let (code, _, err) = run.tighten(&["baseline", &lab, "--yes", "--override", REASON], "");
    assert_eq!(code, 0, "{err}");
    let allow: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "allow-web-to-api",
                     "labels": {"app.kubernetes.io/managed-by": "tighten", "tighten.dev/role": "app-allow"}},
        "spec": {"endpointSelector": {"matchLabels": {"app": "api"}},
                 "enableDefaultDeny": {"ingress": false, "egress": false},
                 "ingress": [{"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": lab, "app": "web"}},
                                                {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "network", "app": "ingress"}}],
                              "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}
    }))
    .expect("allow");
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &lab,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
    );
    api.create(&PostParams::default(), &allow).await.expect("allow created");

    // Export, then build it with the real kubectl.
    let dir = home.path().join("fleet");
    let dir_arg = dir.display().to_string();
    let (code, out, err) = run.tighten(&["export", &lab, &dir_arg], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir.join("baselines/kustomization.yaml").exists());
    let overlay = dir.join("overlays").join(&lab);
    let kubectl = control_plane::get().kubectl();
    let built = std::process::Command::new(&kubectl)
        .args(["kustomize", &overlay.display().to_string()])
        .output()
        .expect("kubectl runs");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let built: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&String::from_utf8_lossy(&built.stdout))
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .collect();
    // Exactly the namespace's policies, in its namespace, with the cluster's specs.
    let mut cluster: Vec<(String, serde_json::Value)> = cnps(&lab)
        .await
        .into_iter()
        .map(|o| (o.metadata.name.clone().unwrap_or_default(), o.data["spec"].clone()))
        .collect();
    let mut exported: Vec<(String, serde_json::Value)> = built
        .iter()
        .map(|d| {
            assert_eq!(d["metadata"]["namespace"], lab.as_str(), "{d}");
            assert!(d["metadata"].get("resourceVersion").is_none(), "{d}");
            (
                d["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                d["spec"].clone(),
            )
        })
        .collect();
    cluster.sort_by(|a, b| a.0.cmp(&b.0));
    exported.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(exported, cluster);
    assert_eq!(exported.len(), 6);
    // Not over an existing overlay without --force.
    let (code, _, err) = run.tighten(&["export", &lab, &dir_arg], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    let (code, _, err) = run.tighten(&["export", &lab, &dir_arg, "--force"], "");
    assert_eq!(code, 0, "{err}");

    // Promote lab's app allows to prod: a dry run, asked, confirmed, rewritten.
    let (code, out, err) = run.tighten(&["promote", &lab, &prod, "--dry-run"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("✓ create CiliumNetworkPolicy {prod}/allow-web-to-api")),
        "{out}"
    );
    assert!(cnps(&prod).await.is_empty());
    let (code, _, err) = run.tighten(&["promote", &lab, &prod], "n\n");
    assert_eq!(code, 1, "{err}");
    assert!(cnps(&prod).await.is_empty());
    let (code, out, err) = run.tighten(&["promote", &lab, &prod, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    let promoted = cnps(&prod).await;
    assert_eq!(names(&promoted), ["allow-web-to-api"], "only the app allows travel");
    let copy = &promoted[0];
    let peers = &copy.data["spec"]["ingress"][0]["fromEndpoints"];
    assert_eq!(
        peers[0]["matchLabels"]["k8s:io.kubernetes.pod.namespace"],
        prod.as_str()
    );
    assert_eq!(peers[1]["matchLabels"]["k8s:io.kubernetes.pod.namespace"], "network");
    assert_eq!(
        copy.metadata.annotations.clone().unwrap_or_default()["tighten.dev/promoted-from"],
        format!("{lab}/allow-web-to-api")
    );
    // Again: already there.
    let (code, _, err) = run.tighten(&["promote", &lab, &prod, "--yes"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to change"), "{err}");
}
