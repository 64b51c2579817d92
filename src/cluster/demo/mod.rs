//! The embedded demo cluster: no Kubernetes needed.
//!
//! It sits behind the same [`Cluster`] trait as the live backend and behaves like
//! an API server where it matters to the cockpit: resourceVersion preconditions,
//! conflicts, all-or-nothing plans, and dry runs that change nothing. Actions
//! really change it, and its traffic follows, so the whole rollout loop can be
//! tried from the keyboard.

pub mod fixtures;
pub mod traffic;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;

use crate::hubble::server::FlowRing;
use crate::policy::Templates;
use crate::rollout::gitops::{Owner, OwnerChange};
use crate::rollout::{Change, RolloutPlan};

use super::AuditRecord;
use super::access::AccessReport;
use super::backup::{self, BackupHeader};
use super::{
    ChangeVerdict, Cluster, ClusterError, ClusterEvent, ClusterIdentity, ClusterSnapshot, ConnectionState,
    DryRunReport, PolicyObject,
};

/// The demo's kubeconfig-like identity.
pub const CONTEXT: &str = "demo";

/// How much history the flow stream replays when it starts, so sparklines are
/// populated the moment the cockpit opens.
pub const BACKFILL: SignedDuration = SignedDuration::from_mins(crate::flows::window::MINUTES as i64);

/// The demo cluster. Cheap to clone; clones share the same world.
#[derive(Clone)]
pub struct DemoCluster {
    inner: Arc<Inner>,
}

struct Inner {
    world: Mutex<World>,
    subscribers: Mutex<Vec<mpsc::Sender<ClusterEvent>>>,
    seed: u64,
}

struct World {
    snapshot: Arc<ClusterSnapshot>,
    next_version: u64,
}

impl DemoCluster {
    /// The demo as it is at `now`. The payments namespace was rolled back during
    /// an incident; its backup is written under `backup_dir` so restore works.
    pub fn new(now: Timestamp, backup_dir: &Path) -> DemoCluster {
        let templates = Templates::embedded();
        let backup = seed_backup(backup_dir, &templates);
        let snapshot = fixtures::initial(now, &templates, &backup.display().to_string());
        DemoCluster::from_snapshot(snapshot, 0x7167_6874)
    }

    /// A demo over arbitrary objects (tests).
    pub fn from_snapshot(snapshot: ClusterSnapshot, seed: u64) -> DemoCluster {
        DemoCluster {
            inner: Arc::new(Inner {
                world: Mutex::new(World {
                    snapshot: Arc::new(snapshot),
                    next_version: 100,
                }),
                subscribers: Mutex::new(Vec::new()),
                seed,
            }),
        }
    }

    pub fn snapshot(&self) -> Arc<ClusterSnapshot> {
        Arc::clone(&self.world().snapshot)
    }

