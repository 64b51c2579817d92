//! The cluster objects tighten reads, reduced to what the cockpit needs.
//!
//! Both backends (demo and live) produce these, so everything above the
//! [`Cluster`](super::Cluster) trait works on one shape.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The policy kinds tighten manages or shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PolicyKind {
    CiliumNetworkPolicy,
    CiliumClusterwideNetworkPolicy,
    NetworkPolicy,
}

impl PolicyKind {
    pub fn api_version(self) -> &'static str {
        match self {
            PolicyKind::CiliumNetworkPolicy | PolicyKind::CiliumClusterwideNetworkPolicy => "cilium.io/v2",
            PolicyKind::NetworkPolicy => "networking.k8s.io/v1",
        }
    }

    /// The short name kubectl users know (`cnp`, `ccnp`, `netpol`).
    pub fn short(self) -> &'static str {
        match self {
            PolicyKind::CiliumNetworkPolicy => "CNP",
            PolicyKind::CiliumClusterwideNetworkPolicy => "CCNP",
            PolicyKind::NetworkPolicy => "NP",
        }
    }

    pub fn is_namespaced(self) -> bool {
        !matches!(self, PolicyKind::CiliumClusterwideNetworkPolicy)
    }

    pub fn from_kind(kind: &str) -> Option<PolicyKind> {
        match kind {
            "CiliumNetworkPolicy" => Some(PolicyKind::CiliumNetworkPolicy),
            "CiliumClusterwideNetworkPolicy" => Some(PolicyKind::CiliumClusterwideNetworkPolicy),
            "NetworkPolicy" => Some(PolicyKind::NetworkPolicy),
            _ => None,
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            PolicyKind::CiliumNetworkPolicy => "CiliumNetworkPolicy",
            PolicyKind::CiliumClusterwideNetworkPolicy => "CiliumClusterwideNetworkPolicy",
            PolicyKind::NetworkPolicy => "NetworkPolicy",
        };
        f.write_str(name)
    }
}

/// Identifies one object, for plans, diffs and preconditions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: PolicyKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// A CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyObject {
    pub kind: PolicyKind,
    pub name: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub resource_version: Option<String>,
    /// `metadata.creationTimestamp`: for a default-deny a reconciler applied,
    /// when the namespace was staged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<jiff::Timestamp>,
    /// Everything beside `apiVersion`, `kind` and `metadata`: `spec`, `specs`, `status`.
    #[serde(default)]
    pub body: Map<String, Value>,
}

impl PolicyObject {
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    pub fn spec(&self) -> Option<&Value> {
        self.body.get("spec")
    }

    /// The rules of a Cilium policy: `spec` and every entry of `specs`.
    pub fn cilium_rules(&self) -> Vec<&Value> {
        let mut rules: Vec<&Value> = self.body.get("spec").into_iter().collect();
        if let Some(Value::Array(list)) = self.body.get("specs") {
            rules.extend(list.iter());
        }
        rules
    }

    /// The object as the API server would return it, for YAML views and backups.
    pub fn to_manifest(&self) -> Value {
        let mut metadata = Map::new();
        metadata.insert("name".into(), Value::String(self.name.clone()));
        if let Some(ns) = &self.namespace {
            metadata.insert("namespace".into(), Value::String(ns.clone()));
        }
        if !self.labels.is_empty() {
            metadata.insert("labels".into(), string_map(&self.labels));
        }
        if !self.annotations.is_empty() {
            metadata.insert("annotations".into(), string_map(&self.annotations));
        }
        if let Some(uid) = &self.uid {
            metadata.insert("uid".into(), Value::String(uid.clone()));
        }
        if let Some(rv) = &self.resource_version {
            metadata.insert("resourceVersion".into(), Value::String(rv.clone()));
        }
        let mut object = Map::new();
        object.insert("apiVersion".into(), self.kind.api_version().into());
        object.insert("kind".into(), self.kind.to_string().into());
        object.insert("metadata".into(), Value::Object(metadata));
        for (key, value) in &self.body {
            object.insert(key.clone(), value.clone());
        }
        Value::Object(object)
    }

