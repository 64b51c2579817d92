//! The reader's verdict on validity against the real API server: with the
//! real Cilium CRD schema and NetworkPolicy validation, a dry-run create
//! refuses a policy exactly when the reader records a problem it says the
//! API server refuses. (Cilium's parser judges the rest, in the cilium
//! suite.) Null rule lists: accepted by a create, refused by server-side
//! apply, as the reader says.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

use tighten::cluster::live::resources;
use tighten::cluster::{Cluster, PolicyObject};
use tighten::policy::parse::{Judge, ProblemKind, read_policy};

use super::policy_variants::variants;
use super::{admin, create_namespace, unique};

/// The API server's answer to a dry run: `None` when it takes the object,
/// else its message.
async fn dry_run(api: &Api<DynamicObject>, manifest: &Value, apply: bool) -> Option<String> {
    let object: DynamicObject = serde_json::from_value(manifest.clone()).expect("an object");
    let result = if apply {
        let name = object.metadata.name.clone().unwrap_or_default();
        let mut params = PatchParams::apply("tighten-validity").force();
        params.dry_run = true;
        api.patch(&name, &params, &Patch::Apply(&object)).await
    } else {
        let params = PostParams {
            dry_run: true,
            field_manager: None,
        };
        api.create(&params, &object).await
    };
    match result {
        Ok(_) => None,
        Err(kube::Error::Api(status)) if status.code == 422 || status.code == 400 => Some(status.message),
        Err(e) => panic!("the API server did not judge {manifest}: {e}"),
    }
}

#[tokio::test]
async fn the_api_server_refuses_exactly_what_the_reader_says_it_refuses() {
    let client = admin().await;
    let ns = unique("validity");
    create_namespace(&client, &ns).await;
    let manifests = variants(16, 600, &ns);
    let (mut refused, mut accepted, mut null_lists) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for manifest in &manifests {
        let object = PolicyObject::from_manifest(manifest).expect("manifest");
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &ns, &resources::policy_resource(object.kind));
        let reading = read_policy(&object);
        let reader_refuses = reading.problems.iter().any(|p| p.judge == Judge::ApiServer);
        let said = dry_run(&api, manifest, false).await;
        if said.is_some() {
            refused += 1;
        } else {
            accepted += 1;
        }
        if said.is_some() != reader_refuses {
            disagreements.push(format!(
                "{}: the API server {} ({}), the reader {:?}\n{}",
                object.name,
                if said.is_some() { "refuses" } else { "accepts" },
                said.as_deref().unwrap_or(""),
                reading.problems,
                serde_yaml::to_string(manifest).unwrap_or_default()
            ));
        }
        if reading.problems.iter().any(|p| p.kind == ProblemKind::NullList) && !reader_refuses {
            null_lists += 1;
            assert!(
                dry_run(&api, manifest, true).await.is_some(),
                "{}: server-side apply takes a null list",
                object.name
            );
        }
    }
    eprintln!(
        "validity: the API server accepted {accepted} and refused {refused} of {} policies; {null_lists} null \
         lists refused by server-side apply",
        manifests.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(accepted > 100 && refused > 50, "both outcomes are exercised");
    assert!(null_lists > 0, "null lists are exercised");
}

/// Cilium's LB IPAM pools reach the snapshot, and lint of the live cluster
/// says a CIDR rule on them never matches.
#[tokio::test]
async fn load_balancer_pools_are_watched_and_lint_names_them() {
    let client = admin().await;
    let ns = unique("pools");
    create_namespace(&client, &ns).await;
    let pool_name = unique("public");
    let pools: Api<DynamicObject> = Api::all_with(client.clone(), &resources::address_pool_resource());
    let pool: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool",
        "metadata": {"name": pool_name},
        "spec": {"blocks": [{"cidr": "203.0.113.0/24"}]},
    }))
    .expect("pool");
    pools.create(&PostParams::default(), &pool).await.expect("pool created");
    super::apply_policy(
        &client,
        serde_json::json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "to-lb", "namespace": ns},
            "spec": {"endpointSelector": {}, "egress": [{"toCIDR": ["203.0.113.9/32"],
                "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}]}}),
    )
    .await;
    let cluster = super::connect(&super::control_plane::get().admin).await;
    let mut events = cluster.subscribe();
    let snapshot = super::snapshot_where(&mut events, |s| {
        s.namespaced_policies(&ns).any(|p| p.name == "to-lb")
            && s.address_pools
                .as_ref()
                .is_some_and(|p| p.iter().any(|p| p.name == pool_name))
    })
    .await;
    let findings = tighten::policy::lint::lint(&tighten::policy::lint::LintInput::from_snapshot(&snapshot));
    assert!(
        findings
            .iter()
            .any(|f| f.code == tighten::policy::lint::code::CIDR_FOR_TRANSLATED_ADDRESS
                && f.message.contains(&format!("CiliumLoadBalancerIPPool {pool_name}"))),
        "{findings:#?}"
    );
    pools
        .delete(&pool_name, &kube::api::DeleteParams::default())
        .await
        .expect("pool deleted");
}

/// The shipped Deployment of `tighten observe` is valid as the API server
/// judges it (server-side dry run of every object).
#[tokio::test]
async fn the_observe_manifest_is_accepted_by_the_api_server() {
    let cp = super::control_plane::get();
    let manifest = format!("{}/deploy/kubernetes/observe.yaml", env!("CARGO_MANIFEST_DIR"));
    let kubectl = |args: &[&str]| {
        std::process::Command::new(cp.kubectl())
            .args(args)
            .env("KUBECONFIG", &cp.admin)
            .output()
            .expect("kubectl runs")
    };
    // The namespaced objects need their namespace to exist, even in a dry run.
    let _ = kubectl(&["create", "namespace", "tighten"]);
    let out = kubectl(&["apply", "--dry-run=server", "-f", &manifest]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    for kind in [
        "serviceaccount",
        "role",
        "rolebinding",
        "persistentvolumeclaim",
        "deployment",
    ] {
        assert!(said.contains(kind), "{said}");
    }
}
