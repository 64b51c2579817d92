//! A rollout by commits against real Flux: source-controller and
//! kustomize-controller built from their Go modules (tests/flux/build), a
//! Git repository served over smart HTTP on loopback (tests/flux/git-server),
//! and tighten's forward steps as commits that a test merges, Flux applies,
//! and tighten reads back; then the break-glass, which Flux must not undo
//! while suspended, and its revert commit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::cli::Run;
use super::{admin, control_plane, unique};

/// The Git server and the Flux controllers, once per test run.
struct Flux {
    /// Where the served bare repositories live.
    repos: PathBuf,
    /// `http://127.0.0.1:PORT/`.
    url: String,
}

static FLUX: OnceLock<Flux> = OnceLock::new();

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn flux() -> &'static Flux {
    FLUX.get_or_init(|| {
        let dir = root().join("target/flux").join(format!("test-{}", std::process::id()));
        let repos = dir.join("repos");
        std::fs::create_dir_all(&repos).expect("repos");
        let port_file = dir.join("git.port");
        let parent = std::process::id().to_string();
        // The server goes with this test process, as the controllers do.
        let server = format!(
            "{} --root {} --port-file {} >{}/git-server.log 2>&1 & srv=$!; \
             while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $srv",
            root().join("tests/flux/git-server").display(),
            repos.display(),
            port_file.display(),
            dir.display()
        );
        Command::new("bash")
            .args(["-c", &format!("nohup bash -c '{server}' >/dev/null 2>&1 &")])
            .status()
            .expect("git-server starts");
        let started = Instant::now();
        let port = loop {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                break port.trim().to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(20), "git-server did not start");
            std::thread::sleep(Duration::from_millis(100));
        };
        let output = Command::new(root().join("tests/flux/start"))
            .args([
                "--kubeconfig",
                &control_plane::get().admin.display().to_string(),
                "--dir",
                &dir.join("controllers").display().to_string(),
                "--parent",
                &parent,
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("tests/flux/start runs");
        assert!(
            output.status.success(),
            "the Flux controllers did not start: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        Flux {
            repos,
            url: format!("http://127.0.0.1:{port}/"),
        }
    })
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(path, text).expect("write");
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn kustomizations() -> ApiResource {
    resource("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations")
}

fn git_repositories() -> ApiResource {
    resource("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories")
}

/// Asks Flux to reconcile now, as `flux reconcile --with-source` does.
async fn reconcile(client: &kube::Client, name: &str) {
    let now = jiff::Timestamp::now().to_string();
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": now}}});
    for resource in [git_repositories(), kustomizations()] {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "flux-system", &resource);
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("reconcile requested");
    }
}

async fn kustomization(client: &kube::Client, name: &str) -> DynamicObject {
    Api::<DynamicObject>::namespaced_with(client.clone(), "flux-system", &kustomizations())
        .get(name)
        .await
        .expect("kustomization")
}

/// Waits until the Kustomization applied `commit`, asking Flux to hurry.
async fn applied(client: &kube::Client, name: &str, commit: &str) {
    let started = Instant::now();
    loop {
        reconcile(client, name).await;
        let k = kustomization(client, name).await;
        let revision = k.data.pointer("/status/lastAppliedRevision").and_then(Value::as_str);
        if revision.is_some_and(|r| r.ends_with(commit)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "Flux did not apply {commit}: {}",
            serde_json::to_string_pretty(&k.data["status"]).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn policy_names(client: &kube::Client, namespace: &str) -> Vec<String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource("cilium.io", "v2", "CiliumNetworkPolicy", "ciliumnetworkpolicies"),
    );
    let mut names: Vec<String> = api
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    names.sort();
    names
}

/// The phase `tighten status` reads for the namespace.
fn phase(run: &Run<'_>, namespace: &str) -> (String, String) {
    let (_, out, err) = run.tighten(&["status", "-n", namespace], "");
    let phase = out
        .lines()
        .find(|l| l.starts_with(namespace))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("{out}{err}"))
        .to_string();
    (phase, out)
}

