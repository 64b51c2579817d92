//! SelfSubjectAccessReviews for the permissions the actions need.

use std::collections::BTreeSet;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::cluster::ClusterError;
use crate::cluster::access::{ACTIONS, AccessReport, Permission, required};

use super::apply::classify;

pub async fn check(client: &Client, namespace: &str) -> Result<AccessReport, ClusterError> {
    let wanted: BTreeSet<Permission> = ACTIONS.into_iter().flat_map(|a| required(a, namespace)).collect();
    let api = Api::<SelfSubjectAccessReview>::all(client.clone());
    let mut allowed = BTreeSet::new();
    for permission in wanted {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(permission.verb.into()),
                    group: Some(permission.group.into()),
                    resource: Some(permission.resource.into()),
                    namespace: permission.namespace.clone(),
                    name: permission.name.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| classify(&format!("access review of {permission}"), e))?;
        if answer.status.is_some_and(|s| s.allowed) {
            allowed.insert(permission);
        }
    }
    Ok(AccessReport::from_check(namespace, |p| allowed.contains(p)))
}
