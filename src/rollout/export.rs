//! A namespace's policy set as a kustomize layout, for review in a pull
//! request and promotion through Git (lab → stage → prod):
//!
//! ```text
//! DIR/baselines/kustomization.yaml       the golden baseline, namespace-free
//! DIR/baselines/<policy>.yaml
//! DIR/overlays/<namespace>/kustomization.yaml   namespace: <namespace>; ../../baselines + the rest
//! DIR/overlays/<namespace>/<policy>.yaml        default-deny, app allows (accepted suggestions
//!                                               among them), and the namespace's other policies
//! ```
//!
//! `kubectl kustomize DIR/overlays/<namespace>` builds the namespace's set.
//! Pure: the files are returned, the command writes them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cluster::PolicyObject;

use super::labels;
use super::role::PolicyRole;

/// Annotations that describe one cluster's copy, not the policy.
const CLUSTER_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "argocd.argoproj.io/tracking-id",
];
/// Labels a GitOps tool writes on what it applies.
const CLUSTER_LABELS: [&str; 2] = [labels::FLUX_NAME, labels::FLUX_NAMESPACE];

/// The files of the layout, by path relative to the export directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub files: BTreeMap<PathBuf, String>,
    /// Baseline policies kept in the overlay because their content names the
    /// namespace (a shared base would be wrong for the next one).
    pub kept_in_overlay: Vec<String>,
}

/// The policy as it belongs in Git: no server fields, no status, no
/// cluster-specific annotations, and no namespace (the overlay sets it).
pub fn portable(policy: &PolicyObject) -> PolicyObject {
    let mut copy = policy.without_server_fields();
    for key in CLUSTER_ANNOTATIONS {
        copy.annotations.remove(key);
    }
    for key in CLUSTER_LABELS {
        copy.labels.remove(key);
    }
    copy.namespace = None;
    copy
}

pub fn file_name(policy: &PolicyObject) -> String {
    let kind = match policy.kind {
        crate::cluster::PolicyKind::NetworkPolicy => "networkpolicy-",
        _ => "",
    };
    format!("{kind}{}.yaml", policy.name)
}

fn kustomization(namespace: Option<&str>, resources: &[String]) -> String {
    let mut out = String::from("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
    if let Some(ns) = namespace {
        out.push_str(&format!("namespace: {ns}\n"));
    }
    out.push_str("resources:\n");
    for resource in resources {
        out.push_str(&format!("- {resource}\n"));
    }
    out
}

/// Whether the policy's content (besides its own namespace) names `namespace`.
pub fn names_namespace(policy: &PolicyObject, namespace: &str) -> bool {
    let body = serde_json::Value::Object(policy.body.clone()).to_string();
    body.contains(&format!("\"{namespace}\""))
}

/// The layout for `namespace`'s policies.
pub fn layout(namespace: &str, policies: &[&PolicyObject]) -> Layout {
    let mut files = BTreeMap::new();
    let mut kept_in_overlay = Vec::new();
    let (mut base, mut overlay) = (Vec::new(), Vec::new());
    let mut sorted: Vec<&PolicyObject> = policies.to_vec();
    sorted.sort_by(|a, b| (a.kind.to_string(), &a.name).cmp(&(b.kind.to_string(), &b.name)));
    for policy in sorted {
        let baseline = matches!(PolicyRole::of(policy), PolicyRole::Baseline(_));
        let names_it = baseline && names_namespace(policy, namespace);
        if names_it {
            kept_in_overlay.push(policy.name.clone());
        }
        let (dir, listed) = if baseline && !names_it {
            (PathBuf::from("baselines"), &mut base)
        } else {
            (PathBuf::from("overlays").join(namespace), &mut overlay)
        };
        let name = file_name(policy);
        files.insert(dir.join(&name), portable(policy).to_yaml());
        listed.push(name);
    }
    let mut resources = Vec::new();
    if !base.is_empty() {
        files.insert(
            PathBuf::from("baselines/kustomization.yaml"),
            kustomization(None, &base),
        );
        resources.push("../../baselines".to_string());
    }
    resources.extend(overlay);
    files.insert(
        PathBuf::from("overlays").join(namespace).join("kustomization.yaml"),
        kustomization(Some(namespace), &resources),
    );
    Layout { files, kept_in_overlay }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::PolicyKind;

    fn policy(name: &str, role: Option<&str>, body: serde_json::Value) -> PolicyObject {
        let mut labels_ = BTreeMap::new();
        if let Some(role) = role {
            labels_.insert(labels::MANAGED_BY.to_string(), labels::MANAGED_BY_TIGHTEN.to_string());
            labels_.insert(labels::ROLE.to_string(), role.to_string());
        }
        labels_.insert(labels::FLUX_NAME.to_string(), "apps".to_string());
        PolicyObject {
            kind: PolicyKind::CiliumNetworkPolicy,
            name: name.into(),
            namespace: Some("payments".into()),
            labels: labels_,
            annotations: BTreeMap::from([(
                "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                "{}".to_string(),
            )]),
            uid: Some("u".into()),
            resource_version: Some("9".into()),
            created: None,
            body: serde_json::json!({"spec": body, "status": {"conditions": []}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn baseline_is_a_shared_base_and_the_rest_an_overlay() {
        let dns = policy(
            "tighten-baseline-dns",
            Some("baseline"),
            serde_json::json!({"endpointSelector": {}}),
        );
        let deny = policy(
            "tighten-default-deny",
            Some("default-deny"),
            serde_json::json!({"endpointSelector": {}}),
        );
        let allow = policy(
            "allow-web",
            Some("app-allow"),
            serde_json::json!({"endpointSelector": {"matchLabels": {"app": "api"}}}),
        );
        // A baseline whose content names the namespace cannot be shared.
        let scoped = policy(
            "tighten-baseline-intra",
            Some("baseline"),
            serde_json::json!({"ingress": [{"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "payments"}}]}]}),
        );
        let layout = layout("payments", &[&allow, &deny, &dns, &scoped]);
        let paths: Vec<String> = layout.files.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "baselines/kustomization.yaml",
                "baselines/tighten-baseline-dns.yaml",
                "overlays/payments/allow-web.yaml",
                "overlays/payments/kustomization.yaml",
                "overlays/payments/tighten-baseline-intra.yaml",
                "overlays/payments/tighten-default-deny.yaml",
            ]
        );
        assert_eq!(layout.kept_in_overlay, ["tighten-baseline-intra"]);
        let overlay = &layout.files[&PathBuf::from("overlays/payments/kustomization.yaml")];
        assert_eq!(
            overlay,
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: payments\nresources:\n\
             - ../../baselines\n- allow-web.yaml\n- tighten-baseline-intra.yaml\n- tighten-default-deny.yaml\n"
        );
        let dns_yaml = &layout.files[&PathBuf::from("baselines/tighten-baseline-dns.yaml")];
        for gone in [
            "namespace:",
            "resourceVersion",
            "uid:",
            "status",
            "last-applied",
            "kustomize.toolkit.fluxcd.io",
        ] {
            assert!(!dns_yaml.contains(gone), "{gone} in {dns_yaml}");
        }
        assert!(dns_yaml.contains("tighten.dev/role: baseline"), "{dns_yaml}");
    }
}
