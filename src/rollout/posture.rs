//! A namespace's effective posture, read from what its policies do as Cilium
//! would enforce them, not from their names or tighten's labels: which
//! policies put its endpoints into default-deny in each direction (enforced or
//! staged), and what part each policy plays (a baseline allow, the
//! default-deny, an app allow).
//!
//! A team half-way through a rollout it wrote by hand reads the same as one
//! tighten started: its `default-deny` with `ingressDeny: [{}]`, its
//! NetworkPolicy deny-all, its platform team's clusterwide policy, its own
//! baseline allows under its own names.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::cluster::{PodInfo, PolicyKind, PolicyObject};
use crate::policy::model::{Policy, PolicyRef, Rule};
use crate::policy::parse::parse_policy;
use crate::policy::selector::endpoint_labels;
use crate::policy::shape::DenyShape;

use super::role::BaselineComponent;

mod function;
use function::labelled;
pub use function::{Function, PolicyReading, is_tighten};

/// What posture is read from: one namespace's policies, the clusterwide
/// policies (which may select its pods) and its pods.
pub struct PostureInput<'a> {
    pub namespace: &'a str,
    pub namespace_labels: &'a BTreeMap<String, String>,
    pub policies: &'a [&'a PolicyObject],
    pub clusterwide: &'a [&'a PolicyObject],
    pub pods: &'a [&'a PodInfo],
}

/// One policy putting endpoints into default-deny in one direction, and how.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DenyBy {
    pub policy: PolicyRef,
    pub shape: DenyShape,
}

impl DenyBy {
    /// `CiliumNetworkPolicy shop/default-deny (ingressDeny: [{}])`.
    pub fn describe(&self, ingress: bool) -> String {
        format!(
            "{} {} ({})",
            self.policy.kind,
            self.policy,
            self.shape.describe(ingress)
        )
    }
}

/// Where one direction of a namespace stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SideState {
    /// No endpoint is under default-deny, and none is staged.
    Open,
    /// A default-deny selecting every endpoint is present with
    /// `enableDefaultDeny` false: it enforces nothing yet.
    Staged,
    /// Some endpoints are under default-deny, not all.
    Partial,
    /// Every endpoint is under default-deny.
    Enforced,
}

/// One direction (ingress or egress) of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Side {
    /// Policies denying by default every endpoint of the namespace.
    pub enforced: Vec<DenyBy>,
    /// Default-denies selecting every endpoint, with `enableDefaultDeny` false.
    pub staged: Vec<DenyBy>,
    /// Policies putting only some of the pods into default-deny.
    pub partial: Vec<DenyBy>,
    /// Pods under default-deny in this direction.
    pub pods_denied: usize,
}

impl Side {
    pub fn state(&self, pods: usize) -> SideState {
        if !self.enforced.is_empty() || (pods > 0 && self.pods_denied == pods) {
            SideState::Enforced
        } else if !self.staged.is_empty() {
            SideState::Staged
        } else if self.pods_denied > 0 {
            SideState::Partial
        } else {
            SideState::Open
        }
    }

    fn push(list: &mut Vec<DenyBy>, entry: DenyBy) {
        if !list.iter().any(|d| d.policy == entry.policy) {
            list.push(entry);
        }
    }
}

/// The whole posture of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Posture {
    pub pods: usize,
    pub ingress: Side,
    pub egress: Side,
    /// The namespace's own policies, then the clusterwide ones selecting its
    /// pods (or every endpoint of it).
    pub readings: Vec<PolicyReading>,
}

