//! The live backend: kube-rs watches, server-side apply, RBAC pre-checks and
//! Events, behind the same [`Cluster`] trait as the demo.

pub mod access;
pub mod apply;
pub mod connect;
pub mod events;
pub mod resources;
pub mod watch;

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};
use tokio::sync::mpsc;

use crate::rollout::RolloutPlan;

use super::access::AccessReport;
use super::{AuditRecord, CiliumInfo, Cluster, ClusterError, ClusterEvent, ClusterIdentity, DryRunReport};

pub use connect::ConnectOptions;

/// A connected cluster.
pub struct LiveCluster {
    client: Client,
    identity: ClusterIdentity,
    proxy_client: Client,
    contexts: Vec<String>,
    watches: Arc<watch::Watches>,
}

impl LiveCluster {
    /// Connects to the context `options` name and starts the watches.
    pub async fn connect(options: &ConnectOptions) -> Result<LiveCluster, ClusterError> {
        let target = options.read()?;
        let (client, proxy_client) = target.clients().await?;
        let identity = target.identity(&client).await;
        let cilium = detect_cilium(&client).await;
        tracing::info!(context = %identity.context, user = %identity.user, ?cilium, "connected");
        let watches = watch::start(client.clone(), cilium).await;
        Ok(LiveCluster {
            client,
            proxy_client,
            identity,
            contexts: target.contexts(),
            watches: Arc::new(watches),
        })
    }

    /// The client, for the Hubble port-forward.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A client for requests through the API server's service proxy: it does
    /// not retry, so the API server's refusals come back as they are.
    pub fn proxy_client(&self) -> Client {
        self.proxy_client.clone()
    }

    /// Every context of the kubeconfig, for `:ctx`.
    pub fn contexts(&self) -> Vec<String> {
        self.contexts.clone()
    }
}

/// What can be learnt about Cilium without special rights: whether its CRDs are
/// served, whether they know `enableDefaultDeny`, and the agent's version from
/// its DaemonSet image when readable.
async fn detect_cilium(client: &Client) -> CiliumInfo {
    let crds_installed = watch::group_served(client, "cilium.io/v2", "ciliumnetworkpolicies").await;
    let default_deny_supported = match Api::<CustomResourceDefinition>::all(client.clone())
        .get_opt("ciliumnetworkpolicies.cilium.io")
        .await
    {
        Ok(Some(crd)) => serde_json::to_value(&crd)
            .ok()
            .map(|v| resources::crd_supports_default_deny(&v)),
        _ => None,
    };
    let version = Api::<DaemonSet>::namespaced(client.clone(), "kube-system")
        .get_opt("cilium")
        .await
        .ok()
        .flatten()
        .and_then(|ds| ds.spec.template.spec?.containers.first()?.image.clone())
        .and_then(|image| {
            image
                .rsplit_once(':')
                .map(|(_, tag)| tag.trim_start_matches('v').to_string())
        });
    CiliumInfo {
        version,
        crds_installed,
        default_deny_supported,
    }
}

#[async_trait]
impl Cluster for LiveCluster {
    fn identity(&self) -> ClusterIdentity {
        self.identity.clone()
    }

    fn subscribe(&self) -> mpsc::Receiver<ClusterEvent> {
        let (tx, rx) = mpsc::channel(16);
        let mut snapshots = self.watches.snapshots.clone();
        let mut connection = self.watches.connection.clone();
        // A subscriber arriving late (after `:ctx`, say) gets the current state first.
        snapshots.mark_changed();
        connection.mark_changed();
        // Latest-value channels: a slow reader skips intermediate snapshots but
        // always ends on the newest.
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    changed = snapshots.changed() => match changed {
                        Ok(()) => match snapshots.borrow_and_update().clone() {
                            Some(snapshot) => ClusterEvent::Snapshot(snapshot),
                            None => continue,
                        },
                        Err(_) => return,
                    },
                    changed = connection.changed() => match changed {
                        Ok(()) => ClusterEvent::Connection(connection.borrow_and_update().clone()),
                        Err(_) => return,
                    },
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    async fn dry_run(&self, plan: &RolloutPlan) -> Result<DryRunReport, ClusterError> {
        Ok(apply::dry_run(&self.client, plan).await)
    }

    async fn apply(&self, plan: &RolloutPlan) -> Result<(), ClusterError> {
        apply::apply(&self.client, plan).await
    }

    async fn access(&self, namespace: &str) -> Result<AccessReport, ClusterError> {
        access::check(&self.client, namespace).await
    }

    async fn announce(&self, record: &AuditRecord) -> Result<(), ClusterError> {
        events::announce(&self.client, record).await
    }
}
