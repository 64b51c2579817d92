//! Watches: one kube-rs watcher per kind keeps a mirror of the cluster; a
//! combiner turns the mirrors into snapshots.
//!
//! Each watcher relists after a lost connection (with kube-rs's default backoff);
//! the mirror swaps its rows only when the relist is complete, so the table never
//! shows a half-listed cluster. Failures are reported per stream and become the
//! connection state the status bar shows.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::PartialObjectMeta;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cluster::routes::{DECLARING_KINDS, Declarations, Declaring, read_declaring};
use crate::cluster::{
    AddressPool, ApplicationInfo, CiliumInfo, ClusterSnapshot, ConnectionState, GitRepositoryInfo, KustomizationInfo,
    NamespaceInfo, PodInfo, PolicyKind, PolicyObject, ServiceInfo,
};

use super::resources;

/// How long changes are gathered before a snapshot is built.
const DEBOUNCE: Duration = Duration::from_millis(60);
/// A failed stream quiet for this long has recovered (longer than the longest
/// backoff, so a stream still failing reports again before it elapses).
const RECOVERED_AFTER: Duration = Duration::from_secs(8);
/// How often an absent CRD is looked for again.
const CRD_RECHECK: Duration = Duration::from_secs(30);

/// Watches retry quickly: the table is the operator's view of the cluster.
fn reconnect_backoff() -> crate::backoff::Backoff {
    crate::backoff::Backoff::new(Duration::from_millis(500), Duration::from_secs(5))
}

/// The rows of one kind, keyed by `namespace/name`.
struct Table<T> {
    rows: BTreeMap<String, T>,
    relisting: Option<BTreeMap<String, T>>,
    synced: bool,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: BTreeMap::new(),
            relisting: None,
            synced: false,
        }
    }
}

impl<T> Table<T> {
    fn apply(&mut self, event: Event<(String, T)>) {
        match event {
            Event::Init => self.relisting = Some(BTreeMap::new()),
            Event::InitApply((key, row)) => {
                self.relisting.get_or_insert_with(BTreeMap::new).insert(key, row);
            }
            Event::InitDone => {
                self.rows = self.relisting.take().unwrap_or_default();
                self.synced = true;
            }
            Event::Apply((key, row)) => {
                self.rows.insert(key, row);
            }
            Event::Delete((key, _)) => {
                self.rows.remove(&key);
            }
        }
    }
}

/// The mirrors of every watched kind.
#[derive(Default)]
struct Mirrors {
    namespaces: Table<NamespaceInfo>,
    pods: Table<PodInfo>,
    services: Table<ServiceInfo>,
    policies: HashMap<PolicyKind, Table<PolicyObject>>,
    kustomizations: Option<Table<KustomizationInfo>>,
    applications: Option<Table<ApplicationInfo>>,
    address_pools: Option<Table<AddressPool>>,
    git_repositories: Option<Table<GitRepositoryInfo>>,
    /// Per declaring kind (by plural), once its API is served.
    declaring: BTreeMap<&'static str, Option<Table<Declaring>>>,
    cilium: CiliumInfo,
    /// Streams that failed: consecutive failures, the last error and when.
    failures: BTreeMap<&'static str, (u32, String, Instant)>,
    /// Streams that must have listed (or failed) before the first snapshot.
    required: Vec<&'static str>,
    listed: Vec<&'static str>,
    generation: u64,
}