impl Posture {
    pub fn read(input: &PostureInput<'_>) -> Posture {
        let scope = Scope::new(input);
        let mut posture = Posture {
            pods: input.pods.len(),
            ..Posture::default()
        };
        let mut denied = [vec![false; scope.pods.len()], vec![false; scope.pods.len()]];
        let own = input.policies.iter().map(|p| (*p, true));
        let cluster = input.clusterwide.iter().map(|p| (*p, false));
        for (object, namespaced) in own.chain(cluster) {
            let reading = match parse_policy(object) {
                Ok(parsed) => {
                    if !namespaced && !scope.applies(&parsed.policy) {
                        continue;
                    }
                    let reading = scope.read(object, &parsed.policy);
                    let default_deny = matches!(reading.function, Function::DefaultDeny { .. });
                    posture.add_sides(&scope, &parsed.policy, default_deny, &mut denied);
                    reading
                }
                Err(e) if namespaced => PolicyReading {
                    policy: PolicyRef {
                        kind: object.kind,
                        namespace: object.namespace.clone(),
                        name: object.name.clone(),
                    },
                    function: Function::Unreadable(e.to_string()),
                    tighten: is_tighten(object),
                    labelled: labelled(object),
                    shapes: Vec::new(),
                },
                Err(_) => continue,
            };
            posture.readings.push(reading);
        }
        posture.ingress.pods_denied = denied[0].iter().filter(|d| **d).count();
        posture.egress.pods_denied = denied[1].iter().filter(|d| **d).count();
        posture
    }

    /// Adds what one policy does to each direction; `wholly_default_deny` is
    /// its reading (only such a policy is a staged default-deny); `denied`
    /// marks, per direction, the pods some policy puts into default-deny.
    fn add_sides(
        &mut self,
        scope: &Scope<'_>,
        policy: &Policy,
        wholly_default_deny: bool,
        denied: &mut [Vec<bool>; 2],
    ) {
        for (index, ingress) in [true, false].into_iter().enumerate() {
            let side = if ingress { &mut self.ingress } else { &mut self.egress };
            for rule in &policy.rules {
                let Some(effect) = rule.effect(ingress) else { continue };
                let entry = DenyBy {
                    policy: policy.reference.clone(),
                    shape: effect.shape,
                };
                if scope.namespace_wide(rule) {
                    if effect.enforced {
                        Side::push(&mut side.enforced, entry);
                        denied[index].iter_mut().for_each(|d| *d = true);
                    } else if wholly_default_deny {
                        Side::push(&mut side.staged, entry);
                    }
                } else if effect.enforced && rule.subject.namespace.as_deref().is_none_or(|ns| ns == scope.namespace) {
                    let mut any = false;
                    for (pod, mark) in scope.pods.iter().zip(denied[index].iter_mut()) {
                        if rule.subject.selector.matches(pod) {
                            *mark = true;
                            any = true;
                        }
                    }
                    if any {
                        Side::push(&mut side.partial, entry);
                    }
                }
            }
        }
    }

    pub fn side(&self, ingress: bool) -> &Side {
        if ingress { &self.ingress } else { &self.egress }
    }

    pub fn ingress_state(&self) -> SideState {
        self.ingress.state(self.pods)
    }

    pub fn egress_state(&self) -> SideState {
        self.egress.state(self.pods)
    }

    /// Both directions deny by default for every endpoint.
    pub fn fully_enforced(&self) -> bool {
        self.ingress_state() == SideState::Enforced && self.egress_state() == SideState::Enforced
    }

    /// Some endpoint is under default-deny in some direction.
    pub fn enforcing(&self) -> bool {
        [self.ingress_state(), self.egress_state()]
            .iter()
            .any(|s| matches!(s, SideState::Enforced | SideState::Partial))
    }

    /// The namespace's own default-deny objects.
    pub fn default_denies(&self) -> impl Iterator<Item = &PolicyReading> {
        self.readings.iter().filter(|r| r.is_namespace_default_deny())
    }

