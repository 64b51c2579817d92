//! Declared paths: the traffic the cluster's own objects say must work, which
//! a soak may never see. An Ingress or a Gateway API route sends from its
//! controller's pods (or Cilium's `ingress` identity) to the backend
//! Service's pods on the *targetPort*; a webhook is called by the
//! kube-apiserver; an ExternalName alias or a hand-made EndpointSlice lets a
//! namespace consume another namespace's pods. The login callback that fires
//! only when a person logs in is on such a path, and in-cluster smoke tests
//! bypass it.
//!
//! This room turns a snapshot into those paths, each as the flows Hubble
//! would report; judging them is the ledger's (it knows what was exercised).

mod senders;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::cluster::routes::{BackendRef, EntryPoint, PortRef, Via};
use crate::cluster::{ClusterSnapshot, PodInfo, ServiceInfo};
use crate::flows::{Direction, Endpoint, Flow, Protocol, Verdict};

pub use senders::{SenderPods, Senders};

/// One path a declaring object says must work: from any of `sources` (the
/// pods of one controller, or an entity) to one backend workload's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredPath {
    /// `Ingress shop/web via IngressClass nginx`.
    pub origin: String,
    /// The Service port as declared: `shop/web:80`.
    pub service: String,
    /// Who sends; one of them reaching the backend is enough (a namespace
    /// consuming an alias is any of its workloads).
    pub sources: Vec<Endpoint>,
    /// A pod of the backend workload.
    pub destination: Endpoint,
    /// The port the backend pods listen on, which is what Cilium matches.
    pub port: u16,
    pub protocol: Protocol,
}

impl DeclaredPath {
    /// The namespaces whose policies can drop this path.
    pub fn namespaces(&self) -> BTreeSet<&str> {
        self.sources
            .iter()
            .chain([&self.destination])
            .map(|e| e.namespace.as_str())
            .filter(|ns| !ns.is_empty())
            .collect()
    }

    /// The flow from one of the sources, as the policy engine judges it.
    pub fn flow(&self, source: &Endpoint) -> Flow {
        Flow {
            time: jiff::Timestamp::UNIX_EPOCH,
            verdict: Verdict::Forwarded,
            drop_reason: None,
            direction: Direction::Unknown,
            source: source.clone(),
            destination: self.destination.clone(),
            protocol: self.protocol,
            source_port: 40_000,
            destination_port: self.port,
            is_reply: false,
            node: String::new(),
            destination_names: Vec::new(),
            denied_by: Vec::new(),
            icmp: None,
        }
    }

    /// `infra/envoy → shop/web:8080/TCP`.
    pub fn describe(&self) -> String {
        let source = match self.sources.as_slice() {
            [one] => one.qualified_name(),
            [first, ..] if first.namespace.is_empty() => first.qualified_name(),
            [first, ..] => format!("{} (any workload)", first.namespace),
            [] => "nobody".into(),
        };
        format!(
            "{source} → {}:{}/{}",
            self.destination.qualified_name(),
            self.port,
            self.protocol.name()
        )
    }
}

/// A declared path that cannot be judged, and why (the controller's pods
/// are not known, a named targetPort has nothing to resolve it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unjudged {
    pub origin: String,
    pub why: String,
}

/// The declared paths that touch one namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespacePaths {
    pub paths: Vec<DeclaredPath>,
    pub unjudged: Vec<Unjudged>,
}

