//! A consistent view of the objects the cockpit shows.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde_json::Value;

use crate::policy::LabelSelector;
use crate::policy::selector::endpoint_labels;

use super::objects::{NamespaceInfo, PodInfo, PolicyKind, PolicyObject};

/// What the backend knows about Cilium in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CiliumInfo {
    /// The agent version, when found.
    pub version: Option<String>,
    /// Whether the CiliumNetworkPolicy CRD is installed.
    pub crds_installed: bool,
    /// Whether the CRD knows `enableDefaultDeny` (Cilium 1.16 and later); `None`
    /// when the CRD could not be read.
    pub default_deny_supported: Option<bool>,
}

/// A Service's ports and the pods it sends to: lint needs port and targetPort
/// apart, and compares a rule's port only with the Services of its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub namespace: String,
    pub name: String,
    pub ports: Vec<ServicePort>,
    /// `spec.selector`; `None` for a Service without one (its endpoints are
    /// managed by hand, or it names an external host).
    pub selector: Option<BTreeMap<String, String>>,
    /// Addresses the cluster translates to the Service's pods before policy
    /// sees the traffic: `status.loadBalancer.ingress[].ip` and `spec.externalIPs`.
    pub translated_ips: Vec<String>,
    /// `spec.externalName` of an ExternalName Service: a DNS alias, often of
    /// a Service in another namespace (`pg.databases.svc.cluster.local`).
    pub external_name: Option<String>,
}

/// A `CiliumLoadBalancerIPPool`: the addresses Cilium hands to LoadBalancer
/// Services, all of which it rewrites to the Services' pods before policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPool {
    pub name: String,
    /// `spec.blocks`, each as its first and last address.
    pub blocks: Vec<(IpAddr, IpAddr)>,
    /// `spec.blocks` as written, for messages.
    pub written: Vec<String>,
}

impl AddressPool {
    /// Whether any address from `first` to `last` is in the pool.
    pub fn overlaps(&self, first: IpAddr, last: IpAddr) -> bool {
        self.blocks
            .iter()
            .any(|(start, stop)| start.is_ipv4() == first.is_ipv4() && *start <= last && first <= *stop)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// Empty for the one unnamed port; EndpointSlice ports carry the same name.
    pub name: String,
    pub port: u16,
    /// A number or a named port, as the Service says it.
    pub target_port: String,
    pub protocol: String,
}

/// A Flux Kustomization, for GitOps ownership and suspend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KustomizationInfo {
    pub namespace: String,
    pub name: String,
    pub suspended: bool,
    pub resource_version: Option<String>,
    /// The Kustomization that applies this one (its own Flux labels).
    pub parent: Option<crate::rollout::gitops::Owner>,
    pub annotations: BTreeMap<String, String>,
    /// Where in Git it reads, and how far it got.
    pub git: GitSpec,
}

/// Where a reconciler takes objects from in Git, and how far it got: what
/// maps a namespace to a folder of the team's checkout, and says when a
/// merged commit is applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitSpec {
    /// The folder in the repository (Flux `spec.path`, Argo CD
    /// `spec.source.path`), as written (`./clusters/prod/shop`).
    pub path: Option<String>,
    /// Flux: the source, as `(kind, namespace, name)`.
    pub source: Option<(String, String, String)>,
    /// Argo CD: `spec.source.repoURL`.
    pub repo_url: Option<String>,
    /// Flux `spec.targetNamespace`, Argo CD `spec.destination.namespace`.
    pub target_namespace: Option<String>,
    /// What was last applied: Flux `status.lastAppliedRevision`
    /// (`main@sha1:0123…`), Argo CD `status.sync.revision`.
    pub applied_revision: Option<String>,
    /// Flux `status.lastAttemptedRevision`: differs from the applied one
    /// while a revision fails.
    pub attempted_revision: Option<String>,
    /// The Ready condition (Argo CD: Synced and Healthy), with its message.
    pub ready: Option<(bool, String)>,
}