    /// Clusterwide policies that deny by default every endpoint of the namespace.
    pub fn clusterwide_denies(&self) -> Vec<&PolicyRef> {
        let mut out: Vec<&PolicyRef> = [&self.ingress.enforced, &self.egress.enforced]
            .into_iter()
            .flatten()
            .map(|d| &d.policy)
            .filter(|p| !p.kind.is_namespaced())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The baseline components some policy provides for every endpoint.
    pub fn baseline(&self) -> BTreeSet<BaselineComponent> {
        self.readings
            .iter()
            .filter_map(|r| match &r.function {
                Function::Baseline { components, .. } => Some(components.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The policies allowing DNS for every endpoint, each with whether it
    /// lacks the DNS L7 rule.
    pub fn dns_allows(&self) -> impl Iterator<Item = (&PolicyReading, bool)> {
        self.readings.iter().filter_map(|r| match &r.function {
            Function::Baseline {
                components,
                dns_without_l7,
                ..
            } if components.contains(&BaselineComponent::Dns) => Some((r, *dns_without_l7)),
            _ => None,
        })
    }

    /// One line per direction: what denies, and how.
    pub fn summary(&self) -> Vec<String> {
        [true, false]
            .into_iter()
            .map(|ingress| {
                let side = self.side(ingress);
                let name = if ingress { "ingress" } else { "egress" };
                let list = |l: &[DenyBy]| l.iter().map(|d| d.describe(ingress)).collect::<Vec<_>>().join(", ");
                match side.state(self.pods) {
                    SideState::Enforced if side.enforced.is_empty() => format!(
                        "{name}: every pod ({}) under default-deny by {}, but no policy selects every endpoint",
                        self.pods,
                        list(&side.partial)
                    ),
                    SideState::Enforced => format!("{name}: enforced by {}", list(&side.enforced)),
                    SideState::Staged => format!("{name}: staged by {}", list(&side.staged)),
                    SideState::Partial => format!(
                        "{name}: {} of {} pods under default-deny by {}",
                        side.pods_denied,
                        self.pods,
                        list(&side.partial)
                    ),
                    SideState::Open => format!("{name}: open (no default-deny)"),
                }
            })
            .collect()
    }
}

/// The namespace as selectors see it.
struct Scope<'a> {
    namespace: &'a str,
    /// Labels of an endpoint with no labels of its own in this namespace: what a
    /// clusterwide selector must match to select every endpoint here.
    bare: BTreeMap<String, String>,
    /// Each pod's endpoint labels.
    pods: Vec<BTreeMap<String, String>>,
}

impl<'a> Scope<'a> {
    fn new(input: &PostureInput<'a>) -> Scope<'a> {
        Scope {
            namespace: input.namespace,
            bare: endpoint_labels(&BTreeMap::new(), input.namespace, input.namespace_labels),
            pods: input
                .pods
                .iter()
                .map(|p| endpoint_labels(&p.labels, input.namespace, input.namespace_labels))
                .collect(),
        }
    }

    /// Whether a rule selects every endpoint of the namespace, present and future.
    fn namespace_wide(&self, rule: &Rule) -> bool {
        let selector = &rule.subject.selector;
        match &rule.subject.namespace {
            Some(ns) => ns == self.namespace && selector.is_empty(),
            None => selector.looks_only_at_namespaces() && selector.matches(&self.bare),
        }
    }

    /// Whether a rule selects any endpoint here.
    fn selects_any(&self, rule: &Rule) -> bool {
        match &rule.subject.namespace {
            Some(ns) if ns != self.namespace => false,
            _ => self.namespace_wide(rule) || self.pods.iter().any(|p| rule.subject.selector.matches(p)),
        }
    }

    /// A clusterwide policy applies when one of its rules selects here.
    fn applies(&self, policy: &Policy) -> bool {
        policy.rules.iter().any(|r| self.selects_any(r))
    }

    fn is_default_deny(&self, policy: &Policy) -> bool {
        let rules: Vec<&Rule> = policy.rules.iter().filter(|r| self.selects_any(r)).collect();
        !rules.is_empty()
            && rules
                .iter()
                .all(|r| self.namespace_wide(r) && r.is_default_deny_shape())
    }
}

impl fmt::Display for SideState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SideState::Open => "open",
            SideState::Staged => "staged",
            SideState::Partial => "partial",
            SideState::Enforced => "enforced",
        })
    }
}

/// Whether a policy kind can be staged by `enableDefaultDeny` (a NetworkPolicy
/// cannot: it enforces as soon as it exists).
pub fn switchable(kind: PolicyKind) -> bool {
    kind != PolicyKind::NetworkPolicy
}

#[cfg(test)]
mod tests;
