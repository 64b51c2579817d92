//! Lint for network policies: the traps seen in real rollouts, each reported with
//! the exact field it is about and a concrete fix.
//!
//! Lint reads policies through the one reader the engine uses
//! ([`crate::policy::parse::read_policy`]), so what it calls refused is what
//! the engine never applies, and it names field paths as they are written
//! (`specs[1].egress[0].toEntities[2]`). With the cluster's pods and Services
//! ([`LintInput::cluster_known`]) it also checks what the policies select and
//! which ports the Services translate to. Each check lives in a module of its
//! own.
//!
//! The codes ([`code`]) are stable: tools and tests match on them.

use std::cmp::Reverse;
use std::fmt;

use crate::cluster::{AddressPool, ClusterSnapshot, NamespaceInfo, PodInfo, PolicyObject, ServiceInfo};

mod app_labels;
mod broad_entity;
mod cidr;
mod default_deny;
mod deny_all;
mod empty_peers;
mod fqdn;
mod mixed_kinds;
mod one_sided;
mod read;
mod selects_no_pods;
mod service_port;
#[cfg(test)]
mod tests;
mod validity;

use read::{Linted, World};

/// How sure lint is that something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; often deliberate.
    Info,
    /// Probably not what was meant.
    Warning,
    /// Rejected by Cilium, or breaks traffic the policy meant to allow.
    Error,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One problem lint found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable kebab-case id, one of [`code`].
    pub code: &'static str,
    /// `namespace/name`, or the name of a clusterwide policy; `None` for findings
    /// about a namespace as a whole.
    pub policy: Option<String>,
    pub namespace: Option<String>,
    /// The field the finding is about (`specs[1].egress[0].toPorts[0]`),
    /// when it is about one.
    pub path: Option<String>,
    /// What is wrong, naming the field path and value.
    pub message: String,
    /// What to change.
    pub fix: String,
    /// The peer the finding concerns, when it is about a flow to or from one
    /// (`payments/gateway-0`, or `payments/{app=gateway}` from files alone).
    pub peer: Option<String>,
    /// The peer's namespace: a finding about a flow concerns both ends'
    /// namespaces (the gate of either lists it).
    pub peer_namespace: Option<String>,
}

impl Finding {
    /// The finding, about the field at `path`.
    pub fn at(mut self, path: impl Into<String>) -> Finding {
        self.path = Some(path.into());
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.severity, self.code)?;
        match (&self.policy, &self.namespace) {
            (Some(policy), _) => write!(f, " {policy}")?,
            (None, Some(ns)) => write!(f, " namespace {ns}")?,
            (None, None) => {}
        }
        write!(f, ": {} (fix: {})", self.message, self.fix)
    }
}

/// The stable finding codes.
pub mod code {
    /// A port rule names a Service port while the Service targets another port.
    pub const SERVICE_PORT: &str = "service-port";
    /// A CIDR rule meant to reach in-cluster identities (apiserver, nodes).
    pub const CIDR_FOR_CLUSTER_ENTITY: &str = "cidr-for-cluster-entity";
    /// `toFQDNs` without DNS going through Cilium's DNS proxy.
    pub const FQDN_WITHOUT_DNS_RULE: &str = "fqdn-without-dns-rule";
    /// A rule with no entry in any of its lists (`ingress: []` alone, or only
    /// `enableDefaultDeny`): refused by the agent or the API server.
    pub const EMPTY_RULE_LIST: &str = "empty-rule-list";
    /// `ingress: null`: refused by server-side apply, dropped by client-side
    /// apply.
    pub const NULL_RULE_LIST: &str = "null-rule-list";
    /// A combination the agent refuses: two kinds of peer in one rule, ICMP
    /// with toPorts, DNS rules on ingress or without port 53, L7 rules on a
    /// port that is not TCP.
    pub const UNSUPPORTED_COMBINATION: &str = "unsupported-combination";
    /// A port or protocol the API server or the agent refuses.
    pub const INVALID_PORT: &str = "invalid-port";
    /// A peer selector (`toEndpoints`, `fromEndpoints`, a NetworkPolicy peer)
    /// that selects no pod of the cluster.
    pub const PEER_SELECTS_NO_PODS: &str = "peer-selects-no-pods";
    /// A NetworkPolicy section its `policyTypes` leaves out, which Cilium
    /// enforces anyway.
    pub const POLICY_TYPES_IGNORED: &str = "policy-types-ignored";
    /// An explicit deny of every peer, used as if it were a default-deny.
    pub const DENY_AS_DEFAULT_DENY: &str = "deny-as-default-deny";
    /// `fromEntities: [world|cluster|all]`, or `toEntities: [world]` on every port.
    pub const BROAD_ENTITY: &str = "broad-entity";
    /// The policy's subject selects no pod.
    pub const SELECTS_NO_PODS: &str = "selects-no-pods";
    /// Pods without `app` or `app.kubernetes.io/name`.
    pub const MISSING_APP_LABEL: &str = "missing-app-label";
    /// A NetworkPolicy next to CiliumNetworkPolicies in one namespace.
    pub const MIXED_POLICY_KINDS: &str = "mixed-policy-kinds";
    /// A tighten baseline that would switch pods into default-deny.
    pub const BASELINE_WITHOUT_ENABLE_DEFAULT_DENY_FALSE: &str = "baseline-without-enable-default-deny-false";
    /// A foreign allow policy that already isolates pods of a namespace not yet
    /// rolled out.
    pub const ALLOW_WITHOUT_ENABLE_DEFAULT_DENY: &str = "allow-without-enable-default-deny";
    /// A selector the policy's schema rejects.
    pub const INVALID_SELECTOR: &str = "invalid-selector";
    /// A CIDR that does not parse.
    pub const INVALID_CIDR: &str = "invalid-cidr";
    /// An entity name Cilium does not know.
    pub const UNKNOWN_ENTITY: &str = "unknown-entity";
    /// The agent reported the policy invalid (`Valid=False`).
    pub const REJECTED_BY_CILIUM: &str = "rejected-by-cilium";
    /// A rule or list of the wrong shape (not a mapping, not a list, no
    /// selector).
    pub const MALFORMED_RULE: &str = "malformed-rule";
    /// An allow on one side of a flow only, while the other side denies by
    /// default: Cilium drops the flow.
    pub const ONE_SIDED_ALLOW: &str = "one-sided-allow";
    /// A CIDR rule on a LoadBalancer or external address, which the cluster
    /// rewrites to pods before policy: it never matches.
    pub const CIDR_FOR_TRANSLATED_ADDRESS: &str = "cidr-for-translated-address";

