//! Lint for network policies: the traps seen in real rollouts, each reported with
//! the exact field it is about and a concrete fix.
//!
//! Lint works directly on the policy objects' JSON (`spec`, `specs`, `status`), so
//! it can judge files that do not parse into the typed model, and names field
//! paths as they are written (`specs[1].egress[0].toEntities[2]`). With the
//! cluster's pods and Services ([`LintInput::cluster_known`]) it also checks what
//! the policies select and which ports the Services translate to.
//!
//! The codes ([`code`]) are stable: tools and tests match on them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use crate::cluster::{ClusterSnapshot, NamespaceInfo, PodInfo, PolicyKind, PolicyObject, ServiceInfo};
use crate::policy::model::{Cidr, Entity};
use crate::policy::selector::{LabelSelector, Requirement, endpoint_labels};
use crate::rollout::labels;

mod one_sided;
#[cfg(test)]
mod tests;

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
    /// What is wrong, naming the field path and value.
    pub message: String,
    /// What to change.
    pub fix: String,
    /// The peer the finding concerns, when it is about a flow to or from one
    /// (`payments/gateway-0`, or `payments/{app=gateway}` from files alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The peer's namespace: a finding about a flow concerns both ends'
    /// namespaces (the gate of either lists it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_namespace: Option<String>,
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
    /// `ingress: []` and friends: rejected by the agent.
    pub const EMPTY_RULE_LIST: &str = "empty-rule-list";
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
    /// A rule, list or port of the wrong shape (not a mapping, not a list, port
    /// out of range, no `spec`).
    pub const MALFORMED_RULE: &str = "malformed-rule";
    /// An allow on one side of a flow only, while the other side denies by
    /// default: Cilium drops the flow.
    pub const ONE_SIDED_ALLOW: &str = "one-sided-allow";
    /// A CIDR rule on a LoadBalancer or external address, which the cluster
    /// rewrites to pods before policy: it never matches.
    pub const CIDR_FOR_TRANSLATED_ADDRESS: &str = "cidr-for-translated-address";

    /// Every code, for documentation and tests.
    pub const ALL: [&str; 18] = [
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
    ];
}

/// What lint looks at.
#[derive(Debug, Clone, Copy)]
pub struct LintInput<'a> {
    pub policies: &'a [PolicyObject],
    pub namespaces: &'a [NamespaceInfo],
    pub pods: &'a [PodInfo],
    pub services: &'a [ServiceInfo],
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
            cluster_known: false,
        }
    }
}

/// Lints the policies (and, when known, the pods) of `input`. Findings are sorted
/// by severity (errors first), then namespace, policy and code.
pub fn lint(input: &LintInput<'_>) -> Vec<Finding> {
    let parsed: Vec<ParsedPolicy<'_>> = input.policies.iter().map(parse_policy).collect();
    let world = World::new(input, &parsed);
    let mut out = Vec::new();
    for policy in &parsed {
        out.extend(policy.findings.iter().cloned());
        check_policy(&world, policy, &mut out);
    }
    if input.cluster_known {
        missing_app_label(&world, &parsed, &mut out);
    }
    one_sided::one_sided_allows(input, &mut out);
    mixed_policy_kinds(input, &mut out);
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

// ---------------------------------------------------------------------------
// The policies, read from JSON into what the checks need.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// `from` or `to`, the prefix of peer fields.
    fn peer_prefix(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }
}

/// The four rule lists of a Cilium rule.
const CILIUM_LISTS: [(&str, Direction, bool); 4] = [
    ("ingress", Direction::Ingress, false),
    ("ingressDeny", Direction::Ingress, true),
    ("egress", Direction::Egress, false),
    ("egressDeny", Direction::Egress, true),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortValue {
    /// No port, or port 0: every port.
    Any,
    Number(u16),
    Named(String),
}

#[derive(Debug, Clone)]
struct PortEntry {
    path: String,
    value: PortValue,
    end: Option<u16>,
    /// Upper case; `ANY` for Cilium's default.
    protocol: String,
}

impl PortEntry {
    fn allows_number(&self, port: u16, protocol: &str) -> bool {
        protocol_matches(&self.protocol, protocol)
            && match &self.value {
                PortValue::Any => true,
                PortValue::Number(first) => {
                    let last = self.end.filter(|end| end >= first).unwrap_or(*first);
                    (*first..=last).contains(&port)
                }
                PortValue::Named(_) => false,
            }
    }

    fn allows_name(&self, name: &str, protocol: &str) -> bool {
        protocol_matches(&self.protocol, protocol) && matches!(&self.value, PortValue::Named(n) if n == name)
    }

    fn numbers(&self) -> Option<(u16, u16)> {
        match self.value {
            PortValue::Number(first) => Some((first, self.end.filter(|end| *end >= first).unwrap_or(first))),
            _ => None,
        }
    }
}

fn protocol_matches(rule: &str, other: &str) -> bool {
    rule.eq_ignore_ascii_case("ANY") || other.eq_ignore_ascii_case("ANY") || rule.eq_ignore_ascii_case(other)
}

/// Which namespaces a peer can be in, for Service lookups.
#[derive(Debug, Clone)]
enum PeerNamespace {
    /// The policy's own namespace (any namespace for a clusterwide policy).
    Own,
    Named(String),
    /// NetworkPolicy `namespaceSelector`: namespaces whose labels match.
    Labels(LabelSelector),
}

/// One entry of a rule list (`ingress[0]`...), as far as lint needs it.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    direction: Direction,
    deny: bool,
    /// Whether any peer field is set; without one, the entry applies to every peer
    /// (when it has ports).
    has_l3: bool,
    /// Valid endpoint selectors (`fromEndpoints`/`toEndpoints`, NetworkPolicy
    /// `podSelector` peers).
    endpoints: Vec<LabelSelector>,
    entities: Vec<Entity>,
    cidrs: Vec<(String, Cidr)>,
    fqdns: bool,
    /// Where in-cluster peers of this entry live, for Service lookups.
    peer_namespaces: Vec<PeerNamespace>,
    ports: Vec<PortEntry>,
    /// `icmps` set: the entry matches ICMP only.
    icmps: bool,
    /// A `toPorts` entry with port 53 and `rules.dns`.
    dns_proxy: bool,
}

impl Entry {
    fn new(path: String, direction: Direction, deny: bool) -> Entry {
        Entry {
            path,
            direction,
            deny,
            has_l3: false,
            endpoints: Vec::new(),
            entities: Vec::new(),
            cidrs: Vec::new(),
            fqdns: false,
            peer_namespaces: Vec::new(),
            ports: Vec::new(),
            icmps: false,
            dns_proxy: false,
        }
    }

    /// Whether the entry is limited to some ports (or ICMP types).
    fn restricts_ports(&self) -> bool {
        self.icmps || self.ports.iter().any(|p| p.value != PortValue::Any)
    }

    fn entities_path(&self) -> String {
        format!("{}.{}Entities", self.path, self.direction.peer_prefix())
    }
}

#[derive(Debug, Clone)]
enum Subject {
    Pods {
        path: String,
        selector: LabelSelector,
    },
    /// A host policy (`nodeSelector`): selects nodes, not pods.
    Nodes,
    /// Missing or unparsable; already reported.
    Invalid,
}

#[derive(Debug, Clone)]
struct Rule {
    /// `spec` or `specs[i]`.
    path: String,
    subject: Subject,
    /// `enableDefaultDeny.ingress` / `.egress` when written as a boolean.
    default_deny: (Option<bool>, Option<bool>),
    has_ingress: bool,
    has_egress: bool,
    entries: Vec<Entry>,
}

