use super::*;

fn paths(paths: &[&Path]) -> Sources {
    Sources {
        paths: paths.iter().map(|p| p.to_path_buf()).collect(),
        ..Sources::default()
    }
}

/// Writes `files` (path, text) under a fresh checkout root.
pub(super) fn checkout(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join(".git")).expect(".git");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// `namespace/name` of each policy read, in order.
fn names(loaded: &Loaded) -> Vec<String> {
    loaded
        .objects
        .iter()
        .map(|o| format!("{}/{}", o.namespace.as_deref().unwrap_or("-"), o.name))
        .collect()
}

const CNP: &str = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: NAME}\nspec: {endpointSelector: {}, ingress: [{}]}\n";

fn cnp(name: &str) -> String {
    CNP.replace("NAME", name)
}

#[test]
fn files_directories_and_lists_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("overlays/shop")).expect("dirs");
    std::fs::write(
        dir.path().join("overlays/shop/policies.yaml"),
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {endpointSelector: {}, ingress: [{}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("list.yml"),
        "kind: List\nitems:\n- kind: NetworkPolicy\n  metadata: {name: n, namespace: shop}\n  spec: {podSelector: {}}\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("README.md"), "not yaml").expect("write");
    let loaded = load(&paths(&[dir.path()])).expect("loads");
    assert_eq!(loaded.parsed.len(), 2);
    assert_eq!(loaded.skipped, 1);
}

#[test]
fn errors_name_the_file_document_and_line() {
    let mut loaded = Loaded::default();
    let text = "kind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {endpointSelector: {}, ingress: [{}]}\n---\nkind: [broken\n";
    let err = load_text(Path::new("p.yaml"), text, &mut loaded).expect_err("broken");
    assert_eq!(err.document, 2);
    assert!(err.to_string().starts_with("p.yaml:"), "{err}");
    let bad_entity = "kind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {endpointSelector: {}, egress: [{toEntities: [moon]}]}\n";
    // A policy the API server would refuse is read (lint judges it) but not
    // applied, and where it is and why is kept.
    let before = (loaded.objects.len(), loaded.parsed.len());
    load_text(Path::new("q.yaml"), bad_entity, &mut loaded).expect("read");
    assert_eq!((loaded.objects.len(), loaded.parsed.len()), (before.0 + 1, before.1));
    let refused = loaded.refused.last().expect("refused").to_string();
    assert!(
        refused.starts_with("q.yaml: document 1: ")
            && refused.contains("toEntities[0]")
            && refused.contains("rejected by the API server"),
        "{refused}"
    );
    let err = load(&paths(&[Path::new("/nonexistent/path")])).expect_err("missing");
    assert_eq!(err.to_string(), "/nonexistent/path: no such file or directory");
}

#[test]
fn the_namespace_comes_from_the_kustomization_then_the_file_then_the_flag() {
    let repo = checkout(&[
        (
            "apps/shop/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources:\n- policies/allow-dns.yaml\n- policies/own.yaml\n",
        ),
        ("apps/shop/policies/allow-dns.yaml", &cnp("allow-dns")),
        (
            "apps/shop/policies/own.yaml",
            &cnp("own").replace("{name: own}", "{name: own, namespace: team}"),
        ),
        ("apps/shop/policies/unlisted.yaml", &cnp("unlisted")),
        (
            "apps/shop/policies/clusterwide.yaml",
            &cnp("cw").replace("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"),
        ),
    ]);
    let dir = repo.path().join("apps");
    let loaded = load(&paths(&[&dir])).expect("loads");
    assert_eq!(
        names(&loaded),
        ["shop/allow-dns", "-/cw", "shop/own", "default/unlisted"],
        "kustomize's namespace wins over the file's own, for the files it includes"
    );
    assert_eq!(loaded.skipped, 1, "the kustomization");
    // Selectors are scoped by the namespace given, not the file's.
    assert_eq!(
        loaded.parsed[0].policy.rules[0].subject.namespace.as_deref(),
        Some("shop")
    );

    let flagged = Sources {
        namespace: Some("payments".into()),
        ..paths(&[&dir])
    };
    let loaded = load(&flagged).expect("loads");
    assert_eq!(
        names(&loaded),
        ["shop/allow-dns", "-/cw", "shop/own", "payments/unlisted"]
    );
}

#[test]
fn json_files_are_read_and_other_json_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("allow-web.json"),
        "{\n\t\"apiVersion\": \"cilium.io/v2\",\n\t\"kind\": \"CiliumNetworkPolicy\",\n\t\"metadata\": {\"name\": \"allow-web\", \"namespace\": \"shop\"},\n\t\"spec\": {\"endpointSelector\": {}, \"ingress\": [{}]}\n}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("package.json"),
        "{\"name\": \"tools\", \"version\": \"1.0.0\"}",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("dashboard.json"),
        "{\"title\": \"Drops\", \"panels\": []}",
    )
    .expect("write");
    std::fs::write(dir.path().join("array.json"), "[1, 2]").expect("write");
    let loaded = load(&paths(&[dir.path()])).expect("loads");
    assert_eq!(names(&loaded), ["shop/allow-web"]);
    assert_eq!(loaded.skipped, 3);

    std::fs::write(dir.path().join("broken.json"), "{\n  \"kind\": \n").expect("write");
    let err = load(&paths(&[dir.path()])).expect_err("broken");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:3: document 1:", dir.path().join("broken.json").display())),
        "{err}"
    );

    // A document without kind is still an error in a YAML file.
    let mut loaded = Loaded::default();
    let err = load_text(Path::new("values.yaml"), "replicas: 2\n", &mut loaded).expect_err("no kind");
    assert_eq!(err.to_string(), "values.yaml: document 1: the document has no kind");
}

