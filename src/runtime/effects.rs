//! Runs effects as async tasks and answers with messages.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::app::{ContextSwitch, Effect, Msg};
use crate::cluster::{Cluster, Mutator, backup};
use crate::config::Theme;
use crate::flows::FlowScope;

use super::backend::{Backend, Backends};

/// The outcome of `:ctx`, for the runtime to swap clients and sources.
pub type Switched = Result<(Backend, ContextSwitch), (String, String)>;

/// Owns the clients; each effect becomes a task that sends its result back.
#[derive(Clone)]
pub struct EffectRunner {
    pub cluster: Arc<dyn Cluster>,
    pub mutator: Mutator,
    pub tx: mpsc::Sender<Msg>,
    /// The flows the Hubble stream asks for.
    pub flow_scope: watch::Sender<FlowScope>,
    /// The context's Prometheus, when it names one.
    pub prometheus: Option<crate::prometheus::Prometheus>,
    pub backup_dir: PathBuf,
    pub themes_dir: Option<PathBuf>,
    /// How to reach other contexts, and where to hand over a new one; `None`
    /// where switching is not offered.
    pub switching: Option<(Backends, mpsc::Sender<Switched>)>,
    /// The context's ledger feed, which judges the soak on its own thread.
    pub ledger: Option<crate::ledger::LedgerFeed>,
}

impl EffectRunner {
    pub fn run(&self, effect: Effect) {
        let tx = self.tx.clone();
        match effect {
            Effect::ScopeFlows(scope) => {
                self.flow_scope.send_replace(scope);
            }
            Effect::JudgeSoak {
                engine,
                namespaces,
                snapshot,
                senders,
            } => {
                if let Some(ledger) = &self.ledger {
                    ledger.judge(crate::ledger::feed::Judging {
                        engine: engine.0,
                        namespaces,
                        snapshot: snapshot.0,
                        senders,
                    });
                }
            }
            Effect::FetchPrometheus { namespace, window } => {
                // The state asks only when the context names a usable URL,
                // from which the session built this client.
                let Some(client) = self.prometheus.clone() else {
                    return;
                };
                tokio::spawn(async move {
                    let evidence = crate::prometheus::PromEvidence::fetch(&client, &namespace, window).await;
                    let at = jiff::Timestamp::now();
                    let _ = tx
                        .send(Msg::PrometheusFetched {
                            namespace,
                            at,
                            evidence: Box::new(evidence),
                        })
                        .await;
                });
            }
            Effect::DryRun { id, plan } => {
                let mutator = self.mutator.clone();
                tokio::spawn(async move {
                    tracing::info!(action = plan.action.slug(), namespace = %plan.namespace, "dry run");
                    let result = mutator.dry_run(&plan).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::DryRunDone { id, result }).await;
                });
            }
            Effect::Execute { id, plan, diff } => {
                let mutator = self.mutator.clone();
                tokio::spawn(async move {
                    let (result, record) = mutator.execute(&plan, diff).await;
                    match &result {
                        Ok(()) => tracing::info!(action = plan.action.slug(), namespace = %plan.namespace, "applied"),
                        Err(err) => {
                            tracing::warn!(action = plan.action.slug(), namespace = %plan.namespace, %err, "not applied")
                        }
                    }
                    let result = result.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Executed { id, result, record }).await;
                });
            }
            Effect::LoadBackup { id, namespace, path } => {
                tokio::task::spawn_blocking(move || {
                    let result = backup::read(&path).map_err(|e| e.to_string());
                    let _ = tx.blocking_send(Msg::BackupLoaded {
                        id,
                        namespace,
                        path,
                        result,
                    });
                });
            }
            Effect::CheckBackupDir => {
                let dir = self.backup_dir.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.blocking_send(Msg::BackupDirChecked(check_writable(&dir)));
                });
            }
            Effect::LoadTheme(name) => {
                let themes_dir = self.themes_dir.clone();
                tokio::task::spawn_blocking(move || {
                    let mut diagnostics = Vec::new();
                    let theme = Theme::load(&name, themes_dir.as_deref(), &mut diagnostics);
                    let _ = tx.blocking_send(Msg::ThemeLoaded { theme, diagnostics });
                });
            }
            Effect::CheckAccess { namespace } => {
                let cluster = Arc::clone(&self.cluster);
                tokio::spawn(async move {
                    let result = cluster.access(&namespace).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::AccessChecked { namespace, result }).await;
                });
            }
            Effect::SwitchContext { context } => match self.switching.clone() {
                Some((backends, handover)) => {
                    tokio::spawn(async move {
                        tracing::info!(%context, "switching context");
                        let switched = backends.connect(&context).await.map_err(|e| (context, e));
                        let _ = handover.send(switched).await;
                    });
                }
                None => {
                    tokio::spawn(async move {
                        let error = "this session cannot switch contexts".to_string();
                        let _ = tx.send(Msg::ContextFailed { context, error }).await;
                    });
                }
            },
        }
    }
}

/// Proves the backup directory accepts files by writing and removing one.
pub fn check_writable(dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let probe = dir.join(format!(".tighten-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot clean up {}: {e}", probe.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_dir_check_reports_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(check_writable(&dir.path().join("new/backups")), Ok(()));
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let err = check_writable(&file.join("sub")).expect_err("a file is in the way");
        assert!(err.contains("cannot create"), "{err}");
    }
}
