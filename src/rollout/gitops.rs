//! Who applies a namespace's policies from Git, and pausing them around a
//! break-glass: a rollback that Flux or Argo CD re-applies a minute later is
//! no rollback. Pure: the plan carries owner changes; the cluster layers
//! write them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cluster::{ApplicationInfo, KustomizationInfo, PolicyObject};

use super::labels;

/// Flux's default namespace, when a policy's labels do not name one.
const FLUX_NAMESPACE: &str = "flux-system";
/// Argo CD's namespace for Applications whose tracking id has no namespace.
const ARGO_NAMESPACE: &str = "argocd";

/// The tool that applied a policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "tool", rename_all = "lowercase")]
pub enum Owner {
    Flux {
        namespace: String,
        name: String,
    },
    Argo {
        namespace: String,
        name: String,
    },
    /// Helm does not reconcile by itself: nothing to pause.
    Helm {
        release: String,
    },
}

impl Owner {
    /// The owner a policy's labels and annotations name.
    pub fn of(policy: &PolicyObject) -> Option<Owner> {
        Owner::from_metadata(&policy.labels, &policy.annotations)
    }

    /// The owner an object's labels and annotations name (policies, and the
    /// Kustomizations and Applications that a parent applies).
    pub fn from_metadata(
        object_labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Option<Owner> {
        if let Some(name) = object_labels.get(labels::FLUX_NAME) {
            let namespace = object_labels
                .get(labels::FLUX_NAMESPACE)
                .cloned()
                .unwrap_or_else(|| FLUX_NAMESPACE.to_string());
            return Some(Owner::Flux {
                namespace,
                name: name.clone(),
            });
        }
        if let Some(id) = annotations.get(labels::ARGO_TRACKING) {
            return Some(argo_from_tracking(id));
        }
        if let Some(release) = annotations.get(labels::HELM_RELEASE) {
            return Some(Owner::Helm {
                release: release.clone(),
            });
        }
        if object_labels.get(labels::MANAGED_BY).map(String::as_str) == Some("Helm") {
            return Some(Owner::Helm { release: String::new() });
        }
        None
    }

    /// The column's word.
    pub fn short(&self) -> &'static str {
        match self {
            Owner::Flux { .. } => "flux",
            Owner::Argo { .. } => "argo",
            Owner::Helm { .. } => "helm",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Owner::Flux { namespace, name } => format!("Flux Kustomization {namespace}/{name}"),
            Owner::Argo { namespace, name } => format!("Argo CD Application {namespace}/{name}"),
            Owner::Helm { release } if release.is_empty() => "a Helm release".into(),
            Owner::Helm { release } => format!("Helm release {release}"),
        }
    }

    /// Whether the owner re-applies by itself, so a rollback must pause it.
    pub fn reconciles(&self) -> bool {
        !matches!(self, Owner::Helm { .. })
    }

    /// How the namespace annotation records a paused owner: `flux:ns/name`.
    pub fn key(&self) -> String {
        match self {
            Owner::Flux { namespace, name } => format!("flux:{namespace}/{name}"),
            Owner::Argo { namespace, name } => format!("argo:{namespace}/{name}"),
            Owner::Helm { release } => format!("helm:{release}"),
        }
    }

