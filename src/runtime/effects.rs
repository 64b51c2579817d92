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
    /// Where forward steps for a GitOps repository are prepared.
    pub worktrees_dir: PathBuf,
    /// The step prepared as a commit for the open confirm dialog (by its
    /// request id), with whether to push it: committed on confirm, its
    /// worktree removed when it is dropped.
    pub drafts: Arc<std::sync::Mutex<std::collections::HashMap<u64, (crate::repo::step::Commit, bool)>>>,
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
            Effect::DryRun { id, plan, repo } => {
                let mutator = self.mutator.clone();
                let drafts = Arc::clone(&self.drafts);
                let worktrees = self.worktrees_dir.clone();
                tokio::spawn(async move {
                    tracing::info!(action = plan.action.slug(), namespace = %plan.namespace, "dry run");
                    let prepared = match repo {
                        None => Ok(None),
                        Some(step) => {
                            let for_git = plan.clone();
                            let drafts = Arc::clone(&drafts);
                            tokio::task::spawn_blocking(move || {
                                // One dialog at a time: an earlier draft's worktree goes.
                                drafts.lock().unwrap_or_else(|p| p.into_inner()).clear();
                                match crate::repo::step::prepare_step(&for_git, &step, &worktrees) {
                                    Ok(commit) => Ok(commit.map(|c| (c, step.push))),
                                    Err(
                                        crate::repo::step::NotPrepared::Refused(why)
                                        | crate::repo::step::NotPrepared::Failed(why),
                                    ) => Err(why),
                                }
                            })
                            .await
                            .unwrap_or_else(|e| Err(format!("preparing the commit stopped: {e}")))
                        }
                    };
                    let msg = match prepared {
                        Err(why) => Msg::DryRunDone {
                            id,
                            result: Err(why),
                            commit: None,
                        },
                        Ok(None) => Msg::DryRunDone {
                            id,
                            result: mutator.dry_run(&plan).await.map_err(|e| e.to_string()),
                            commit: None,
                        },
                        Ok(Some((commit, push))) => {
                            let result = mutator.dry_run(&commit.rendered).await.map_err(|e| e.to_string());
                            let preview = crate::app::effect::CommitPreview {
                                lines: crate::app::review::commit_review(&commit),
                                rendered: commit.rendered.clone(),
                            };
                            drafts
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(id, (commit, push));
                            Msg::DryRunDone {
                                id,
                                result,
                                commit: Some(Box::new(preview)),
                            }
                        }
                    };
                    let _ = tx.send(msg).await;
                });
            }
            Effect::Execute { id, plan, diff, revert } => {
                let drafted = self.drafts.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                if let Some((mut commit, push)) = drafted {
                    let mutator = self.mutator.clone();
                    tokio::task::spawn_blocking(move || {
                        let (result, record) = crate::repo::step::commit_and_record(
                            &mut commit,
                            &plan,
                            push,
                            mutator.readonly(),
                            &mutator.identity(),
                            mutator.audit_log(),
                            diff,
                        );
                        drop(commit);
                        let _ = tx.blocking_send(Msg::Executed {
                            id,
                            result: result.map(|_| ()),
                            record,
                        });
                    });
                    return;
                }
                let mutator = self.mutator.clone();
                let worktrees = self.worktrees_dir.clone();
                tokio::spawn(async move {
                    let (result, record) = mutator.execute(&plan, diff).await;
                    match &result {
                        Ok(()) => tracing::info!(action = plan.action.slug(), namespace = %plan.namespace, "applied"),
                        Err(err) => {
                            tracing::warn!(action = plan.action.slug(), namespace = %plan.namespace, %err, "not applied")
                        }
                    }
                    let done = result.is_ok();
                    let result = result.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Executed { id, result, record }).await;
                    // The break-glass is done; its revert for Git follows, and
                    // never holds it up.
                    if let Some(step) = revert.filter(|_| done) {
                        let readonly = mutator.readonly();
                        let reverted = tokio::task::spawn_blocking(move || {
                            crate::repo::step::revert_after_rollback(&plan, &step, readonly, &worktrees)
                        })
                        .await
                        .unwrap_or_else(|e| Some(Err(format!("the revert commit stopped: {e}"))));
                        if let Some(reverted) = reverted {
                            let _ = tx.send(Msg::Reverted(reverted)).await;
                        }
                    }
                });
            }
            Effect::CheckCommit { pending, applied } => {
                tokio::task::spawn_blocking(move || {
                    let contained = crate::repo::pending::contains(&pending, &applied);
                    let _ = tx.blocking_send(Msg::CommitChecked {
                        namespace: pending.namespace,
                        applied,
                        contained,
                    });
                });
            }
            Effect::DiscardCommit { id } => {
                let drafts = Arc::clone(&self.drafts);
                // Dropping the draft removes its worktree: git, so not here.
                tokio::task::spawn_blocking(move || {
                    drop(drafts.lock().unwrap_or_else(|p| p.into_inner()).remove(&id));
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
