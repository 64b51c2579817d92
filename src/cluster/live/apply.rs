//! Plans against the live API: dry runs, and all-or-nothing execution.
//!
//! Policies are written by server-side apply with field manager `tighten` (so a
//! GitOps tool owning a field surfaces as a conflict, never a silent overwrite);
//! updates carry the planned resourceVersion and uid as preconditions, deletes
//! carry them as delete preconditions, and the namespace annotations are a merge
//! patch conditioned on the namespace's resourceVersion. When a step fails, the
//! steps already taken are undone in reverse order.

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use serde_json::{Map, Value, json};

use crate::cluster::{ChangeVerdict, ClusterError, DryRunReport, PolicyObject};
use crate::rollout::gitops::{Owner, OwnerChange};
use crate::rollout::{Change, RolloutPlan};

use super::resources::{self, policy_from_dynamic, policy_resource, policy_to_dynamic};

/// The field manager of every write.
pub const MANAGER: &str = "tighten";

pub async fn dry_run(client: &Client, plan: &RolloutPlan) -> DryRunReport {
    let mut verdicts = Vec::new();
    for owner in plan.enabled_owners() {
        let result = write_owner(client, owner, true)
            .await
            .map(|()| None)
            .map_err(|e| e.to_string());
        verdicts.push(ChangeVerdict {
            change: owner.summary(),
            result,
        });
    }
    for change in &plan.changes {
        let result = write(client, change, true).await.map_err(|e| e.to_string());
        verdicts.push(ChangeVerdict {
            change: format!("{} {}", change.verb(), change.target()),
            result,
        });
    }
    if has_annotations(plan) {
        let result = annotate(client, plan, true)
            .await
            .map(|()| None)
            .map_err(|e| e.to_string());
        verdicts.push(ChangeVerdict {
            change: format!("annotate Namespace {}", plan.namespace),
            result,
        });
    }
    DryRunReport { verdicts }
}

/// What to do to take one applied change back.
enum Undo {
    /// Write the opposite of an owner change (unconditionally: the owner's
    /// version moved with our own write).
    Owner(OwnerChange),
    Delete(PolicyObject),
    Reapply {
        before: PolicyObject,
        current: PolicyObject,
    },
    Recreate(PolicyObject),
}

pub async fn apply(client: &Client, plan: &RolloutPlan) -> Result<(), ClusterError> {
    let mut undo = Vec::new();
    // Owners first: a Kustomization still reconciling could re-apply what the
    // next steps delete.
    for owner in plan.enabled_owners() {
        match write_owner(client, owner, false).await {
            Ok(()) => undo.push(Undo::Owner(owner.reversed())),
            Err(failed) => return Err(roll_back(client, failed, undo).await),
        }
    }
    for change in &plan.changes {
        match write(client, change, false).await {
            Ok(result) => undo.push(match (change, result) {
                (Change::Create(_), Some(created)) => Undo::Delete(created),
                (Change::Update { before, .. }, Some(current)) => Undo::Reapply {
                    before: before.clone(),
                    current,
                },
                (Change::Delete(deleted), _) => Undo::Recreate(deleted.clone()),
                // The server returns the object for every create and update.
                (Change::Create(o) | Change::Update { after: o, .. }, None) => Undo::Delete(o.clone()),
            }),
            Err(failed) => return Err(roll_back(client, failed, undo).await),
        }
    }
    if has_annotations(plan)
        && let Err(failed) = annotate(client, plan, false).await
    {
        return Err(roll_back(client, failed, undo).await);
    }
    Ok(())
}

