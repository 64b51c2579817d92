//! Who sends an entry point's traffic to its backends: the kube-apiserver for
//! webhooks; for Ingresses and routes, the controller named by the class.
//! Cilium's own Ingress and Gateway send as the reserved `ingress` identity;
//! other controllers send from their pods, found by the labels their charts
//! and the Gateway API set, or by `[senders]` in the config.

use std::collections::BTreeMap;

use crate::cluster::PodInfo;
use crate::cluster::routes::{EntryPoint, Via};
use crate::flows::Endpoint;

use super::View;

pub use crate::config::SenderPods;

impl SenderPods {
    fn matches(&self, pod: &PodInfo) -> bool {
        self.namespace.as_ref().is_none_or(|ns| *ns == pod.namespace)
            && self.labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
    }

    fn describe(&self) -> String {
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match &self.namespace {
            Some(ns) => format!("pods labelled {} in {ns}", labels.join(",")),
            None => format!("pods labelled {}", labels.join(",")),
        }
    }
}

/// By controller name (`spec.controller` of an IngressClass,
/// `spec.controllerName` of a GatewayClass).
pub type Senders = BTreeMap<String, SenderPods>;

/// Cilium's Envoy sends to backends as the reserved `ingress` identity.
const CILIUM_CONTROLLERS: [&str; 2] = ["io.cilium/ingress-controller", "io.cilium/gateway-controller"];

/// Controllers whose pods their own charts label the same everywhere.
fn well_known(controller: &str) -> Option<SenderPods> {
    let labels: &[(&str, &str)] = match controller {
        "k8s.io/ingress-nginx" => &[
            ("app.kubernetes.io/name", "ingress-nginx"),
            ("app.kubernetes.io/component", "controller"),
        ],
        "traefik.io/ingress-controller" => &[("app.kubernetes.io/name", "traefik")],
        "haproxy.org/ingress-controller" => &[("app.kubernetes.io/name", "kubernetes-ingress")],
        _ => return None,
    };
    Some(SenderPods {
        namespace: None,
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    })
}

fn entity(name: &str) -> Endpoint {
    Endpoint {
        labels: vec![format!("reserved:{name}")],
        ..Endpoint::default()
    }
}

/// The endpoints that send `entry`'s traffic, or why they are not known.
pub(super) fn of_entry(entry: &EntryPoint, view: &View<'_>, senders: &Senders) -> Result<Vec<Endpoint>, String> {
    let declarations = &view.snapshot.declarations;
    match &entry.via {
        Via::ApiServer => Ok(vec![entity("kube-apiserver")]),
        Via::IngressClass(name) => {
            let class = declarations
                .classes
                .iter()
                .filter(|c| c.kind == "IngressClass")
                .find(|c| match name {
                    Some(name) => c.name == *name,
                    None => c.default,
                });
            let class = match (class, name) {
                (Some(class), _) => class,
                (None, Some(name)) => return Err(format!("IngressClass {name} does not exist")),
                (None, None) => {
                    return Err("the Ingress names no class and no IngressClass is the default".into());
                }
            };
            by_controller(&class.controller, view, senders, None)
                .map_err(|why| format!("IngressClass {} ({}): {why}", class.name, class.controller))
        }
        Via::Gateways(gateways) => {
            if gateways.is_empty() {
                return Err("the route names no Gateway".into());
            }
            let mut found = Vec::new();
            let mut problems = Vec::new();
            for (namespace, name) in gateways {
                let Some(gateway) = declarations
                    .gateways
                    .iter()
                    .find(|g| g.namespace == *namespace && g.name == *name)
                else {
                    problems.push(format!("Gateway {namespace}/{name} does not exist"));
                    continue;
                };
                let Some(class) = declarations
                    .classes
                    .iter()
                    .find(|c| c.kind == "GatewayClass" && c.name == gateway.class)
                else {
                    problems.push(format!("GatewayClass {} does not exist", gateway.class));
                    continue;
                };
                match by_controller(&class.controller, view, senders, Some((namespace, name))) {
                    Ok(endpoints) => found.extend(endpoints),
                    Err(why) => problems.push(format!("Gateway {namespace}/{name} ({}): {why}", class.controller)),
                }
            }
            if found.is_empty() {
                Err(problems.join("; "))
            } else {
                Ok(found)
            }
        }
    }
}

/// The endpoints a controller sends from; for a Gateway's own deployment,
/// the pods the Gateway API (and Istio, Envoy Gateway) label with its name.
fn by_controller(
    controller: &str,
    view: &View<'_>,
    senders: &Senders,
    gateway: Option<(&str, &str)>,
) -> Result<Vec<Endpoint>, String> {
    if CILIUM_CONTROLLERS.contains(&controller) {
        return Ok(vec![entity("ingress")]);
    }
    let configured = senders.get(controller).cloned();
    let looked_for = match (configured, gateway) {
        (Some(pods), _) => vec![pods],
        (None, Some((namespace, name))) => {
            let in_namespace = |key: &str| SenderPods {
                namespace: Some(namespace.to_string()),
                labels: BTreeMap::from([(key.to_string(), name.to_string())]),
            };
            vec![
                in_namespace("gateway.networking.k8s.io/gateway-name"),
                in_namespace("istio.io/gateway-name"),
                SenderPods {
                    namespace: None,
                    labels: BTreeMap::from([
                        (
                            "gateway.envoyproxy.io/owning-gateway-name".to_string(),
                            name.to_string(),
                        ),
                        (
                            "gateway.envoyproxy.io/owning-gateway-namespace".to_string(),
                            namespace.to_string(),
                        ),
                    ]),
                },
            ]
        }
        (None, None) => match well_known(controller) {
            Some(pods) => vec![pods],
            None => {
                return Err(format!(
                    "which pods send its traffic is not known; name them in the config: \
                     [senders.\"{controller}\"] namespace = \"…\" labels = {{ … }}"
                ));
            }
        },
    };
    for wanted in &looked_for {
        let pods: Vec<&PodInfo> = view.snapshot.pods.iter().filter(|p| wanted.matches(p)).collect();
        if !pods.is_empty() {
            return Ok(view.one_per_workload(pods));
        }
    }
    let tried: Vec<String> = looked_for.iter().map(SenderPods::describe).collect();
    Err(format!("no sending pods found (looked for {})", tried.join("; ")))
}