/// A Flux GitRepository: the URL a Kustomization's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRepositoryInfo {
    pub namespace: String,
    pub name: String,
    pub url: String,
    /// `spec.ref.branch`, when it follows a branch.
    pub branch: Option<String>,
    /// `status.artifact.revision`: what the source last fetched.
    pub fetched_revision: Option<String>,
}

/// An Argo CD Application, for GitOps ownership and pausing auto-sync.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationInfo {
    pub namespace: String,
    pub name: String,
    /// `spec.syncPolicy.automated`; `None` when auto-sync is off.
    pub automated: Option<serde_json::Value>,
    pub resource_version: Option<String>,
    /// The Application that applies this one (app of apps).
    pub parent: Option<crate::rollout::gitops::Owner>,
    pub annotations: BTreeMap<String, String>,
    /// Where in Git it reads, and how far it got.
    pub git: GitSpec,
}

impl ApplicationInfo {
    /// `spec.syncPolicy.automated` of an Application, or of a merge patch to
    /// one, where `null` turns auto-sync off.
    pub fn automated_in(document: &serde_json::Value) -> Option<serde_json::Value> {
        document
            .pointer("/spec/syncPolicy/automated")
            .filter(|a| !a.is_null())
            .cloned()
    }
}

/// Everything the cockpit reads from a cluster at one moment.
#[derive(Debug, Clone, Default)]
pub struct ClusterSnapshot {
    pub namespaces: Vec<NamespaceInfo>,
    pub pods: Vec<PodInfo>,
    pub policies: Vec<PolicyObject>,
    pub services: Vec<ServiceInfo>,
    /// `None` when the Flux Kustomization CRD is not installed.
    pub kustomizations: Option<Vec<KustomizationInfo>>,
    /// `None` when the Argo CD Application CRD is not installed.
    pub applications: Option<Vec<ApplicationInfo>>,
    /// `None` when Cilium's LB IPAM (`CiliumLoadBalancerIPPool`) is not installed.
    pub address_pools: Option<Vec<AddressPool>>,
    /// `None` when Flux's GitRepository CRD is not installed.
    pub git_repositories: Option<Vec<GitRepositoryInfo>>,
    /// Ingresses, routes, webhooks, their classes and Gateways, EndpointSlices.
    pub declarations: super::routes::Declarations,
    pub cilium: CiliumInfo,
}

/// A policy that applies to a namespace, with how many of its pods it selects.
#[derive(Debug, Clone, Copy)]
pub struct SelectedPolicy<'a> {
    pub policy: &'a PolicyObject,
    pub pods_selected: usize,
}

impl ClusterSnapshot {
    /// The GitOps owners a rollback of `namespace` recorded as paused.
    pub fn paused_owners(&self, namespace: &str) -> Vec<crate::rollout::gitops::Owner> {
        self.namespace(namespace)
            .map(|n| crate::rollout::gitops::recorded_pauses(&n.annotations))
            .unwrap_or_default()
    }

    /// The GitOps objects, as plans read them.
    pub fn gitops(&self) -> crate::rollout::gitops::GitOpsView<'_> {
        crate::rollout::gitops::GitOpsView {
            kustomizations: self.kustomizations.as_deref(),
            applications: self.applications.as_deref(),
        }
    }

    pub fn namespace(&self, name: &str) -> Option<&NamespaceInfo> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    pub fn pods_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a PodInfo> + 'a {
        self.pods.iter().filter(move |p| p.namespace == namespace)
    }

    /// CiliumNetworkPolicies and NetworkPolicies living in the namespace.
    pub fn namespaced_policies<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a PolicyObject> + 'a {
        self.policies
            .iter()
            .filter(move |p| p.namespace.as_deref() == Some(namespace))
    }

    /// Every policy that applies to the namespace: its own, plus clusterwide policies
    /// that select at least one of its pods. Scans the snapshot; for every
    /// namespace at once use a [`NamespaceIndex`].
    pub fn policies_for<'s>(&'s self, namespace: &str) -> Vec<SelectedPolicy<'s>> {
        let own: Vec<&'s PolicyObject> = self
            .policies
            .iter()
            .filter(|p| p.namespace.as_deref() == Some(namespace))
            .collect();
        let pods: Vec<&PodInfo> = self.pods.iter().filter(|p| p.namespace == namespace).collect();
        let clusterwide: Vec<&'s PolicyObject> = self.policies.iter().filter(|p| !p.kind.is_namespaced()).collect();
        select(self.namespace(namespace), namespace, &own, &pods, &clusterwide)
    }
}