async fn roll_back(client: &Client, failed: ClusterError, mut undo: Vec<Undo>) -> ClusterError {
    if undo.is_empty() {
        return failed;
    }
    let (mut undone, mut undo_failed) = (Vec::new(), Vec::new());
    while let Some(step) = undo.pop() {
        let (label, result) = match step {
            Undo::Owner(reverse) => (reverse.summary(), write_owner(client, &reverse, false).await),
            Undo::Delete(created) => (
                format!("deleted {}", created.object_ref()),
                write(client, &Change::Delete(created), false).await.map(|_| ()),
            ),
            Undo::Reapply { before, current } => {
                // Back to the old content, conditioned on the version we wrote.
                let restored = PolicyObject {
                    resource_version: current.resource_version.clone(),
                    ..before.without_server_fields()
                };
                (
                    format!("restored {}", restored.object_ref()),
                    write(
                        client,
                        &Change::Update {
                            before: current,
                            after: restored,
                        },
                        false,
                    )
                    .await
                    .map(|_| ()),
                )
            }
            Undo::Recreate(deleted) => (
                format!("re-created {}", deleted.object_ref()),
                write(client, &Change::Create(deleted.without_server_fields()), false)
                    .await
                    .map(|_| ()),
            ),
        };
        match result {
            Ok(()) => undone.push(label),
            Err(e) => undo_failed.push(format!("{label}: {e}")),
        }
    }
    tracing::warn!(%failed, ?undone, ?undo_failed, "a multi-object action failed part-way");
    ClusterError::PartlyUndone {
        failed: Box::new(failed),
        undone,
        undo_failed,
    }
}

fn has_annotations(plan: &RolloutPlan) -> bool {
    !plan.annotations.set.is_empty() || !plan.annotations.remove.is_empty()
}

/// The JSON patch from `before` to `after` over what tighten changes (labels
/// and the rules), led by the resourceVersion `before` was read at: the API
/// server then refuses it with a conflict (409) if the object changed since.
fn update_patch(before: &PolicyObject, after: &PolicyObject) -> json_patch::Patch {
    let document = |o: &PolicyObject| {
        let mut metadata = Map::new();
        if !o.labels.is_empty() {
            metadata.insert("labels".into(), json!(o.labels));
        }
        let mut doc: Map<String, Value> = o
            .body
            .iter()
            .filter(|(key, _)| key.as_str() != "status")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        doc.insert("metadata".into(), Value::Object(metadata));
        Value::Object(doc)
    };
    let mut patch = json_patch::diff(&document(before), &document(after));
    if let Some(version) = &before.resource_version {
        patch.0.insert(
            0,
            json_patch::PatchOperation::Replace(json_patch::ReplaceOperation {
                path: json_patch::jsonptr::PointerBuf::parse("/metadata/resourceVersion").unwrap_or_default(),
                value: json!(version),
            }),
        );
    }
    patch
}

/// One object change; returns the object as the server stored it (or would).
async fn write(client: &Client, change: &Change, dry_run: bool) -> Result<Option<PolicyObject>, ClusterError> {
    let target = change.target();
    let label = format!("{} {target}", change.verb());
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &policy_resource(target.kind));
    match change {
        Change::Update { before, after } => {
            // Only what changes, as a JSON patch conditioned on the version
            // the plan saw: the object may be the team's, its fields owned by
            // kubectl or Flux. A server-side apply of the whole object would
            // conflict with them, or, forced, take their fields over so that a
            // field later removed from Git would stay.
            let mut params = PatchParams {
                field_manager: Some(MANAGER.into()),
                ..PatchParams::default()
            };
            params.dry_run = dry_run;
            let stored = api
                .patch(&after.name, &params, &Patch::<Value>::Json(update_patch(before, after)))
                .await
                .map_err(|e| classify(&label, e))?;
            Ok(policy_from_dynamic(target.kind, &stored))
        }
        Change::Create(object) => {
            if api
                .get_opt(&object.name)
                .await
                .map_err(|e| classify(&label, e))?
                .is_some()
            {
                return Err(ClusterError::Conflict {
                    target: label,
                    detail: "it already exists".into(),
                });
            }
            let mut body = object.clone();
            body.body.remove("status");
            let body = policy_to_dynamic(&body).map_err(|e| ClusterError::Rejected {
                target: label.clone(),
                message: e.to_string(),
            })?;
            let mut params = PatchParams::apply(MANAGER);
            params.dry_run = dry_run;
            let stored = api
                .patch(&object.name, &params, &Patch::Apply(&body))
                .await
                .map_err(|e| classify(&label, e))?;
            Ok(policy_from_dynamic(target.kind, &stored))
        }
        Change::Delete(object) => {
            let params = DeleteParams {
                dry_run,
                preconditions: Some(Preconditions {
                    resource_version: object.resource_version.clone(),
                    uid: object.uid.clone(),
                }),
                ..DeleteParams::default()
            };
            api.delete(&object.name, &params)
                .await
                .map_err(|e| classify(&label, e))?;
            Ok(None)
        }
    }
}

