//! The objects that declare who should reach a Service: Ingresses, Gateway
//! API routes and admission webhooks name a Service and a port; the classes
//! and Gateways say which controller sends that traffic; EndpointSlices say
//! which pods, on which port, a Service port really reaches.
//!
//! Each is read from its JSON as the API server serves it, keeping only what
//! the declared paths need, so ten thousand of them stay small.

use serde_json::Value;

/// The kinds that declare paths, as watched: `(group/version, plural, kind)`.
pub const DECLARING_KINDS: [(&str, &str, &str); 9] = [
    ("networking.k8s.io/v1", "ingresses", "Ingress"),
    ("networking.k8s.io/v1", "ingressclasses", "IngressClass"),
    ("gateway.networking.k8s.io/v1", "gateways", "Gateway"),
    ("gateway.networking.k8s.io/v1", "gatewayclasses", "GatewayClass"),
    ("gateway.networking.k8s.io/v1", "httproutes", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "grpcroutes", "GRPCRoute"),
    (
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
    ),
    ("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
];

/// What sends an entry point's traffic to its backends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Via {
    /// An Ingress's class (`spec.ingressClassName`, or the legacy annotation);
    /// `None` means the cluster's default class.
    IngressClass(Option<String>),
    /// A route's parent Gateways, as `(namespace, name)`.
    Gateways(Vec<(String, String)>),
    /// The kube-apiserver calls admission webhooks.
    ApiServer,
}

/// A Service port as an entry point names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(name) => f.write_str(name),
        }
    }
}

/// One Service an entry point sends to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BackendRef {
    pub namespace: String,
    pub service: String,
    pub port: PortRef,
}

/// An object that declares traffic to Services: an Ingress, an HTTPRoute or
/// GRPCRoute, or a webhook configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    pub kind: &'static str,
    /// `None` for the cluster-scoped webhook configurations.
    pub namespace: Option<String>,
    pub name: String,
    pub via: Via,
    pub backends: Vec<BackendRef>,
}

impl EntryPoint {
    /// `Ingress shop/web`, `ValidatingWebhookConfiguration policy-check`.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// A Gateway and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayInfo {
    pub namespace: String,
    pub name: String,
    pub class: String,
}

/// An IngressClass or GatewayClass: which controller implements it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerClass {
    /// `IngressClass` or `GatewayClass`.
    pub kind: &'static str,
    pub name: String,
    /// `spec.controller` or `spec.controllerName`.
    pub controller: String,
    /// The IngressClass Ingresses without a class get.
    pub default: bool,
}

/// One port of an EndpointSlice: the Service port's name and the port the
/// pods listen on, which is what Cilium's L4 rules match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlicePort {
    pub name: String,
    pub port: u16,
    pub protocol: String,
}

/// An EndpointSlice, reduced to its Service, ports and pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSliceInfo {
    pub namespace: String,
    pub name: String,
    /// The `kubernetes.io/service-name` label.
    pub service: String,
    pub ports: Vec<SlicePort>,
    /// The pods behind it (`targetRef` of kind Pod), as `(namespace, name)`:
    /// a Service without a selector may send to pods of another namespace.
    pub pods: Vec<(String, String)>,
}

/// One watched object of a declaring kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declaring {
    Entry(EntryPoint),
    Gateway(GatewayInfo),
    Class(ControllerClass),
    Slice(EndpointSliceInfo),
}

/// The declaring objects of a snapshot, by what they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declarations {
    pub entry_points: Vec<EntryPoint>,
    pub gateways: Vec<GatewayInfo>,
    pub classes: Vec<ControllerClass>,
    pub slices: Vec<EndpointSliceInfo>,
    /// Declaring kinds the cluster serves but tighten could not read (with
    /// why), so "nothing declared" is never claimed from a forbidden list.
    pub unreadable: Vec<(&'static str, String)>,
}