/// The snapshot grouped by namespace in one pass, so deriving every row does not
/// rescan every object per namespace.
pub struct NamespaceIndex<'a> {
    policies: HashMap<&'a str, Vec<&'a PolicyObject>>,
    pods: HashMap<&'a str, Vec<&'a PodInfo>>,
    clusterwide: Vec<&'a PolicyObject>,
}

impl<'a> NamespaceIndex<'a> {
    pub fn new(snapshot: &'a ClusterSnapshot) -> NamespaceIndex<'a> {
        let mut policies: HashMap<&str, Vec<&PolicyObject>> = HashMap::new();
        let mut clusterwide = Vec::new();
        for policy in &snapshot.policies {
            match policy.namespace.as_deref() {
                Some(ns) if policy.kind.is_namespaced() => policies.entry(ns).or_default().push(policy),
                _ => clusterwide.push(policy),
            }
        }
        let mut pods: HashMap<&str, Vec<&PodInfo>> = HashMap::new();
        for pod in &snapshot.pods {
            pods.entry(pod.namespace.as_str()).or_default().push(pod);
        }
        NamespaceIndex {
            policies,
            pods,
            clusterwide,
        }
    }

    /// CiliumNetworkPolicies and NetworkPolicies living in the namespace.
    pub fn policies(&self, namespace: &str) -> &[&'a PolicyObject] {
        self.policies.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// The clusterwide policies, which may select any namespace's pods.
    pub fn clusterwide(&self) -> &[&'a PolicyObject] {
        &self.clusterwide
    }

    pub fn pods(&self, namespace: &str) -> &[&'a PodInfo] {
        self.pods.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// As [`ClusterSnapshot::policies_for`].
    pub fn policies_for(&self, namespace: &NamespaceInfo) -> Vec<SelectedPolicy<'a>> {
        let own = self.policies(&namespace.name);
        select(
            Some(namespace),
            &namespace.name,
            own,
            self.pods(&namespace.name),
            &self.clusterwide,
        )
    }
}

/// The namespace's own policies with their pod counts, then the clusterwide ones
/// that select any of its pods.
fn select<'a>(
    info: Option<&NamespaceInfo>,
    namespace: &str,
    own: &[&'a PolicyObject],
    pods: &[&PodInfo],
    clusterwide: &[&'a PolicyObject],
) -> Vec<SelectedPolicy<'a>> {
    let no_labels = std::collections::BTreeMap::new();
    let ns_labels = info.map_or(&no_labels, |n| &n.labels);
    let endpoints: Vec<_> = pods
        .iter()
        .map(|p| endpoint_labels(&p.labels, namespace, ns_labels))
        .collect();
    let count = |policy: &PolicyObject| {
        let selectors = subject_selectors(policy);
        endpoints
            .iter()
            .filter(|labels| selectors.iter().any(|s| s.matches(labels)))
            .count()
    };
    let mut selected: Vec<SelectedPolicy<'a>> = own
        .iter()
        .map(|&policy| SelectedPolicy {
            policy,
            pods_selected: count(policy),
        })
        .collect();
    // A clusterwide policy that selects by namespace alone applies even to a
    // namespace with no pod yet.
    let bare = endpoint_labels(&std::collections::BTreeMap::new(), namespace, ns_labels);
    let namespace_wide = |policy: &PolicyObject| {
        subject_selectors(policy)
            .iter()
            .any(|s| s.looks_only_at_namespaces() && s.matches(&bare))
    };
    selected.extend(clusterwide.iter().filter_map(|&policy| {
        let n = count(policy);
        (n > 0 || namespace_wide(policy)).then_some(SelectedPolicy {
            policy,
            pods_selected: n,
        })
    }));
    selected
}

/// The selectors naming the pods a policy applies to. A selector that cannot be
/// parsed selects nothing here; lint reports it.
fn subject_selectors(policy: &PolicyObject) -> Vec<LabelSelector> {
    let parse = |v: Option<&Value>| v.and_then(|v| LabelSelector::parse(v).ok());
    match policy.kind {
        PolicyKind::NetworkPolicy => parse(policy.spec().map(|s| s.get("podSelector").unwrap_or(&Value::Null)))
            .into_iter()
            .collect(),
        _ => policy
            .cilium_rules()
            .into_iter()
            .filter_map(|rule| parse(rule.get("endpointSelector")))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn pod(ns: &str, name: &str, app: &str) -> PodInfo {
        PodInfo {
            namespace: ns.into(),
            name: name.into(),
            labels: BTreeMap::from([("app".to_string(), app.to_string())]),
            workload: None,
            service_account: None,
        }
    }

    fn policy(manifest: serde_json::Value) -> PolicyObject {
        PolicyObject::from_manifest(&manifest).expect("valid manifest")
    }

    #[test]
    fn clusterwide_policies_apply_where_they_select_pods() {
        let snapshot = ClusterSnapshot {
            namespaces: vec![
                NamespaceInfo {
                    name: "shop".into(),
                    labels: BTreeMap::from([("policy-tier".into(), "prod".into())]),
                    annotations: BTreeMap::new(),
                    uid: None,
                    resource_version: None,
                    created: None,
                },
                NamespaceInfo {
                    name: "lab".into(),
                    labels: BTreeMap::new(),
                    annotations: BTreeMap::new(),
                    uid: None,
                    resource_version: None,
                    created: None,
                },
            ],
            pods: vec![
                pod("shop", "api-1", "api"),
                pod("shop", "web-1", "web"),
                pod("lab", "x", "api"),
            ],
            policies: vec![
                policy(
                    json!({"kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "prod-only"},
                    "spec": {"endpointSelector": {"matchLabels": {"k8s:io.cilium.k8s.namespace.labels.policy-tier": "prod"}}}}),
                ),
                policy(
                    json!({"kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "shop"},
                    "spec": {"podSelector": {"matchLabels": {"app": "web"}}}}),
                ),
                policy(
                    json!({"kind": "CiliumNetworkPolicy", "metadata": {"name": "other", "namespace": "lab"},
                    "spec": {"endpointSelector": {}}}),
                ),
            ],
            cilium: CiliumInfo::default(),
            ..ClusterSnapshot::default()
        };
        let shop: Vec<_> = snapshot
            .policies_for("shop")
            .iter()
            .map(|s| (s.policy.name.clone(), s.pods_selected))
            .collect();
        assert_eq!(shop, vec![("np".to_string(), 1), ("prod-only".to_string(), 2)]);
        // The index answers the same.
        let index = NamespaceIndex::new(&snapshot);
        let shop_ns = snapshot.namespace("shop").expect("shop");
        let indexed: Vec<_> = index
            .policies_for(shop_ns)
            .iter()
            .map(|s| (s.policy.name.clone(), s.pods_selected))
            .collect();
        assert_eq!(indexed, shop);
        assert_eq!(index.pods("shop").len(), 2);
        assert_eq!(index.policies("lab").len(), 1);
        let lab: Vec<_> = snapshot
            .policies_for("lab")
            .iter()
            .map(|s| s.policy.name.clone())
            .collect();
        assert_eq!(lab, vec!["other".to_string()]);
    }
}
