use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::cluster::{GitRepositoryInfo, GitSpec, KustomizationInfo, NamespaceInfo};
use crate::policy::{TemplateVars, Templates};
use crate::rollout::{Change, RolloutAction, RolloutPlan};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(path, text).expect("write");
}

fn git(dir: &Path, args: &[&str]) -> String {
    Git::new(dir).run(args).unwrap_or_else(|e| panic!("{e}"))
}

/// A team's fleet repository (served as a bare "origin") and a checkout of
/// it: Flux applies `clusters/test`, which includes the shop's folder, whose
/// kustomization sets the namespace; the team's own allow names none.
struct Fleet {
    _dir: tempfile::TempDir,
    origin: std::path::PathBuf,
    checkout: std::path::PathBuf,
}

const TEAM_ALLOW: &str = "# the storefront talks to the API only\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: web-to-api\nspec:\n  endpointSelector:\n    matchLabels:\n      app: api\n  enableDefaultDeny:\n    ingress: false\n    egress: false\n  ingress:\n  - fromEndpoints:\n    - matchLabels:\n        app: web\n";

fn fleet() -> Fleet {
    let dir = tempfile::tempdir().expect("tempdir");
    let origin = dir.path().join("fleet.git");
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&seed).expect("seed");
    git(&seed, &["init", "-q", "-b", "main"]);
    for (key, value) in [("user.name", "Platform Team"), ("user.email", "platform@example.com")] {
        git(&seed, &["config", key, value]);
    }
    write(
        &seed,
        "clusters/test/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../apps/shop\n",
    );
    write(
        &seed,
        "apps/shop/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources:\n  - namespace.yaml\n  - web-to-api.yaml   # owned by the shop team\n",
    );
    write(
        &seed,
        "apps/shop/namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    write(&seed, "apps/shop/web-to-api.yaml", TEAM_ALLOW);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "the shop"]);
    let origin_arg = origin.display().to_string();
    git(dir.path(), &["clone", "-q", "--bare", "seed", &origin_arg]);
    let checkout = dir.path().join("checkout");
    let checkout_arg = checkout.display().to_string();
    git(dir.path(), &["clone", "-q", &origin_arg, &checkout_arg]);
    for (key, value) in [("user.name", "Operator"), ("user.email", "operator@example.com")] {
        git(&checkout, &["config", key, value]);
    }
    Fleet {
        _dir: dir,
        origin,
        checkout,
    }
}

fn snapshot(fleet: &Fleet) -> ClusterSnapshot {
    ClusterSnapshot {
        namespaces: vec![NamespaceInfo {
            name: "shop".into(),
            labels: BTreeMap::from([
                ("kustomize.toolkit.fluxcd.io/name".to_string(), "apps".to_string()),
                (
                    "kustomize.toolkit.fluxcd.io/namespace".to_string(),
                    "flux-system".to_string(),
                ),
            ]),
            annotations: BTreeMap::new(),
            uid: None,
            resource_version: None,
            created: None,
        }],
        kustomizations: Some(vec![KustomizationInfo {
            namespace: "flux-system".into(),
            name: "apps".into(),
            suspended: false,
            resource_version: None,
            parent: None,
            annotations: BTreeMap::new(),
            git: GitSpec {
                path: Some("./clusters/test".into()),
                source: Some(("GitRepository".into(), "flux-system".into(), "fleet".into())),
                ..GitSpec::default()
            },
        }]),
        git_repositories: Some(vec![GitRepositoryInfo {
            namespace: "flux-system".into(),
            name: "fleet".into(),
            url: format!("file://{}", fleet.origin.display()),
            branch: Some("main".into()),
            fetched_revision: None,
        }]),
        ..ClusterSnapshot::default()
    }
}

/// The new text of the draft's file whose path ends with `suffix`.
fn after(draft: &Draft, suffix: &str) -> String {
    draft
        .edits
        .iter()
        .find(|e| e.path.ends_with(suffix))
        .and_then(|e| e.after.clone())
        .unwrap_or_else(|| panic!("no new {suffix} in {:?}", draft.edits))
}

