//! Connecting as kubectl does: `KUBECONFIG` (possibly several files), or
//! `--kubeconfig`, and `--context` or the current context.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::cluster::{ClusterError, ClusterIdentity};

/// Where the kubeconfig comes from and which context to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `--kubeconfig`; otherwise `KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`; otherwise the kubeconfig's current context.
    pub context: Option<String>,
}

/// A loaded kubeconfig with the context chosen.
pub struct Target {
    pub kubeconfig: Kubeconfig,
    pub context: String,
    pub cluster: String,
    pub user: String,
}

impl ConnectOptions {
    /// Whether nothing names a cluster: no `--kubeconfig` or `--context`,
    /// `KUBECONFIG` unset or empty, and no `config` in `kube_dir` (`~/.kube`).
    /// A broken setting is not nothing: it is reported, never replaced.
    pub fn names_no_cluster(&self, kubeconfig_env: Option<&OsStr>, kube_dir: Option<&Path>) -> bool {
        let env_names_files =
            kubeconfig_env.is_some_and(|v| std::env::split_paths(v).any(|p| !p.as_os_str().is_empty()));
        self.kubeconfig.is_none()
            && self.context.is_none()
            && !env_names_files
            && kube_dir.is_none_or(|dir| !dir.join("config").exists())
    }

    pub fn read(&self) -> Result<Target, ClusterError> {
        let unavailable = |e: kube::config::KubeconfigError| ClusterError::Unavailable(format!("kubeconfig: {e}"));
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path).map_err(unavailable)?,
            None => Kubeconfig::read().map_err(unavailable)?,
        };
        let context = self
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone())
            .ok_or_else(|| {
                ClusterError::Unavailable("the kubeconfig names no current context; pass --context".into())
            })?;
        let entry = kubeconfig
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.clone())
            .ok_or_else(|| {
                let known: Vec<_> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
                ClusterError::Unavailable(format!(
                    "no context {context:?} in the kubeconfig (it has: {})",
                    known.join(", ")
                ))
            })?;
        Ok(Target {
            context,
            cluster: entry.cluster,
            user: entry.user.unwrap_or_default(),
            kubeconfig,
        })
    }
}

impl Target {
    /// Every context the kubeconfig defines, for `:ctx`.
    pub fn contexts(&self) -> Vec<String> {
        self.kubeconfig.contexts.iter().map(|c| c.name.clone()).collect()
    }

    /// A client for this context, and one that does not retry: a request
    /// through the API server's service proxy should hear "no endpoints"
    /// (503) at once rather than have it retried until it times out.
    pub async fn clients(&self) -> Result<(Client, Client), ClusterError> {
        let options = KubeConfigOptions {
            context: Some(self.context.clone()),
            ..KubeConfigOptions::default()
        };
        let unavailable =
            |e: &dyn std::fmt::Display| ClusterError::Unavailable(format!("context {}: {e}", self.context));
        let config = Config::from_custom_kubeconfig(self.kubeconfig.clone(), &options)
            .await
            .map_err(|e| unavailable(&e))?;
        let mut once = config.clone();
        once.default_retry = false;
        Ok((
            Client::try_from(config).map_err(|e| unavailable(&e))?,
            Client::try_from(once).map_err(|e| unavailable(&e))?,
        ))
    }

    /// Who the API server says we are (SelfSubjectReview), falling back to the
    /// kubeconfig's user name when the server cannot tell.
    pub async fn identity(&self, client: &Client) -> ClusterIdentity {
        let review = Api::<SelfSubjectReview>::all(client.clone())
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await;
        let user = match review {
            Ok(r) => r
                .status
                .and_then(|s| s.user_info)
                .and_then(|u| u.username)
                .unwrap_or_else(|| self.user.clone()),
            Err(err) => {
                tracing::warn!(%err, "SelfSubjectReview failed; using the kubeconfig user name");
                self.user.clone()
            }
        };
        ClusterIdentity {
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user,
            demo: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_machine_without_any_kubeconfig_names_no_cluster() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = ConnectOptions::default();
        assert!(none.names_no_cluster(None, Some(dir.path())));
        assert!(none.names_no_cluster(Some(OsStr::new("")), Some(dir.path())));
        assert!(none.names_no_cluster(None, None));
        // Anything the operator set, even a file that is missing, is theirs to fix.
        assert!(!none.names_no_cluster(Some(OsStr::new("/nowhere/config")), Some(dir.path())));
        let flagged = ConnectOptions {
            kubeconfig: Some("/nowhere/config".into()),
            context: None,
        };
        assert!(!flagged.names_no_cluster(None, Some(dir.path())));
        let context = ConnectOptions {
            kubeconfig: None,
            context: Some("prod".into()),
        };
        assert!(!context.names_no_cluster(None, Some(dir.path())));
        std::fs::write(dir.path().join("config"), "apiVersion: v1\n").expect("write");
        assert!(!none.names_no_cluster(None, Some(dir.path())));
    }
}
