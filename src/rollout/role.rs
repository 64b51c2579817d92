//! What part a policy plays in a namespace's rollout.

use std::fmt;

use crate::cluster::PolicyObject;

use super::labels;

/// The five golden baseline allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BaselineComponent {
    Dns,
    KubeApiserver,
    IntraNamespace,
    MonitoringScrape,
    HostProbes,
}

impl BaselineComponent {
    pub const ALL: [BaselineComponent; 5] = [
        BaselineComponent::Dns,
        BaselineComponent::KubeApiserver,
        BaselineComponent::IntraNamespace,
        BaselineComponent::MonitoringScrape,
        BaselineComponent::HostProbes,
    ];

    /// The value of the `tighten.dev/baseline` label.
    pub fn label(self) -> &'static str {
        match self {
            BaselineComponent::Dns => "dns",
            BaselineComponent::KubeApiserver => "kube-apiserver",
            BaselineComponent::IntraNamespace => "intra-namespace",
            BaselineComponent::MonitoringScrape => "monitoring-scrape",
            BaselineComponent::HostProbes => "host-probes",
        }
    }

    pub fn from_label(value: &str) -> Option<BaselineComponent> {
        BaselineComponent::ALL.into_iter().find(|c| c.label() == value)
    }
}

impl fmt::Display for BaselineComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A policy's role, read from its labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyRole {
    /// One of tighten's baseline allows; `None` when the component label is missing
    /// or unknown.
    Baseline(Option<BaselineComponent>),
    /// The namespace's default-deny.
    DefaultDeny,
    /// An application allow managed by tighten.
    AppAllow,
    /// Managed by tighten but with a role label tighten does not know.
    Unrecognized(String),
    /// Not managed by tighten (a Helm chart's NetworkPolicy, a clusterwide policy...).
    Foreign,
}

impl PolicyRole {
    pub fn of(policy: &PolicyObject) -> PolicyRole {
        if policy.labels.get(labels::MANAGED_BY).map(String::as_str) != Some(labels::MANAGED_BY_TIGHTEN)
            || !policy.kind.is_namespaced()
        {
            return PolicyRole::Foreign;
        }
        match policy.labels.get(labels::ROLE).map(String::as_str) {
            Some("baseline") => PolicyRole::Baseline(
                policy
                    .labels
                    .get(labels::BASELINE_COMPONENT)
                    .and_then(|c| BaselineComponent::from_label(c)),
            ),
            Some("default-deny") => PolicyRole::DefaultDeny,
            Some("app-allow") => PolicyRole::AppAllow,
            Some(other) => PolicyRole::Unrecognized(other.to_string()),
            None => PolicyRole::Unrecognized(String::new()),
        }
    }

    /// Short text for tables.
    pub fn label(&self) -> String {
        match self {
            PolicyRole::Baseline(Some(c)) => format!("baseline/{c}"),
            PolicyRole::Baseline(None) => "baseline/?".into(),
            PolicyRole::DefaultDeny => "default-deny".into(),
            PolicyRole::AppAllow => "app allow".into(),
            PolicyRole::Unrecognized(r) if r.is_empty() => "tighten (no role)".into(),
            PolicyRole::Unrecognized(r) => format!("tighten ({r}?)"),
            PolicyRole::Foreign => "foreign".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::PolicyKind;
    use std::collections::BTreeMap;

    fn policy(kind: PolicyKind, labels: &[(&str, &str)]) -> PolicyObject {
        PolicyObject {
            kind,
            name: "p".into(),
            namespace: kind.is_namespaced().then(|| "ns".to_string()),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: BTreeMap::new(),
            uid: None,
            resource_version: None,
            created: None,
            body: Default::default(),
        }
    }

    #[test]
    fn roles_come_from_labels() {
        let managed = [(labels::MANAGED_BY, "tighten")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = managed.to_vec();
            all.extend_from_slice(extra);
            PolicyRole::of(&policy(PolicyKind::CiliumNetworkPolicy, &all))
        };
        assert_eq!(with(&[(labels::ROLE, "default-deny")]), PolicyRole::DefaultDeny);
        assert_eq!(with(&[(labels::ROLE, "app-allow")]), PolicyRole::AppAllow);
        assert_eq!(
            with(&[(labels::ROLE, "baseline"), (labels::BASELINE_COMPONENT, "dns")]),
            PolicyRole::Baseline(Some(BaselineComponent::Dns))
        );
        assert_eq!(with(&[(labels::ROLE, "baseline")]), PolicyRole::Baseline(None));
        assert_eq!(
            with(&[(labels::ROLE, "mystery")]),
            PolicyRole::Unrecognized("mystery".into())
        );
        assert_eq!(with(&[]), PolicyRole::Unrecognized(String::new()));
    }

    #[test]
    fn unmanaged_and_clusterwide_policies_are_foreign() {
        assert_eq!(
            PolicyRole::of(&policy(PolicyKind::NetworkPolicy, &[])),
            PolicyRole::Foreign
        );
        let ccnp = policy(
            PolicyKind::CiliumClusterwideNetworkPolicy,
            &[(labels::MANAGED_BY, "tighten"), (labels::ROLE, "default-deny")],
        );
        assert_eq!(PolicyRole::of(&ccnp), PolicyRole::Foreign);
    }

    #[test]
    fn component_labels_round_trip() {
        for c in BaselineComponent::ALL {
            assert_eq!(BaselineComponent::from_label(c.label()), Some(c));
        }
    }
}