impl Declarations {
    pub fn add(&mut self, object: Declaring) {
        match object {
            Declaring::Entry(e) => self.entry_points.push(e),
            Declaring::Gateway(g) => self.gateways.push(g),
            Declaring::Class(c) => self.classes.push(c),
            Declaring::Slice(s) => self.slices.push(s),
        }
    }
}

impl FromIterator<Declaring> for Declarations {
    fn from_iter<I: IntoIterator<Item = Declaring>>(objects: I) -> Self {
        let mut declarations = Declarations::default();
        for object in objects {
            declarations.add(object);
        }
        declarations
    }
}

const DEFAULT_INGRESS_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";
const LEGACY_INGRESS_CLASS: &str = "kubernetes.io/ingress.class";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn items<'a>(value: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    value.pointer(pointer).and_then(Value::as_array).into_iter().flatten()
}

fn port_number(value: Option<&Value>) -> Option<u16> {
    value.and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok())
}

/// Reads one object of a declaring kind; `None` for what it cannot use.
pub fn read_declaring(kind: &str, object: &Value) -> Option<Declaring> {
    let name = text(object, "/metadata/name")?.to_string();
    let namespace = text(object, "/metadata/namespace").map(str::to_string);
    match kind {
        "Ingress" => ingress(object, namespace?, name).map(Declaring::Entry),
        "HTTPRoute" => route(object, "HTTPRoute", namespace?, name).map(Declaring::Entry),
        "GRPCRoute" => route(object, "GRPCRoute", namespace?, name).map(Declaring::Entry),
        "ValidatingWebhookConfiguration" => {
            webhooks(object, "ValidatingWebhookConfiguration", name).map(Declaring::Entry)
        }
        "MutatingWebhookConfiguration" => webhooks(object, "MutatingWebhookConfiguration", name).map(Declaring::Entry),
        "Gateway" => Some(Declaring::Gateway(GatewayInfo {
            namespace: namespace?,
            name,
            class: text(object, "/spec/gatewayClassName")?.to_string(),
        })),
        "GatewayClass" => Some(Declaring::Class(ControllerClass {
            kind: "GatewayClass",
            name,
            controller: text(object, "/spec/controllerName")?.to_string(),
            default: false,
        })),
        "IngressClass" => Some(Declaring::Class(ControllerClass {
            kind: "IngressClass",
            default: object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(DEFAULT_INGRESS_CLASS))
                .and_then(Value::as_str)
                == Some("true"),
            name,
            controller: text(object, "/spec/controller")?.to_string(),
        })),
        "EndpointSlice" => slice(object, namespace?, name).map(Declaring::Slice),
        _ => None,
    }
}

/// An Ingress's backends: its default backend and every path's, all Services
/// of its own namespace.
fn ingress(object: &Value, namespace: String, name: String) -> Option<EntryPoint> {
    let class = text(object, "/spec/ingressClassName")
        .or_else(|| {
            object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(LEGACY_INGRESS_CLASS))
                .and_then(Value::as_str)
        })
        .map(str::to_string);
    let backend = |b: &Value| {
        let service = text(b, "/service/name")?;
        let port = match (
            port_number(b.pointer("/service/port/number")),
            text(b, "/service/port/name"),
        ) {
            (Some(n), _) => PortRef::Number(n),
            (None, Some(name)) => PortRef::Name(name.to_string()),
            (None, None) => return None,
        };
        Some(BackendRef {
            namespace: namespace.clone(),
            service: service.to_string(),
            port,
        })
    };
    let mut backends: Vec<BackendRef> = object
        .pointer("/spec/defaultBackend")
        .and_then(backend)
        .into_iter()
        .collect();
    for rule in items(object, "/spec/rules") {
        backends.extend(items(rule, "/http/paths").filter_map(|p| p.get("backend").and_then(backend)));
    }
    backends.sort();
    backends.dedup();
    Some(EntryPoint {
        kind: "Ingress",
        namespace: Some(namespace),
        name,
        via: Via::IngressClass(class),
        backends,
    })
}