/// The declared paths of every namespace in `wanted`, keyed by namespace: a
/// path is listed under both its ends, as enforcing either may drop it.
pub fn declared_paths(
    snapshot: &ClusterSnapshot,
    senders: &Senders,
    wanted: &BTreeSet<String>,
) -> BTreeMap<String, NamespacePaths> {
    let view = View::new(snapshot);
    let mut found: BTreeMap<String, NamespacePaths> = BTreeMap::new();
    // A list tighten may not read is no evidence that nothing is declared.
    for (plural, why) in &snapshot.declarations.unreadable {
        for ns in wanted {
            found.entry(ns.clone()).or_default().unjudged.push(Unjudged {
                origin: format!("every {plural}"),
                why: format!("cannot be read: {why}"),
            });
        }
    }
    let mut file = |result: Result<DeclaredPath, Unjudged>, namespaces: &[&str]| match result {
        Ok(path) => {
            for ns in path.namespaces() {
                if wanted.contains(ns) {
                    found.entry(ns.to_string()).or_default().paths.push(path.clone());
                }
            }
        }
        Err(unjudged) => {
            for ns in namespaces.iter().filter(|ns| wanted.contains(**ns)) {
                found.entry(ns.to_string()).or_default().unjudged.push(unjudged.clone());
            }
        }
    };
    // Thousands of Ingresses share a few classes: find each one's senders once.
    let mut senders_of: HashMap<&Via, Result<Vec<Endpoint>, String>> = HashMap::new();
    for entry in &snapshot.declarations.entry_points {
        let sources = senders_of
            .entry(&entry.via)
            .or_insert_with(|| senders::of_entry(entry, &view, senders));
        let sender_wanted = sources
            .as_ref()
            .is_ok_and(|s| s.iter().any(|e| wanted.contains(&e.namespace)));
        for backend in entry
            .backends
            .iter()
            .filter(|b| sender_wanted || wanted.contains(&b.namespace))
        {
            let origin = origin(entry, backend);
            match &*sources {
                Err(why) => file(
                    Err(Unjudged {
                        origin,
                        why: why.clone(),
                    }),
                    &[backend.namespace.as_str()],
                ),
                Ok(sources) => {
                    for result in view.paths_to(&origin, backend, sources, 0) {
                        file(result, &[backend.namespace.as_str()]);
                    }
                }
            }
        }
    }
    for (origin, backend, consumer) in view.aliases() {
        let sources = view.workloads_of(consumer);
        if sources.is_empty() {
            continue;
        }
        for result in view.paths_to(&origin, &backend, &sources, 0) {
            file(result, &[backend.namespace.as_str(), consumer]);
        }
    }
    for paths in found.values_mut() {
        paths
            .paths
            .sort_by(|a, b| (&a.origin, a.describe()).cmp(&(&b.origin, b.describe())));
        paths.paths.dedup();
    }
    found
}

/// `Ingress shop/web via IngressClass nginx → Service shop/web:80`.
fn origin(entry: &EntryPoint, backend: &BackendRef) -> String {
    let via = match &entry.via {
        Via::IngressClass(Some(class)) => format!(" via IngressClass {class}"),
        Via::IngressClass(None) => " via the default IngressClass".into(),
        Via::Gateways(gateways) => {
            let names: Vec<String> = gateways.iter().map(|(ns, name)| format!("{ns}/{name}")).collect();
            format!(" via Gateway {}", names.join(", "))
        }
        Via::ApiServer => String::new(),
    };
    format!(
        "{}{via} → Service {}/{}:{}",
        entry.describe(),
        backend.namespace,
        backend.service,
        backend.port
    )
}

/// The snapshot indexed for finding Services, slices and pods by name.
struct View<'a> {
    snapshot: &'a ClusterSnapshot,
    services: HashMap<(&'a str, &'a str), &'a ServiceInfo>,
    slices: HashMap<(&'a str, &'a str), Vec<&'a crate::cluster::routes::EndpointSliceInfo>>,
    pods: HashMap<(&'a str, &'a str), &'a PodInfo>,
    by_namespace: HashMap<&'a str, Vec<&'a PodInfo>>,
    namespace_labels: HashMap<&'a str, &'a BTreeMap<String, String>>,
}

/// An ExternalName alias may name another alias; a loop stops here.
const MAX_ALIAS_DEPTH: usize = 4;