    /// The manifest as YAML text. Serialising a JSON value cannot fail, but the
    /// error is still reported rather than unwrapped.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(&self.to_manifest()).unwrap_or_else(|err| format!("# could not render YAML: {err}\n"))
    }

    /// Parses one manifest (YAML or JSON value) into a policy object.
    pub fn from_manifest(value: &Value) -> Result<PolicyObject, ManifestError> {
        let object = value.as_object().ok_or(ManifestError::NotAnObject)?;
        let kind_name = object
            .get("kind")
            .and_then(Value::as_str)
            .ok_or(ManifestError::Missing("kind"))?;
        let kind =
            PolicyKind::from_kind(kind_name).ok_or_else(|| ManifestError::UnsupportedKind(kind_name.to_string()))?;
        let metadata = object
            .get("metadata")
            .and_then(Value::as_object)
            .ok_or(ManifestError::Missing("metadata"))?;
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .ok_or(ManifestError::Missing("metadata.name"))?
            .to_string();
        // The API server ignores the namespace of a cluster-scoped object; so does tighten.
        let namespace = metadata
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|_| kind.is_namespaced())
            .map(str::to_string);
        if kind.is_namespaced() && namespace.is_none() {
            return Err(ManifestError::Missing("metadata.namespace"));
        }
        let body = object
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(PolicyObject {
            kind,
            name,
            namespace,
            labels: read_string_map(metadata.get("labels")),
            annotations: read_string_map(metadata.get("annotations")),
            uid: metadata.get("uid").and_then(Value::as_str).map(str::to_string),
            resource_version: metadata
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
            created: metadata
                .get("creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok()),
            body,
        })
    }

    /// A copy without server-owned fields (uid, resourceVersion, status), as written
    /// to backups and re-applied on restore.
    pub fn without_server_fields(&self) -> PolicyObject {
        let mut copy = self.clone();
        copy.uid = None;
        copy.resource_version = None;
        copy.created = None;
        copy.body.remove("status");
        copy
    }
}

/// Why a manifest could not be read as a policy object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the document is not a mapping")]
    NotAnObject,
    #[error("the document has no {0}")]
    Missing(&'static str),
    #[error("kind {0:?} is not a policy kind tighten handles")]
    UnsupportedKind(String),
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

fn read_string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A namespace with the labels and annotations the rollout model reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub resource_version: Option<String>,
    #[serde(default)]
    pub created: Option<Timestamp>,
}

/// The workload that owns a pod (Deployment, StatefulSet, DaemonSet, Job...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadRef {
    pub kind: String,
    pub name: String,
}

/// Pod metadata: enough to decide which policies select it and how to name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub workload: Option<WorkloadRef>,
    #[serde(default)]
    pub service_account: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifest_round_trips() {
        let manifest = json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "allow-dns", "namespace": "shop",
                         "labels": {"app.kubernetes.io/managed-by": "tighten"},
                         "resourceVersion": "42"},
            "spec": {"endpointSelector": {}},
            "status": {"conditions": []}
        });
        let object = PolicyObject::from_manifest(&manifest).expect("parses");
        assert_eq!(object.kind, PolicyKind::CiliumNetworkPolicy);
        assert_eq!(object.namespace.as_deref(), Some("shop"));
        assert_eq!(object.resource_version.as_deref(), Some("42"));
        assert_eq!(object.to_manifest(), manifest);
        let stripped = object.without_server_fields();
        assert!(stripped.body.get("status").is_none());
        assert!(stripped.resource_version.is_none());
    }

    #[test]
    fn namespaced_kinds_need_a_namespace() {
        let manifest = json!({"kind": "NetworkPolicy", "metadata": {"name": "x"}});
        assert_eq!(
            PolicyObject::from_manifest(&manifest),
            Err(ManifestError::Missing("metadata.namespace"))
        );
        let unknown = json!({"kind": "Deployment", "metadata": {"name": "x"}});
        assert!(matches!(
            PolicyObject::from_manifest(&unknown),
            Err(ManifestError::UnsupportedKind(_))
        ));
    }

    #[test]
    fn specs_lists_are_rules_too() {
        let manifest = json!({
            "kind": "CiliumClusterwideNetworkPolicy",
            "metadata": {"name": "multi"},
            "specs": [{"endpointSelector": {}}, {"endpointSelector": {"matchLabels": {"a": "b"}}}]
        });
        let object = PolicyObject::from_manifest(&manifest).expect("parses");
        assert_eq!(object.cilium_rules().len(), 2);
    }

    #[test]
    fn cluster_scoped_kinds_have_no_namespace() {
        let manifest = json!({
            "kind": "CiliumClusterwideNetworkPolicy",
            "metadata": {"name": "dns", "namespace": "set-by-kustomize"},
            "spec": {"endpointSelector": {}}
        });
        let object = PolicyObject::from_manifest(&manifest).expect("parses");
        assert_eq!(object.namespace, None);
    }
}