struct ParsedPolicy<'a> {
    policy: &'a PolicyObject,
    id: String,
    rules: Vec<Rule>,
    /// Findings made while reading (shape, selectors, CIDRs, entities).
    findings: Vec<Finding>,
}

impl ParsedPolicy<'_> {
    fn finding(&self, severity: Severity, code: &'static str, message: String, fix: impl Into<String>) -> Finding {
        finding_for(self.policy, &self.id, severity, code, message, fix.into())
    }

    fn push(&mut self, severity: Severity, code: &'static str, message: String, fix: impl Into<String>) {
        let f = self.finding(severity, code, message, fix);
        self.findings.push(f);
    }

    /// The items of `value`, or `None` after recording that the field at
    /// `at` is not `what` (a list of something).
    fn expect_list<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
        code: &'static str,
        what: &str,
        fix: impl Into<String>,
    ) -> Option<&'v [Value]> {
        let list = value.as_array().map(Vec::as_slice);
        if list.is_none() {
            self.push(Severity::Error, code, format!("`{at}` is not {what}"), fix);
        }
        list
    }

    fn is_clusterwide(&self) -> bool {
        !self.policy.kind.is_namespaced()
    }
}

fn finding_for(
    policy: &PolicyObject,
    id: &str,
    severity: Severity,
    code: &'static str,
    message: String,
    fix: String,
) -> Finding {
    Finding {
        severity,
        code,
        policy: Some(id.to_string()),
        namespace: policy.namespace.clone(),
        message,
        fix,
        peer: None,
        peer_namespace: None,
    }
}

/// `ns/name`, or the name of a clusterwide policy.
fn policy_id(policy: &PolicyObject) -> String {
    match &policy.namespace {
        Some(ns) if policy.kind.is_namespaced() => format!("{ns}/{}", policy.name),
        _ => policy.name.clone(),
    }
}

fn parse_policy(policy: &PolicyObject) -> ParsedPolicy<'_> {
    let mut parsed = ParsedPolicy {
        policy,
        id: policy_id(policy),
        rules: Vec::new(),
        findings: Vec::new(),
    };
    match policy.kind {
        PolicyKind::NetworkPolicy => parse_network_policy(&mut parsed),
        PolicyKind::CiliumNetworkPolicy | PolicyKind::CiliumClusterwideNetworkPolicy => parse_cilium(&mut parsed),
    }
    parsed
}

const SELECTOR_FIX: &str = "write a label selector: matchLabels with string values, and matchExpressions entries with \
     key, operator (In, NotIn, Exists, DoesNotExist) and a list of string values for In/NotIn";
const CIDR_FIX: &str = "write an address with a prefix length, such as 10.0.0.0/8 or 2001:db8::/32";
const ENTITY_FIX: &str = "use one of Cilium's entities: world, cluster, host, remote-node, kube-apiserver, ingress, \
     health, init, unmanaged, all";

fn parse_cilium(p: &mut ParsedPolicy<'_>) {
    let body = &p.policy.body;
    let mut rules: Vec<(String, &Value)> = Vec::new();
    match body.get("spec") {
        None | Some(Value::Null) => {}
        Some(spec) => rules.push(("spec".to_string(), spec)),
    }
    match body.get("specs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => rules.extend(list.iter().enumerate().map(|(i, r)| (format!("specs[{i}]"), r))),
        Some(_) => p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            "`specs` is not a list of rules".into(),
            "write specs as a list of rules, or use a single `spec`",
        ),
    }
    if rules.is_empty() {
        p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            format!("the {} has neither `spec` nor `specs`", p.policy.kind),
            "add a `spec` with an endpointSelector and rules",
        );
    }
    for (path, value) in rules {
        if let Some(rule) = parse_cilium_rule(p, path, value) {
            p.rules.push(rule);
        }
    }
}

fn parse_cilium_rule(p: &mut ParsedPolicy<'_>, path: String, value: &Value) -> Option<Rule> {
    let Some(map) = value.as_object() else {
        p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            format!("`{path}` is not a mapping"),
            "write the rule as a mapping with endpointSelector and ingress/egress lists",
        );
        return None;
    };
    let subject = if let Some(selector) = map.get("endpointSelector") {
        let at = format!("{path}.endpointSelector");
        match check_selector(p, &at, selector) {
            Some(selector) => Subject::Pods { path: at, selector },
            None => Subject::Invalid,
        }
    } else if let Some(selector) = map.get("nodeSelector") {
        check_selector(p, &format!("{path}.nodeSelector"), selector);
        Subject::Nodes
    } else {
        p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            format!("`{path}` has neither endpointSelector nor nodeSelector; the agent rejects it"),
            "add endpointSelector: {} (every pod of the namespace) or a selector for the pods meant",
        );
        Subject::Invalid
    };
    let flags = map.get("enableDefaultDeny");
    let flag = |direction: &str| flags.and_then(|f| f.get(direction)).and_then(Value::as_bool);
    let mut rule = Rule {
        subject,
        default_deny: (flag("ingress"), flag("egress")),
        has_ingress: false,
        has_egress: false,
        entries: Vec::new(),
        path,
    };
    for (key, direction, deny) in CILIUM_LISTS {
        let list_path = format!("{}.{key}", rule.path);
        match map.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                match direction {
                    Direction::Ingress => rule.has_ingress = true,
                    Direction::Egress => rule.has_egress = true,
                }
                if list.is_empty() {
                    p.push(
                        Severity::Error,
                        code::EMPTY_RULE_LIST,
                        format!(
                            "`{list_path}` is an empty list ([]): the Cilium agent rejects the policy as invalid, \
                             so none of its rules are enforced"
                        ),
                        format!("use {key}: [{{}}] to select nothing (or remove the field)"),
                    );
                }
                for (i, entry) in list.iter().enumerate() {
                    let entry_path = format!("{list_path}[{i}]");
                    if let Some(entry) = parse_cilium_entry(p, entry_path, entry, direction, deny) {
                        rule.entries.push(entry);
                    }
                }
            }
            Some(_) => p.push(
                Severity::Error,
                code::MALFORMED_RULE,
                format!("`{list_path}` is not a list"),
                format!("write {key} as a list of rules"),
            ),
        }
    }
    Some(rule)
}