/// Pauses or resumes a Flux Kustomization or Argo CD Application: a merge
/// patch conditioned on the resourceVersion the plan saw.
async fn write_owner(client: &Client, change: &OwnerChange, dry_run: bool) -> Result<(), ClusterError> {
    let label = change.summary();
    let (resource, namespace, name) = match &change.owner {
        Owner::Flux { namespace, name } => (resources::kustomization_resource(), namespace, name),
        Owner::Argo { namespace, name } => (resources::application_resource(), namespace, name),
        Owner::Helm { .. } => {
            return Err(ClusterError::Rejected {
                target: label,
                message: "Helm releases do not reconcile by themselves: nothing to pause".into(),
            });
        }
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let params = PatchParams {
        dry_run,
        field_manager: Some(MANAGER.into()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(change.patch()))
        .await
        .map(|_| ())
        .map_err(|e| classify(&label, e))
}

/// The namespace's annotations, conditioned on its resourceVersion.
async fn annotate(client: &Client, plan: &RolloutPlan, dry_run: bool) -> Result<(), ClusterError> {
    let label = format!("annotate Namespace {}", plan.namespace);
    let mut annotations: Map<String, Value> = plan
        .annotations
        .set
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    for key in &plan.annotations.remove {
        annotations.insert(key.clone(), Value::Null);
    }
    let mut metadata = json!({ "annotations": annotations });
    if let Some(version) = &plan.namespace_version {
        metadata["resourceVersion"] = Value::String(version.clone());
    }
    let params = PatchParams {
        dry_run,
        field_manager: Some(MANAGER.into()),
        ..PatchParams::default()
    };
    Api::<Namespace>::all(client.clone())
        .patch(&plan.namespace, &params, &Patch::Merge(json!({ "metadata": metadata })))
        .await
        .map(|_| ())
        .map_err(|e| classify(&label, e))
}

/// Turns a client error into what the operator needs to read.
pub fn classify(target: &str, error: kube::Error) -> ClusterError {
    match error {
        kube::Error::Api(status) => match status.code {
            409 => ClusterError::Conflict {
                target: target.into(),
                detail: status.message.clone(),
            },
            404 => ClusterError::NotFound(target.into()),
            403 => ClusterError::Forbidden {
                target: target.into(),
                message: status.message.clone(),
            },
            _ => ClusterError::Rejected {
                target: target.into(),
                message: format!("{} ({})", status.message, status.code),
            },
        },
        other => ClusterError::Unavailable(format!("{target}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team_default_deny(version: &str) -> PolicyObject {
        PolicyObject::from_manifest(&json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": "shop", "resourceVersion": version,
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"endpointSelector": {}, "ingressDeny": [{}], "egressDeny": [{}],
                     "enableDefaultDeny": {"ingress": false, "egress": false}},
            "status": {"conditions": []}
        }))
        .expect("policy")
    }

    #[test]
    fn an_update_patches_only_what_changes_at_the_version_it_was_planned_on() {
        let before = team_default_deny("42");
        let after = crate::rollout::plan::with_enforcement(&before, true);
        let patch = serde_json::to_value(update_patch(&before, &after)).expect("json");
        assert_eq!(
            patch,
            json!([
                {"op": "replace", "path": "/metadata/resourceVersion", "value": "42"},
                {"op": "replace", "path": "/spec/enableDefaultDeny/egress", "value": true},
                {"op": "replace", "path": "/spec/enableDefaultDeny/ingress", "value": true}
            ])
        );
    }

    #[test]
    fn labels_are_added_to_a_policy_that_had_none_and_annotations_are_left_alone() {
        let before = team_default_deny("7");
        let mut after = before.clone();
        after.labels.insert("tighten.dev/role".into(), "default-deny".into());
        after.annotations.clear();
        let patch = serde_json::to_value(update_patch(&before, &after)).expect("json");
        assert_eq!(
            patch,
            json!([
                {"op": "replace", "path": "/metadata/resourceVersion", "value": "7"},
                {"op": "add", "path": "/metadata/labels", "value": {"tighten.dev/role": "default-deny"}}
            ])
        );
    }
}