/// Shared between the watch tasks and the combiner.
#[derive(Clone, Default)]
struct Shared {
    mirrors: Arc<Mutex<Mirrors>>,
    changed: Arc<Notify>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Mirrors> {
        self.mirrors.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The running watches; dropping them stops every task.
pub struct Watches {
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    pub snapshots: watch::Receiver<Option<Arc<ClusterSnapshot>>>,
    pub connection: watch::Receiver<ConnectionState>,
}

impl Drop for Watches {
    fn drop(&mut self) {
        for task in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
    }
}

/// Kinds whose failure degrades what the cockpit knows without making the
/// connection unhealthy: the GitOps kinds, LB IPAM, and the declaring kinds.
fn is_optional(stream: &str) -> bool {
    [
        "kustomizations",
        "applications",
        "ciliumloadbalancerippools",
        "gitrepositories",
    ]
    .contains(&stream)
        || DECLARING_KINDS.iter().any(|(_, plural, _)| *plural == stream)
}

const FLUX_GROUP: &str = "kustomize.toolkit.fluxcd.io/v1";
const FLUX_SOURCE_GROUP: &str = "source.toolkit.fluxcd.io/v1";
const ARGO_GROUP: &str = "argoproj.io/v1alpha1";
const CILIUM_GROUP: &str = "cilium.io/v2";

/// Starts watching everything the cockpit shows.
pub async fn start(client: Client, cilium: CiliumInfo) -> Watches {
    let shared = Shared::default();
    // GitOps kinds served now are part of the first snapshot, so a plan made
    // from it (a rollback, on the command line) sees their owners.
    let (flux, argo, pools, sources) = tokio::join!(
        group_served(&client, FLUX_GROUP, "kustomizations"),
        group_served(&client, ARGO_GROUP, "applications"),
        group_served(&client, CILIUM_GROUP, "ciliumloadbalancerippools"),
        group_served(&client, FLUX_SOURCE_GROUP, "gitrepositories"),
    );
    let declaring_served = futures::future::join_all(
        DECLARING_KINDS
            .iter()
            .map(|(group, plural, _)| group_served(&client, group, plural)),
    )
    .await;
    let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
    let spawn = {
        let tasks = Arc::clone(&tasks);
        move |task: JoinHandle<()>| tasks.lock().unwrap_or_else(|p| p.into_inner()).push(task)
    };
    {
        let mut m = shared.lock();
        m.cilium = cilium.clone();
        m.required = vec!["namespaces", "pods", "services", "networkpolicies"];
        if flux {
            m.required.push("kustomizations");
        }
        if argo {
            m.required.push("applications");
        }
        if pools {
            m.required.push("ciliumloadbalancerippools");
        }
        if sources {
            m.required.push("gitrepositories");
        }
        for ((_, plural, _), served) in DECLARING_KINDS.iter().zip(&declaring_served) {
            if *served {
                m.required.push(plural);
            }
        }
    }

    spawn(track(
        "namespaces",
        watcher(Api::<Namespace>::all(client.clone()), watcher::Config::default()),
        shared.clone(),
        |ns: &Namespace| {
            Some((
                resources::namespace_info(ns).name.clone(),
                resources::namespace_info(ns),
            ))
        },
        |m| &mut m.namespaces,
    ));
    spawn(track(
        "pods",
        watcher(
            Api::<PartialObjectMeta<Pod>>::all(client.clone()),
            watcher::Config::default(),
        ),
        shared.clone(),
        |pod| resources::pod_info(pod).map(|p| (format!("{}/{}", p.namespace, p.name), p)),
        |m| &mut m.pods,
    ));
    spawn(track(
        "services",
        watcher(Api::<Service>::all(client.clone()), watcher::Config::default()),
        shared.clone(),
        |svc| resources::service_info(svc).map(|s| (format!("{}/{}", s.namespace, s.name), s)),
        |m| &mut m.services,
    ));
    spawn(track_policies(
        &client,
        "networkpolicies",
        PolicyKind::NetworkPolicy,
        &shared,
    ));
    spawn(tokio::spawn(watch_cilium(
        client.clone(),
        shared.clone(),
        Arc::clone(&tasks),
        cilium.crds_installed,
    )));
    spawn(tokio::spawn(watch_optional(
        OptionalKind {
            client: client.clone(),
            shared: shared.clone(),
            tasks: Arc::clone(&tasks),
            served: flux,
            group: FLUX_GROUP,
            name: "kustomizations",
            resource: resources::kustomization_resource(),
        },
        |o: &DynamicObject| resources::kustomization_info(o).map(|k| (format!("{}/{}", k.namespace, k.name), k)),
        |m| &mut m.kustomizations,
    )));
    // Lint says a CIDR rule on LB IPAM addresses never matches.
    spawn(tokio::spawn(watch_optional(
        OptionalKind {
            client: client.clone(),
            shared: shared.clone(),
            tasks: Arc::clone(&tasks),
            served: pools,
            group: CILIUM_GROUP,
            name: "ciliumloadbalancerippools",
            resource: resources::address_pool_resource(),
        },
        resources::address_pool_info,
        |m| &mut m.address_pools,
    )));
    // The repository a Kustomization reads, to map a namespace to a checkout.
    spawn(tokio::spawn(watch_optional(
        OptionalKind {
            client: client.clone(),
            shared: shared.clone(),
            tasks: Arc::clone(&tasks),
            served: sources,
            group: FLUX_SOURCE_GROUP,
            name: "gitrepositories",
            resource: resources::git_repository_resource(),
        },
        resources::git_repository_info,
        |m| &mut m.git_repositories,
    )));
    // Ingresses, routes and webhooks declare paths the soak may never exercise.
    for (&(group, plural, kind), served) in DECLARING_KINDS.iter().zip(declaring_served) {
        let (version_group, version) = group.split_once('/').unwrap_or(("", group));
        let resource = kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(version_group, version, kind),
            plural,
        );
        spawn(tokio::spawn(watch_optional(
            OptionalKind {
                client: client.clone(),
                shared: shared.clone(),
                tasks: Arc::clone(&tasks),
                served,
                group,
                name: plural,
                resource,
            },
            move |o: &DynamicObject| {
                let value = serde_json::to_value(o).ok()?;
                let object = read_declaring(kind, &value)?;
                Some((
                    format!(
                        "{}/{}",
                        o.metadata.namespace.as_deref().unwrap_or(""),
                        o.metadata.name.as_deref()?
                    ),
                    object,
                ))
            },
            move |m| m.declaring.entry(plural).or_default(),
        )));
    }
    spawn(tokio::spawn(watch_optional(
        OptionalKind {
            client,
            shared: shared.clone(),
            tasks: Arc::clone(&tasks),
            served: argo,
            group: ARGO_GROUP,
            name: "applications",
            resource: resources::application_resource(),
        },
        |o: &DynamicObject| resources::application_info(o).map(|a| (format!("{}/{}", a.namespace, a.name), a)),
        |m| &mut m.applications,
    )));

    let (snapshot_tx, snapshots) = watch::channel(None);
    let (connection_tx, connection) = watch::channel(ConnectionState::Connecting);
    spawn(tokio::spawn(combine(shared, snapshot_tx, connection_tx)));
    Watches {
        tasks,
        snapshots,
        connection,
    }
}

fn key(policy: &PolicyObject) -> String {
    format!("{}/{}", policy.namespace.as_deref().unwrap_or(""), policy.name)
}

fn watcher<K>(api: Api<K>, config: watcher::Config) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher::watcher(api, config)
}

