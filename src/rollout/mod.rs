//! The rollout model: policy roles, the phase a namespace is in (derived from its
//! objects and the recorded intent), and the plan of every rollout action.
pub mod export;
pub mod gitops;
pub mod labels;
pub mod phase;
pub mod plan;
pub mod promote;
pub mod role;

pub use phase::{DefaultDeny, Drift, Intent, NamespaceStatus, ObservedPolicies, Phase};
pub use plan::{Change, Refusal, Request, RolloutAction, RolloutPlan};
pub use role::{BaselineComponent, PolicyRole};

use crate::cluster::{ClusterSnapshot, NamespaceIndex, NamespaceInfo};

/// The derived status of one namespace of a snapshot (scans the snapshot; for
/// every namespace at once use [`status_in`]).
pub fn status_for(snapshot: &ClusterSnapshot, namespace: &NamespaceInfo) -> NamespaceStatus {
    derive(namespace, snapshot.namespaced_policies(&namespace.name))
}

/// The derived status of one namespace, from an index of the snapshot.
pub fn status_in(index: &NamespaceIndex<'_>, namespace: &NamespaceInfo) -> NamespaceStatus {
    derive(namespace, index.policies(&namespace.name).iter().copied())
}

fn derive<'a>(
    namespace: &NamespaceInfo,
    policies: impl IntoIterator<Item = &'a crate::cluster::PolicyObject>,
) -> NamespaceStatus {
    NamespaceStatus::derive(
        Intent::from_annotations(&namespace.annotations),
        ObservedPolicies::from_policies(policies),
    )
}
