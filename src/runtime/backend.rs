//! Reaching a cluster: the embedded demo, or a kubeconfig context. Used at start
//! and by `:ctx`, so both paths build the same things.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::task::AbortHandle;

use crate::app::ContextSwitch;
use crate::app::state::{AppConfig, PromSetup};
use crate::cluster::demo::{self, DemoCluster};
use crate::cluster::live::{ConnectOptions, LiveCluster};
use crate::cluster::{AuditLog, Cluster};
use crate::config::{self, ConfigError, ConfigSources, Paths};
use crate::flows::FlowSource;
use crate::hubble::client::{HubbleClient, Target, TlsOptions};
use crate::hubble::record::Recorder;
use crate::hubble::replay::Replay;
use crate::hubble::server::FlowRing;
use crate::policy::Templates;

/// Everything needed to connect to any context.
#[derive(Clone)]
pub struct Backends {
    pub paths: Paths,
    pub sources: ConfigSources,
    pub kubeconfig: Option<PathBuf>,
    pub readonly: bool,
    pub hubble: HubbleSettings,
    /// `--prometheus`: the gate's Prometheus for every context (else the
    /// context's `prometheus` setting).
    pub prometheus: Option<String>,
}

/// How to reach Hubble.
#[derive(Clone, Default)]
pub struct HubbleSettings {
    /// `host:port` of Hubble Relay (or `tighten replay`), for every context;
    /// without it, live contexts port-forward to Relay and the demo serves its
    /// own traffic.
    pub server: Option<String>,
    pub tls: Option<TlsOptions>,
    /// Where Cilium (and the `hubble-relay` Service) lives.
    pub namespace: String,
    /// Every flow received is also written here.
    pub recorder: Option<Recorder>,
    /// Flows from this recording instead of Hubble (offline analysis).
    pub flows_file: Option<PathBuf>,
}

/// How many flows the demo's Hubble keeps: its hour of history.
const DEMO_RING: usize = 65_536;

/// A connected cluster with its flow source.
pub struct Backend {
    pub cluster: Arc<dyn Cluster>,
    pub flows: Arc<dyn FlowSource>,
    pub backup_dir: PathBuf,
    /// The context's connection ledger, fed while the cockpit runs (`None`
    /// for the demo, which starts afresh each run).
    pub ledger: Option<PathBuf>,
    /// Servers the backend runs for itself (the demo's Hubble).
    pub services: Vec<AbortHandle>,
    /// The gate's Prometheus, built once from the context's URL (a URL that
    /// cannot be used is the state's to report).
    pub prometheus: Option<crate::prometheus::Prometheus>,
}