/// Feeds one watch stream into its table.
fn track<K, T, S>(
    name: &'static str,
    stream: S,
    shared: Shared,
    convert: impl Fn(&K) -> Option<(String, T)> + Send + 'static,
    table: impl Fn(&mut Mirrors) -> &mut Table<T> + Send + 'static,
) -> JoinHandle<()>
where
    K: Send + 'static,
    T: Send + 'static,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream.backoff(reconnect_backoff()));
        while let Some(item) = stream.next().await {
            {
                let mut m = shared.lock();
                match item {
                    Ok(event) => {
                        m.failures.remove(name);
                        let done = matches!(event, Event::InitDone);
                        let mapped = match event {
                            Event::Init => Some(Event::Init),
                            Event::InitDone => Some(Event::InitDone),
                            Event::InitApply(k) => convert(&k).map(Event::InitApply),
                            Event::Apply(k) => convert(&k).map(Event::Apply),
                            Event::Delete(k) => convert(&k).map(Event::Delete),
                        };
                        if let Some(event) = mapped {
                            table(&mut m).apply(event);
                        }
                        if done && !m.listed.contains(&name) {
                            m.listed.push(name);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(stream = name, %err, "watch failed; retrying with backoff");
                        let attempts = m.failures.get(name).map_or(0, |(n, _, _)| *n) + 1;
                        m.failures.insert(name, (attempts, err.to_string(), Instant::now()));
                    }
                }
                m.generation += 1;
            }
            shared.changed.notify_one();
        }
    })
}