fn parse_cilium_entry(
    p: &mut ParsedPolicy<'_>,
    path: String,
    value: &Value,
    direction: Direction,
    deny: bool,
) -> Option<Entry> {
    let Some(map) = value.as_object() else {
        p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            format!("`{path}` is not a mapping"),
            "write each rule as a mapping of peers and toPorts",
        );
        return None;
    };
    let mut entry = Entry::new(path, direction, deny);
    let prefix = direction.peer_prefix();

    // Endpoint selectors, and the other selector-valued peer fields.
    let endpoints_key = format!("{prefix}Endpoints");
    for key in [
        endpoints_key.clone(),
        format!("{prefix}Requires"),
        format!("{prefix}Nodes"),
    ] {
        let Some(value) = map.get(&key) else { continue };
        entry.has_l3 = true;
        let at = format!("{}.{key}", entry.path);
        let fix = format!("write {key} as a list of label selectors");
        let Some(list) = p.expect_list(value, &at, code::INVALID_SELECTOR, "a list of selectors", fix) else {
            continue;
        };
        for (i, selector) in list.iter().enumerate() {
            let Some(selector) = check_selector(p, &format!("{at}[{i}]"), selector) else {
                continue;
            };
            if key == endpoints_key {
                entry.peer_namespaces.push(match selector.pinned_namespace() {
                    Some(ns) => PeerNamespace::Named(ns.to_string()),
                    None => PeerNamespace::Own,
                });
                entry.endpoints.push(selector);
            }
        }
    }

    // Entities.
    let key = format!("{prefix}Entities");
    if let Some(value) = map.get(&key) {
        entry.has_l3 = true;
        let at = format!("{}.{key}", entry.path);
        if let Some(list) = p.expect_list(value, &at, code::UNKNOWN_ENTITY, "a list of entity names", ENTITY_FIX) {
            for (i, name) in list.iter().enumerate() {
                match name.as_str().and_then(Entity::parse) {
                    Some(entity) => {
                        if matches!(entity, Entity::Cluster | Entity::All) {
                            entry.peer_namespaces.push(PeerNamespace::Own);
                        }
                        entry.entities.push(entity);
                    }
                    None => p.push(
                        Severity::Error,
                        code::UNKNOWN_ENTITY,
                        format!("`{at}[{i}]` is {}, which is not an entity Cilium knows", show(name)),
                        ENTITY_FIX,
                    ),
                }
            }
        }
    }

    // CIDRs.
    let key = format!("{prefix}CIDR");
    if let Some(value) = map.get(&key) {
        entry.has_l3 = true;
        let at = format!("{}.{key}", entry.path);
        if let Some(list) = p.expect_list(value, &at, code::INVALID_CIDR, "a list of CIDRs", CIDR_FIX) {
            for (i, cidr) in list.iter().enumerate() {
                let at = format!("{at}[{i}]");
                if let Some(cidr) = check_cidr(p, &at, cidr) {
                    entry.cidrs.push((at, cidr));
                }
            }
        }
    }
    let key = format!("{prefix}CIDRSet");
    if let Some(value) = map.get(&key) {
        entry.has_l3 = true;
        let at = format!("{}.{key}", entry.path);
        if let Some(list) = p.expect_list(
            value,
            &at,
            code::INVALID_CIDR,
            "a list of CIDR sets",
            "write it as a list of {cidr: ..., except: [...]}",
        ) {
            for (i, set) in list.iter().enumerate() {
                let at = format!("{at}[{i}]");
                if let Some(cidr) = set.get("cidr") {
                    let cidr_at = format!("{at}.cidr");
                    if let Some(parsed) = check_cidr(p, &cidr_at, cidr) {
                        entry.cidrs.push((cidr_at, parsed));
                    }
                } else if set.get("cidrGroupRef").is_none() && set.get("cidrGroupSelector").is_none() {
                    p.push(
                        Severity::Error,
                        code::INVALID_CIDR,
                        format!("`{at}` has no cidr"),
                        "give each CIDR set a cidr (and optional except list)",
                    );
                }
                check_except(p, &at, set);
            }
        }
    }

    // Egress-only peers.
    if direction == Direction::Egress {
        if let Some(fqdns) = map.get("toFQDNs") {
            entry.has_l3 = true;
            entry.fqdns = fqdns.as_array().is_some_and(|l| !l.is_empty());
        }
        if let Some(services) = map.get("toServices") {
            entry.has_l3 = true;
            for service in services.as_array().into_iter().flatten() {
                let namespace = ["k8sService", "k8sServiceSelector"]
                    .iter()
                    .find_map(|k| service.get(*k))
                    .and_then(|s| s.get("namespace"))
                    .and_then(Value::as_str);
                entry.peer_namespaces.push(match namespace {
                    Some(ns) => PeerNamespace::Named(ns.to_string()),
                    None => PeerNamespace::Own,
                });
            }
        }
        if map.contains_key("toGroups") {
            entry.has_l3 = true;
        }
    }
    if !entry.has_l3 {
        // An L4-only rule applies to every peer, in-cluster ones included.
        entry.peer_namespaces.push(PeerNamespace::Own);
    }

    // Ports.
    if let Some(value) = map.get("toPorts") {
        let at = format!("{}.toPorts", entry.path);
        if let Some(list) = p.expect_list(
            value,
            &at,
            code::MALFORMED_RULE,
            "a list",
            "write toPorts as a list of {ports: [...]}",
        ) {
            for (i, port_rule) in list.iter().enumerate() {
                let rule_at = format!("{at}[{i}]");
                let before = entry.ports.len();
                match port_rule.get("ports") {
                    None | Some(Value::Null) => entry.ports.push(PortEntry {
                        path: format!("{rule_at}.ports"),
                        value: PortValue::Any,
                        end: None,
                        protocol: "ANY".into(),
                    }),
                    Some(Value::Array(ports)) => {
                        for (j, port) in ports.iter().enumerate() {
                            if let Some(port) = parse_port(p, format!("{rule_at}.ports[{j}]"), port, "ANY") {
                                entry.ports.push(port);
                            }
                        }
                    }
                    Some(_) => p.push(
                        Severity::Error,
                        code::MALFORMED_RULE,
                        format!("`{rule_at}.ports` is not a list"),
                        "write ports as a list of {port, protocol}",
                    ),
                }
                let has_dns_rules = port_rule
                    .get("rules")
                    .and_then(|r| r.get("dns"))
                    .and_then(Value::as_array)
                    .is_some_and(|dns| !dns.is_empty());
                let on_53 = entry
                    .ports
                    .get(before..)
                    .unwrap_or_default()
                    .iter()
                    .any(|port| port.value == PortValue::Number(53));
                entry.dns_proxy |= has_dns_rules && on_53;
            }
        }
    }
    entry.icmps = map
        .get("icmps")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    Some(entry)
}

fn parse_network_policy(p: &mut ParsedPolicy<'_>) {
    let Some(spec) = p.policy.spec().and_then(Value::as_object) else {
        p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            "the NetworkPolicy has no `spec` mapping".into(),
            "add a spec with podSelector and policyTypes",
        );
        return;
    };
    let subject = {
        let at = "spec.podSelector".to_string();
        let value = spec.get("podSelector").unwrap_or(&Value::Null);
        match check_selector(p, &at, value) {
            Some(selector) => Subject::Pods { path: at, selector },
            None => Subject::Invalid,
        }
    };
    let (has_ingress, has_egress) = crate::policy::parse::network_policy_types(spec);
    let mut rule = Rule {
        path: "spec".into(),
        subject,
        default_deny: (None, None),
        has_ingress,
        has_egress,
        entries: Vec::new(),
    };
    for (key, direction) in [("ingress", Direction::Ingress), ("egress", Direction::Egress)] {
        let list_path = format!("spec.{key}");
        match spec.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, value) in list.iter().enumerate() {
                    if let Some(entry) = parse_np_entry(p, format!("{list_path}[{i}]"), value, direction) {
                        rule.entries.push(entry);
                    }
                }
            }
            Some(_) => p.push(
                Severity::Error,
                code::MALFORMED_RULE,
                format!("`{list_path}` is not a list"),
                format!("write {key} as a list of rules"),
            ),
        }
    }
    p.rules.push(rule);
}

