//! A rollout tighten did not start, on the real API server: a team's own
//! baseline and default-deny (their names, no tighten labels, the explicit
//! deny form), validated by the real Cilium CRD schema. tighten reads its
//! phase from what the policies do, rolls back exactly the default-deny,
//! adopts it, and flips the team's default-deny for stage and enforce.

use kube::api::{Api, DeleteParams, DynamicObject};
use serde_json::{Value, json};

use tighten::cluster::PolicyKind;
use tighten::cluster::live::resources;

use super::cli::Run;
use super::{admin, apply_policy, control_plane, create_namespace, unique};

const REASON: &str = "no Hubble in the test cluster";

/// The team's fixture policies, applied into `namespace` as their GitOps tool would.
async fn apply_team_rollout(namespace: &str) {
    let client = admin().await;
    for file in ["policies.yaml", "app-allows.yaml"] {
        let path = format!("{}/tests/fixtures/team-rollout/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture");
        for document in serde_yaml::Deserializer::from_str(&text) {
            let mut manifest: Value = serde::Deserialize::deserialize(document).expect("yaml");
            manifest["metadata"]["namespace"] = json!(namespace);
            apply_policy(&client, manifest).await;
        }
    }
}

/// A fresh namespace holding the team's rollout, and a home for tighten's files.
async fn team_namespace(prefix: &str) -> (String, tempfile::TempDir) {
    let ns = unique(prefix);
    create_namespace(&admin().await, &ns).await;
    apply_team_rollout(&ns).await;
    (ns, tempfile::tempdir().expect("home"))
}

async fn cnp(namespace: &str, name: &str) -> Option<DynamicObject> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        admin().await,
        namespace,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
    );
    api.get_opt(name).await.expect("get")
}

async fn cnp_names(namespace: &str) -> Vec<String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        admin().await,
        namespace,
        &resources::policy_resource(PolicyKind::CiliumNetworkPolicy),
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

/// `tighten status -n NS -o json`'s report of the namespace.
fn status(run: &Run<'_>, namespace: &str) -> Value {
    let (_, out, err) = run.tighten(&["status", "-n", namespace, "-o", "json"], "");
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    report["namespaces"][0].clone()
}

/// `tighten enforce NS` past the gate (no Hubble here); the team's
/// default-deny, switched on, as the API server then holds it.
async fn enforce_the_teams_default_deny(run: &Run<'_>, namespace: &str) -> DynamicObject {
    let (code, out, err) = run.tighten(&["enforce", namespace, "--yes", "--override", REASON], "");
    assert_eq!(code, 0, "{out}{err}");
    let deny = cnp(namespace, "default-deny").await.expect("default-deny");
    assert_eq!(
        deny.data["spec"]["enableDefaultDeny"],
        json!({"ingress": true, "egress": true})
    );
    deny
}

fn run_in(home: &std::path::Path) -> Run<'_> {
    Run {
        home,
        kubeconfig: control_plane::get().admin.clone(),
    }
}