/// Watches one policy kind as dynamic objects, so every kind converts the same way.
fn track_policies(client: &Client, name: &'static str, kind: PolicyKind, shared: &Shared) -> JoinHandle<()> {
    let api = Api::<DynamicObject>::all_with(client.clone(), &resources::policy_resource(kind));
    track(
        name,
        watcher::watcher(api, watcher::Config::default()),
        shared.clone(),
        move |o: &DynamicObject| resources::policy_from_dynamic(kind, o).map(|p| (key(&p), p)),
        move |m| m.policies.entry(kind).or_default(),
    )
}

/// Watches the Cilium policy kinds once their CRDs exist.
async fn watch_cilium(client: Client, shared: Shared, tasks: Arc<Mutex<Vec<JoinHandle<()>>>>, mut installed: bool) {
    while !installed {
        tokio::time::sleep(CRD_RECHECK).await;
        installed = group_served(&client, "cilium.io/v2", "ciliumnetworkpolicies").await;
    }
    {
        let mut m = shared.lock();
        m.cilium.crds_installed = true;
        m.required
            .extend(["ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"]);
    }
    for (name, kind) in [
        ("ciliumnetworkpolicies", PolicyKind::CiliumNetworkPolicy),
        (
            "ciliumclusterwidenetworkpolicies",
            PolicyKind::CiliumClusterwideNetworkPolicy,
        ),
    ] {
        let task = track_policies(&client, name, kind, &shared);
        tasks.lock().unwrap_or_else(|p| p.into_inner()).push(task);
    }
    shared.changed.notify_one();
}

/// An optional kind (Flux Kustomizations, Argo CD Applications) and where to
/// watch it from.
struct OptionalKind {
    client: Client,
    shared: Shared,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Whether its CRD was served at start; else it is checked again now and then.
    served: bool,
    group: &'static str,
    name: &'static str,
    resource: kube::api::ApiResource,
}

/// Watches an optional kind once its CRD exists.
async fn watch_optional<T: Send + 'static>(
    kind: OptionalKind,
    convert: impl Fn(&DynamicObject) -> Option<(String, T)> + Send + 'static,
    table: impl Fn(&mut Mirrors) -> &mut Option<Table<T>> + Send + Copy + 'static,
) {
    let OptionalKind {
        client,
        shared,
        tasks,
        mut served,
        group,
        name,
        resource,
    } = kind;
    while !served {
        tokio::time::sleep(CRD_RECHECK).await;
        served = group_served(&client, group, name).await;
    }
    *table(&mut shared.lock()) = Some(Table::default());
    let api = Api::<DynamicObject>::all_with(client, &resource);
    let task = track(
        name,
        watcher::watcher(api, watcher::Config::default()),
        shared.clone(),
        convert,
        move |m| table(m).get_or_insert_with(Table::default),
    );
    tasks.lock().unwrap_or_else(|p| p.into_inner()).push(task);
}

/// Whether the API server serves `resource` in `group_version`.
pub async fn group_served(client: &Client, group_version: &str, resource: &str) -> bool {
    match client.list_api_group_resources(group_version).await {
        Ok(list) => list.resources.iter().any(|r| r.name == resource),
        Err(_) => false,
    }
}