fn parse_np_entry(p: &mut ParsedPolicy<'_>, path: String, value: &Value, direction: Direction) -> Option<Entry> {
    let Some(map) = value.as_object() else {
        p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            format!("`{path}` is not a mapping"),
            "write each rule as a mapping of peers and ports",
        );
        return None;
    };
    let mut entry = Entry::new(path, direction, false);
    let key = direction.peer_prefix();
    match map.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(peers)) => {
            for (i, peer) in peers.iter().enumerate() {
                let at = format!("{}.{key}[{i}]", entry.path);
                entry.has_l3 = true;
                let pods = peer
                    .get("podSelector")
                    .and_then(|s| check_selector(p, &format!("{at}.podSelector"), s));
                let namespaces = peer
                    .get("namespaceSelector")
                    .and_then(|s| check_selector(p, &format!("{at}.namespaceSelector"), s));
                if let Some(block) = peer.get("ipBlock") {
                    match block.get("cidr") {
                        Some(cidr) => {
                            let cidr_at = format!("{at}.ipBlock.cidr");
                            if let Some(parsed) = check_cidr(p, &cidr_at, cidr) {
                                entry.cidrs.push((cidr_at, parsed));
                            }
                        }
                        None => p.push(
                            Severity::Error,
                            code::INVALID_CIDR,
                            format!("`{at}.ipBlock` has no cidr"),
                            CIDR_FIX,
                        ),
                    }
                    check_except(p, &format!("{at}.ipBlock"), block);
                }
                match (pods, namespaces) {
                    (pods, Some(namespaces)) => {
                        entry.peer_namespaces.push(PeerNamespace::Labels(namespaces));
                        entry.endpoints.extend(pods);
                    }
                    (Some(pods), None) => {
                        entry.peer_namespaces.push(PeerNamespace::Own);
                        entry.endpoints.push(pods);
                    }
                    (None, None) => {}
                }
            }
            if peers.is_empty() {
                entry.peer_namespaces.push(PeerNamespace::Own);
            }
        }
        Some(_) => p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            format!("`{}.{key}` is not a list", entry.path),
            format!("write {key} as a list of peers"),
        ),
    }
    if !entry.has_l3 {
        entry.peer_namespaces.push(PeerNamespace::Own);
    }
    match map.get("ports") {
        None | Some(Value::Null) => {}
        Some(Value::Array(ports)) => {
            for (j, port) in ports.iter().enumerate() {
                if let Some(port) = parse_port(p, format!("{}.ports[{j}]", entry.path), port, "TCP") {
                    entry.ports.push(port);
                }
            }
        }
        Some(_) => p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            format!("`{}.ports` is not a list", entry.path),
            "write ports as a list of {port, protocol}",
        ),
    }
    Some(entry)
}

/// Reads `{port, endPort, protocol}`; `default_protocol` is Cilium's `ANY` or
/// Kubernetes' `TCP`.
fn parse_port(p: &mut ParsedPolicy<'_>, path: String, value: &Value, default_protocol: &str) -> Option<PortEntry> {
    let bad = |p: &mut ParsedPolicy<'_>, what: String| {
        p.push(
            Severity::Error,
            code::MALFORMED_RULE,
            what,
            "write the port as a number from 1 to 65535 (as a string in Cilium policies) or a named container port",
        );
    };
    let Some(map) = value.as_object() else {
        bad(p, format!("`{path}` is not a mapping of port and protocol"));
        return None;
    };
    let number = |v: &Value| -> Option<u64> {
        match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse::<u64>().ok(),
            _ => None,
        }
    };
    let port_value = match map.get("port") {
        None | Some(Value::Null) => PortValue::Any,
        Some(v) => match (number(v), v) {
            (Some(0), _) => PortValue::Any,
            (Some(n), _) => match u16::try_from(n) {
                Ok(n) => PortValue::Number(n),
                Err(_) => {
                    bad(p, format!("`{path}.port` is {n}, beyond 65535"));
                    return None;
                }
            },
            (None, Value::String(s)) if !s.trim().is_empty() && !s.starts_with('-') => PortValue::Named(s.clone()),
            (None, other) => {
                bad(p, format!("`{path}.port` is {}, not a port", show(other)));
                return None;
            }
        },
    };
    let end = match map.get("endPort") {
        None | Some(Value::Null) => None,
        Some(v) => match number(v).and_then(|n| u16::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                bad(p, format!("`{path}.endPort` is {}, not a port number", show(v)));
                None
            }
        },
    };
    let protocol = map
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or(default_protocol)
        .to_ascii_uppercase();
    Some(PortEntry {
        path: format!("{path}.port"),
        value: port_value,
        end,
        protocol,
    })
}

fn check_selector(p: &mut ParsedPolicy<'_>, path: &str, value: &Value) -> Option<LabelSelector> {
    match LabelSelector::parse(value) {
        Ok(selector) => Some(selector),
        Err(err) => {
            p.push(
                Severity::Error,
                code::INVALID_SELECTOR,
                format!("`{path}` is not a valid label selector: {err}"),
                SELECTOR_FIX,
            );
            None
        }
    }
}

fn check_cidr(p: &mut ParsedPolicy<'_>, path: &str, value: &Value) -> Option<Cidr> {
    match value.as_str().map(str::trim).and_then(Cidr::parse) {
        Some(cidr) => Some(cidr),
        None => {
            p.push(
                Severity::Error,
                code::INVALID_CIDR,
                format!("`{path}` is {}, which is not a CIDR", show(value)),
                CIDR_FIX,
            );
            None
        }
    }
}

fn check_except(p: &mut ParsedPolicy<'_>, path: &str, set: &Value) {
    match set.get("except") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, cidr) in list.iter().enumerate() {
                check_cidr(p, &format!("{path}.except[{i}]"), cidr);
            }
        }
        Some(other) => p.push(
            Severity::Error,
            code::INVALID_CIDR,
            format!("`{path}.except` is {}, not a list of CIDRs", show(other)),
            CIDR_FIX,
        ),
    }
}

/// A JSON value for messages, shortened.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let short: String = text.chars().take(57).collect();
        format!("{short}...")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------
// What the checks look things up in.

struct Endpoint<'a> {
    pod: &'a PodInfo,
    labels: BTreeMap<String, String>,
}

/// A policy rule that sends DNS through Cilium's proxy.
struct DnsProvider {
    /// `None` for a clusterwide policy.
    namespace: Option<String>,
    selector: LabelSelector,
}

struct World<'a> {
    input: &'a LintInput<'a>,
    namespaces: HashMap<&'a str, &'a NamespaceInfo>,
    endpoints: Vec<Endpoint<'a>>,
    dns: Vec<DnsProvider>,
}

impl<'a> World<'a> {
    fn new(input: &'a LintInput<'a>, parsed: &[ParsedPolicy<'_>]) -> World<'a> {
        let namespaces: HashMap<&str, &NamespaceInfo> = input.namespaces.iter().map(|n| (n.name.as_str(), n)).collect();
        let no_labels = BTreeMap::new();
        let endpoints = input
            .pods
            .iter()
            .map(|pod| {
                let ns_labels = namespaces.get(pod.namespace.as_str()).map_or(&no_labels, |n| &n.labels);
                Endpoint {
                    pod,
                    labels: endpoint_labels(&pod.labels, &pod.namespace, ns_labels),
                }
            })
            .collect();
        let mut dns = Vec::new();
        for policy in parsed {
            if policy.policy.kind == PolicyKind::NetworkPolicy {
                continue;
            }
            for rule in &policy.rules {
                let Subject::Pods { selector, .. } = &rule.subject else {
                    continue;
                };
                if rule
                    .entries
                    .iter()
                    .any(|e| e.direction == Direction::Egress && !e.deny && e.dns_proxy)
                {
                    dns.push(DnsProvider {
                        namespace: policy.policy.namespace.clone().filter(|_| !policy.is_clusterwide()),
                        selector: selector.clone(),
                    });
                }
            }
        }
        World {
            input,
            namespaces,
            endpoints,
            dns,
        }
    }

    /// The endpoints a subject selector selects: in `namespace`, or anywhere.
    fn selected<'s>(
        &'s self,
        namespace: Option<&'s str>,
        selector: &'s LabelSelector,
    ) -> impl Iterator<Item = &'s Endpoint<'a>> + 's {
        self.in_scope(namespace).filter(move |e| selector.matches(&e.labels))
    }