/// Takes a forward step as a commit, "merges" it (pushes it to the served
/// main, as a fast-forward pull request merge would, or with a merge commit),
/// and waits for Flux; tighten says it waits for the commit until then.
async fn step_by_commit(
    client: &kube::Client,
    run: &Run<'_>,
    checkout: &Path,
    step: &str,
    namespace: &str,
    merge_commit: bool,
) -> String {
    let checkout_arg = checkout.display().to_string();
    let (code, out, err) = run.tighten(
        &[
            step,
            namespace,
            "--repo",
            &checkout_arg,
            "--yes",
            "--override",
            "no Hubble in the test cluster",
        ],
        "",
    );
    assert_eq!(code, 0, "{step}: {out}{err}");
    assert!(out.contains("What will be committed · branch tighten/"), "{out}");
    assert!(out.contains("kubectl kustomize clusters/"), "{out}");
    assert!(out.contains("server-side dry run accepted"), "{out}");
    let branch = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("committed ")
                .and_then(|rest| rest.split(" on branch ").nth(1))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no commit in {out}"))
        .to_string();
    let commit = git(checkout, &["rev-parse", &branch]);
    let (_, status, _) = run.tighten(&["status", "-n", namespace], "");
    assert!(
        status.contains(&format!("waiting for commit {} ({branch})", &commit[..12])),
        "{status}"
    );
    let merged = if merge_commit {
        // A pull request merged with a merge commit: main is not the step's commit.
        git(checkout, &["fetch", "-q", "origin"]);
        git(checkout, &["switch", "-q", "--detach", "origin/main"]);
        git(
            checkout,
            &["merge", "-q", "--no-ff", "-m", &format!("Merge {branch}"), &branch],
        );
        let merge = git(checkout, &["rev-parse", "HEAD"]);
        git(checkout, &["push", "-q", "origin", "HEAD:main"]);
        git(checkout, &["switch", "-q", "main"]);
        merge
    } else {
        git(checkout, &["push", "-q", "origin", &format!("{branch}:main")]);
        commit.clone()
    };
    applied(client, namespace, &merged).await;
    let (_, status, _) = run.tighten(&["status", "-n", namespace], "");
    assert!(!status.contains("waiting for"), "applied: {status}");
    merged
}

