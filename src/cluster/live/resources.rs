//! The Kubernetes resources the live backend reads and writes, and their
//! conversion into the cockpit's own types.

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::core::ResourceExt;
use std::collections::BTreeMap;

use crate::rollout::gitops::Owner;

use crate::cluster::{
    AddressPool, ApplicationInfo, GitRepositoryInfo, GitSpec, KustomizationInfo, NamespaceInfo, PodInfo, PolicyKind,
    PolicyObject, ServiceInfo, ServicePort, WorkloadRef,
};

/// The API resource of each policy kind.
pub fn policy_resource(kind: PolicyKind) -> ApiResource {
    match kind {
        PolicyKind::CiliumNetworkPolicy => ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("cilium.io", "v2", "CiliumNetworkPolicy"),
            "ciliumnetworkpolicies",
        ),
        PolicyKind::CiliumClusterwideNetworkPolicy => ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("cilium.io", "v2", "CiliumClusterwideNetworkPolicy"),
            "ciliumclusterwidenetworkpolicies",
        ),
        PolicyKind::NetworkPolicy => ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("networking.k8s.io", "v1", "NetworkPolicy"),
            "networkpolicies",
        ),
    }
}

/// Flux's Kustomization.
pub fn kustomization_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
        "kustomizations",
    )
}

/// A dynamic object as a policy object; `None` for objects tighten cannot read.
pub fn policy_from_dynamic(kind: PolicyKind, object: &DynamicObject) -> Option<PolicyObject> {
    let mut value = serde_json::to_value(object).ok()?;
    // Watch events of dynamic objects may omit these; the kind is known anyway.
    value["kind"] = kind.to_string().into();
    value["apiVersion"] = kind.api_version().into();
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    PolicyObject::from_manifest(&value).ok()
}

/// A policy object as the dynamic object the API expects.
pub fn policy_to_dynamic(policy: &PolicyObject) -> Result<DynamicObject, serde_json::Error> {
    serde_json::from_value(policy.to_manifest())
}

pub fn namespace_info(ns: &Namespace) -> NamespaceInfo {
    NamespaceInfo {
        name: ns.name_any(),
        labels: ns.labels().clone(),
        annotations: ns.annotations().clone(),
        uid: ns.metadata.uid.clone(),
        resource_version: ns.metadata.resource_version.clone(),
        created: ns.metadata.creation_timestamp.as_ref().map(|t| t.0),
    }
}

/// Pod metadata; the workload is the top owner (a ReplicaSet's Deployment by name).
pub fn pod_info(pod: &PartialObjectMeta<k8s_openapi::api::core::v1::Pod>) -> Option<PodInfo> {
    let namespace = pod.metadata.namespace.clone()?;
    let workload = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|owner| {
            match owner.kind.as_str() {
                // Deployment pods belong to a ReplicaSet named <deployment>-<hash>.
                "ReplicaSet" => WorkloadRef {
                    kind: "Deployment".into(),
                    name: owner
                        .name
                        .rsplit_once('-')
                        .map_or(owner.name.clone(), |(d, _)| d.to_string()),
                },
                // CronJob pods belong to a Job named <cronjob>-<schedule time>.
                "Job"
                    if owner
                        .name
                        .rsplit_once('-')
                        .is_some_and(|(_, t)| t.chars().all(|c| c.is_ascii_digit())) =>
                {
                    WorkloadRef {
                        kind: "CronJob".into(),
                        name: owner
                            .name
                            .rsplit_once('-')
                            .map_or(owner.name.clone(), |(c, _)| c.to_string()),
                    }
                }
                kind => WorkloadRef {
                    kind: kind.into(),
                    name: owner.name.clone(),
                },
            }
        });
    Some(PodInfo {
        namespace,
        name: pod.name_any(),
        labels: pod.labels().clone(),
        workload,
        service_account: None,
    })
}