    fn in_scope<'s>(&'s self, namespace: Option<&'s str>) -> impl Iterator<Item = &'s Endpoint<'a>> + 's {
        self.endpoints
            .iter()
            .filter(move |e| namespace.is_none_or(|ns| e.pod.namespace == ns))
    }
}

/// The namespace a namespaced policy lives in; `None` for clusterwide ones.
fn scope<'p>(policy: &'p ParsedPolicy<'_>) -> Option<&'p str> {
    if policy.is_clusterwide() {
        None
    } else {
        policy.policy.namespace.as_deref()
    }
}

// ---------------------------------------------------------------------------
// Checks on one policy.

fn check_policy(world: &World<'_>, p: &ParsedPolicy<'_>, out: &mut Vec<Finding>) {
    rejected_by_cilium(p, out);
    for rule in &p.rules {
        if world.input.cluster_known {
            service_port(world, p, rule, out);
        }
        cidr_for_cluster_entity(world, p, rule, out);
        if p.policy.kind != PolicyKind::NetworkPolicy {
            fqdn_without_dns_rule(world, p, rule, out);
            deny_as_default_deny(p, rule, out);
            broad_entity(p, rule, out);
        }
        baseline_default_deny(p, rule, out);
    }
    if world.input.cluster_known {
        selects_no_pods(world, p, out);
    }
    allow_without_enable_default_deny(world, p, out);
}

/// 12. The agent's `Valid=False` condition.
fn rejected_by_cilium(p: &ParsedPolicy<'_>, out: &mut Vec<Finding>) {
    if let Some(said) = crate::gate::rejection(p.policy) {
        out.push(p.finding(
            Severity::Error,
            code::REJECTED_BY_CILIUM,
            format!(
                "the Cilium agent rejected this policy (status condition Valid=False): {said}; none of its \
                 rules are enforced"
            ),
            "fix the spec as the agent's message says and apply it again",
        ));
    }
}

/// 1. A port rule for a Service port while the Service targets another port.
fn service_port(world: &World<'_>, p: &ParsedPolicy<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    let own = scope(p);
    for entry in &rule.entries {
        if entry.ports.iter().all(|port| port.numbers().is_none()) {
            continue;
        }
        // The namespaces whose Services this entry's port is compared with.
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        let mut anywhere = false;
        let add_own = |namespaces: &mut BTreeSet<String>, anywhere: &mut bool| match own {
            Some(ns) => {
                namespaces.insert(ns.to_string());
            }
            None => *anywhere = true,
        };
        match entry.direction {
            Direction::Ingress => match own {
                Some(ns) => {
                    namespaces.insert(ns.to_string());
                }
                None => {
                    for sub in &rule.subject_selector() {
                        namespaces.extend(world.selected(None, sub).map(|e| e.pod.namespace.clone()));
                    }
                }
            },
            Direction::Egress => {
                for peer in &entry.peer_namespaces {
                    match peer {
                        PeerNamespace::Own => add_own(&mut namespaces, &mut anywhere),
                        PeerNamespace::Named(ns) => {
                            namespaces.insert(ns.clone());
                        }
                        PeerNamespace::Labels(selector) => {
                            namespaces.extend(
                                world
                                    .input
                                    .namespaces
                                    .iter()
                                    .filter(|n| selector.matches(&n.labels))
                                    .map(|n| n.name.clone()),
                            );
                            if let Some(name) = selector.match_labels.get("kubernetes.io/metadata.name") {
                                namespaces.insert(name.clone());
                            }
                        }
                    }
                }
            }
        }
        // The pods on the other end of this entry's traffic: the Services that
        // matter are those whose selector takes one of them in. (Every Service
        // of the namespace would tell a correct rule to switch to an unrelated
        // Service's port.) Peers named by entity or CIDR only: every Service.
        let subjects = rule.subject_selector();
        let peer_pods: Option<Vec<&Endpoint<'_>>> = match entry.direction {
            Direction::Egress if entry.endpoints.is_empty() => None,
            Direction::Egress => Some(
                world
                    .endpoints
                    .iter()
                    .filter(|e| anywhere || namespaces.contains(&e.pod.namespace))
                    .filter(|e| entry.endpoints.iter().any(|s| s.matches(&e.labels)))
                    .collect(),
            ),
            Direction::Ingress => Some(subjects.iter().flat_map(|s| world.selected(own, s)).collect()),
        };
        let serves_peer = |service: &ServiceInfo| match (&peer_pods, &service.selector) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(pods), Some(selector)) => pods.iter().any(|e| {
                e.pod.namespace == service.namespace && selector.iter().all(|(k, v)| e.pod.labels.get(k) == Some(v))
            }),
        };
        let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
        for port in &entry.ports {
            // Single ports only: a range is deliberate, and may well hold the
            // targetPort.
            let Some((first, last)) = port.numbers().filter(|(first, last)| first == last) else {
                continue;
            };
            let services = world
                .input
                .services
                .iter()
                .filter(|s| anywhere || namespaces.contains(&s.namespace))
                .filter(|s| serves_peer(s));
            for service in services {
                for sp in &service.ports {
                    let protocol = if sp.protocol.is_empty() {
                        "TCP"
                    } else {
                        sp.protocol.as_str()
                    };
                    if !(first..=last).contains(&sp.port) || !protocol_matches(&port.protocol, protocol) {
                        continue;
                    }
                    let target = sp.target_port.trim();
                    if target.is_empty() || target == sp.port.to_string() {
                        continue;
                    }
                    let allowed = match target.parse::<u16>() {
                        Ok(n) => entry.ports.iter().any(|q| q.allows_number(n, protocol)),
                        // A named port resolves in the pod; a range or every port
                        // may hold it.
                        Err(_) => entry.ports.iter().any(|q| {
                            q.allows_name(target, protocol)
                                || (protocol_matches(&q.protocol, protocol)
                                    && q.numbers().is_none_or(|(first, last)| first != last)
                                    && !matches!(q.value, PortValue::Named(_)))
                        }),
                    };
                    if allowed {
                        continue;
                    }
                    let key = (
                        port.path.clone(),
                        format!("{}/{}", service.namespace, service.name),
                        target.to_string(),
                    );
                    if !seen.insert(key) {
                        continue;
                    }
                    let effect = if entry.deny {
                        "so it does not deny traffic sent through the Service"
                    } else {
                        "so it does not allow traffic sent through the Service"
                    };
                    out.push(p.finding(
                        Severity::Warning,
                        code::SERVICE_PORT,
                        format!(
                            "`{}` is {first}, the port of Service {}/{} ({}/{protocol} → targetPort {target}); \
                             Cilium matches the pod's port after service translation, {effect} (it arrives on \
                             {target})",
                            port.path, service.namespace, service.name, sp.port
                        ),
                        format!("use port {target} (the Service's targetPort)"),
                    ));
                }
            }
        }
    }
}

impl Rule {
    fn subject_selector(&self) -> Vec<LabelSelector> {
        match &self.subject {
            Subject::Pods { selector, .. } => vec![selector.clone()],
            _ => Vec::new(),
        }
    }
}