/// A route's parent Gateways and its Service backends. A backend in another
/// namespace needs a ReferenceGrant to be used; the path is declared either way.
fn route(object: &Value, kind: &'static str, namespace: String, name: String) -> Option<EntryPoint> {
    let gateways: Vec<(String, String)> = items(object, "/spec/parentRefs")
        .filter(|p| text(p, "/group").unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP)
        .filter(|p| text(p, "/kind").unwrap_or("Gateway") == "Gateway")
        .filter_map(|p| {
            Some((
                text(p, "/namespace").unwrap_or(&namespace).to_string(),
                text(p, "/name")?.to_string(),
            ))
        })
        .collect();
    let mut backends: Vec<BackendRef> = items(object, "/spec/rules")
        .flat_map(|rule| items(rule, "/backendRefs"))
        .filter(|b| text(b, "/group").unwrap_or("").is_empty() && text(b, "/kind").unwrap_or("Service") == "Service")
        .filter_map(|b| {
            Some(BackendRef {
                namespace: text(b, "/namespace").unwrap_or(&namespace).to_string(),
                service: text(b, "/name")?.to_string(),
                port: PortRef::Number(port_number(b.get("port"))?),
            })
        })
        .collect();
    backends.sort();
    backends.dedup();
    Some(EntryPoint {
        kind,
        namespace: Some(namespace),
        name,
        via: Via::Gateways(gateways),
        backends,
    })
}

/// The in-cluster Services a webhook configuration's webhooks call (443 when
/// no port is given); webhooks called by URL are outside the cluster.
fn webhooks(object: &Value, kind: &'static str, name: String) -> Option<EntryPoint> {
    let mut backends: Vec<BackendRef> = items(object, "/webhooks")
        .filter_map(|w| w.pointer("/clientConfig/service"))
        .filter_map(|s| {
            Some(BackendRef {
                namespace: text(s, "/namespace")?.to_string(),
                service: text(s, "/name")?.to_string(),
                port: PortRef::Number(port_number(s.get("port")).unwrap_or(443)),
            })
        })
        .collect();
    backends.sort();
    backends.dedup();
    Some(EntryPoint {
        kind,
        namespace: None,
        name,
        via: Via::ApiServer,
        backends,
    })
}

