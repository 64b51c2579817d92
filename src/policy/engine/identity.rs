//! A flow endpoint as policy sees it: its labels by source, its namespace, its IP.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::flows::Endpoint;
use crate::policy::selector::{NAMESPACE_LABELS_PREFIX, POD_NAMESPACE_LABEL};

/// What a selector or entity is matched against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// `k8s:`-sourced labels, without the prefix.
    pub labels: BTreeMap<String, String>,
    /// Reserved labels (`world`, `host`, `kube-apiserver`, ...).
    pub reserved: BTreeSet<String>,
    /// The pod's namespace; `None` for everything that is not a pod.
    pub namespace: Option<String>,
    pub ip: Option<IpAddr>,
}

impl Identity {
    /// From Hubble's endpoint: labels as `source:key=value`.
    pub fn of(endpoint: &Endpoint) -> Identity {
        let mut identity = Identity {
            ip: endpoint.ip.parse().ok(),
            ..Identity::default()
        };
        for label in &endpoint.labels {
            let (source, rest) = label.split_once(':').unwrap_or(("k8s", label));
            let (key, value) = rest.split_once('=').unwrap_or((rest, ""));
            match source {
                "k8s" | "any" | "container" => {
                    identity.labels.insert(key.to_string(), value.to_string());
                }
                "reserved" => {
                    identity.reserved.insert(key.to_string());
                }
                _ => {}
            }
        }
        identity.namespace = identity
            .labels
            .get(POD_NAMESPACE_LABEL)
            .cloned()
            .or_else(|| (!endpoint.namespace.is_empty()).then(|| endpoint.namespace.clone()));
        if let Some(ns) = &identity.namespace {
            identity
                .labels
                .entry(POD_NAMESPACE_LABEL.to_string())
                .or_insert_with(|| ns.clone());
        }
        // Cilium's kube-apiserver identity (7) carries the remote-node label
        // too, so `toEntities: [remote-node]` reaches it; Hubble may report
        // only the first.
        if identity.reserved.contains("kube-apiserver") {
            identity.reserved.insert("remote-node".into());
        }
        // Hubble leaves world peers without labels in some versions: an address
        // outside any pod and without a reserved label is the world.
        if identity.namespace.is_none() && identity.reserved.is_empty() {
            identity.reserved.insert("world".into());
        }
        identity
    }

    /// A pod managed by Cilium (has a namespace).
    pub fn is_pod(&self) -> bool {
        self.namespace.is_some()
    }

    pub fn is_world(&self) -> bool {
        !self.is_pod()
            && ["world", "world-ipv4", "world-ipv6"]
                .iter()
                .any(|w| self.reserved.contains(*w))
    }

    pub fn has_reserved(&self, name: &str) -> bool {
        self.reserved.contains(name)
    }

    /// The labels of the pod's namespace, from Cilium's pseudo labels.
    pub fn namespace_labels(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(NAMESPACE_LABELS_PREFIX)
                    .map(|k| (k.to_string(), v.clone()))
            })
            .chain(
                self.namespace
                    .iter()
                    .map(|ns| ("kubernetes.io/metadata.name".to_string(), ns.clone())),
            )
            .collect()
    }

    /// The value a selector key names: `k8s:`/`any:`/bare keys read pod labels,
    /// `reserved:` keys read reserved labels.
    pub fn lookup(&self, source: Option<&str>, key: &str) -> Option<&str> {
        match source {
            None | Some("k8s") | Some("any") => self.labels.get(key).map(String::as_str),
            Some("reserved") => self.reserved.get(key).map(|_| ""),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubble_labels_become_an_identity() {
        let pod = Endpoint {
            namespace: "shop".into(),
            labels: vec![
                "k8s:app=api".into(),
                "k8s:io.kubernetes.pod.namespace=shop".into(),
                "k8s:io.cilium.k8s.namespace.labels.policy-tier=prod".into(),
            ],
            ip: "10.0.1.5".into(),
            ..Endpoint::default()
        };
        let id = Identity::of(&pod);
        assert!(id.is_pod() && !id.is_world());
        assert_eq!(id.lookup(Some("k8s"), "app"), Some("api"));
        assert_eq!(
            id.namespace_labels().get("policy-tier").map(String::as_str),
            Some("prod")
        );

        let apiserver = Endpoint {
            labels: vec!["reserved:kube-apiserver".into(), "reserved:remote-node".into()],
            ..Endpoint::default()
        };
        let id = Identity::of(&apiserver);
        assert!(!id.is_pod() && !id.is_world() && id.has_reserved("remote-node"));
        assert_eq!(id.lookup(Some("reserved"), "kube-apiserver"), Some(""));

        let bare = Endpoint {
            ip: "1.1.1.1".into(),
            ..Endpoint::default()
        };
        assert!(Identity::of(&bare).is_world());
    }
}