/// 2. CIDR rules that cannot reach the apiserver, nodes or host.
fn cidr_for_cluster_entity(world: &World<'_>, p: &ParsedPolicy<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    let is_np = p.policy.kind == PolicyKind::NetworkPolicy;
    for direction in [Direction::Ingress, Direction::Egress] {
        let entries: Vec<&Entry> = rule
            .entries
            .iter()
            .filter(|e| e.direction == direction && !e.deny)
            .collect();
        let covered = entries.iter().any(|e| {
            e.entities.iter().any(|entity| {
                matches!(
                    entity,
                    Entity::KubeApiserver | Entity::Host | Entity::RemoteNode | Entity::Cluster | Entity::All
                )
            })
        });
        if covered {
            continue;
        }
        let prefix = direction.peer_prefix();
        let fix = if is_np {
            format!(
                "a NetworkPolicy cannot name Cilium entities: add a CiliumNetworkPolicy with {prefix}Entities: \
                 [kube-apiserver] (or host/remote-node) for the same pods"
            )
        } else if direction == Direction::Egress {
            format!("add {prefix}Entities: [kube-apiserver] (or host/remote-node) to the same rule")
        } else {
            format!("add {prefix}Entities: [host] (or remote-node, kube-apiserver) to the same rule")
        };
        for entry in entries {
            for (path, cidr) in &entry.cidrs {
                // A LoadBalancer or external IP is rewritten to the Service's
                // pods before policy: say that, not "looks like the API server".
                let translated = (direction == Direction::Egress && !cidr.is_everything())
                    .then(|| translated_service(world, cidr))
                    .flatten();
                if let Some((service, ip)) = translated {
                    out.push(p.finding(
                        Severity::Warning,
                        code::CIDR_FOR_TRANSLATED_ADDRESS,
                        format!(
                            "`{path}` is {cidr}, which holds {ip}, an address of Service {}/{}: the cluster \
                             rewrites traffic to it to the Service's pods before policy is checked, so this rule \
                             never matches it",
                            service.namespace, service.name
                        ),
                        format!(
                            "allow the pods of Service {}/{} with toEndpoints (their labels and namespace) on its \
                             targetPort",
                            service.namespace, service.name
                        ),
                    ));
                    continue;
                }
                if cidr.is_everything() {
                    out.push(p.finding(
                        Severity::Error,
                        code::CIDR_FOR_CLUSTER_ENTITY,
                        format!(
                            "`{path}` is {cidr}, which does not match kube-apiserver, host or remote-node \
                             identities: CIDR rules never select the cluster's own nodes, so traffic {} them is \
                             dropped",
                            if direction == Direction::Egress { "to" } else { "from" }
                        ),
                        fix.clone(),
                    ));
                } else if direction == Direction::Egress
                    && is_private(cidr)
                    && entry
                        .ports
                        .iter()
                        .any(|port| port.allows_number(443, "TCP") || port.allows_number(6443, "TCP"))
                    && entry.restricts_ports()
                {
                    out.push(p.finding(
                        Severity::Warning,
                        code::CIDR_FOR_CLUSTER_ENTITY,
                        format!(
                            "`{path}` is {cidr}, a private range, on port 443/6443: this looks like the \
                             kube-apiserver or node addresses, which CIDR rules never match (they carry the \
                             kube-apiserver, host or remote-node identity)"
                        ),
                        fix.clone(),
                    ));
                }
            }
        }
    }
}

/// The first Service with a LoadBalancer or external address inside `cidr`.
fn translated_service<'w>(world: &'w World<'_>, cidr: &Cidr) -> Option<(&'w ServiceInfo, &'w str)> {
    world.input.services.iter().find_map(|service| {
        service
            .translated_ips
            .iter()
            .find(|ip| ip.parse::<IpAddr>().is_ok_and(|ip| cidr.contains(ip)))
            .map(|ip| (service, ip.as_str()))
    })
}

/// Whether a CIDR lies inside 10/8, 172.16/12 or 192.168/16.
fn is_private(cidr: &Cidr) -> bool {
    let IpAddr::V4(address) = cidr.address else {
        return false;
    };
    [
        (Ipv4Addr::new(10, 0, 0, 0), 8),
        (Ipv4Addr::new(172, 16, 0, 0), 12),
        (Ipv4Addr::new(192, 168, 0, 0), 16),
    ]
    .into_iter()
    .any(|(net, prefix)| {
        cidr.prefix >= prefix
            && Cidr {
                address: IpAddr::V4(net),
                prefix,
            }
            .contains(IpAddr::V4(address))
    })
}

/// 3. `toFQDNs` without the DNS proxy rule for the same pods.
fn fqdn_without_dns_rule(world: &World<'_>, p: &ParsedPolicy<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    let Subject::Pods { selector, .. } = &rule.subject else {
        return;
    };
    let fqdn_entries: Vec<&Entry> = rule
        .entries
        .iter()
        .filter(|e| e.direction == Direction::Egress && !e.deny && e.fqdns)
        .collect();
    if fqdn_entries.is_empty() || dns_covers(world, scope(p), selector) {
        return;
    }
    for entry in fqdn_entries {
        out.push(p.finding(
            Severity::Error,
            code::FQDN_WITHOUT_DNS_RULE,
            format!(
                "`{}.toFQDNs` only matches names the pods looked up through Cilium's DNS proxy, but no policy \
                 selecting these pods allows egress to port 53 with `rules: {{dns: [...]}}`: the FQDN rule matches \
                 nothing and the traffic is dropped",
                entry.path
            ),
            "allow egress to kube-dns (k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns) on \
             port 53 UDP and TCP with rules: {dns: [{matchPattern: \"*\"}]}; tighten's DNS baseline \
             (tighten-baseline-dns) is exactly that: apply the baseline to this namespace",
        ));
    }
}

/// Whether DNS-proxy rules select every pod a subject selector selects.
fn dns_covers(world: &World<'_>, namespace: Option<&str>, selector: &LabelSelector) -> bool {
    let providers: Vec<&DnsProvider> = world
        .dns
        .iter()
        .filter(|d| d.namespace.is_none() || (namespace.is_some() && d.namespace.as_deref() == namespace))
        .collect();
    if providers.is_empty() {
        return false;
    }
    if world.input.cluster_known {
        let selected: Vec<&Endpoint<'_>> = world.selected(namespace, selector).collect();
        if !selected.is_empty() {
            return selected.iter().all(|e| {
                providers.iter().any(|d| {
                    d.namespace.as_deref().is_none_or(|ns| ns == e.pod.namespace) && d.selector.matches(&e.labels)
                })
            });
        }
    }
    providers.iter().any(|d| selector_covers(&d.selector, selector))
}

/// Whether `wide` selects at least what `narrow` selects, judged from the
/// selectors alone.
fn selector_covers(wide: &LabelSelector, narrow: &LabelSelector) -> bool {
    if wide.is_empty() || wide == narrow {
        return true;
    }
    let bare = |s: &LabelSelector| -> BTreeMap<String, String> {
        s.match_labels
            .iter()
            .map(|(k, v)| (strip_source(k).to_string(), v.clone()))
            .collect()
    };
    let narrow_labels = bare(narrow);
    wide.match_expressions.is_empty() && bare(wide).iter().all(|(k, v)| narrow_labels.get(k) == Some(v))
}

fn strip_source(key: &str) -> &str {
    match key.split_once(':') {
        Some((source, rest)) if !source.contains('/') => rest,
        _ => key,
    }
}

