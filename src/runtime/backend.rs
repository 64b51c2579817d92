//! Reaching a cluster: the embedded demo, or a kubeconfig context. Used at start
//! and by `:ctx`, so both paths build the same things.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::task::AbortHandle;

use crate::app::ContextSwitch;
use crate::app::state::AppConfig;
use crate::cluster::demo::{self, DemoCluster};
use crate::cluster::live::{ConnectOptions, LiveCluster};
use crate::cluster::{AuditLog, Cluster};
use crate::config::{self, ConfigError, ConfigSources, Paths};
use crate::flows::FlowSource;
use crate::hubble::client::{HubbleClient, Target, TlsOptions};
use crate::hubble::record::Recorder;
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
}

/// How many flows the demo's Hubble keeps: its hour of history.
const DEMO_RING: usize = 65_536;

/// A connected cluster with its flow source.
pub struct Backend {
    pub cluster: Arc<dyn Cluster>,
    pub flows: Arc<dyn FlowSource>,
    pub backup_dir: PathBuf,
    /// Servers the backend runs for itself (the demo's Hubble).
    pub services: Vec<AbortHandle>,
}

impl Backends {
    /// Connects to `context` (`demo` is the embedded demo cluster) and loads the
    /// configuration and audit history that go with it.
    pub async fn connect(&self, context: &str) -> Result<(Backend, ContextSwitch), String> {
        let backup_dir = self.paths.backup_dir().join(sanitize(context));
        let mut services = Vec::new();
        let (cluster, target, contexts): (Arc<dyn Cluster>, Target, Vec<String>) = if context == demo::CONTEXT {
            let demo = DemoCluster::new(Timestamp::now(), &backup_dir);
            let target = match &self.hubble.server {
                Some(server) => Target::Address(server.clone()),
                None => {
                    let (address, handles) = serve_demo_traffic(&demo).await?;
                    services.extend(handles);
                    Target::Address(address)
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
            let target = match &self.hubble.server {
                Some(server) => Target::Address(server.clone()),
                None => Target::PortForward {
                    client: live.client(),
                    namespace: self.hubble.namespace.clone(),
                },
            };
            (Arc::new(live), target, contexts)
        };
        // The demo's own Hubble is plain gRPC on loopback; TLS options are for the operator's.
        let tls = if services.is_empty() {
            self.hubble.tls.clone()
        } else {
            None
        };
        let mut client = HubbleClient::new(target, tls);
        if let Some(recorder) = &self.hubble.recorder {
            client = client.recording(recorder.clone());
        }
        let flows: Arc<dyn FlowSource> = Arc::new(client);
        let identity = cluster.identity();
        let (config, diagnostics) = self
            .app_config(context, backup_dir.clone())
            .map_err(|e| e.to_string())?;
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
                backup_dir,
                services,
            },
            ContextSwitch {
                identity,
                contexts,
                config,
                diagnostics,
                audit,
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
        let settings = loaded.settings.for_context(context);
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

/// Starts the demo's Hubble on a free loopback port, fed with the demo's
/// traffic; returns its address and the tasks to stop with the session.
async fn serve_demo_traffic(demo: &DemoCluster) -> Result<(String, Vec<AbortHandle>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot start the demo's Hubble on loopback: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    let ring = FlowRing::new(DEMO_RING);
    // The history is in the ring before anyone can ask for it.
    let from = demo.backfill(&ring);
    let feeder = tokio::spawn(demo.clone().feed(ring.clone(), from));
    let server = tokio::spawn(async move {
        if let Err(e) = ring.serve(listener, None).await {
            tracing::error!(%e, "the demo's Hubble stopped");
        }
    });
    Ok((address, vec![feeder.abort_handle(), server.abort_handle()]))
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