impl Backends {
    /// Connects to `context` (`demo` is the embedded demo cluster) and loads the
    /// configuration and audit history that go with it.
    pub async fn connect(&self, context: &str) -> Result<(Backend, ContextSwitch), String> {
        let backup_dir = self.paths.backup_dir().join(sanitize(context));
        let mut services = Vec::new();
        // A recording that cannot be read degrades the flow panels, not the cockpit.
        let mut label = None;
        let recording: Option<Result<Target, String>> = match &self.hubble.flows_file {
            Some(path) => Some(serve_recording(path).await.map(|(address, handle)| {
                services.push(handle);
                let name = path
                    .file_name()
                    .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
                label = Some(format!("recording {name} (ending now)"));
                Target::Address(address)
            })),
            None => None,
        };
        type Flows = Result<Target, String>;
        let mut kube_client = None;
        let (cluster, target, contexts): (Arc<dyn Cluster>, Flows, Vec<String>) = if context == demo::CONTEXT {
            let demo = DemoCluster::new(Timestamp::now(), &backup_dir);
            let target = match (recording, &self.hubble.server) {
                (Some(target), _) => target,
                (None, Some(server)) => Ok(Target::Address(server.clone())),
                (None, None) => {
                    let (address, handles) = serve_demo_traffic(&demo).await?;
                    services.extend(handles);
                    label = Some(format!("demo Hubble {address}"));
                    Ok(Target::Address(address))
                }
            };
            (Arc::new(demo), target, self.kubeconfig_contexts())
        } else {
            let options = ConnectOptions {
                kubeconfig: self.kubeconfig.clone(),
                context: Some(context.to_string()),
            };
            let live = LiveCluster::connect(&options).await.map_err(|e| e.to_string())?;
            let mut contexts = live.contexts();
            contexts.push(demo::CONTEXT.into());
            kube_client = Some(live.proxy_client());
            let target = match (recording, &self.hubble.server) {
                (Some(target), _) => target,
                (None, Some(server)) => Ok(Target::Address(server.clone())),
                (None, None) => Ok(Target::PortForward {
                    client: live.client(),
                    namespace: self.hubble.namespace.clone(),
                }),
            };
            (Arc::new(live), target, contexts)
        };
        // The demo's own Hubble is plain gRPC on loopback; TLS options are for the operator's.
        let tls = if services.is_empty() {
            self.hubble.tls.clone()
        } else {
            None
        };
        let flows: Arc<dyn FlowSource> = match target {
            Ok(target) => {
                let mut client = HubbleClient::new(target, tls);
                if let Some(label) = label {
                    client = client.labelled(label);
                }
                if let Some(recorder) = &self.hubble.recorder {
                    client = client.recording(recorder.clone());
                }
                Arc::new(client)
            }
            Err(reason) => {
                tracing::warn!(%reason, "flows file");
                Arc::new(crate::flows::Unavailable(reason))
            }
        };
        let identity = cluster.identity();
        let (config, diagnostics) = self
            .app_config(context, backup_dir.clone())
            .map_err(|e| e.to_string())?;
        let (prometheus, prometheus_setup) = prometheus_for(config.settings.prometheus.as_deref(), kube_client).await;
        // The demo starts afresh each run, so its old records would describe
        // another world; live contexts show their history.
        let audit = if identity.demo {
            Vec::new()
        } else {
            AuditLog::new(self.paths.audit_file()).load(context).0
        };
        Ok((
            Backend {
                cluster,
                flows,
                ledger: (!identity.demo).then(|| crate::ledger::path_for(&self.paths.data_dir, context)),
                backup_dir,
                services,
                prometheus,
            },
            ContextSwitch {
                identity,
                contexts,
                config,
                diagnostics,
                audit,
                prometheus: prometheus_setup,
            },
        ))
    }

    /// The cockpit's configuration for `context`.
    pub fn app_config(
        &self,
        context: &str,
        backup_dir: PathBuf,
    ) -> Result<(AppConfig, Vec<config::Diagnostic>), ConfigError> {
        let mut loaded = config::load(&self.sources, context)?;
        let mut settings = loaded.settings.for_context(context);
        if let Some(url) = &self.prometheus {
            settings.prometheus = Some(url.clone());
        }
        // User templates replace the shipped ones file by file; a broken one is a
        // diagnostic and the shipped template stays.
        let templates = Templates::load(settings.templates_dir.as_deref(), &mut loaded.diagnostics);
        for diagnostic in &loaded.diagnostics {
            tracing::warn!(%diagnostic, "configuration");
        }
        let config = AppConfig {
            keymap: loaded.keymap,
            theme: loaded.theme,
            settings,
            templates,
            readonly: self.readonly,
            backup_dir,
        };
        Ok((config, loaded.diagnostics))
    }

    /// The kubeconfig's contexts plus `demo`, for `:ctx` in the demo.
    fn kubeconfig_contexts(&self) -> Vec<String> {
        let target = ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: None,
        };
        let mut contexts = vec![demo::CONTEXT.to_string()];
        let kubeconfig = match &target.kubeconfig {
            Some(path) => kube::config::Kubeconfig::read_from(path),
            None => kube::config::Kubeconfig::read(),
        };
        if let Ok(k) = kubeconfig {
            contexts.extend(k.contexts.into_iter().map(|c| c.name));
        }
        contexts
    }
}