#[test]
fn a_path_without_policies_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = load(&paths(&[dir.path()])).expect_err("empty");
    assert_eq!(err.file, dir.path());
    assert!(err.message.contains("no *.yaml, *.yml or *.json file"), "{err}");

    std::fs::write(
        dir.path().join("deploy.yaml"),
        "kind: Deployment\nmetadata: {name: d}\n",
    )
    .expect("write");
    std::fs::create_dir(dir.path().join(".github")).expect("dir");
    std::fs::write(dir.path().join(".github/ci.yaml"), "on: push\n").expect("write");
    let err = load(&paths(&[dir.path()])).expect_err("no policy");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no policy in the 1 files under the directory (1 other objects)",
            dir.path().display()
        )
    );
    let file = dir.path().join("deploy.yaml");
    let err = load(&paths(&[&file])).expect_err("no policy");
    assert_eq!(
        err.to_string(),
        format!("{}: no policy in the file (1 other objects)", file.display())
    );

    // Each path must hold a policy, not only the first.
    std::fs::write(dir.path().join("p.yaml"), cnp("p")).expect("write");
    let err = load(&paths(&[dir.path(), &file])).expect_err("second path");
    assert_eq!(err.file, file);
    let kustomization = dir.path().join("kustomization.yaml");
    std::fs::write(&kustomization, "resources: [p.yaml]\n").expect("write");
    let err = load(&paths(&[&kustomization])).expect_err("kustomization");
    assert!(err.message.contains("build it with -k"), "{err}");
}

#[test]
fn variables_are_substituted_before_parsing() {
    let repo = checkout(&[(
        "apps/shop/allow-egress.yaml",
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: allow-egress\n  namespace: ${TEAM:=shop}\nspec:\n  endpointSelector: {}\n  egress:\n  - toCIDR: [\"${CLUSTER_CIDR}\"]\n",
    )]);
    let file = repo.path().join("apps/shop/allow-egress.yaml");
    let err = load(&paths(&[&file])).expect_err("no value");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:9: ${{CLUSTER_CIDR}} has no value: give it with --var CLUSTER_CIDR=...",
            file.display()
        )
    );
    let sources = Sources {
        vars: BTreeMap::from([("CLUSTER_CIDR".to_string(), "10.0.0.0/8".to_string())]),
        ..paths(&[&file])
    };
    let loaded = load(&sources).expect("loads");
    assert_eq!(names(&loaded), ["shop/allow-egress"]);
    assert_eq!(
        loaded.objects[0].spec().expect("spec")["egress"][0]["toCIDR"][0],
        "10.0.0.0/8"
    );
}