    /// Reads [`Owner::key`] back.
    pub fn from_key(key: &str) -> Option<Owner> {
        let (tool, rest) = key.split_once(':')?;
        let (namespace, name) = rest.split_once('/')?;
        let (namespace, name) = (namespace.to_string(), name.to_string());
        match tool {
            "flux" => Some(Owner::Flux { namespace, name }),
            "argo" => Some(Owner::Argo { namespace, name }),
            _ => None,
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Argo CD's tracking id is `<app>:<group>/<kind>:<namespace>/<name>`, where
/// `<app>` is `<app-namespace>_<name>` for Applications outside Argo CD's own
/// namespace.
fn argo_from_tracking(id: &str) -> Owner {
    let app = id.split(':').next().unwrap_or(id);
    match app.split_once('_') {
        Some((namespace, name)) => Owner::Argo {
            namespace: namespace.to_string(),
            name: name.to_string(),
        },
        None => Owner::Argo {
            namespace: ARGO_NAMESPACE.to_string(),
            name: app.to_string(),
        },
    }
}

/// Pause or resume one owner, written with the plan's other changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnerChange {
    pub owner: Owner,
    /// `true`: suspend (Flux) or turn auto-sync off (Argo CD); `false`: resume.
    pub pause: bool,
    /// The owner object's resourceVersion the plan was computed against.
    pub resource_version: Option<String>,
    /// Argo CD: the automated sync policy a resume puts back.
    pub automated: Option<Value>,
    /// Who, when and why, as annotations on the owner object.
    pub note: BTreeMap<String, String>,
    /// The operator may leave it out in the confirm dialog (`--no-suspend`).
    pub enabled: bool,
}

impl OwnerChange {
    /// "suspend Flux Kustomization flux-system/apps".
    pub fn summary(&self) -> String {
        let verb = match (&self.owner, self.pause) {
            (Owner::Flux { .. }, true) => "suspend",
            (Owner::Argo { .. }, true) => "turn off auto-sync of",
            (_, _) => "resume",
        };
        format!("{verb} {}", self.owner)
    }

    /// The change that takes this one back, written unconditionally (used to
    /// undo a plan that failed part-way).
    pub fn reversed(&self) -> OwnerChange {
        let note = if self.pause {
            BTreeMap::new()
        } else {
            BTreeMap::from([(
                labels::SUSPENDED_REASON.to_string(),
                "restored after a failed resume".to_string(),
            )])
        };
        OwnerChange {
            owner: self.owner.clone(),
            pause: !self.pause,
            resource_version: None,
            automated: self.automated.clone(),
            note,
            enabled: true,
        }
    }

    /// The JSON merge patch that makes the change (the resourceVersion in it
    /// makes the write conditional).
    pub fn patch(&self) -> Value {
        let mut metadata = json!({});
        if let Some(version) = &self.resource_version {
            metadata["resourceVersion"] = Value::String(version.clone());
        }
        let mut annotations = serde_json::Map::new();
        for (key, value) in &self.note {
            annotations.insert(key.clone(), Value::String(value.clone()));
        }
        let spec = match (&self.owner, self.pause) {
            (Owner::Flux { .. }, pause) => {
                if !pause {
                    for key in [labels::SUSPENDED_BY, labels::SUSPENDED_AT, labels::SUSPENDED_REASON] {
                        annotations.insert(key.to_string(), Value::Null);
                    }
                }
                json!({ "suspend": pause })
            }
            (Owner::Argo { .. }, true) => {
                // Saved on the object itself, so a resume from any machine can put it back.
                let saved = self.automated.clone().unwrap_or_else(|| json!({}));
                annotations.insert(labels::ARGO_AUTOMATED.to_string(), Value::String(saved.to_string()));
                json!({ "syncPolicy": { "automated": null } })
            }
            (Owner::Argo { .. }, false) => {
                for key in [
                    labels::SUSPENDED_BY,
                    labels::SUSPENDED_AT,
                    labels::SUSPENDED_REASON,
                    labels::ARGO_AUTOMATED,
                ] {
                    annotations.insert(key.to_string(), Value::Null);
                }
                json!({ "syncPolicy": { "automated": self.automated.clone().unwrap_or_else(|| json!({})) } })
            }
            (Owner::Helm { .. }, _) => json!({}),
        };
        metadata["annotations"] = Value::Object(annotations);
        json!({ "metadata": metadata, "spec": spec })
    }
}

/// What the cluster says about the GitOps objects a plan may change.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitOpsView<'a> {
    /// `None`: the Flux Kustomization CRD is not installed (or not readable).
    pub kustomizations: Option<&'a [KustomizationInfo]>,
    /// `None`: the Argo CD Application CRD is not installed (or not readable).
    pub applications: Option<&'a [ApplicationInfo]>,
}

/// An owner as the cluster has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerState {
    pub paused: bool,
    pub resource_version: Option<String>,
    /// The Kustomization or Application that applies this owner object, if
    /// any: it would undo a pause on its next reconcile.
    pub parent: Option<Owner>,
    pub automated: Option<Value>,
    /// The automated sync policy tighten saved when it paused the Application.
    pub saved_automated: Option<Value>,
    /// Who paused it, and when, when tighten did.
    pub paused_by: Option<String>,
    pub paused_at: Option<String>,
    /// The revision it last applied (`main@sha1:0123…`).
    pub applied: Option<String>,
    /// Whether it is Ready, with its message (why not).
    pub ready: Option<(bool, String)>,
}