impl<'a> View<'a> {
    fn new(snapshot: &'a ClusterSnapshot) -> View<'a> {
        let mut slices: HashMap<(&str, &str), Vec<_>> = HashMap::new();
        for slice in &snapshot.declarations.slices {
            slices
                .entry((slice.namespace.as_str(), slice.service.as_str()))
                .or_default()
                .push(slice);
        }
        let mut by_namespace: HashMap<&str, Vec<&PodInfo>> = HashMap::new();
        for pod in &snapshot.pods {
            by_namespace.entry(pod.namespace.as_str()).or_default().push(pod);
        }
        View {
            snapshot,
            services: snapshot
                .services
                .iter()
                .map(|s| ((s.namespace.as_str(), s.name.as_str()), s))
                .collect(),
            slices,
            pods: snapshot
                .pods
                .iter()
                .map(|p| ((p.namespace.as_str(), p.name.as_str()), p))
                .collect(),
            by_namespace,
            namespace_labels: snapshot
                .namespaces
                .iter()
                .map(|n| (n.name.as_str(), &n.labels))
                .collect(),
        }
    }

    fn pods_in(&self, namespace: &str) -> &[&'a PodInfo] {
        self.by_namespace.get(namespace).map_or(&[], Vec::as_slice)
    }

    fn endpoint(&self, pod: &PodInfo) -> Endpoint {
        let none = BTreeMap::new();
        let namespace_labels = self
            .namespace_labels
            .get(pod.namespace.as_str())
            .copied()
            .unwrap_or(&none);
        Endpoint::of_pod(
            &pod.namespace,
            &pod.name,
            pod.workload.as_ref().map_or("", |w| w.name.as_str()),
            &pod.labels,
            namespace_labels,
        )
    }

    /// One pod per workload (a workload's pods carry the same labels).
    fn one_per_workload<'p>(&self, pods: impl IntoIterator<Item = &'p PodInfo>) -> Vec<Endpoint> {
        let mut seen = BTreeSet::new();
        pods.into_iter()
            .filter(|p| {
                let workload = p.workload.as_ref().map_or(p.name.as_str(), |w| w.name.as_str());
                seen.insert((p.namespace.clone(), workload.to_string()))
            })
            .map(|p| self.endpoint(p))
            .collect()
    }

    fn workloads_of(&self, namespace: &str) -> Vec<Endpoint> {
        self.one_per_workload(self.pods_in(namespace).iter().copied())
    }

