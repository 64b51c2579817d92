//! Finding the cluster's Prometheus when none is configured: a Service that
//! the common installs create (kube-prometheus, kube-prometheus-stack, the
//! prometheus chart), reached through the API server's service proxy so that
//! no port-forward or extra credentials are needed.

use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::ListParams;

use super::Prometheus;

/// Prometheus's own port, which every install keeps as the target port.
const PROMETHEUS_PORT: i32 = 9090;

/// Names of Services that belong to a Prometheus install but are not the
/// query API.
const NOT_THE_SERVER: [&str; 7] = [
    "alertmanager",
    "operator",
    "node-exporter",
    "pushgateway",
    "kube-state-metrics",
    "blackbox",
    "adapter",
];

/// The Service chosen, and the port to ask through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub namespace: String,
    pub name: String,
    /// The Service port's name when it has one, else its number.
    pub port: String,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.name, self.port)
    }
}

/// Whether the Service is labelled or named as a Prometheus server.
fn looks_like_prometheus(service: &Service) -> bool {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let labels = service.metadata.labels.clone().unwrap_or_default();
    let labelled = ["app.kubernetes.io/name", "app"]
        .iter()
        .filter_map(|key| labels.get(*key))
        .any(|value| value.contains("prometheus"));
    (labelled || name.contains("prometheus")) && !NOT_THE_SERVER.iter().any(|other| name.contains(other))
}

/// The Service's port that reaches Prometheus's HTTP API.
fn query_port(service: &Service) -> Option<String> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    let target = |p: &k8s_openapi::api::core::v1::ServicePort| match &p.target_port {
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => *n == PROMETHEUS_PORT,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s)) => s == "web",
        None => false,
    };
    let port = ports
        .iter()
        .find(|p| p.port == PROMETHEUS_PORT || target(p))
        .or_else(|| {
            ports
                .iter()
                .find(|p| matches!(p.name.as_deref(), Some("web" | "http-web" | "http")))
        })?;
    Some(match &port.name {
        Some(name) if !name.is_empty() => name.clone(),
        _ => port.port.to_string(),
    })
}

/// The Prometheus chosen, and the other query Services seen: a cluster with
/// a Prometheus per team has several, and the operator should know that the
/// gate reads one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub chosen: Candidate,
    /// Other Services with a cluster IP that also look like a Prometheus
    /// server, in the order they would have been chosen.
    pub others: Vec<Candidate>,
}

impl Choice {
    /// How the choice reads where the gate names its Prometheus.
    pub fn describe(&self, asked_as: &str) -> String {
        match self.others.as_slice() {
            [] => asked_as.to_string(),
            others => {
                let names: Vec<String> = others.iter().map(ToString::to_string).collect();
                format!("{asked_as}; also found {}: --prometheus URL chooses", names.join(", "))
            }
        }
    }
}

/// Picks the Prometheus to ask among the cluster's Services: a Service with a
/// cluster IP before a headless one (the operator's `prometheus-operated`
/// lists every replica), then the shortest name (`prometheus-k8s` before
/// `prometheus-k8s-thanos-sidecar`), then by namespace and name so the choice
/// is stable.
pub fn choose(services: &[Service]) -> Option<Choice> {
    let mut candidates: Vec<(bool, Candidate)> = services
        .iter()
        .filter(|s| looks_like_prometheus(s))
        .filter_map(|s| {
            let headless = s.spec.as_ref().and_then(|spec| spec.cluster_ip.as_deref()) == Some("None");
            let candidate = Candidate {
                namespace: s.metadata.namespace.clone()?,
                name: s.metadata.name.clone()?,
                port: query_port(s)?,
            };
            Some((headless, candidate))
        })
        .collect();
    candidates.sort_by(|(a_headless, a), (b_headless, b)| {
        a_headless
            .cmp(b_headless)
            .then(a.name.len().cmp(&b.name.len()))
            .then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
    });
    let mut ranked = candidates.into_iter();
    let (_, chosen) = ranked.next()?;
    // A headless Service is another door to the same servers, not another Prometheus.
    let others = ranked.filter(|(headless, _)| !headless).map(|(_, c)| c).collect();
    Some(Choice { chosen, others })
}