impl OwnerState {
    /// `applied main@sha1:0a1b2c3d4e5f · ready`, or why it is not.
    pub fn progress(&self) -> String {
        let applied = match &self.applied {
            Some(revision) => format!("applied {}", short_revision(revision)),
            None => "nothing applied yet".to_string(),
        };
        let ready = match &self.ready {
            Some((true, _)) => "ready".to_string(),
            Some((false, message)) if message.is_empty() => "not ready".to_string(),
            Some((false, message)) => format!("not ready: {message}"),
            None => "readiness unknown".to_string(),
        };
        let paused = if self.paused { " · paused" } else { "" };
        format!("{applied} · {ready}{paused}")
    }
}

/// `main@sha1:0123456789abcdef…` shortened to twelve hex digits.
pub fn short_revision(revision: &str) -> String {
    match revision.rsplit_once(':') {
        Some((head, sha)) if sha.len() > 12 => format!("{head}:{}", &sha[..12]),
        _ => revision.to_string(),
    }
}

impl GitOpsView<'_> {
    /// The owner object's state; `None` when it cannot be seen.
    pub fn state(&self, owner: &Owner) -> Option<OwnerState> {
        match owner {
            Owner::Flux { namespace, name } => self
                .kustomizations?
                .iter()
                .find(|k| k.namespace == *namespace && k.name == *name)
                .map(|k| OwnerState {
                    paused: k.suspended,
                    resource_version: k.resource_version.clone(),
                    parent: k.parent.clone(),
                    automated: None,
                    saved_automated: None,
                    paused_by: k.annotations.get(labels::SUSPENDED_BY).cloned(),
                    paused_at: k.annotations.get(labels::SUSPENDED_AT).cloned(),
                    applied: k.git.applied_revision.clone(),
                    ready: k.git.ready.clone(),
                }),
            Owner::Argo { namespace, name } => self
                .applications?
                .iter()
                .find(|a| a.namespace == *namespace && a.name == *name)
                .map(|a| OwnerState {
                    paused: a.automated.is_none(),
                    resource_version: a.resource_version.clone(),
                    parent: a.parent.clone(),
                    automated: a.automated.clone(),
                    saved_automated: a
                        .annotations
                        .get(labels::ARGO_AUTOMATED)
                        .and_then(|v| serde_json::from_str(v).ok()),
                    paused_by: a.annotations.get(labels::SUSPENDED_BY).cloned(),
                    paused_at: a.annotations.get(labels::SUSPENDED_AT).cloned(),
                    applied: a.git.applied_revision.clone(),
                    ready: a.git.ready.clone(),
                }),
            Owner::Helm { .. } => None,
        }
    }
}

