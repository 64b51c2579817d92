//! The rollout model: policy roles, the phase a namespace is in (derived from its
//! objects and the recorded intent), and the plan of every rollout action.
pub mod export;
pub mod gitops;
pub mod labels;
pub mod phase;
pub mod plan;
pub mod posture;
pub mod promote;
pub mod role;

pub use phase::{Drift, Intent, NamespaceStatus, ObservedPolicies, Phase};
pub use plan::{Change, Refusal, Request, RolloutAction, RolloutPlan};
pub use posture::{Function, Posture, PostureInput, SideState};
pub use role::{BaselineComponent, PolicyRole};

use crate::cluster::{ClusterSnapshot, NamespaceIndex, NamespaceInfo};

/// Every namespace's derived status, by name: computed once per snapshot, since
/// it depends on nothing else (reading posture parses every policy).
pub type Statuses = std::collections::HashMap<String, std::sync::Arc<NamespaceStatus>>;

/// The status of every namespace of a snapshot.
pub fn statuses(snapshot: &ClusterSnapshot) -> Statuses {
    let index = NamespaceIndex::new(snapshot);
    snapshot
        .namespaces
        .iter()
        .map(|ns| (ns.name.clone(), std::sync::Arc::new(status_in(&index, ns))))
        .collect()
}

/// The derived status of one namespace of a snapshot (indexes the snapshot;
/// for every namespace at once use [`statuses`]).
pub fn status_for(snapshot: &ClusterSnapshot, namespace: &NamespaceInfo) -> NamespaceStatus {
    status_in(&NamespaceIndex::new(snapshot), namespace)
}

/// The derived status of one namespace, from an index of the snapshot.
pub fn status_in(index: &NamespaceIndex<'_>, namespace: &NamespaceInfo) -> NamespaceStatus {
    NamespaceStatus::derive(
        Intent::from_annotations(&namespace.annotations),
        ObservedPolicies::read(&PostureInput {
            namespace: &namespace.name,
            namespace_labels: &namespace.labels,
            policies: index.policies(&namespace.name),
            clusterwide: index.clusterwide(),
            pods: index.pods(&namespace.name),
        }),
    )
}