    /// The flows of `(from, to]` as the cluster is now; deterministic per `seed`.
    pub fn flows_between(&self, from: Timestamp, to: Timestamp, seed: u64) -> Vec<crate::flows::Flow> {
        let snapshot = self.snapshot();
        traffic::generate(&snapshot, from, to, &mut fastrand::Rng::with_seed(seed))
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock cannot leave the world half-changed (plans
        // are applied to a copy and swapped in), so a poisoned lock is still usable.
        self.inner.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn broadcast(&self, snapshot: Arc<ClusterSnapshot>) {
        let mut subscribers = self.inner.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.retain(|tx| !tx.is_closed());
        for tx in subscribers.iter() {
            // A full channel only delays this snapshot; the next one supersedes it.
            let _ = tx.try_send(ClusterEvent::Snapshot(Arc::clone(&snapshot)));
        }
    }
}

#[async_trait]
impl Cluster for DemoCluster {
    fn identity(&self) -> ClusterIdentity {
        ClusterIdentity {
            context: CONTEXT.into(),
            cluster: "tighten-demo".into(),
            user: "operator".into(),
            demo: true,
        }
    }

    fn subscribe(&self) -> mpsc::Receiver<ClusterEvent> {
        let (tx, rx) = mpsc::channel(16);
        let _ = tx.try_send(ClusterEvent::Connection(ConnectionState::Connected));
        let _ = tx.try_send(ClusterEvent::Snapshot(self.snapshot()));
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    async fn dry_run(&self, plan: &RolloutPlan) -> Result<DryRunReport, ClusterError> {
        let world = self.world();
        let (_, verdicts) = simulate(&world.snapshot, world.next_version, plan);
        Ok(DryRunReport { verdicts })
    }

    async fn apply(&self, plan: &RolloutPlan) -> Result<(), ClusterError> {
        let snapshot = {
            let mut world = self.world();
            let (next, verdicts) = simulate(&world.snapshot, world.next_version, plan);
            if let Some(failure) = verdicts.iter().find_map(|v| v.result.as_ref().err().map(|e| (v, e))) {
                return Err(failure_to_error(failure.0, failure.1));
            }
            world.next_version += (plan.changes.len() + plan.owners.len()) as u64 + 1;
            world.snapshot = Arc::new(next);
            Arc::clone(&world.snapshot)
        };
        self.broadcast(snapshot);
        Ok(())
    }

    async fn access(&self, _namespace: &str) -> Result<AccessReport, ClusterError> {
        // The demo's operator may do everything.
        Ok(AccessReport::default())
    }

    async fn announce(&self, record: &AuditRecord) -> Result<(), ClusterError> {
        // The demo has no event API: its actions show in the Log tab and the audit file.
        tracing::debug!(action = %record.action, namespace = %record.namespace, "demo action");
        Ok(())
    }
}

impl DemoCluster {
    /// The demo's Hubble history: an hour of traffic pushed into `ring`, so the
    /// windows are full the moment the cockpit opens. Returns where it ends.
    pub fn backfill(&self, ring: &FlowRing) -> Timestamp {
        let now = Timestamp::now();
        let mut rng = fastrand::Rng::with_seed(self.inner.seed);
        ring.push(traffic::generate(&self.snapshot(), now - BACKFILL, now, &mut rng));
        now
    }

    /// The demo's live traffic from `from` on, pushed every half second. The
    /// cockpit reads it through the same client and observer API as a real
    /// Hubble Relay.
    pub async fn feed(self, ring: FlowRing, from: Timestamp) {
        let mut rng = fastrand::Rng::with_seed(self.inner.seed.wrapping_add(1));
        let mut last = from;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let now = Timestamp::now();
            ring.push(traffic::generate(&self.snapshot(), last, now, &mut rng));
            last = now;
        }
    }
}

/// Applies a plan to a copy of the snapshot, as the API server would, and reports
/// per change.
/// The API server's resourceVersion precondition: a write planned against
/// one version is refused once the object has moved on.
fn precondition(want: &Option<String>, have: &Option<String>) -> Result<(), String> {
    match (want, have) {
        (Some(want), Some(have)) if want != have => Err(format!(
            "conflict: the object has been modified (resourceVersion {have}, plan expected {want})"
        )),
        _ => Ok(()),
    }
}

/// An owner pause or resume on the demo's Kustomizations and Applications,
/// with the API server's precondition and the annotations the patch carries.
fn simulate_owner(next: &mut ClusterSnapshot, change: &OwnerChange, version: u64) -> Result<(), String> {
    let patch = change.patch();
    let annotate = |annotations: &mut std::collections::BTreeMap<String, String>| {
        if let Some(set) = patch.pointer("/metadata/annotations").and_then(|a| a.as_object()) {
            for (key, value) in set {
                match value.as_str() {
                    Some(text) => {
                        annotations.insert(key.clone(), text.to_string());
                    }
                    None => {
                        annotations.remove(key);
                    }
                }
            }
        }
    };
    let check = |have: &Option<String>| precondition(&change.resource_version, have);
    match &change.owner {
        Owner::Flux { namespace, name } => {
            let kustomization = next
                .kustomizations
                .iter_mut()
                .flatten()
                .find(|k| k.namespace == *namespace && k.name == *name)
                .ok_or_else(|| "not found".to_string())?;
            check(&kustomization.resource_version)?;
            kustomization.suspended = change.pause;
            annotate(&mut kustomization.annotations);
            kustomization.resource_version = Some(version.to_string());
        }
        Owner::Argo { namespace, name } => {
            let application = next
                .applications
                .iter_mut()
                .flatten()
                .find(|a| a.namespace == *namespace && a.name == *name)
                .ok_or_else(|| "not found".to_string())?;
            check(&application.resource_version)?;
            application.automated = crate::cluster::ApplicationInfo::automated_in(&patch);
            annotate(&mut application.annotations);
            application.resource_version = Some(version.to_string());
        }
        Owner::Helm { .. } => return Err("Helm releases do not reconcile: nothing to pause".into()),
    }
    Ok(())
}

fn simulate(current: &ClusterSnapshot, mut version: u64, plan: &RolloutPlan) -> (ClusterSnapshot, Vec<ChangeVerdict>) {
    let mut next = current.clone();
    let mut verdicts = Vec::new();
    for owner in plan.enabled_owners() {
        version += 1;
        verdicts.push(ChangeVerdict {
            change: owner.summary(),
            result: simulate_owner(&mut next, owner, version).map(|()| None),
        });
    }
    for change in &plan.changes {
        let target = change.target();
        let line = format!("{} {target}", change.verb());
        let position = next.policies.iter().position(|p| p.object_ref() == target);
        let precondition = |expected: &PolicyObject, current: &PolicyObject| {
            precondition(&expected.resource_version, &current.resource_version)
        };
        version += 1;
        let result = match (change, position) {
            (Change::Create(object), None) => {
                let mut created = object.clone();
                created.uid = Some(format!("demo-uid-{version}"));
                created.resource_version = Some(version.to_string());
                next.policies.push(created.clone());
                Ok(Some(created))
            }
            (Change::Create(_), Some(_)) => Err("already exists".to_string()),
            (Change::Update { after, .. }, Some(i)) => precondition(after, &next.policies[i]).map(|()| {
                let mut updated = after.clone();
                updated.uid = next.policies[i].uid.clone();
                updated.resource_version = Some(version.to_string());
                next.policies[i] = updated.clone();
                Some(updated)
            }),
            (Change::Delete(object), Some(i)) => precondition(object, &next.policies[i]).map(|()| {
                next.policies.remove(i);
                None
            }),
            (Change::Update { .. } | Change::Delete(_), None) => Err("not found".to_string()),
        };
        verdicts.push(ChangeVerdict { change: line, result });
    }

    if !plan.annotations.set.is_empty() || !plan.annotations.remove.is_empty() {
        version += 1;
        let line = format!("annotate Namespace {}", plan.namespace);
        let result = match next.namespaces.iter_mut().find(|n| n.name == plan.namespace) {
            None => Err("namespace not found".to_string()),
            Some(ns) if plan.namespace_version.is_some() && ns.resource_version != plan.namespace_version => {
                Err(format!(
                    "conflict: the namespace has been modified (resourceVersion {}, plan expected {})",
                    ns.resource_version.as_deref().unwrap_or("?"),
                    plan.namespace_version.as_deref().unwrap_or("?")
                ))
            }
            Some(ns) => {
                for key in &plan.annotations.remove {
                    ns.annotations.remove(key);
                }
                ns.annotations.extend(plan.annotations.set.clone());
                ns.resource_version = Some(version.to_string());
                Ok(None)
            }
        };
        verdicts.push(ChangeVerdict { change: line, result });
    }
    (next, verdicts)
}

fn failure_to_error(verdict: &ChangeVerdict, message: &str) -> ClusterError {
    if message.starts_with("conflict") {
        ClusterError::Conflict {
            target: verdict.change.clone(),
            detail: message.to_string(),
        }
    } else if message == "not found" {
        ClusterError::NotFound(verdict.change.clone())
    } else {
        ClusterError::Rejected {
            target: verdict.change.clone(),
            message: message.to_string(),
        }
    }
}

/// Writes the payments incident backup once, so the demo's restore has a real file.
fn seed_backup(backup_dir: &Path, templates: &Templates) -> PathBuf {
    let path = backup_dir
        .join("payments")
        .join("20261122T031500Z-rollback-namespace.yaml");
    if !path.exists() {
        let objects = fixtures::payments_before_rollback(templates);
        let refs: Vec<&PolicyObject> = objects.iter().collect();
        let header = BackupHeader {
            context: CONTEXT,
            namespace: "payments",
            action: "rollback-namespace",
            written: Timestamp::UNIX_EPOCH,
        };
        if let Err(err) = backup::write(&path, &header, &refs) {
            tracing::warn!(%err, "could not write the demo's seed backup; restore of payments will say so");
        }
    }
    path
}

#[cfg(test)]
mod tests;
