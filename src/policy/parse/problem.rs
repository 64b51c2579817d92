//! What the reader found wrong with a policy, and who refuses it.

/// Who refuses a policy because of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judge {
    /// The API server: the CRD's OpenAPI schema, or the validation of
    /// NetworkPolicy. The object never reaches the cluster (and, applied in
    /// one Flux Kustomization, can hold back the rest of the batch).
    ApiServer,
    /// Cilium's parser (`Rule.Sanitize`), run by the agent: the object is
    /// stored, marked `Valid=False`, and none of it is enforced.
    Agent,
    /// Server-side apply only (Flux, `kubectl apply --server-side`):
    /// client-side `kubectl apply` drops the field instead, so the outcome
    /// depends on the tool. Not a refusal of the policy as stored.
    ServerSideApply,
}

impl Judge {
    /// Whether a policy with this problem is never enforced as written.
    pub fn refuses(self) -> bool {
        matches!(self, Judge::ApiServer | Judge::Agent)
    }

    /// `rejected by the API server`, for messages.
    pub fn said(self) -> &'static str {
        match self {
            Judge::ApiServer => "rejected by the API server",
            Judge::Agent => "rejected by the Cilium agent",
            Judge::ServerSideApply => "rejected by server-side apply",
        }
    }
}

/// The kind of problem; lint gives each its finding code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// A field of the wrong shape (not a mapping, not a list, a bad value).
    Malformed,
    /// A label selector the schema refuses.
    Selector,
    /// A CIDR that does not parse, or an `except` outside its range.
    Cidr,
    /// An entity name the schema does not list.
    Entity,
    /// A port or protocol the schema or the agent refuses.
    Port,
    /// A rule without an entry in any of its lists.
    NoRules,
    /// `ingress: null` and the like.
    NullList,
    /// A combination the agent does not support (two kinds of peer in one
    /// rule, ICMP with ports, DNS rules on ingress...).
    Unsupported,
}

/// One problem, at one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub judge: Judge,
    /// `specs[1].egress[0].toPorts[0].ports[0].port`.
    pub path: String,
    /// What is wrong, naming the field path and value.
    pub message: String,
    /// What to change.
    pub fix: String,
}

impl Problem {
    /// The message as a reason the policy is not applied.
    pub fn refusal(&self) -> String {
        if self.message.contains("refuse") {
            self.message.clone()
        } else {
            format!("{} ({})", self.message, self.judge.said())
        }
    }
}