    /// The paths from `sources` to the pods behind one Service port.
    fn paths_to(
        &self,
        origin: &str,
        backend: &BackendRef,
        sources: &[Endpoint],
        depth: usize,
    ) -> Vec<Result<DeclaredPath, Unjudged>> {
        let unjudged = |why: String| {
            vec![Err(Unjudged {
                origin: origin.to_string(),
                why,
            })]
        };
        let service_name = format!("{}/{}", backend.namespace, backend.service);
        let Some(service) = self
            .services
            .get(&(backend.namespace.as_str(), backend.service.as_str()))
        else {
            return unjudged(format!("Service {service_name} does not exist"));
        };
        if let Some(alias) = &service.external_name {
            let Some((service, namespace)) = in_cluster(alias) else {
                return Vec::new();
            };
            if depth >= MAX_ALIAS_DEPTH {
                return unjudged(format!("ExternalName {service_name} → {alias}: aliases nest too deep"));
            }
            let target = BackendRef {
                namespace: namespace.to_string(),
                service: service.to_string(),
                port: backend.port.clone(),
            };
            return self.paths_to(origin, &target, sources, depth + 1);
        }
        let port = service.ports.iter().find(|p| match &backend.port {
            PortRef::Number(n) => p.port == *n,
            PortRef::Name(name) => p.name == *name,
        });
        let Some(port) = port else {
            return unjudged(format!("Service {service_name} has no port {}", backend.port));
        };
        let protocol = match port.protocol.as_str() {
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            _ => Protocol::Tcp,
        };
        let slices = self
            .slices
            .get(&(backend.namespace.as_str(), backend.service.as_str()))
            .map_or(&[][..], Vec::as_slice);
        // The EndpointSlice says where a port really lands (a named targetPort
        // resolved per pod); without one, the Service's own targetPort.
        let targets: Vec<(u16, Vec<&PodInfo>)> = if slices.is_empty() {
            let Ok(target) = port.target_port.parse::<u16>() else {
                return unjudged(format!(
                    "Service {service_name} port {} sends to the named port {:?}, which only its EndpointSlices resolve, and it has none",
                    port.port, port.target_port
                ));
            };
            let Some(selector) = &service.selector else {
                return unjudged(format!(
                    "Service {service_name} has no selector and no EndpointSlices: its pods are not known"
                ));
            };
            let pods = self
                .pods_in(&backend.namespace)
                .iter()
                .copied()
                .filter(|p| selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
                .collect();
            vec![(target, pods)]
        } else {
            let mut by_port: BTreeMap<u16, Vec<&PodInfo>> = BTreeMap::new();
            for slice in slices {
                for slice_port in slice
                    .ports
                    .iter()
                    .filter(|p| p.name == port.name && p.protocol == port.protocol)
                {
                    let pods = by_port.entry(slice_port.port).or_default();
                    pods.extend(
                        slice
                            .pods
                            .iter()
                            .filter_map(|(ns, name)| self.pods.get(&(ns.as_str(), name.as_str())).copied()),
                    );
                }
            }
            by_port.into_iter().collect()
        };
        let service_port = format!("{service_name}:{}", port.port);
        let mut paths = Vec::new();
        for (target, pods) in targets {
            for destination in self.one_per_workload(pods) {
                let sources: Vec<Endpoint> = sources
                    .iter()
                    .filter(|s| !(s.namespace == destination.namespace && s.pod == destination.pod))
                    .cloned()
                    .collect();
                if sources.is_empty() {
                    continue;
                }
                paths.push(Ok(DeclaredPath {
                    origin: origin.to_string(),
                    service: service_port.clone(),
                    sources,
                    destination,
                    port: target,
                    protocol,
                }));
            }
        }
        paths
    }

    /// Namespaces consuming another namespace's Service through an alias of
    /// their own: an ExternalName naming it, or a Service without a selector
    /// whose EndpointSlices list the other namespace's pods. As
    /// `(origin, the backend, the consuming namespace)`.
    fn aliases(&self) -> Vec<(String, BackendRef, &'a str)> {
        let mut found = Vec::new();
        for service in &self.snapshot.services {
            if let Some(alias) = &service.external_name {
                if let Some((name, namespace)) = in_cluster(alias)
                    && namespace != service.namespace
                {
                    for port in self
                        .services
                        .get(&(namespace, name))
                        .map_or(&[][..], |s| s.ports.as_slice())
                    {
                        found.push((
                            format!(
                                "ExternalName Service {}/{} → {alias}:{}",
                                service.namespace, service.name, port.port
                            ),
                            BackendRef {
                                namespace: namespace.to_string(),
                                service: name.to_string(),
                                port: PortRef::Number(port.port),
                            },
                            service.namespace.as_str(),
                        ));
                    }
                }
                continue;
            }
            let elsewhere = self
                .slices
                .get(&(service.namespace.as_str(), service.name.as_str()))
                .is_some_and(|slices| {
                    slices
                        .iter()
                        .flat_map(|s| &s.pods)
                        .any(|(ns, _)| *ns != service.namespace)
                });
            if service.selector.is_none() && elsewhere {
                for port in &service.ports {
                    found.push((
                        format!(
                            "Service {}/{} (EndpointSlices to another namespace's pods):{}",
                            service.namespace, service.name, port.port
                        ),
                        BackendRef {
                            namespace: service.namespace.clone(),
                            service: service.name.clone(),
                            port: PortRef::Number(port.port),
                        },
                        service.namespace.as_str(),
                    ));
                }
            }
        }
        found
    }
}

/// `pg.databases.svc.cluster.local` → `(pg, databases)`; `None` for a name
/// outside the cluster.
fn in_cluster(name: &str) -> Option<(&str, &str)> {
    let name = name.trim_end_matches('.');
    let mut parts = name.splitn(3, '.');
    let service = parts.next()?;
    let namespace = parts.next()?;
    let rest = parts.next()?;
    (rest == "svc" || rest.starts_with("svc.")).then_some((service, namespace))
}

#[cfg(test)]
mod tests;