/// 4 is read while parsing; 5. explicit deny of every peer.
fn deny_as_default_deny(p: &ParsedPolicy<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    for entry in rule.entries.iter().filter(|e| e.deny) {
        if entry.restricts_ports() {
            continue;
        }
        let mut why = Vec::new();
        if entry.entities.contains(&Entity::All) {
            why.push(format!("`{}` contains all", entry.entities_path()));
        } else if entry.entities.contains(&Entity::World) && entry.entities.contains(&Entity::Cluster) {
            why.push(format!("`{}` contains world and cluster", entry.entities_path()));
        }
        if entry.endpoints.iter().any(LabelSelector::is_empty) {
            let reach = if p.is_clusterwide() {
                "every endpoint in the cluster"
            } else {
                "every endpoint of the namespace"
            };
            why.push(format!(
                "`{}.{}Endpoints` has an empty selector {{}} ({reach})",
                entry.path,
                entry.direction.peer_prefix()
            ));
        }
        for (path, cidr) in &entry.cidrs {
            if cidr.is_everything() {
                why.push(format!("`{path}` is {cidr}"));
            }
        }
        if why.is_empty() {
            continue;
        }
        out.push(p.finding(
            Severity::Warning,
            code::DENY_AS_DEFAULT_DENY,
            format!(
                "`{}` is an explicit deny of every peer on every port ({}): deny rules win over every allow from \
                 any policy, so this blocks everything in {}, including what later allows try to open",
                entry.path,
                why.join("; "),
                entry.direction.label()
            ),
            "use a default-deny with enableDefaultDeny instead (a policy selecting the pods with ingress: [{}] / \
             egress: [{}], as tighten's default-deny does), and keep deny rules for specific peers or ports",
        ));
    }
}

/// 6. Very broad entities.
fn broad_entity(p: &ParsedPolicy<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    for entry in rule.entries.iter().filter(|e| !e.deny) {
        match entry.direction {
            Direction::Ingress => {
                let broad: Vec<&str> = entry
                    .entities
                    .iter()
                    .filter(|e| matches!(e, Entity::World | Entity::Cluster | Entity::All))
                    .map(|e| e.name())
                    .collect();
                if broad.is_empty() {
                    continue;
                }
                out.push(p.finding(
                    Severity::Warning,
                    code::BROAD_ENTITY,
                    format!(
                        "`{}` contains {}: ingress from {} is very broad",
                        entry.entities_path(),
                        broad.join(", "),
                        broad
                            .iter()
                            .map(|e| match *e {
                                "world" => "anywhere outside the cluster",
                                "cluster" => "every pod and node of the cluster",
                                _ => "every identity",
                            })
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                    "name the clients with fromEndpoints (pods, with k8s:io.kubernetes.pod.namespace for other \
                     namespaces) or fromCIDRSet (external ranges), and restrict toPorts",
                ));
            }
            Direction::Egress => {
                if entry.entities.contains(&Entity::World) && !entry.restricts_ports() {
                    out.push(p.finding(
                        Severity::Info,
                        code::BROAD_ENTITY,
                        format!(
                            "`{}` contains world without toPorts: egress to anywhere outside the cluster on every \
                             port",
                            entry.entities_path()
                        ),
                        "add toPorts with the ports needed (such as 443/TCP), or use toFQDNs for known hosts",
                    ));
                }
            }
        }
    }
}

fn is_tighten_baseline(policy: &PolicyObject) -> bool {
    policy.labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_TIGHTEN)
        && policy.labels.get(labels::ROLE).map(String::as_str) == Some("baseline")
}

fn is_tighten_managed(policy: &PolicyObject) -> bool {
    policy.labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_TIGHTEN)
}

/// The directions in which a rule would put its subjects into default-deny.
fn default_deny_directions(rule: &Rule) -> Vec<(Direction, Option<bool>)> {
    let mut directions = Vec::new();
    if rule.has_ingress && rule.default_deny.0 != Some(false) {
        directions.push((Direction::Ingress, rule.default_deny.0));
    }
    if rule.has_egress && rule.default_deny.1 != Some(false) {
        directions.push((Direction::Egress, rule.default_deny.1));
    }
    directions
}

/// 10. A tighten baseline without `enableDefaultDeny: false`.
fn baseline_default_deny(p: &ParsedPolicy<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    if !is_tighten_baseline(p.policy) || p.policy.kind == PolicyKind::NetworkPolicy {
        return;
    }
    for (direction, setting) in default_deny_directions(rule) {
        let dir = direction.label();
        let state = match setting {
            Some(_) => "is true",
            None => "is not set (Cilium then defaults it to true)",
        };
        out.push(p.finding(
            Severity::Error,
            code::BASELINE_WITHOUT_ENABLE_DEFAULT_DENY_FALSE,
            format!(
                "tighten baseline policy with {dir} rules, but `{}.enableDefaultDeny.{dir}` {state}: applying it \
                 switches every pod it selects into {dir} default-deny, isolating the namespace before the \
                 default-deny is staged",
                rule.path
            ),
            "set enableDefaultDeny: {ingress: false, egress: false} on the rule, as tighten's shipped templates do",
        ));
    }
}

/// 10b. A foreign CNP that already isolates pods of a namespace tighten has not
/// rolled out (no intent, or Observe), being the only policy there.
fn allow_without_enable_default_deny(world: &World<'_>, p: &ParsedPolicy<'_>, out: &mut Vec<Finding>) {
    if p.policy.kind != PolicyKind::CiliumNetworkPolicy || is_tighten_managed(p.policy) {
        return;
    }
    let Some(ns) = p.policy.namespace.as_deref() else {
        return;
    };
    let Some(info) = world.namespaces.get(ns) else {
        return;
    };
    let intent = info.annotations.get(labels::INTENT).map(String::as_str);
    if !matches!(intent, None | Some("observe") | Some("unmanaged")) {
        return;
    }
    let others = world
        .input
        .policies
        .iter()
        .filter(|q| q.kind.is_namespaced() && q.namespace.as_deref() == Some(ns))
        .count();
    if others != 1 {
        return;
    }
    let phase = if intent == Some("observe") {
        "Observe"
    } else {
        "Unmanaged"
    };
    for rule in &p.rules {
        let directions = default_deny_directions(rule);
        if directions.is_empty() || matches!(rule.subject, Subject::Nodes) {
            continue;
        }
        let names: Vec<&str> = directions.iter().map(|(d, _)| d.label()).collect();
        out.push(p.finding(
            Severity::Warning,
            code::ALLOW_WITHOUT_ENABLE_DEFAULT_DENY,
            format!(
                "`{}` has {} rules without enableDefaultDeny false, so it already switches the pods it selects \
                 into {} default-deny, while {ns} is in phase {phase} and has no other policy",
                rule.path,
                names.join(" and "),
                names.join(" and ")
            ),
            format!(
                "if it is meant as an allow only, set enableDefaultDeny: {{ingress: false, egress: false}}; \
                 otherwise roll {ns} out with tighten (baseline first) so the isolation is deliberate"
            ),
        ));
    }
}