/// Looks for a Prometheus Service in every namespace. `Ok(None)`: there is
/// none; `Err`: the Services could not be listed (RBAC), said as such.
pub async fn discover(client: kube::Client) -> Result<Option<(Choice, Prometheus)>, String> {
    let services = Api::<Service>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list Services to find Prometheus: {e}"))?;
    Ok(choose(&services.items).map(|choice| {
        let c = &choice.chosen;
        let prometheus = Prometheus::through_api_server(client, &c.namespace, &c.name, &c.port);
        (choice, prometheus)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Service from YAML, as the installs write them.
    fn service(yaml: &str) -> Service {
        serde_yaml::from_str(yaml).expect("service yaml")
    }

    fn kube_prometheus() -> Vec<Service> {
        vec![
            service(
                "metadata: {name: prometheus-operated, namespace: monitoring, labels: {operated-prometheus: 'true'}}\n\
                 spec: {clusterIP: None, ports: [{name: web, port: 9090, targetPort: web}]}",
            ),
            service(
                "metadata: {name: prometheus-k8s, namespace: monitoring, labels: {app.kubernetes.io/name: prometheus}}\n\
                 spec: {clusterIP: 10.96.0.20, ports: [{name: web, port: 9090, targetPort: web}, {name: reloader-web, port: 8080}]}",
            ),
            service(
                "metadata: {name: prometheus-operator, namespace: monitoring, labels: {app.kubernetes.io/name: prometheus-operator}}\n\
                 spec: {clusterIP: 10.96.0.21, ports: [{name: https, port: 8443}]}",
            ),
            service(
                "metadata: {name: alertmanager-main, namespace: monitoring}\n\
                 spec: {clusterIP: 10.96.0.22, ports: [{name: web, port: 9093}]}",
            ),
        ]
    }

    #[test]
    fn kube_prometheus_is_found_as_prometheus_k8s() {
        let choice = choose(&kube_prometheus()).expect("found");
        assert_eq!(choice.chosen.to_string(), "monitoring/prometheus-k8s:web");
        // prometheus-operated is the same servers, headless: not another Prometheus.
        assert!(choice.others.is_empty(), "{:?}", choice.others);
        assert_eq!(choice.describe("asked"), "asked");
    }

    #[test]
    fn the_prometheus_chart_serves_on_port_80() {
        let services = [
            service(
                "metadata: {name: prometheus-server, namespace: observability, labels: {app.kubernetes.io/name: prometheus}}\n\
                 spec: {clusterIP: 10.96.1.2, ports: [{name: http, port: 80, targetPort: 9090}]}",
            ),
            service(
                "metadata: {name: prometheus-alertmanager, namespace: observability}\n\
                 spec: {ports: [{name: http, port: 9093}]}",
            ),
            service(
                "metadata: {name: prometheus-prometheus-pushgateway, namespace: observability}\n\
                 spec: {ports: [{name: http, port: 9091}]}",
            ),
        ];
        assert_eq!(
            choose(&services).map(|c| c.chosen.to_string()).as_deref(),
            Some("observability/prometheus-server:http")
        );
    }

    #[test]
    fn kube_prometheus_stack_and_unnamed_ports() {
        let stack = service(
            "metadata: {name: kps-kube-prometheus-stack-prometheus, namespace: monitoring, labels: {app: kube-prometheus-stack-prometheus}}\n\
             spec: {clusterIP: 10.96.2.2, ports: [{name: http-web, port: 9090, targetPort: 9090}]}",
        );
        let unnamed = service(
            "metadata: {name: prometheus, namespace: metrics}\nspec: {clusterIP: 10.96.3.3, ports: [{port: 9090}]}",
        );
        assert_eq!(
            choose(std::slice::from_ref(&stack)).map(|c| c.chosen.port).as_deref(),
            Some("http-web")
        );
        let both = choose(&[stack, unnamed]).expect("found");
        assert_eq!(both.chosen.to_string(), "metrics/prometheus:9090");
        // Two installs: the one not chosen is named, so the operator can pick.
        assert_eq!(
            both.describe("service metrics/prometheus:9090 (through the API server)"),
            "service metrics/prometheus:9090 (through the API server); also found \
             monitoring/kps-kube-prometheus-stack-prometheus:http-web: --prometheus URL chooses"
        );
    }

    #[test]
    fn nothing_prometheus_like_is_none() {
        let services = [
            service(
                "metadata: {name: hubble-relay, namespace: kube-system}\nspec: {ports: [{port: 80, targetPort: 4245}]}",
            ),
            // Named like Prometheus but without a query port.
            service(
                "metadata: {name: prometheus-adapter, namespace: monitoring}\nspec: {ports: [{name: https, port: 443}]}",
            ),
            service("metadata: {name: my-prometheus-thing, namespace: x}\nspec: {ports: [{name: grpc, port: 10901}]}"),
        ];
        assert_eq!(choose(&services), None);
    }
}