pub fn service_info(service: &Service) -> Option<ServiceInfo> {
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(|ports| {
            ports
                .iter()
                .map(|p| ServicePort {
                    name: p.name.clone().unwrap_or_default(),
                    port: u16::try_from(p.port).unwrap_or(0),
                    target_port: match &p.target_port {
                        Some(IntOrString::Int(n)) => n.to_string(),
                        Some(IntOrString::String(s)) => s.clone(),
                        // Without targetPort the Service forwards to the same port.
                        None => p.port.to_string(),
                    },
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ServiceInfo {
        namespace: service.namespace()?,
        name: service.name_any(),
        ports,
        selector: service
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .filter(|selector| !selector.is_empty()),
        translated_ips: service
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.clone())
            .chain(
                service
                    .spec
                    .as_ref()
                    .and_then(|s| s.external_ips.clone())
                    .into_iter()
                    .flatten(),
            )
            .collect(),
        external_name: service
            .spec
            .as_ref()
            .filter(|s| s.type_.as_deref() == Some("ExternalName"))
            .and_then(|s| s.external_name.clone()),
    })
}

/// Cilium's LB IPAM pool (cluster-scoped).
pub fn address_pool_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cilium.io", "v2", "CiliumLoadBalancerIPPool"),
        "ciliumloadbalancerippools",
    )
}

/// A `CiliumLoadBalancerIPPool`'s blocks (`cidr`, or `start` and `stop`);
/// blocks that do not parse are left out.
pub fn address_pool(name: String, spec: Option<&serde_json::Value>) -> AddressPool {
    let mut pool = AddressPool {
        name,
        blocks: Vec::new(),
        written: Vec::new(),
    };
    let blocks = spec
        .and_then(|s| s.get("blocks"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten();
    for block in blocks {
        let text = |k: &str| block.get(k).and_then(serde_json::Value::as_str);
        if let Some((first, last)) = text("cidr").and_then(cidr_bounds) {
            pool.blocks.push((first, last));
            pool.written.push(text("cidr").unwrap_or_default().to_string());
        } else if let (Some(start), Some(stop)) = (text("start"), text("stop")) {
            let parsed = (start.parse::<std::net::IpAddr>(), stop.parse::<std::net::IpAddr>());
            if let (Ok(first), Ok(last)) = parsed {
                pool.blocks.push((first, last));
                pool.written.push(format!("{start}-{stop}"));
            }
        }
    }
    pool
}

/// The first and last address of `a.b.c.d/n` (or its IPv6 form).
fn cidr_bounds(text: &str) -> Option<(std::net::IpAddr, std::net::IpAddr)> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let (address, prefix) = text.trim().split_once('/')?;
    let prefix: u32 = prefix.parse().ok()?;
    match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) if prefix <= 32 => {
            let host = u32::MAX.checked_shr(prefix).unwrap_or(0);
            let net = u32::from(a) & !host;
            Some((IpAddr::V4(Ipv4Addr::from(net)), IpAddr::V4(Ipv4Addr::from(net | host))))
        }
        IpAddr::V6(a) if prefix <= 128 => {
            let host = u128::MAX.checked_shr(prefix).unwrap_or(0);
            let net = u128::from(a) & !host;
            Some((IpAddr::V6(Ipv6Addr::from(net)), IpAddr::V6(Ipv6Addr::from(net | host))))
        }
        _ => None,
    }
}

pub fn address_pool_info(object: &DynamicObject) -> Option<(String, AddressPool)> {
    let name = object.name_any();
    Some((name.clone(), address_pool(name, object.data.get("spec"))))
}

/// Argo CD's Application.
pub fn application_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    )
}

/// The object's labels and annotations, and who applies it.
fn metadata_of(object: &DynamicObject) -> (BTreeMap<String, String>, Option<Owner>) {
    let labels: BTreeMap<String, String> = object.labels().clone().into_iter().collect();
    let annotations: BTreeMap<String, String> = object.annotations().clone().into_iter().collect();
    let parent = Owner::from_metadata(&labels, &annotations);
    (annotations, parent)
}

pub fn kustomization_info(object: &DynamicObject) -> Option<KustomizationInfo> {
    let (annotations, parent) = metadata_of(object);
    Some(KustomizationInfo {
        namespace: object.namespace()?,
        name: object.name_any(),
        suspended: object
            .data
            .get("spec")
            .and_then(|s| s.get("suspend"))
            .and_then(|s| s.as_bool())
            .unwrap_or(false),
        resource_version: object.resource_version(),
        parent,
        annotations,
        git: flux_git(&object.data, object.metadata.namespace.as_deref().unwrap_or_default()),
    })
}