/// 7. A subject selector that selects no pod.
fn selects_no_pods(world: &World<'_>, p: &ParsedPolicy<'_>, out: &mut Vec<Finding>) {
    let subjects: Vec<(&str, &LabelSelector)> = p
        .rules
        .iter()
        .filter_map(|r| match &r.subject {
            Subject::Pods { path, selector } => Some((path.as_str(), selector)),
            _ => None,
        })
        .collect();
    if subjects.is_empty() {
        return;
    }
    let namespace = scope(p);
    if p.policy.kind.is_namespaced() && namespace.is_none() {
        return;
    }
    let candidates = world.in_scope(namespace).count();
    let where_ = namespace.map_or_else(|| "the cluster".to_string(), |ns| format!("namespace {ns}"));
    let paths: Vec<String> = subjects.iter().map(|(path, _)| format!("`{path}`")).collect();
    if candidates == 0 {
        out.push(p.finding(
            Severity::Info,
            code::SELECTS_NO_PODS,
            format!("{} selects no pod: {where_} has no pods (yet)", paths.join(", ")),
            "nothing to do if pods are coming; otherwise delete the policy",
        ));
        return;
    }
    if subjects
        .iter()
        .any(|(_, selector)| world.selected(namespace, selector).next().is_some())
    {
        return;
    }
    let described: Vec<String> = subjects
        .iter()
        .map(|(path, selector)| format!("`{path}` ({})", describe_selector(selector)))
        .collect();
    let mut apps: BTreeSet<String> = BTreeSet::new();
    for e in world.in_scope(namespace) {
        for key in ["app", "app.kubernetes.io/name"] {
            if let Some(v) = e.pod.labels.get(key) {
                apps.insert(format!("{key}={v}"));
            }
        }
    }
    let sample: Vec<String> = apps.into_iter().take(5).collect();
    let hint = if sample.is_empty() {
        String::new()
    } else {
        format!(" (pods there carry {})", sample.join(", "))
    };
    out.push(p.finding(
        Severity::Warning,
        code::SELECTS_NO_PODS,
        format!(
            "{} selects none of the {candidates} pods in {where_}: the policy has no effect",
            described.join(", ")
        ),
        format!("match the selector to the pods' labels{hint}, or delete the policy"),
    ));
}

fn describe_selector(selector: &LabelSelector) -> String {
    if selector.is_empty() {
        return "{} (every pod)".into();
    }
    let mut parts: Vec<String> = selector.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.extend(selector.match_expressions.iter().map(|req| match req {
        Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
        Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
        Requirement::Exists(k) => k.clone(),
        Requirement::DoesNotExist(k) => format!("!{k}"),
    }));
    parts.join(", ")
}

// ---------------------------------------------------------------------------
// Checks on namespaces.

/// 8. Pods without `app` or `app.kubernetes.io/name`; a warning under default-deny.
///
/// Where a policy puts such pods under default-deny, no allow can name their
/// workload, so what they serve or call is dropped.
fn missing_app_label(world: &World<'_>, parsed: &[ParsedPolicy<'_>], out: &mut Vec<Finding>) {
    // Per namespace: the unlabelled pods, and those under default-deny.
    let mut by_namespace: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for endpoint in &world.endpoints {
        let pod = endpoint.pod;
        if pod.labels.contains_key("app") || pod.labels.contains_key("app.kubernetes.io/name") {
            continue;
        }
        let denied = parsed.iter().any(|p| {
            scope(p).is_none_or(|ns| ns == pod.namespace)
                && p.rules.iter().any(|rule| {
                    matches!(&rule.subject, Subject::Pods { selector, .. } if selector.matches(&endpoint.labels))
                        && !default_deny_directions(rule).is_empty()
                })
        });
        let entry = by_namespace.entry(&pod.namespace).or_default();
        entry.0.push(&pod.name);
        if denied {
            entry.1.push(&pod.name);
        }
    }
    for (namespace, (mut pods, mut denied)) in by_namespace {
        pods.sort_unstable();
        denied.sort_unstable();
        let listed = |pods: &[&str]| {
            let shown: Vec<&str> = pods.iter().take(5).copied().collect();
            let more = if pods.len() > shown.len() {
                format!(" and {} more", pods.len() - shown.len())
            } else {
                String::new()
            };
            format!("{}{more}", shown.join(", "))
        };
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let (severity, message) = if denied.is_empty() {
            (
                Severity::Info,
                format!(
                    "{} pod{} in {namespace} carry neither `app` nor `app.kubernetes.io/name`: {}; policies and \
                     flow views cannot name their workloads",
                    pods.len(),
                    plural(pods.len()),
                    listed(&pods)
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "{} pod{} in {namespace} carry neither `app` nor `app.kubernetes.io/name` and are under \
                     default-deny: {}; no allow can select them by workload, so what they serve or call is \
                     dropped unless an allow names them by other labels",
                    denied.len(),
                    plural(denied.len()),
                    listed(&denied)
                ),
            )
        };
        out.push(Finding {
            severity,
            code: code::MISSING_APP_LABEL,
            policy: None,
            namespace: Some(namespace.to_string()),
            message,
            fix: "label the workloads' pod templates with app.kubernetes.io/name (or app)".into(),
            peer: None,
            peer_namespace: None,
        });
    }
}

/// 9. NetworkPolicies next to CiliumNetworkPolicies.
fn mixed_policy_kinds(input: &LintInput<'_>, out: &mut Vec<Finding>) {
    let mut by_namespace: BTreeMap<&str, (Vec<&PolicyObject>, Vec<&PolicyObject>)> = BTreeMap::new();
    for policy in input.policies {
        let Some(ns) = policy.namespace.as_deref() else {
            continue;
        };
        match policy.kind {
            PolicyKind::NetworkPolicy => by_namespace.entry(ns).or_default().0.push(policy),
            PolicyKind::CiliumNetworkPolicy => by_namespace.entry(ns).or_default().1.push(policy),
            PolicyKind::CiliumClusterwideNetworkPolicy => {}
        }
    }
    for (namespace, (nps, cnps)) in by_namespace {
        if nps.is_empty() || cnps.is_empty() {
            continue;
        }
        let mut cnp_names: Vec<&str> = cnps.iter().map(|c| c.name.as_str()).collect();
        cnp_names.sort_unstable();
        let listed = if cnp_names.len() > 4 {
            format!("{}, ...", cnp_names.get(..4).unwrap_or_default().join(", "))
        } else {
            cnp_names.join(", ")
        };
        for np in nps {
            let types = np_policy_types(np);
            let helm = np.annotations.get(labels::HELM_RELEASE).cloned().or_else(|| {
                (np.labels.get(labels::MANAGED_BY).map(String::as_str) == Some("Helm"))
                    .then(|| np.labels.get("app.kubernetes.io/instance").cloned().unwrap_or_default())
            });
            let fix = match helm {
                Some(release) => format!(
                    "turn the chart's NetworkPolicy off in Helm release {} (often networkPolicy.enabled: false) \
                     and express its rules as a CiliumNetworkPolicy, or make it allow everything the CNPs allow",
                    if release.is_empty() {
                        "(unknown)"
                    } else {
                        release.as_str()
                    }
                ),
                None => "translate it into a CiliumNetworkPolicy and delete it, or make it allow everything the \
                         CNPs allow"
                    .to_string(),
            };
            out.push(Finding {
                severity: Severity::Warning,
                code: code::MIXED_POLICY_KINDS,
                policy: Some(policy_id(np)),
                namespace: Some(namespace.to_string()),
                message: format!(
                    "NetworkPolicy {} sits next to {} CiliumNetworkPolicies in {namespace} ({listed}): they combine: \
                     the NetworkPolicy narrows what the CNPs allow, since its selection switches the pods it \
                     selects into default-deny for {} even where enableDefaultDeny is false",
                    np.name,
                    cnps.len(),
                    types
                ),
                fix,
                peer: None,
                peer_namespace: None,
            });
        }
    }
}

fn np_policy_types(np: &PolicyObject) -> String {
    let types = np
        .spec()
        .and_then(Value::as_object)
        .map_or((true, false), crate::policy::parse::network_policy_types);
    match types {
        (true, true) => "Ingress and Egress".into(),
        (false, true) => "Egress".into(),
        (true, false) => "Ingress".into(),
        (false, false) => "no direction".into(),
    }
}
