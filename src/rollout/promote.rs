//! Promotion: a namespace's app allows copied to another namespace (lab →
//! stage → prod), rewritten for it. The copy names the new namespace where the
//! original named its own, and nothing else changes: peers in other
//! namespaces stay where they are.

use serde_json::Value;

use crate::cluster::PolicyObject;

use super::labels;
use super::role::PolicyRole;

/// Selector keys whose value is a namespace's name.
const NAMESPACE_KEYS: [&str; 4] = [
    "k8s:io.kubernetes.pod.namespace",
    "io.kubernetes.pod.namespace",
    "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name",
    "kubernetes.io/metadata.name",
];

/// Annotation on a promoted copy: where it came from (`namespace/name`).
pub const PROMOTED_FROM: &str = "tighten.dev/promoted-from";

/// The app allows of `from` to promote.
pub fn promotable<'a>(policies: &[&'a PolicyObject]) -> Vec<&'a PolicyObject> {
    policies
        .iter()
        .copied()
        .filter(|p| PolicyRole::of(p) == PolicyRole::AppAllow)
        .collect()
}

/// `policy` (of `from`) as it belongs in `to`.
pub fn rewrite(policy: &PolicyObject, from: &str, to: &str) -> PolicyObject {
    let mut copy = policy.without_server_fields();
    copy.namespace = Some(to.to_string());
    // The copy is tighten's, not the source's GitOps tool's.
    for key in [labels::FLUX_NAME, labels::FLUX_NAMESPACE] {
        copy.labels.remove(key);
    }
    copy.annotations.retain(|k, _| {
        !matches!(
            k.as_str(),
            labels::ARGO_TRACKING | labels::HELM_RELEASE | "kubectl.kubernetes.io/last-applied-configuration"
        )
    });
    copy.annotations
        .insert(PROMOTED_FROM.to_string(), format!("{from}/{}", policy.name));
    for value in copy.body.values_mut() {
        rename(value, from, to);
    }
    copy
}

/// Replaces `from` with `to` wherever a selector names the namespace.
fn rename(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            let is_namespace_expression = map
                .get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| NAMESPACE_KEYS.contains(&k));
            for (key, child) in map.iter_mut() {
                if NAMESPACE_KEYS.contains(&key.as_str()) && child.as_str() == Some(from) {
                    *child = Value::String(to.to_string());
                } else if is_namespace_expression && key == "values" {
                    if let Value::Array(values) = child {
                        for v in values.iter_mut().filter(|v| v.as_str() == Some(from)) {
                            *v = Value::String(to.to_string());
                        }
                    }
                } else {
                    rename(child, from, to);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rename(i, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::PolicyKind;
    use serde_json::json;

    #[test]
    fn the_copy_names_the_new_namespace_and_keeps_other_peers() {
        let original = PolicyObject {
            kind: PolicyKind::CiliumNetworkPolicy,
            name: "allow-api".into(),
            namespace: Some("shop-lab".into()),
            labels: [
                (labels::MANAGED_BY.to_string(), labels::MANAGED_BY_TIGHTEN.to_string()),
                (labels::ROLE.to_string(), "app-allow".to_string()),
                (labels::FLUX_NAME.to_string(), "lab".to_string()),
            ]
            .into(),
            annotations: Default::default(),
            uid: Some("u".into()),
            resource_version: Some("4".into()),
            created: None,
            body: json!({"spec": {
                "endpointSelector": {"matchLabels": {"app": "api"}},
                "ingress": [{"fromEndpoints": [
                    {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop-lab", "app": "web"}},
                    {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "network", "app": "ingress"}},
                    {"matchExpressions": [{"key": "k8s:io.kubernetes.pod.namespace", "operator": "In",
                                           "values": ["shop-lab", "monitoring"]}]}
                ]}],
                "egress": [{"toEndpoints": [{"matchLabels": {"app": "shop-lab"}}]}]
            }})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        };
        let copy = rewrite(&original, "shop-lab", "shop-prod");
        assert_eq!(copy.namespace.as_deref(), Some("shop-prod"));
        assert_eq!(copy.resource_version, None);
        assert!(!copy.labels.contains_key(labels::FLUX_NAME));
        assert_eq!(copy.annotations[PROMOTED_FROM], "shop-lab/allow-api");
        let peers = &copy.body["spec"]["ingress"][0]["fromEndpoints"];
        assert_eq!(peers[0]["matchLabels"]["k8s:io.kubernetes.pod.namespace"], "shop-prod");
        assert_eq!(peers[1]["matchLabels"]["k8s:io.kubernetes.pod.namespace"], "network");
        assert_eq!(
            peers[2]["matchExpressions"][0]["values"],
            json!(["shop-prod", "monitoring"])
        );
        // A label value that happens to equal the namespace's name is not a namespace.
        assert_eq!(
            copy.body["spec"]["egress"][0]["toEndpoints"][0]["matchLabels"]["app"],
            "shop-lab"
        );
    }
}