fn text_at(value: &serde_json::Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The condition of `kind` in `status.conditions`, as (status is True, message).
fn condition(value: &serde_json::Value, kind: &str) -> Option<(bool, String)> {
    value
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(kind))
        .map(|c| {
            (
                c.get("status").and_then(|s| s.as_str()) == Some("True"),
                c.get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
}

/// A Flux Kustomization's path, source and progress; `namespace` is its
/// own, where a source without one lives.
pub fn flux_git(data: &serde_json::Value, namespace: &str) -> GitSpec {
    let namespace = namespace.to_string();
    GitSpec {
        path: text_at(data, "/spec/path"),
        source: text_at(data, "/spec/sourceRef/name").map(|name| {
            (
                text_at(data, "/spec/sourceRef/kind").unwrap_or_else(|| "GitRepository".into()),
                text_at(data, "/spec/sourceRef/namespace").unwrap_or(namespace),
                name,
            )
        }),
        repo_url: None,
        target_namespace: text_at(data, "/spec/targetNamespace"),
        applied_revision: text_at(data, "/status/lastAppliedRevision"),
        attempted_revision: text_at(data, "/status/lastAttemptedRevision"),
        ready: condition(data, "Ready"),
    }
}

/// An Argo CD Application's path, repository and progress.
pub fn argo_git(data: &serde_json::Value) -> GitSpec {
    let synced = text_at(data, "/status/sync/status");
    let health = text_at(data, "/status/health/status");
    GitSpec {
        path: text_at(data, "/spec/source/path"),
        source: None,
        repo_url: text_at(data, "/spec/source/repoURL"),
        target_namespace: text_at(data, "/spec/destination/namespace"),
        applied_revision: text_at(data, "/status/sync/revision"),
        attempted_revision: text_at(data, "/status/operationState/syncResult/revision"),
        ready: synced.map(|synced| {
            let ok = synced == "Synced" && health.as_deref().is_none_or(|h| h == "Healthy");
            let message = text_at(data, "/status/operationState/message")
                .unwrap_or_else(|| format!("{synced}, {}", health.as_deref().unwrap_or("health unknown")));
            (ok, message)
        }),
    }
}

/// Flux's GitRepository.
pub fn git_repository_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "GitRepository"),
        "gitrepositories",
    )
}

pub fn git_repository_info(object: &DynamicObject) -> Option<(String, GitRepositoryInfo)> {
    let data = &object.data;
    let info = GitRepositoryInfo {
        namespace: object.namespace()?,
        name: object.name_any(),
        url: text_at(data, "/spec/url")?,
        branch: text_at(data, "/spec/ref/branch"),
        fetched_revision: text_at(data, "/status/artifact/revision"),
    };
    Some((format!("{}/{}", info.namespace, info.name), info))
}

pub fn application_info(object: &DynamicObject) -> Option<ApplicationInfo> {
    let (annotations, parent) = metadata_of(object);
    Some(ApplicationInfo {
        namespace: object.namespace()?,
        name: object.name_any(),
        automated: ApplicationInfo::automated_in(&object.data),
        resource_version: object.resource_version(),
        parent,
        annotations,
        git: argo_git(&object.data),
    })
}