#[tokio::test]
async fn a_namespace_rolled_out_by_commits_that_real_flux_applies() {
    let flux = flux();
    let client = admin().await;
    let ns = unique("fleet");
    // The team's repository: Flux applies clusters/NS, which includes the
    // namespace's folder; the folder's kustomization sets the namespace, and
    // the team's own allow names none.
    let seed = tempfile::tempdir().expect("seed");
    let seed_dir = seed.path();
    git(seed_dir, &["init", "-q", "-b", "main"]);
    git(seed_dir, &["config", "user.name", "Platform Team"]);
    git(seed_dir, &["config", "user.email", "platform@example.com"]);
    write(
        seed_dir,
        &format!("clusters/{ns}/kustomization.yaml"),
        &format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../apps/{ns}\n"),
    );
    write(
        seed_dir,
        &format!("apps/{ns}/kustomization.yaml"),
        &format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\nresources:\n  - namespace.yaml\n  - web-to-api.yaml\n"
        ),
    );
    write(
        seed_dir,
        &format!("apps/{ns}/namespace.yaml"),
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
    );
    write(
        seed_dir,
        &format!("apps/{ns}/web-to-api.yaml"),
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: web-to-api\nspec:\n  endpointSelector:\n    matchLabels:\n      app: api\n  enableDefaultDeny:\n    ingress: false\n    egress: false\n  ingress:\n  - fromEndpoints:\n    - matchLabels:\n        app: web\n",
    );
    git(seed_dir, &["add", "-A"]);
    git(seed_dir, &["commit", "-q", "-m", "the team's namespace"]);
    let bare = flux.repos.join(format!("{ns}.git"));
    git(seed_dir, &["clone", "-q", "--bare", ".", &bare.display().to_string()]);
    let url = format!("{}{ns}.git", flux.url);
    let home = tempfile::tempdir().expect("home");
    let checkout = home.path().join("fleet");
    git(home.path(), &["clone", "-q", &url, &checkout.display().to_string()]);
    git(&checkout, &["config", "user.name", "Operator"]);
    git(&checkout, &["config", "user.email", "operator@example.com"]);

    let flux_system: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = flux_system
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "flux-system"}})).expect("ns"),
        )
        .await;
    for (resource, object) in [
        (
            git_repositories(),
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                   "metadata": {"name": ns, "namespace": "flux-system"},
                   "spec": {"url": url, "interval": "10s", "ref": {"branch": "main"}}}),
        ),
        (
            kustomizations(),
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                   "metadata": {"name": ns, "namespace": "flux-system"},
                   "spec": {"interval": "10s", "path": format!("./clusters/{ns}"), "prune": true,
                            "sourceRef": {"kind": "GitRepository", "name": ns}}}),
        ),
    ] {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "flux-system", &resource);
        api.create(&PostParams::default(), &serde_json::from_value(object).expect("object"))
            .await
            .expect("flux object created");
    }
    let first = git(&checkout, &["rev-parse", "HEAD"]);
    applied(&client, &ns, &first).await;
    assert_eq!(policy_names(&client, &ns).await, ["web-to-api"]);

    let run = Run {
        home: home.path(),
        kubeconfig: control_plane::get().admin.clone(),
    };
    // Without the checkout, the step is refused: Flux would put it back.
    let (code, _, err) = run.tighten(
        &["baseline", &ns, "--yes", "--override", "no Hubble in the test cluster"],
        "",
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no repository is configured"), "{err}");
    assert!(err.contains("tighten export"), "{err}");
    assert_eq!(
        policy_names(&client, &ns).await,
        ["web-to-api"],
        "nothing written into the cluster"
    );

    // 1. Baseline, 2. stage, 3. enforce: each a commit, merged, applied by Flux.
    let commit = step_by_commit(&client, &run, &checkout, "baseline", &ns, false).await;
    let (phase_now, out) = phase(&run, &ns);
    assert_eq!(phase_now, "Baseline", "{out}");
    assert!(
        out.contains(&format!(
            "⟳ Flux Kustomization flux-system/{ns}: applied main@sha1:{}",
            &commit[..12]
        )),
        "{out}"
    );
    let in_git = git(&checkout, &["show", &format!("{commit}:apps/{ns}/kustomization.yaml")]);
    assert!(in_git.contains("  - tighten-baseline-dns.yaml"), "{in_git}");
    let file = git(
        &checkout,
        &["show", &format!("{commit}:apps/{ns}/tighten-baseline-dns.yaml")],
    );
    assert!(!file.contains("\n  namespace:"), "in the repository's style: {file}");
    let message = git(&checkout, &["log", "-1", "--format=%B", &commit]);
    assert!(
        message.starts_with(&format!("tighten: apply baseline in {ns}")),
        "{message}"
    );
    assert!(
        message.contains("Gate: apply baseline") && message.contains("Gate overridden"),
        "{message}"
    );

    step_by_commit(&client, &run, &checkout, "stage", &ns, true).await;
    assert_eq!(phase(&run, &ns).0, "Audit");
    step_by_commit(&client, &run, &checkout, "enforce", &ns, false).await;
    assert_eq!(phase(&run, &ns).0, "Enforced");
    assert!(
        policy_names(&client, &ns)
            .await
            .contains(&"tighten-default-deny".to_string())
    );

    // 3. Break-glass without the suspend: Flux puts the default-deny back.
    let (code, out, err) = run.tighten(&["rollback", &ns, "--partial", "--no-suspend", "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    let started = Instant::now();
    loop {
        reconcile(&client, &ns).await;
        if policy_names(&client, &ns)
            .await
            .contains(&"tighten-default-deny".to_string())
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "Flux never put it back");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (_, status, _) = run.tighten(&["status", "-n", &ns, "-o", "json"], "");
    let status: Value = serde_json::from_str(&status).unwrap_or_else(|e| panic!("{e}: {status}"));
    assert_eq!(
        status["namespaces"][0]["drift"],
        json!(["intent is Baseline but the objects show Enforced"]),
        "tighten shows the drift Flux made: {status:#}"
    );

    // With the suspend: deleted, and Flux leaves it alone through two
    // reconcile intervals; the revert commit waits on its branch.
    let (code, out, err) = run.tighten(
        &[
            "rollback",
            &ns,
            "--partial",
            "--yes",
            "--repo",
            &checkout.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("revert committed"), "{out}");
    let revert = out
        .lines()
        .find_map(|l| l.split(" on branch ").nth(1))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert_eq!(kustomization(&client, &ns).await.data["spec"]["suspend"], true);
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(
        !policy_names(&client, &ns)
            .await
            .contains(&"tighten-default-deny".to_string()),
        "Flux put the default-deny back while suspended"
    );
    // 4. The revert merged and Flux resumed: Git and the cluster agree.
    git(&checkout, &["push", "-q", "origin", &format!("{revert}:main")]);
    let revert_commit = git(&checkout, &["rev-parse", &revert]);
    let (code, out, err) = run.tighten(&["resume", &ns, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    applied(&client, &ns, &revert_commit).await;
    let names = policy_names(&client, &ns).await;
    assert!(!names.contains(&"tighten-default-deny".to_string()), "{names:?}");
    assert!(names.contains(&"tighten-baseline-dns".to_string()), "{names:?}");
    assert_eq!(phase(&run, &ns).0, "Baseline");
}
