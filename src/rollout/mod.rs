//! The rollout model: policy roles, the phase a namespace is in (derived from its
//! objects and the recorded intent), and the plan of every rollout action.
pub mod labels;
pub mod phase;
pub mod plan;
pub mod role;

pub use phase::{DefaultDeny, Drift, Intent, NamespaceStatus, ObservedPolicies, Phase};
pub use plan::{Change, Refusal, Request, RolloutAction, RolloutPlan};
pub use role::{BaselineComponent, PolicyRole};

use crate::cluster::{ClusterSnapshot, NamespaceInfo};

/// The derived status of one namespace of a snapshot.
pub fn status_for(snapshot: &ClusterSnapshot, namespace: &NamespaceInfo) -> NamespaceStatus {
    NamespaceStatus::derive(
        Intent::from_annotations(&namespace.annotations),
        ObservedPolicies::from_policies(snapshot.namespaced_policies(&namespace.name)),
    )
}
