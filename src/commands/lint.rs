//! `tighten lint`: the rollout traps, per policy and per namespace, each with a fix.

use std::io::Write;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::PartialObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use crate::cluster::live::resources;
use crate::cluster::{AddressPool, NamespaceInfo, PodInfo, ServiceInfo};
use crate::policy::lint::{LintInput, Severity, lint};
use crate::policy::load;

use super::{Output, exit};

pub struct LintOptions {
    pub policies: load::Sources,
    /// `kubectl get ns,pods,svc -A -o yaml` (and `ciliumloadbalancerippools`
    /// where LB IPAM is installed), for the checks that need pods and Services.
    pub cluster: Option<PathBuf>,
    pub output: Output,
}

/// The namespaces, pods and Services of a cluster dump.
#[derive(Default)]
pub struct ClusterDump {
    pub namespaces: Vec<NamespaceInfo>,
    pub pods: Vec<PodInfo>,
    pub services: Vec<ServiceInfo>,
    pub address_pools: Vec<AddressPool>,
}

/// Reads a YAML list (or several documents) of Namespaces, Pods, Services
/// and CiliumLoadBalancerIPPools.
pub fn read_cluster(path: &Path) -> Result<ClusterDump, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut dump = ClusterDump::default();
    for (index, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let at = |message: String| format!("{}: document {}: {message}", path.display(), index + 1);
        let value = Value::deserialize(document).map_err(|e| at(e.to_string()))?;
        let items: Vec<Value> = match value.get("items").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None if value.is_null() => continue,
            None => vec![value],
        };
        for item in items {
            let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let bad = |e: serde_json::Error| at(format!("{kind} {name}: {e}"));
            match kind.as_str() {
                "Namespace" => dump.namespaces.push(resources::namespace_info(
                    &serde_json::from_value::<Namespace>(item).map_err(bad)?,
                )),
                "Pod" => {
                    let pod: Pod = serde_json::from_value(item).map_err(bad)?;
                    let meta = PartialObjectMeta::<Pod> {
                        metadata: pod.metadata,
                        ..PartialObjectMeta::default()
                    };
                    dump.pods.extend(resources::pod_info(&meta));
                }
                "Service" => dump.services.extend(resources::service_info(
                    &serde_json::from_value::<Service>(item).map_err(bad)?,
                )),
                "CiliumLoadBalancerIPPool" => dump
                    .address_pools
                    .push(resources::address_pool(name.clone(), item.get("spec"))),
                _ => {}
            }
        }
    }
    Ok(dump)
}

pub fn run(options: &LintOptions, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<u8> {
    let loaded = match load::load(&options.policies) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "tighten lint: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    let dump = match &options.cluster {
        None => ClusterDump::default(),
        Some(path) => match read_cluster(path) {
            Ok(d) => d,
            Err(e) => {
                writeln!(err, "tighten lint: {e}")?;
                return Ok(exit::BAD_INPUT);
            }
        },
    };
    let findings = lint(&LintInput {
        policies: &loaded.objects,
        namespaces: &dump.namespaces,
        pods: &dump.pods,
        services: &dump.services,
        address_pools: &dump.address_pools,
        cluster_known: options.cluster.is_some(),
    });
    match options.output {
        Output::Json => {
            for finding in &findings {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(finding).map_err(std::io::Error::other)?
                )?;
            }
        }
        Output::Table => {
            for finding in &findings {
                writeln!(out, "{finding}")?;
            }
            let count = |s| findings.iter().filter(|f| f.severity == s).count();
            writeln!(
                out,
                "{} policies: {} errors, {} warnings, {} notes{}",
                loaded.objects.len(),
                count(Severity::Error),
                count(Severity::Warning),
                count(Severity::Info),
                if options.cluster.is_none() {
                    " (pass --cluster for the checks that need pods and Services)"
                } else {
                    ""
                }
            )?;
        }
    }
    Ok(if findings.iter().any(|f| f.severity == Severity::Error) {
        exit::FOUND
    } else {
        exit::OK
    })
}