fn slice(object: &Value, namespace: String, name: String) -> Option<EndpointSliceInfo> {
    let service = object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .and_then(Value::as_str)?
        .to_string();
    let ports = items(object, "/ports")
        .filter_map(|p| {
            Some(SlicePort {
                name: text(p, "/name").unwrap_or("").to_string(),
                port: port_number(p.get("port"))?,
                protocol: text(p, "/protocol").unwrap_or("TCP").to_string(),
            })
        })
        .collect();
    let pods = items(object, "/endpoints")
        .filter_map(|e| e.get("targetRef"))
        .filter(|r| text(r, "/kind") == Some("Pod"))
        .filter_map(|r| {
            Some((
                text(r, "/namespace").unwrap_or(&namespace).to_string(),
                text(r, "/name")?.to_string(),
            ))
        })
        .collect();
    Some(EndpointSliceInfo {
        namespace,
        name,
        service,
        ports,
        pods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_ingress_names_every_backend_once() {
        let ingress = json!({
            "metadata": {"name": "web", "namespace": "shop",
                         "annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {
                "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
                "rules": [
                    {"host": "a.example", "http": {"paths": [
                        {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                        {"path": "/api", "backend": {"service": {"name": "api", "port": {"name": "http"}}}},
                        {"path": "/static", "backend": {"resource": {"kind": "StorageBucket", "name": "s"}}}
                    ]}}
                ]
            }
        });
        let Some(Declaring::Entry(entry)) = read_declaring("Ingress", &ingress) else {
            panic!("an Ingress is an entry point");
        };
        assert_eq!(entry.via, Via::IngressClass(Some("nginx".into())));
        assert_eq!(
            entry.backends,
            vec![
                BackendRef {
                    namespace: "shop".into(),
                    service: "api".into(),
                    port: PortRef::Name("http".into())
                },
                BackendRef {
                    namespace: "shop".into(),
                    service: "web".into(),
                    port: PortRef::Number(80)
                },
            ]
        );
        assert_eq!(entry.describe(), "Ingress shop/web");
    }

    #[test]
    fn a_route_follows_its_gateways_and_service_backends_only() {
        let route = json!({
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {
                "parentRefs": [
                    {"name": "public", "namespace": "infra"},
                    {"name": "internal"},
                    {"name": "mesh", "group": "", "kind": "Service"}
                ],
                "rules": [{"backendRefs": [
                    {"name": "api", "port": 8080},
                    {"name": "pg", "namespace": "databases", "port": 5432},
                    {"name": "bucket", "group": "example.com", "kind": "Bucket"}
                ]}]
            }
        });
        let Some(Declaring::Entry(entry)) = read_declaring("GRPCRoute", &route) else {
            panic!("a route is an entry point");
        };
        assert_eq!(entry.kind, "GRPCRoute");
        assert_eq!(
            entry.via,
            Via::Gateways(vec![
                ("infra".into(), "public".into()),
                ("shop".into(), "internal".into())
            ])
        );
        let services: Vec<_> = entry
            .backends
            .iter()
            .map(|b| format!("{}/{}:{}", b.namespace, b.service, b.port))
            .collect();
        assert_eq!(services, ["databases/pg:5432", "shop/api:8080"]);
    }

    #[test]
    fn webhooks_call_services_on_443_unless_told() {
        let config = json!({
            "metadata": {"name": "policy-check"},
            "webhooks": [
                {"name": "a.example.com", "clientConfig": {"service": {"namespace": "guard", "name": "hook"}}},
                {"name": "b.example.com", "clientConfig": {"service": {"namespace": "guard", "name": "hook", "port": 8443}}},
                {"name": "c.example.com", "clientConfig": {"url": "https://outside.example.com/"}}
            ]
        });
        let Some(Declaring::Entry(entry)) = read_declaring("ValidatingWebhookConfiguration", &config) else {
            panic!("a webhook configuration is an entry point");
        };
        assert_eq!(entry.via, Via::ApiServer);
        let ports: Vec<_> = entry.backends.iter().map(|b| b.port.clone()).collect();
        assert_eq!(ports, [PortRef::Number(443), PortRef::Number(8443)]);
        assert_eq!(entry.describe(), "ValidatingWebhookConfiguration policy-check");
    }

    #[test]
    fn a_slice_keeps_its_service_ports_and_pods() {
        let slice = json!({
            "metadata": {"name": "pg-abc", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": "pg"}},
            "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}, {"port": 9187}],
            "endpoints": [
                {"addresses": ["10.0.0.5"], "targetRef": {"kind": "Pod", "name": "pg-0", "namespace": "databases"}},
                {"addresses": ["10.0.9.9"]}
            ]
        });
        let Some(Declaring::Slice(s)) = read_declaring("EndpointSlice", &slice) else {
            panic!("a slice");
        };
        assert_eq!(s.service, "pg");
        assert_eq!(s.ports[1].name, "");
        assert_eq!(s.ports[1].protocol, "TCP");
        assert_eq!(s.pods, vec![("databases".to_string(), "pg-0".to_string())]);
        let unlabelled = json!({"metadata": {"name": "x", "namespace": "shop"}});
        assert_eq!(read_declaring("EndpointSlice", &unlabelled), None);
    }

    #[test]
    fn classes_say_their_controller_and_default() {
        let class = json!({
            "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": "k8s.io/ingress-nginx"}
        });
        let Some(Declaring::Class(c)) = read_declaring("IngressClass", &class) else {
            panic!("a class");
        };
        assert!(c.default);
        assert_eq!(c.controller, "k8s.io/ingress-nginx");
        let gateway_class =
            json!({"metadata": {"name": "cilium"}, "spec": {"controllerName": "io.cilium/gateway-controller"}});
        assert!(matches!(
            read_declaring("GatewayClass", &gateway_class),
            Some(Declaring::Class(ControllerClass { default: false, .. }))
        ));
    }
}