    /// Every code, for documentation and tests.
    pub const ALL: [&str; 23] = [
        SERVICE_PORT,
        CIDR_FOR_CLUSTER_ENTITY,
        FQDN_WITHOUT_DNS_RULE,
        EMPTY_RULE_LIST,
        DENY_AS_DEFAULT_DENY,
        BROAD_ENTITY,
        SELECTS_NO_PODS,
        MISSING_APP_LABEL,
        MIXED_POLICY_KINDS,
        BASELINE_WITHOUT_ENABLE_DEFAULT_DENY_FALSE,
        ALLOW_WITHOUT_ENABLE_DEFAULT_DENY,
        INVALID_SELECTOR,
        INVALID_CIDR,
        UNKNOWN_ENTITY,
        REJECTED_BY_CILIUM,
        MALFORMED_RULE,
        ONE_SIDED_ALLOW,
        CIDR_FOR_TRANSLATED_ADDRESS,
        NULL_RULE_LIST,
        UNSUPPORTED_COMBINATION,
        INVALID_PORT,
        PEER_SELECTS_NO_PODS,
        POLICY_TYPES_IGNORED,
    ];
}

/// What lint looks at.
#[derive(Debug, Clone, Copy)]
pub struct LintInput<'a> {
    pub policies: &'a [PolicyObject],
    pub namespaces: &'a [NamespaceInfo],
    pub pods: &'a [PodInfo],
    pub services: &'a [ServiceInfo],
    /// Cilium's LoadBalancer address pools (`CiliumLoadBalancerIPPool`).
    pub address_pools: &'a [AddressPool],
    /// Whether pods and Services are known (lint of bare policy files has none):
    /// checks that need them are skipped otherwise.
    pub cluster_known: bool,
}

impl<'a> LintInput<'a> {
    /// Everything a cluster snapshot holds.
    pub fn from_snapshot(snapshot: &'a ClusterSnapshot) -> LintInput<'a> {
        LintInput {
            policies: &snapshot.policies,
            namespaces: &snapshot.namespaces,
            pods: &snapshot.pods,
            services: &snapshot.services,
            address_pools: snapshot.address_pools.as_deref().unwrap_or_default(),
            cluster_known: true,
        }
    }

    /// Policy files on their own, without a cluster.
    pub fn policies_only(policies: &'a [PolicyObject]) -> LintInput<'a> {
        LintInput {
            policies,
            namespaces: &[],
            pods: &[],
            services: &[],
            address_pools: &[],
            cluster_known: false,
        }
    }
}

/// Lints the policies (and, when known, the pods) of `input`. Findings are sorted
/// by severity (errors first), then namespace, policy and code.
pub fn lint(input: &LintInput<'_>) -> Vec<Finding> {
    let linted: Vec<Linted<'_>> = input.policies.iter().map(Linted::read).collect();
    let world = World::new(input, &linted);
    let mut out = Vec::new();
    for policy in &linted {
        validity::problems(policy, &mut out);
        validity::rejected_by_cilium(policy, &mut out);
        validity::policy_types_ignored(policy, &mut out);
        for rule in &policy.parsed.policy.rules {
            if input.cluster_known {
                service_port::check(&world, policy, rule, &mut out);
            }
            cidr::check(&world, policy, rule, &mut out);
            if policy.is_cilium() {
                fqdn::check(&world, policy, rule, &mut out);
                deny_all::check(policy, rule, &mut out);
                broad_entity::check(policy, rule, &mut out);
            }
            default_deny::baseline(policy, rule, &mut out);
        }
        if input.cluster_known {
            selects_no_pods::check(&world, policy, &mut out);
            empty_peers::check(&world, policy, &mut out);
        }
        default_deny::allow_without_enable_default_deny(&world, policy, &mut out);
    }
    if input.cluster_known {
        app_labels::check(&world, &linted, &mut out);
    }
    one_sided::one_sided_allows(input, &linted, &mut out);
    mixed_kinds::check(input, &mut out);
    out.sort_by(|a, b| {
        (Reverse(a.severity), &a.namespace, &a.policy, a.code, &a.message).cmp(&(
            Reverse(b.severity),
            &b.namespace,
            &b.policy,
            b.code,
            &b.message,
        ))
    });
    out.dedup();
    out
}