/// Whether a CiliumNetworkPolicy CRD's schema knows `enableDefaultDeny`
/// (added in Cilium 1.16).
pub fn crd_supports_default_deny(crd: &serde_json::Value) -> bool {
    crd.pointer("/spec/versions")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter(|v| v.get("name").and_then(|n| n.as_str()) == Some("v2"))
        .any(|v| {
            v.pointer("/schema/openAPIV3Schema/properties/spec/properties/enableDefaultDeny")
                .is_some()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    use serde_json::json;

    #[test]
    fn policies_survive_the_dynamic_round_trip() {
        let policy = PolicyObject::from_manifest(&json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "p", "namespace": "shop", "resourceVersion": "9", "labels": {"a": "b"}},
            "spec": {"endpointSelector": {}}
        }))
        .expect("policy");
        let dynamic = policy_to_dynamic(&policy).expect("dynamic");
        assert_eq!(
            policy_from_dynamic(PolicyKind::CiliumNetworkPolicy, &dynamic),
            Some(policy)
        );
    }

    #[test]
    fn pods_name_their_workload() {
        let owner = |kind: &str, name: &str| OwnerReference {
            kind: kind.into(),
            name: name.into(),
            controller: Some(true),
            api_version: "apps/v1".into(),
            uid: "u".into(),
            ..OwnerReference::default()
        };
        let pod = |o: OwnerReference| PartialObjectMeta::<Pod> {
            metadata: ObjectMeta {
                name: Some("x".into()),
                namespace: Some("shop".into()),
                owner_references: Some(vec![o]),
                ..ObjectMeta::default()
            },
            ..PartialObjectMeta::default()
        };
        let workload = |o| pod_info(&pod(o)).and_then(|p| p.workload).map(|w| (w.kind, w.name));
        assert_eq!(
            workload(owner("ReplicaSet", "api-7d9f8b")),
            Some(("Deployment".into(), "api".into()))
        );
        assert_eq!(
            workload(owner("StatefulSet", "db")),
            Some(("StatefulSet".into(), "db".into()))
        );
        assert_eq!(
            workload(owner("Job", "report-29400000")),
            Some(("CronJob".into(), "report".into()))
        );
    }

    #[test]
    fn a_failing_kustomization_says_flux_s_message_beside_what_it_last_applied() {
        let data = json!({
            "spec": {"path": "./clusters/prod", "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                     "targetNamespace": "shop"},
            "status": {
                "lastAppliedRevision": "main@sha1:3f9c2a71d04be65a8c1e0f2b7d9a4c6e8b1f0a2d",
                "lastAttemptedRevision": "main@sha1:9ddccc74f2bdee59a5a83e7e6c2632298fafb96d",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ReconciliationFailed",
                                "message": "CiliumNetworkPolicy/shop/allow-web dry-run failed: spec.ingress[0].toPorts[0].ports[0].port: Invalid value"}]
            }
        });
        let git = flux_git(&data, "flux-system");
        assert_eq!(git.path.as_deref(), Some("./clusters/prod"));
        assert_eq!(
            git.source,
            Some(("GitRepository".into(), "flux-system".into(), "fleet".into()))
        );
        assert_eq!(git.target_namespace.as_deref(), Some("shop"));
        let state = crate::rollout::gitops::OwnerState {
            paused: false,
            resource_version: None,
            parent: None,
            automated: None,
            saved_automated: None,
            paused_by: None,
            paused_at: None,
            applied: git.applied_revision.clone(),
            ready: git.ready.clone(),
        };
        assert_eq!(
            state.progress(),
            "applied main@sha1:3f9c2a71d04b · not ready: CiliumNetworkPolicy/shop/allow-web dry-run failed: spec.ingress[0].toPorts[0].ports[0].port: Invalid value"
        );
        let argo = argo_git(&json!({
            "spec": {"source": {"repoURL": "https://git.example.com/fleet.git", "path": "apps/shop"},
                     "destination": {"namespace": "shop"}},
            "status": {"sync": {"status": "OutOfSync", "revision": "abc123"}, "health": {"status": "Degraded"}}
        }));
        assert_eq!(argo.repo_url.as_deref(), Some("https://git.example.com/fleet.git"));
        assert_eq!(argo.ready, Some((false, "OutOfSync, Degraded".to_string())));
    }

    #[test]
    fn default_deny_support_is_read_from_the_crd_schema() {
        let crd = |props: serde_json::Value| json!({"spec": {"versions": [{"name": "v2", "schema": {"openAPIV3Schema": {"properties": {"spec": {"properties": props}}}}}]}});
        assert!(crd_supports_default_deny(&crd(
            json!({"enableDefaultDeny": {"type": "object"}})
        )));
        assert!(!crd_supports_default_deny(&crd(json!({"endpointSelector": {}}))));
    }
}
