//! The labels and annotations through which tighten recognises its own objects and
//! records the operator's intent. They are the contract with the cluster: changing a
//! value here orphans every object already applied.

/// Standard Kubernetes label naming the manager of an object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`] on tighten's policies.
pub const MANAGED_BY_TIGHTEN: &str = "tighten";
/// Role of a tighten policy: `baseline`, `default-deny` or `app-allow`.
pub const ROLE: &str = "tighten.dev/role";
/// Which baseline allow a baseline policy is (`dns`, `kube-apiserver`, ...).
pub const BASELINE_COMPONENT: &str = "tighten.dev/baseline";
/// Namespace label giving the rollout tier (`lab`, `stage`, `prod`).
pub const TIER: &str = "policy-tier";

/// Namespace annotation: the phase the operator last asked for.
pub const INTENT: &str = "tighten.dev/intent";
/// Namespace annotation: when the intent last changed (RFC 3339).
pub const INTENT_AT: &str = "tighten.dev/intent-at";
/// Namespace annotation: who changed the intent.
pub const INTENT_BY: &str = "tighten.dev/intent-by";
/// Namespace annotation: when the default-deny was staged (starts the soak).
pub const STAGED_AT: &str = "tighten.dev/staged-at";
/// Namespace annotation: when the default-deny was enforced.
pub const ENFORCED_AT: &str = "tighten.dev/enforced-at";
/// Namespace annotation: why the namespace was carved out.
pub const CARVE_OUT_REASON: &str = "tighten.dev/carve-out-reason";
/// Namespace annotation: path of the newest backup written before a deletion.
pub const BACKUP: &str = "tighten.dev/backup";

/// Labels a GitOps tool leaves on the objects it applies.
pub const FLUX_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
pub const FLUX_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
pub const ARGO_INSTANCE: &str = "app.kubernetes.io/instance";
pub const ARGO_TRACKING: &str = "argocd.argoproj.io/tracking-id";
pub const HELM_RELEASE: &str = "meta.helm.sh/release-name";

/// Namespace annotation: the GitOps owners a rollback paused (`flux:ns/name,argo:ns/name`),
/// until they are resumed.
pub const PAUSED_OWNERS: &str = "tighten.dev/paused-owners";
/// Owner annotations: who paused a Flux Kustomization or an Argo CD Application, when and why.
pub const SUSPENDED_BY: &str = "tighten.dev/suspended-by";
pub const SUSPENDED_AT: &str = "tighten.dev/suspended-at";
pub const SUSPENDED_REASON: &str = "tighten.dev/suspended-reason";
/// Argo CD Application annotation: the automated sync policy a resume puts back (JSON).
pub const ARGO_AUTOMATED: &str = "tighten.dev/argocd-automated";
