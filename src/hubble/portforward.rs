//! Reaching Hubble Relay through the API server, as `hubble -P` and `kubectl
//! port-forward` do: the Service `hubble-relay` in the Cilium namespace names
//! the pods and the port; a loopback listener carries each connection to a
//! running pod over the API server's port-forward.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::ListParams;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The Service Cilium's Helm chart creates for Relay.
pub const RELAY_SERVICE: &str = "hubble-relay";

/// A forward in place; dropping it closes the listener.
#[derive(Debug)]
pub struct Forward {
    pub local: SocketAddr,
    /// `namespace/pod:port`, for the status bar.
    pub target: String,
    task: JoinHandle<()>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Finds a running Relay pod behind the Service and listens on a free loopback
/// port for connections to carry to it. The error says what is missing and
/// what to do instead.
pub async fn open(client: kube::Client, namespace: &str) -> Result<Forward, String> {
    let instead = "or pass --hubble-server HOST:PORT";
    let service = Api::<Service>::namespaced(client.clone(), namespace)
        .get_opt(RELAY_SERVICE)
        .await
        .map_err(|e| format!("cannot read Service {namespace}/{RELAY_SERVICE}: {e} ({instead})"))?
        .ok_or_else(|| format!("no Service {namespace}/{RELAY_SERVICE}: is Hubble Relay enabled? ({instead})"))?;
    let spec = service.spec.unwrap_or_default();
    let selector = spec
        .selector
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("Service {namespace}/{RELAY_SERVICE} selects no pods ({instead})"))?;
    let selector: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let service_port = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| format!("Service {namespace}/{RELAY_SERVICE} has no port ({instead})"))?;
    let pods = Api::<Pod>::namespaced(client, namespace);
    let listed = pods
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(|e| format!("cannot list the {RELAY_SERVICE} pods in {namespace}: {e} ({instead})"))?;
    let matching = listed.items.len();
    let pod = listed.items.into_iter().find(running_and_ready).ok_or_else(|| {
        format!("no running {RELAY_SERVICE} pod in {namespace} ({matching} match the Service; {instead})")
    })?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    // Port-forwards go to the pod's port, which the Service may name.
    let port = match service_port.target_port {
        Some(IntOrString::Int(port)) => u16::try_from(port).ok(),
        Some(IntOrString::String(named)) => named_port(&pod, &named),
        None => u16::try_from(service_port.port).ok(),
    }
    .ok_or_else(|| format!("cannot tell the port of pod {namespace}/{name} behind {RELAY_SERVICE} ({instead})"))?;

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on loopback for the port-forward: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let target = format!("{namespace}/{name}:{port}");
    tracing::info!(%target, %local, "port-forward to Hubble Relay");
    let task = tokio::spawn(carry(listener, pods, name, port));
    Ok(Forward { local, target, task })
}

fn running_and_ready(pod: &Pod) -> bool {
    let Some(status) = &pod.status else { return false };
    status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn named_port(pod: &Pod, name: &str) -> Option<u16> {
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| u16::try_from(p.container_port).ok())
}

/// Each accepted connection gets its own port-forward stream.
async fn carry(listener: TcpListener, pods: Api<Pod>, pod: String, port: u16) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let (pods, pod) = (pods.clone(), pod.clone());
        tokio::spawn(async move {
            let mut forwarder = match pods.portforward(&pod, &[port]).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(%pod, %e, "port-forward failed");
                    return;
                }
            };
            let Some(mut upstream) = forwarder.take_stream(port) else {
                return;
            };
            if let Err(e) = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await {
                tracing::debug!(%pod, %e, "port-forward connection closed");
            }
            drop(upstream);
            let _ = forwarder.join().await;
        });
    }
}