#[tokio::test]
async fn a_teams_rollout_reads_enforced_and_the_partial_rollback_removes_only_its_default_deny() {
    let (ns, home) = team_namespace("team").await;
    let run = run_in(home.path());

    let report = status(&run, &ns);
    assert_eq!(report["phase"], "Enforced", "{report:#}");
    assert_eq!(report["adopted"], false);
    assert!(report["drift"].as_array().is_some_and(Vec::is_empty), "{report:#}");
    let roles: Vec<String> = report["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| format!("{} {} {}", r["policy"].as_str().unwrap_or(""), r["role"], r["by"]))
        .collect();
    assert!(
        roles.contains(&format!("{ns}/allow-dns \"baseline/dns\" \"team\"")),
        "{roles:?}"
    );
    assert!(
        roles.contains(&format!("{ns}/default-deny \"default-deny\" \"team\"")),
        "{roles:?}"
    );
    let posture = report["posture"].to_string();
    assert!(posture.contains("ingressDeny: [{}]"), "{posture}");

    // The table says it is not adopted, and how to adopt it.
    let (_, table, _) = run.tighten(&["status", "-n", &ns], "");
    assert!(
        table.contains(&format!("`tighten adopt {ns}` records intent")),
        "{table}"
    );

    // Break-glass: only the default-deny goes, every allow stays.
    let before = cnp(&ns, "default-deny").await.expect("the team's default-deny");
    let all = cnp_names(&ns).await;
    let (code, out, err) = run.tighten(&["rollback", &ns, "--partial"], &format!("{ns}\n"));
    assert_eq!(code, 0, "{out}{err}");
    let left = cnp_names(&ns).await;
    assert_eq!(left.len(), all.len() - 1, "{left:?}");
    assert!(!left.contains(&"default-deny".to_string()));
    assert_eq!(status(&run, &ns)["phase"], "Baseline");

    // The restore brings it back equal.
    let backup = out
        .lines()
        .find_map(|l| l.split("; backup ").nth(1))
        .expect("the backup is named")
        .to_string();
    let (code, out, err) = run.tighten(&["restore", &backup, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    let after = cnp(&ns, "default-deny").await.expect("restored");
    assert_eq!(after.data["spec"], before.data["spec"]);
    assert_eq!(status(&run, &ns)["phase"], "Enforced");
}

#[tokio::test]
async fn adopt_then_stage_and_enforce_flip_the_teams_default_deny() {
    let (ns, home) = team_namespace("adopt").await;
    let run = run_in(home.path());

    let (code, out, err) = run.tighten(&["adopt", &ns, "--dry-run"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("server-side dry run accepted"), "{out}");
    assert_eq!(status(&run, &ns)["adopted"], false);
    let (code, out, err) = run.tighten(&["adopt", &ns, "--yes"], "");
    assert_eq!(code, 0, "{out}{err}");
    let report = status(&run, &ns);
    assert_eq!(report["adopted"], true, "{report:#}");
    assert_eq!(report["phase"], "Enforced");
    assert!(report["drift"].as_array().is_some_and(Vec::is_empty), "{report:#}");

    // Stage steps back to Audit by switching the team's default-deny off...
    let over = ["--override", REASON];
    let (code, out, err) = run.tighten(&["stage", &ns, "--yes", over[0], over[1]], "");
    assert_eq!(code, 0, "{out}{err}");
    let names = cnp_names(&ns).await;
    assert!(!names.contains(&"tighten-default-deny".to_string()), "{names:?}");
    let deny = cnp(&ns, "default-deny").await.expect("default-deny");
    assert_eq!(
        deny.data["spec"]["enableDefaultDeny"],
        json!({"ingress": false, "egress": false})
    );
    assert_eq!(deny.data["spec"]["ingressDeny"], json!([{}]));
    let report = status(&run, &ns);
    assert_eq!(report["phase"], "Audit", "{report:#}");

    // ... and enforce switches it back on.
    let deny = enforce_the_teams_default_deny(&run, &ns).await;
    assert_eq!(status(&run, &ns)["phase"], "Enforced");
    assert_eq!(cnp_names(&ns).await.len(), 8);

    // The team stages it again through its own tool, which now owns the switch:
    // tighten's flip patches that one field, not the whole object, so it neither
    // conflicts with the team's field manager nor takes the team's fields over.
    let mut staged = deny.data["spec"].clone();
    staged["enableDefaultDeny"] = json!({"ingress": false, "egress": false});
    apply_policy(
        &admin().await,
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
               "metadata": {"name": "default-deny", "namespace": ns}, "spec": staged}),
    )
    .await;
    assert_eq!(status(&run, &ns)["phase"], "Audit");
    let deny = enforce_the_teams_default_deny(&run, &ns).await;
    let fields = |manager: &str| -> String {
        deny.metadata
            .managed_fields
            .iter()
            .flatten()
            .filter(|m| m.manager.as_deref() == Some(manager))
            .filter_map(|m| m.fields_v1.as_ref().map(|f| f.0.to_string()))
            .collect()
    };
    assert!(
        fields("test-fixture").contains("f:ingressDeny"),
        "{:?}",
        deny.metadata.managed_fields
    );
    assert!(
        fields("tighten").contains("f:enableDefaultDeny"),
        "{:?}",
        deny.metadata.managed_fields
    );
    assert!(
        !fields("tighten").contains("f:ingressDeny"),
        "{:?}",
        deny.metadata.managed_fields
    );
}

#[tokio::test]
async fn a_clusterwide_default_deny_is_explained_not_rolled_back() {
    let client = admin().await;
    let ns = unique("ccnp");
    create_namespace(&client, &ns).await;
    let name = format!("platform-deny-{ns}");
    let ccnp: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": ns}},
                 "ingress": [{}], "egress": [{}]}
    }))
    .expect("ccnp");
    let clusterwide: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &resources::policy_resource(PolicyKind::CiliumClusterwideNetworkPolicy),
    );
    clusterwide
        .create(&Default::default(), &ccnp)
        .await
        .expect("ccnp created");
    let home = tempfile::tempdir().expect("home");
    let run = run_in(home.path());

    let report = status(&run, &ns);
    assert_eq!(report["phase"], "Enforced", "{report:#}");
    let (code, out, err) = run.tighten(&["rollback", &ns, "--partial", "--yes"], "");
    assert_eq!(code, 4, "{out}{err}");
    assert!(
        err.contains(&format!("CiliumClusterwideNetworkPolicy {name}")) && err.contains("cannot remove"),
        "{err}"
    );
    assert!(clusterwide.get_opt(&name).await.expect("get").is_some());
    clusterwide
        .delete(&name, &DeleteParams::default())
        .await
        .expect("ccnp deleted");
}