/// Builds snapshots from the mirrors whenever they change.
async fn combine(
    shared: Shared,
    snapshots: watch::Sender<Option<Arc<ClusterSnapshot>>>,
    connection: watch::Sender<ConnectionState>,
) {
    let mut built = 0;
    loop {
        // Woken by changes, and every second to notice recoveries.
        if tokio::time::timeout(Duration::from_secs(1), shared.changed.notified())
            .await
            .is_ok()
        {
            tokio::time::sleep(DEBOUNCE).await;
        }
        let (snapshot, state) = {
            let mut m = shared.lock();
            // A watch resumed from its last resourceVersion says nothing when it
            // succeeds; a stream still broken fails again within one backoff.
            m.failures.retain(|_, (_, _, at)| at.elapsed() < RECOVERED_AFTER);
            // The GitOps kinds are optional: a user who may not read them still
            // has a connected cockpit, and plans say the owners cannot be read.
            let state = match m
                .failures
                .iter()
                .filter(|(stream, _)| !is_optional(stream))
                .max_by_key(|(_, (n, _, _))| *n)
            {
                None => ConnectionState::Connected,
                Some((stream, (attempt, reason, _))) => ConnectionState::Reconnecting {
                    attempt: *attempt,
                    reason: format!("{stream}: {reason}"),
                },
            };
            // The first snapshot waits until every required kind has listed or
            // failed, so the table never starts half empty.
            let ready = m
                .required
                .iter()
                .all(|r| m.listed.contains(r) || m.failures.contains_key(r));
            let snapshot = (ready && m.generation != built).then(|| {
                built = m.generation;
                Arc::new(ClusterSnapshot {
                    namespaces: m.namespaces.rows.values().cloned().collect(),
                    pods: m.pods.rows.values().cloned().collect(),
                    services: m.services.rows.values().cloned().collect(),
                    policies: m.policies.values().flat_map(|t| t.rows.values().cloned()).collect(),
                    kustomizations: m
                        .kustomizations
                        .as_ref()
                        .filter(|_| m.listed.contains(&"kustomizations"))
                        .map(|t| t.rows.values().cloned().collect()),
                    applications: m
                        .applications
                        .as_ref()
                        .filter(|_| m.listed.contains(&"applications"))
                        .map(|t| t.rows.values().cloned().collect()),
                    address_pools: m
                        .address_pools
                        .as_ref()
                        .filter(|_| m.listed.contains(&"ciliumloadbalancerippools"))
                        .map(|t| t.rows.values().cloned().collect()),
                    git_repositories: m
                        .git_repositories
                        .as_ref()
                        .filter(|_| m.listed.contains(&"gitrepositories"))
                        .map(|t| t.rows.values().cloned().collect()),
                    declarations: declarations(&m),
                    cilium: m.cilium.clone(),
                })
            });
            (snapshot, state)
        };
        connection.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
        if let Some(snapshot) = snapshot
            && snapshots.send(Some(snapshot)).is_err()
        {
            return;
        }
    }
}

/// The declaring objects of every listed kind, and the kinds that failed.
fn declarations(m: &Mirrors) -> Declarations {
    let mut declarations: Declarations = m
        .declaring
        .iter()
        .filter(|(plural, _)| m.listed.contains(plural))
        .filter_map(|(_, table)| table.as_ref())
        .flat_map(|t| t.rows.values().cloned())
        .collect();
    declarations.unreadable = DECLARING_KINDS
        .iter()
        .filter(|(_, plural, _)| !m.listed.contains(plural))
        .filter_map(|(_, plural, _)| m.failures.get(plural).map(|(_, why, _)| (*plural, why.clone())))
        .collect();
    declarations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relist_replaces_rows_only_when_complete() {
        let mut table: Table<u32> = Table::default();
        table.apply(Event::Init);
        table.apply(Event::InitApply(("a".into(), 1)));
        table.apply(Event::InitApply(("b".into(), 2)));
        assert!(table.rows.is_empty() && !table.synced);
        table.apply(Event::InitDone);
        assert_eq!(table.rows.len(), 2);
        table.apply(Event::Apply(("c".into(), 3)));
        table.apply(Event::Delete(("a".into(), 1)));
        // A relist after a lost connection: the old rows stay until it is done,
        // then objects deleted meanwhile are gone.
        table.apply(Event::Init);
        table.apply(Event::InitApply(("c".into(), 30)));
        assert_eq!(table.rows.len(), 2);
        table.apply(Event::InitDone);
        assert_eq!(table.rows.into_iter().collect::<Vec<_>>(), vec![("c".to_string(), 30)]);
    }
}