impl GitOpsView<'_> {
    /// The policy's owner: its labels and annotations, or Argo CD's label
    /// tracking (`app.kubernetes.io/instance`, Argo CD's default before 3.0)
    /// when an Application of that name exists. Kustomize and many charts set
    /// the same label, so the label alone is not taken as Argo CD's.
    pub fn owner_of(&self, policy: &PolicyObject) -> Option<Owner> {
        Owner::of(policy).or_else(|| {
            let instance = policy.labels.get(labels::ARGO_INSTANCE)?;
            let applications = self.applications?;
            let app = match instance.split_once('_') {
                // An Application outside Argo CD's own namespace is tracked as
                // `<namespace>_<name>`; `_` cannot occur in a name.
                Some((namespace, name)) => applications.iter().find(|a| a.namespace == namespace && a.name == name),
                // The bare name is an Application in Argo CD's namespace, which
                // is `argocd` unless installed elsewhere.
                None => applications
                    .iter()
                    .filter(|a| a.name == *instance)
                    .min_by_key(|a| a.namespace != ARGO_NAMESPACE),
            }?;
            Some(Owner::Argo {
                namespace: app.namespace.clone(),
                name: app.name.clone(),
            })
        })
    }
}

/// Whether `owner` may be the one that applied `policy` (the mutation layer's
/// scope check, which has the plan but not the cluster's Applications).
pub fn may_own(owner: &Owner, policy: &PolicyObject) -> bool {
    match Owner::of(policy) {
        Some(found) => found == *owner,
        None => match (owner, policy.labels.get(labels::ARGO_INSTANCE)) {
            (Owner::Argo { namespace, name }, Some(instance)) => {
                instance == name || *instance == format!("{namespace}_{name}")
            }
            _ => false,
        },
    }
}

/// Who, when and why, for the owner object's annotations.
pub struct PauseNote<'a> {
    pub operator: &'a str,
    pub at: &'a str,
    pub reason: &'a str,
}

/// The pauses a rollback of `policies` needs: one per owner that reconciles,
/// unless already paused; and the warnings the operator must read (an owner
/// that cannot be seen, a parent that would undo the pause).
pub fn pauses_for(
    policies: &[&PolicyObject],
    view: &GitOpsView<'_>,
    note: &PauseNote<'_>,
) -> (Vec<OwnerChange>, Vec<String>) {
    let mut owners: Vec<Owner> = policies.iter().filter_map(|p| view.owner_of(p)).collect();
    owners.sort();
    owners.dedup();
    let (mut changes, mut warnings) = (Vec::new(), Vec::new());
    // Helm does not reconcile by itself, but its next upgrade does.
    for helm in owners.iter().filter(|o| !o.reconciles()) {
        warnings.push(format!(
            "{helm} ships some of these policies: its next upgrade re-creates them"
        ));
    }
    owners.retain(Owner::reconciles);
    for owner in owners {
        let Some(state) = view.state(&owner) else {
            warnings.push(format!(
                "{owner} applies these policies but cannot be read here: it will re-apply them unless it is \
                 paused by hand"
            ));
            continue;
        };
        if state.paused {
            continue;
        }
        if let Some(parent) = &state.parent {
            warnings.push(format!(
                "{owner} is itself applied by {parent}, which will undo the pause on its next reconcile \
                 unless the pause is committed to Git (or {parent} is paused too)"
            ));
        }
        let note = BTreeMap::from([
            (labels::SUSPENDED_BY.to_string(), note.operator.to_string()),
            (labels::SUSPENDED_AT.to_string(), note.at.to_string()),
            (labels::SUSPENDED_REASON.to_string(), note.reason.to_string()),
        ]);
        changes.push(OwnerChange {
            owner,
            pause: true,
            resource_version: state.resource_version,
            automated: state.automated,
            note,
            enabled: true,
        });
    }
    (changes, warnings)
}

/// The owners a namespace recorded as paused (its `tighten.dev/paused-owners`
/// annotation).
pub fn recorded_pauses(annotations: &BTreeMap<String, String>) -> Vec<Owner> {
    annotations
        .get(labels::PAUSED_OWNERS)
        .map(|v| v.split(',').filter_map(|k| Owner::from_key(k.trim())).collect())
        .unwrap_or_default()
}

/// The annotation value recording `owners` as paused.
pub fn record_pauses(owners: &[Owner]) -> String {
    owners.iter().map(Owner::key).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests;
