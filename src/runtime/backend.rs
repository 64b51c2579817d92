//! Reaching a cluster: the embedded demo, or a kubeconfig context. Used at start
//! and by `:ctx`, so both paths build the same things.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::app::ContextSwitch;
use crate::app::state::AppConfig;
use crate::cluster::demo::{self, DemoCluster};
use crate::cluster::live::{ConnectOptions, LiveCluster};
use crate::cluster::{AuditLog, Cluster};
use crate::config::{self, ConfigError, ConfigSources, Paths};
use crate::flows::{FlowEvent, FlowSource, FlowStreamState};
use crate::policy::Templates;

/// Everything needed to connect to any context.
#[derive(Clone)]
pub struct Backends {
    pub paths: Paths,
    pub sources: ConfigSources,
    pub kubeconfig: Option<PathBuf>,
    pub readonly: bool,
}

/// A connected cluster with its flow source.
pub struct Backend {
    pub cluster: Arc<dyn Cluster>,
    pub flows: Arc<dyn FlowSource>,
    pub backup_dir: PathBuf,
}

impl Backends {
    /// Connects to `context` (`demo` is the embedded demo cluster) and loads the
    /// configuration and audit history that go with it.
    pub async fn connect(&self, context: &str) -> Result<(Backend, ContextSwitch), String> {
        let backup_dir = self.paths.backup_dir().join(sanitize(context));
        let (cluster, flows, contexts): (Arc<dyn Cluster>, Arc<dyn FlowSource>, Vec<String>) =
            if context == demo::CONTEXT {
                let demo = DemoCluster::new(Timestamp::now(), &backup_dir);
                (Arc::new(demo.clone()), Arc::new(demo), self.kubeconfig_contexts())
            } else {
                let options = ConnectOptions {
                    kubeconfig: self.kubeconfig.clone(),
                    context: Some(context.to_string()),
                };
                let live = LiveCluster::connect(&options).await.map_err(|e| e.to_string())?;
                let mut contexts = live.contexts();
                contexts.push(demo::CONTEXT.into());
                (Arc::new(live), Arc::new(NoHubble), contexts)
            };
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

/// The flow source of a live cluster until the Hubble client exists: it says so
/// on screen instead of showing an empty, healthy-looking stream.
pub struct NoHubble;

impl FlowSource for NoHubble {
    fn subscribe(&self) -> mpsc::Receiver<FlowEvent> {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let reason = "no Hubble client in this build: drops and flows are not shown".to_string();
            if tx
                .send(FlowEvent::State(FlowStreamState::Unavailable(reason)))
                .await
                .is_ok()
            {
                tx.closed().await;
            }
        });
        rx
    }
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
