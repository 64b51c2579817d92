//! GitOps-aware break-glass against the real Flux Kustomization and Argo CD
//! Application CRDs: owners found on the policies, paused in the rollback's
//! own confirmed step with who/when/why, the parent that would undo it named,
//! the namespace flagged, and the resume putting everything back.

use kube::api::{Api, DynamicObject, PostParams};

use serde_json::json;

use tighten::cluster::PolicyKind;
use tighten::cluster::live::resources;

use super::cli::Run;
use super::{admin, control_plane, create_namespace, unique};

async fn object(resource: &kube::api::ApiResource, namespace: &str, name: &str) -> DynamicObject {
    Api::<DynamicObject>::namespaced_with(admin().await, namespace, resource)
        .get(name)
        .await
        .expect("object")
}

async fn create(resource: &kube::api::ApiResource, namespace: &str, body: serde_json::Value) {
    let object: DynamicObject = serde_json::from_value(body).expect("object");
    Api::<DynamicObject>::namespaced_with(admin().await, namespace, resource)
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
}

#[tokio::test]
async fn a_rollback_pauses_flux_and_argo_in_its_own_step_and_resume_undoes_it() {
    let client = admin().await;
    let (ns, flux_ns, argo_ns) = (unique("gitops"), unique("flux"), unique("argo"));
    for name in [&ns, &flux_ns, &argo_ns] {
        create_namespace(&client, name).await;
    }
    let kustomization = resources::kustomization_resource();
    let application = resources::application_resource();
    let cnp = resources::policy_resource(PolicyKind::CiliumNetworkPolicy);
    let flux_spec = json!({"interval": "10m", "prune": true, "path": "./", "sourceRef": {"kind": "GitRepository", "name": "fleet"}});
    // The root applies `apps`, which applies the namespace's policies.
    create(
        &kustomization,
        &flux_ns,
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "root"}, "spec": flux_spec}),
    )
    .await;
    create(
        &kustomization,
        &flux_ns,
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "apps", "labels": {"kustomize.toolkit.fluxcd.io/name": "root",
                                                       "kustomize.toolkit.fluxcd.io/namespace": flux_ns}},
               "spec": flux_spec}),
    )
    .await;
    create(
        &application,
        &argo_ns,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "shop"},
               "spec": {"project": "default",
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
                        "source": {"repoURL": "https://git.example/fleet", "path": "shop", "targetRevision": "main"},
                        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}}),
    )
    .await;
    let policy = |name: &str, labels: serde_json::Value, annotations: serde_json::Value| {
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
               "metadata": {"name": name, "labels": labels, "annotations": annotations},
               "spec": {"endpointSelector": {"matchLabels": {"app": name}},
                        "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}]}]}})
    };
    let flux_labels =
        json!({"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": flux_ns});
    create(&cnp, &ns, policy("api", flux_labels.clone(), json!({}))).await;
    create(&cnp, &ns, policy("worker", flux_labels, json!({}))).await;
    let tracking = format!("{argo_ns}_shop:cilium.io/CiliumNetworkPolicy:{ns}/shop");
    create(
        &cnp,
        &ns,
        policy("shop", json!({}), json!({"argocd.argoproj.io/tracking-id": tracking})),
    )
    .await;

    let home = tempfile::tempdir().expect("home");
    let run = Run {
        home: home.path(),
        kubeconfig: control_plane::get().admin.clone(),
    };
    // The owners show in the status.
    let (_, out, err) = run.tighten(&["status", "-n", &ns, "-o", "json"], "");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let owner = report["namespaces"][0]["owner"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        owner.starts_with("Argo CD Application") || owner.starts_with("Flux Kustomization"),
        "{report}"
    );

    // --dry-run shows both pauses, checked by the API server, and the parent.
    let (code, out, err) = run.tighten(&["rollback", &ns, "--dry-run"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("✓ [x] suspend Flux Kustomization {flux_ns}/apps")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "✓ [x] turn off auto-sync of Argo CD Application {argo_ns}/shop"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Flux Kustomization {flux_ns}/apps is itself applied by Flux Kustomization {flux_ns}/root"
        )),
        "{out}"
    );
    assert_eq!(
        object(&kustomization, &flux_ns, "apps").await.data["spec"]["suspend"],
        json!(null)
    );

    // The rollback, confirmed with the name: owners paused first, then the deletes.
    let (code, out, err) = run.tighten(&["rollback", &ns], &format!("{ns}\n"));
    assert_eq!(code, 0, "{out}{err}");
    let apps = object(&kustomization, &flux_ns, "apps").await;
    assert_eq!(apps.data["spec"]["suspend"], true);
    let annotations = apps.metadata.annotations.clone().unwrap_or_default();
    assert!(!annotations["tighten.dev/suspended-by"].is_empty());
    assert!(annotations.contains_key("tighten.dev/suspended-at"));
    assert_eq!(
        annotations["tighten.dev/suspended-reason"],
        format!("tighten rollback-namespace of {ns}")
    );
    let shop = object(&application, &argo_ns, "shop").await;
    assert!(
        shop.data["spec"]["syncPolicy"]
            .get("automated")
            .is_none_or(|a| a.is_null()),
        "{shop:?}"
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &cnp);
    assert!(api.list(&Default::default()).await.expect("list").items.is_empty());
    let namespace = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .get(&ns)
        .await
        .expect("ns");
    assert_eq!(
        namespace.metadata.annotations.unwrap_or_default()["tighten.dev/paused-owners"],
        format!("flux:{flux_ns}/apps,argo:{argo_ns}/shop")
    );
    // Still flagged: the status names the paused owners.
    let (_, out, _) = run.tighten(&["status", "-n", &ns], "");
    assert!(out.contains("GitOps paused"), "{out}");

    // Resume: a dry run, a declined prompt, then --yes puts both back and clears the flag.
    let (code, out, err) = run.tighten(&["resume", &ns, "--dry-run"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("✓ resume Flux Kustomization {flux_ns}/apps")),
        "{out}"
    );
    assert!(out.contains("re-applies what Git holds"), "{out}");
    let (code, _, err) = run.tighten(&["resume", &ns], "n\n");
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        object(&kustomization, &flux_ns, "apps").await.data["spec"]["suspend"],
        true
    );
    let (code, out, err) = run.tighten(&["resume", &ns, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    let apps = object(&kustomization, &flux_ns, "apps").await;
    assert_eq!(apps.data["spec"]["suspend"], false);
    assert!(
        !apps
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("tighten.dev/suspended-by")
    );
    let shop = object(&application, &argo_ns, "shop").await;
    assert_eq!(
        shop.data["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true})
    );
    let (code, _, err) = run.tighten(&["resume", &ns, "--yes"], "");
    assert_eq!(code, 0, "nothing left to resume: {err}");
    assert!(err.contains("nothing to change"), "{err}");
}

#[tokio::test]
async fn a_user_who_cannot_read_argo_applications_still_gets_status_and_a_warning() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let client = admin().await;
    let ns = unique("noargo");
    create_namespace(&client, &ns).await;
    let group = format!("tighten:{ns}");
    // Everything the cockpit reads and a rollback writes, except Argo CD's Applications.
    let all = ["get", "list", "watch", "create", "patch", "delete"];
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": format!("tighten-{ns}")},
        "rules": [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": [""], "resources": ["pods", "services", "events", "configmaps"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"], "verbs": ["create"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": all},
            {"apiGroups": ["cilium.io"], "resources": ["ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"], "verbs": all},
            {"apiGroups": ["kustomize.toolkit.fluxcd.io"], "resources": ["kustomizations"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["get", "list", "watch"]}
        ]
    }))
    .expect("role");
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .expect("role created");
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("tighten-{ns}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("tighten-{ns}")},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]
    }))
    .expect("binding");
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("binding created");
    let tracking = format!("shop:cilium.io/CiliumNetworkPolicy:{ns}/shop");
    create(
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
        &ns,
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
               "metadata": {"name": "shop", "annotations": {"argocd.argoproj.io/tracking-id": tracking}},
               "spec": {"endpointSelector": {}, "ingress": [{"fromEndpoints": [{}]}]}}),
    )
    .await;

    // The admin, impersonating a user of that group only.
    let home = tempfile::tempdir().expect("home");
    let mut kubeconfig: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&control_plane::get().admin).expect("admin kubeconfig"))
            .expect("yaml");
    for user in kubeconfig["users"].as_sequence_mut().expect("users") {
        user["user"]["as"] = serde_yaml::Value::from("limited");
        user["user"]["as-groups"] = serde_yaml::Value::Sequence(vec![serde_yaml::Value::from(group.clone())]);
    }
    let path = home.path().join("limited.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&kubeconfig).expect("yaml")).expect("written");
    let run = Run {
        home: home.path(),
        kubeconfig: path,
    };
    let (code, out, err) = run.tighten(&["status", "-n", &ns], "");
    assert_eq!(code, 1, "readable, with open gates, not unreachable: {out}{err}");
    assert!(out.contains(&ns), "{out}");
    // The owner cannot be read: said, not pretended away; the break-glass still works.
    let (code, out, err) = run.tighten(&["rollback", &ns, "--dry-run"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Argo CD Application argocd/shop applies these policies but cannot be read here"),
        "{out}"
    );
    assert!(
        !out.contains("[x]"),
        "no pause offered for an owner it cannot read: {out}"
    );
    let (code, out, err) = run.tighten(&["rollback", &ns, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
}