fn plan(action: RolloutAction, changes: Vec<Change>) -> RolloutPlan {
    RolloutPlan {
        action,
        namespace: "shop".into(),
        namespace_version: None,
        changes,
        annotations: Default::default(),
        backup_to: None,
        reason: None,
        warnings: Vec::new(),
        owners: Vec::new(),
        read: Vec::new(),
    }
}

fn target(fleet: &Fleet) -> Target {
    match route(&snapshot(fleet), "shop", Some(&fleet.checkout)) {
        Route::Git(target) => target,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flux_owned_namespace_routes_to_its_folder_in_the_checkout() {
    let fleet = fleet();
    let target = target(&fleet);
    assert_eq!(target.folder, Path::new("clusters/test"));
    assert_eq!(target.branch, "main");
    assert_eq!(target.remote.as_deref(), Some("origin"));
    assert_eq!(target.base(), "origin/main");
    // No checkout configured, or another repository: export, saying why.
    let snapshot = snapshot(&fleet);
    match route(&snapshot, "shop", None) {
        Route::Export { why, .. } => assert!(why.contains("no repository is configured"), "{why}"),
        other => panic!("{other:?}"),
    }
    git(
        &fleet.checkout,
        &["remote", "set-url", "origin", "https://git.example.com/other.git"],
    );
    match route(&snapshot, "shop", Some(&fleet.checkout)) {
        Route::Export { why, .. } => {
            assert!(
                why.contains("is not the repository Flux Kustomization flux-system/apps reads"),
                "{why}"
            );
            assert!(why.contains("origin https://git.example.com/other.git"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // A namespace no reconciler owns keeps the direct path.
    assert_eq!(route(&snapshot, "elsewhere", Some(&fleet.checkout)), Route::Direct);
}

#[test]
fn the_baseline_is_committed_on_a_branch_in_the_repositorys_style() {
    let fleet = fleet();
    let target = target(&fleet);
    let templates = Templates::embedded();
    let baseline = templates
        .render_baseline(&TemplateVars::for_namespace("shop"))
        .expect("baseline");
    let plan = plan(
        RolloutAction::ApplyBaseline,
        baseline.iter().cloned().map(Change::Create).collect(),
    );
    let work = tempfile::tempdir().expect("work");
    let draft = Draft::prepare(
        &target,
        &plan,
        "tighten: apply baseline in shop".into(),
        BRANCH_TEMPLATE,
        work.path(),
    )
    .expect("draft");
    assert_eq!(draft.placement.home, Path::new("apps/shop"));
    assert!(!draft.placement.names_namespace, "the shop's files name no namespace");
    let paths: Vec<String> = draft.edits.iter().map(|e| e.path.display().to_string()).collect();
    assert!(paths.contains(&"apps/shop/kustomization.yaml".to_string()), "{paths:?}");
    assert!(
        paths.contains(&"apps/shop/tighten-baseline-dns.yaml".to_string()),
        "{paths:?}"
    );
    let kustomization = after(&draft, "kustomization.yaml");
    assert!(
        kustomization.contains("  - web-to-api.yaml   # owned by the shop team\n  - tighten-baseline-dns.yaml\n"),
        "{kustomization}"
    );
    let dns = after(&draft, "tighten-baseline-dns.yaml");
    assert!(!dns.contains("namespace: shop"), "{dns}");
    if let Ok(built) = &draft.built_after {
        let rendered = draft.rendered().expect("rendered");
        assert!(built.contains("tighten-baseline-dns"));
        assert_eq!(rendered.len(), 6, "the team's allow and five baseline policies");
        assert!(rendered.iter().all(|p| p.namespace.as_deref() == Some("shop")));
    }
    let head = git(&fleet.checkout, &["rev-parse", "HEAD"]);
    let committed = draft.commit(false, false).expect("commit");
    drop(draft);
    assert_eq!(committed.branch, "tighten/shop-apply-baseline");
    // The operator's checkout: same commit, same branch, clean, no worktree left.
    assert_eq!(git(&fleet.checkout, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&fleet.checkout, &["branch", "--show-current"]), "main");
    assert_eq!(git(&fleet.checkout, &["status", "--porcelain"]), "");
    assert_eq!(git(&fleet.checkout, &["worktree", "list"]).lines().count(), 1);
    assert_eq!(
        git(
            &fleet.checkout,
            &["log", "-1", "--format=%s", "tighten/shop-apply-baseline"]
        ),
        "tighten: apply baseline in shop"
    );
    assert!(committed.next.contains("git -C") && committed.next.contains("push origin tighten/shop-apply-baseline"));
    // Again: the branch name is taken, so the next one gets a suffix.
    let draft = Draft::prepare(&target, &plan, "again".into(), BRANCH_TEMPLATE, work.path()).expect("draft");
    assert_eq!(draft.branch, "tighten/shop-apply-baseline-2");
    assert!(draft.commit(false, true).expect_err("read-only").contains("read-only"));
    drop(draft);
    assert_eq!(git(&fleet.checkout, &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn a_policy_of_the_folder_changes_in_place_and_one_from_a_shared_base_by_a_patch() {
    let fleet = fleet();
    let checkout = &fleet.checkout;
    // The default-deny comes from a shared base every team includes.
    write(
        checkout,
        "bases/default-deny/kustomization.yaml",
        "resources:\n- default-deny.yaml\n",
    );
    write(
        checkout,
        "bases/default-deny/default-deny.yaml",
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: default-deny\nspec:\n  endpointSelector: {}\n  enableDefaultDeny:\n    ingress: false\n    egress: false\n  ingress:\n  - {}\n  egress:\n  - {}\n",
    );
    let k = checkout.join("apps/shop/kustomization.yaml");
    let text = std::fs::read_to_string(&k).expect("k");
    std::fs::write(&k, edit::add_list_item(&text, "resources", "../../bases/default-deny")).expect("k");
    git(checkout, &["add", "-A"]);
    git(checkout, &["commit", "-q", "-m", "shared default-deny"]);
    git(checkout, &["push", "-q", "origin", "main"]);
    let target = target(&fleet);
    let work = tempfile::tempdir().expect("work");

    let read = |path: &str| {
        let text = std::fs::read_to_string(checkout.join(path)).expect("read");
        let mut value: serde_json::Value = serde_yaml::from_str(&text).expect("yaml");
        value["metadata"]["namespace"] = "shop".into();
        PolicyObject::from_manifest(&value).expect("policy")
    };
    let deny = read("bases/default-deny/default-deny.yaml");
    let enforced = crate::rollout::plan::with_enforcement(&deny, true);
    let draft = Draft::prepare(
        &target,
        &plan(
            RolloutAction::Enforce,
            vec![Change::Update {
                before: deny.clone(),
                after: enforced,
            }],
        ),
        "enforce".into(),
        BRANCH_TEMPLATE,
        work.path(),
    )
    .expect("draft");
    assert_eq!(draft.edits.len(), 1, "{:?}", draft.edits);
    let patched = draft.edits[0].after.clone().expect("kustomization");
    assert!(
        patched.contains("patches:\n- target:\n    kind: CiliumNetworkPolicy\n    name: default-deny"),
        "{patched}"
    );
    assert!(
        patched.contains(r#""enableDefaultDeny":{"egress":true,"ingress":true}"#),
        "{patched}"
    );
    if draft.built_after.is_ok() {
        let rendered = draft.rendered().expect("rendered");
        let deny = rendered
            .iter()
            .find(|p| p.name == "default-deny")
            .expect("default-deny");
        assert_eq!(crate::rollout::phase::default_deny_flags(deny), (true, true));
    }
    drop(draft);

    // The team's own allow lives in the folder: changed in place, comment kept
    // above it; deleting it removes the file and its resources entry.
    let allow = read("apps/shop/web-to-api.yaml");
    let draft = Draft::prepare(
        &target,
        &plan(RolloutAction::RollbackNamespace, vec![Change::Delete(allow)]),
        "rollback".into(),
        BRANCH_TEMPLATE,
        work.path(),
    )
    .expect("draft");
    let removed = draft
        .edits
        .iter()
        .find(|e| e.path.ends_with("web-to-api.yaml"))
        .expect("the file");
    assert_eq!(removed.after, None);
    let kustomization = after(&draft, "kustomization.yaml");
    assert!(!kustomization.contains("web-to-api.yaml"), "{kustomization}");
    assert!(kustomization.contains("- namespace.yaml"), "{kustomization}");
    drop(draft);
}

#[test]
fn where_the_repository_shares_by_components_the_baseline_becomes_one() {
    let fleet = fleet();
    let checkout = &fleet.checkout;
    write(
        checkout,
        "components/team-labels/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- pairs:\n    team: shop\n",
    );
    let k = checkout.join("apps/shop/kustomization.yaml");
    let text = std::fs::read_to_string(&k).expect("k");
    std::fs::write(&k, format!("{text}components:\n  - ../../components/team-labels\n")).expect("k");
    git(checkout, &["add", "-A"]);
    git(checkout, &["commit", "-q", "-m", "components"]);
    git(checkout, &["push", "-q", "origin", "main"]);
    let target = target(&fleet);
    let baseline = Templates::embedded()
        .render_baseline(&TemplateVars::for_namespace("shop"))
        .expect("baseline");
    let plan = plan(
        RolloutAction::ApplyBaseline,
        baseline.iter().cloned().map(Change::Create).collect(),
    );
    let work = tempfile::tempdir().expect("work");
    let draft = Draft::prepare(&target, &plan, "baseline".into(), BRANCH_TEMPLATE, work.path()).expect("draft");
    assert_eq!(
        draft.placement.baseline_component.as_deref(),
        Some(Path::new("components/tighten-baseline"))
    );
    let paths: Vec<String> = draft.edits.iter().map(|e| e.path.display().to_string()).collect();
    assert!(
        paths.contains(&"components/tighten-baseline/kustomization.yaml".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"components/tighten-baseline/tighten-baseline-dns.yaml".to_string()),
        "{paths:?}"
    );
    let component = after(&draft, "tighten-baseline/kustomization.yaml");
    assert!(
        component.contains("kind: Component\nresources:\n- tighten-baseline-dns.yaml"),
        "{component}"
    );
    let shop = after(&draft, "apps/shop/kustomization.yaml");
    assert!(
        shop.contains("components:\n  - ../../components/team-labels\n  - ../../components/tighten-baseline\n"),
        "{shop}"
    );
    if draft.built_after.is_ok() {
        let rendered = draft.rendered().expect("rendered");
        let baseline: Vec<_> = rendered
            .iter()
            .filter(|p| p.name.starts_with("tighten-baseline-"))
            .collect();
        assert_eq!(
            baseline.len(),
            5,
            "every baseline policy is built into shop: {rendered:#?}"
        );
        assert!(baseline.iter().all(|p| p.namespace.as_deref() == Some("shop")));
    }
}

#[test]
fn an_argo_cd_application_routes_by_its_repo_url_and_path() {
    let fleet = fleet();
    let mut snapshot = ClusterSnapshot {
        namespaces: vec![NamespaceInfo {
            name: "shop".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::from([(
                crate::rollout::labels::ARGO_TRACKING.to_string(),
                "fleet:/Namespace:shop/shop".to_string(),
            )]),
            uid: None,
            resource_version: None,
            created: None,
        }],
        applications: Some(vec![crate::cluster::ApplicationInfo {
            namespace: "argocd".into(),
            name: "fleet".into(),
            automated: None,
            resource_version: None,
            parent: None,
            annotations: BTreeMap::new(),
            git: GitSpec {
                path: Some("clusters/test".into()),
                repo_url: Some(format!("file://{}", fleet.origin.display())),
                ..GitSpec::default()
            },
        }]),
        ..ClusterSnapshot::default()
    };
    let Route::Git(target) = route(&snapshot, "shop", Some(&fleet.checkout)) else {
        panic!("{:?}", route(&snapshot, "shop", Some(&fleet.checkout)))
    };
    assert_eq!(target.owner.describe(), "Argo CD Application argocd/fleet");
    assert_eq!(target.folder, Path::new("clusters/test"));
    assert_eq!(target.branch, "main", "the remote's default branch");
    // Another repository: export, naming it.
    if let Some(apps) = snapshot.applications.as_mut() {
        apps[0].git.repo_url = Some("https://git.example.com/platform/other.git".into());
    }
    match route(&snapshot, "shop", Some(&fleet.checkout)) {
        Route::Export { why, .. } => assert!(why.contains("platform/other.git"), "{why}"),
        other => panic!("{other:?}"),
    }
}