/// How long looking for a Prometheus Service may delay the connection.
const DISCOVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The gate's Prometheus: the configured URL, else (on a live cluster) a
/// Prometheus Service found through the API server, else why there is none.
async fn prometheus_for(
    configured: Option<&str>,
    client: Option<kube::Client>,
) -> (Option<crate::prometheus::Prometheus>, PromSetup) {
    if let Some(url) = configured {
        return (
            crate::prometheus::Prometheus::new(url).ok(),
            PromSetup::from_setting(Some(url)),
        );
    }
    let Some(client) = client else {
        return (None, PromSetup::NotConfigured);
    };
    match tokio::time::timeout(DISCOVERY, crate::prometheus::discover::discover(client)).await {
        Ok(Ok(Some((choice, prometheus)))) => {
            tracing::info!(service = %choice.chosen, others = choice.others.len(), "found Prometheus");
            let setup = PromSetup::Url(choice.describe(prometheus.url()));
            (Some(prometheus), setup)
        }
        Ok(Ok(None)) => (
            None,
            PromSetup::NotFound("not configured, and no Prometheus Service in the cluster".into()),
        ),
        Ok(Err(why)) => (None, PromSetup::NotFound(why)),
        Err(_) => (
            None,
            PromSetup::NotFound(format!(
                "looking for a Prometheus Service took over {} s",
                DISCOVERY.as_secs()
            )),
        ),
    }
}

/// Starts the demo's Hubble on a free loopback port, fed with the demo's
/// traffic; returns its address and the tasks to stop with the session.
async fn serve_demo_traffic(demo: &DemoCluster) -> Result<(String, Vec<AbortHandle>), String> {
    let ring = FlowRing::new(DEMO_RING);
    // The history is in the ring before anyone can ask for it.
    let from = demo.backfill(&ring);
    let (address, server) = on_loopback("the demo's Hubble", |listener| ring.clone().serve(listener, None)).await?;
    let feeder = tokio::spawn(demo.clone().feed(ring, from));
    Ok((address, vec![feeder.abort_handle(), server]))
}

/// Serves a recording on a free loopback port, all of it at once and moved in
/// time so that its last flow is now: the cockpit's windows then cover the
/// recording's last hour.
async fn serve_recording(path: &std::path::Path) -> Result<(String, AbortHandle), String> {
    let recording = crate::flows::file::read(path).map_err(|e| e.to_string())?;
    let span = match (
        recording.flows.iter().map(|f| f.time).min(),
        recording.flows.iter().map(|f| f.time).max(),
    ) {
        (Some(first), Some(last)) => last.duration_since(first),
        _ => return Err(format!("{}: no flows in the file", path.display())),
    };
    let replay = Replay::new(recording.flows, f64::MAX, false).rebased(Timestamp::now() - span);
    on_loopback(&format!("the server of {}", path.display()), |listener| {
        replay.serve(listener, None)
    })
    .await
}

/// Runs one of tighten's own observer servers on a free loopback port;
/// returns its address and the task to stop with the session.
async fn on_loopback<S>(
    what: &str,
    serve: impl FnOnce(tokio::net::TcpListener) -> S,
) -> Result<(String, AbortHandle), String>
where
    S: std::future::Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot start {what} on loopback: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    let server = serve(listener);
    let what = what.to_string();
    let task = tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(%e, "{what} stopped");
        }
    });
    Ok((address, task.abort_handle()))
}

/// Context names may hold characters a directory name should not.
fn sanitize(context: &str) -> String {
    context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_become_safe_directory_names() {
        assert_eq!(
            sanitize("arn:aws:eks:eu-west-1:123:cluster/prod"),
            "arn_aws_eks_eu-west-1_123_cluster_prod"
        );
        assert_eq!(sanitize("kind-lab"), "kind-lab");
    }
}
