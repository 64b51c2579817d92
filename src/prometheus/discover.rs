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

/// Picks the Prometheus to ask among the cluster's Services: a Service with a
/// cluster IP before a headless one (the operator's `prometheus-operated`
/// lists every replica), then the shortest name (`prometheus-k8s` before
/// `prometheus-k8s-thanos-sidecar`), then by namespace and name so the choice
/// is stable.
pub fn choose(services: &[Service]) -> Option<Candidate> {
    services
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
        .min_by(|(a_headless, a), (b_headless, b)| {
            a_headless
                .cmp(b_headless)
                .then(a.name.len().cmp(&b.name.len()))
                .then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
        })
        .map(|(_, candidate)| candidate)
}

/// Looks for a Prometheus Service in every namespace. `Ok(None)`: there is
/// none; `Err`: the Services could not be listed (RBAC), said as such.
pub async fn discover(client: kube::Client) -> Result<Option<(Candidate, Prometheus)>, String> {
    let services = Api::<Service>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list Services to find Prometheus: {e}"))?;
    Ok(choose(&services.items).map(|candidate| {
        let prometheus = Prometheus::through_api_server(client, &candidate.namespace, &candidate.name, &candidate.port);
        (candidate, prometheus)
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
        let chosen = choose(&kube_prometheus()).expect("found");
        assert_eq!(chosen.to_string(), "monitoring/prometheus-k8s:web");
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
            choose(&services).map(|c| c.to_string()).as_deref(),
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
            choose(std::slice::from_ref(&stack)).map(|c| c.port).as_deref(),
            Some("http-web")
        );
        assert_eq!(
            choose(&[stack, unnamed]).map(|c| c.to_string()).as_deref(),
            Some("metrics/prometheus:9090")
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
