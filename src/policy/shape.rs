//! The shapes a rule takes that matter to a rollout, read from the typed model
//! so that a team's own policies are recognised whatever they are called: the
//! empty rule that allows nothing (`ingress: [{}]`), a deny of every peer, a
//! rule covering port 53.

use super::model::{Entity, L4Protocol, PeerRule, Peers, Policy, PortSpec, Rule};

impl Peers {
    /// No peer at all: the `{}` of `ingress: [{}]`, which selects nothing.
    pub fn selects_nothing(&self) -> bool {
        !self.unrestricted
            && self.endpoints.is_empty()
            && self.entities.is_empty()
            && self.cidrs.is_empty()
            && self.fqdns.is_empty()
            && self.unsupported.is_empty()
    }

    /// Every peer there is: no peer field with an L4 part, or the `all` entity.
    fn is_everyone(&self) -> bool {
        self.unrestricted || self.entities.contains(&Entity::All)
    }
}

impl PeerRule {
    /// Matches no traffic: as an allow it opens nothing, as a deny it closes nothing.
    pub fn matches_nothing(&self) -> bool {
        self.peers.selects_nothing()
    }

    /// Matches every peer on every port: as a deny it closes everything, allows included.
    pub fn matches_everything(&self) -> bool {
        self.peers.is_everyone()
            && self.icmps.is_empty()
            && self
                .ports
                .iter()
                .all(|p| p.port == PortSpec::All && p.protocol == L4Protocol::Any)
    }

    /// Covers DNS: UDP port 53 (kube-dns, NodeLocal DNS, an upstream resolver).
    pub fn covers_dns(&self) -> bool {
        !self.peers.selects_nothing()
            && self.ports.iter().any(|p| {
                matches!(p.protocol, L4Protocol::Udp | L4Protocol::Any)
                    && match p.port {
                        PortSpec::All => true,
                        PortSpec::Range(start, end) => (start..=end).contains(&53),
                        PortSpec::Named(ref name) => name == "dns" || name == "dns-udp",
                    }
            })
    }
}

/// How a rule puts the endpoints it selects into default-deny in one direction,
/// when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenyShape {
    /// `ingress: [{}]`: an allow section that allows nothing.
    EmptyAllow,
    /// `ingressDeny: [{}]`: a deny section that denies nothing.
    EmptyDeny,
    /// A deny of every peer (`ingressDeny: [{fromEntities: [all]}]`): it beats
    /// every allow, and `enableDefaultDeny` cannot turn it off.
    DenyAll,
    /// No rule at all for the direction: a Kubernetes NetworkPolicy listing it
    /// in `policyTypes` with no rule, or a Cilium rule with an empty list.
    NoRules,
    /// A rule that allows something and, being the first policy to select the
    /// endpoints with `enableDefaultDeny` unset or true, denies the rest.
    FirstSelecting,
}

impl DenyShape {
    /// How an operator would write it, for the direction named.
    pub fn describe(self, ingress: bool) -> &'static str {
        match (self, ingress) {
            (DenyShape::EmptyAllow, true) => "ingress: [{}]",
            (DenyShape::EmptyAllow, false) => "egress: [{}]",
            (DenyShape::EmptyDeny, true) => "ingressDeny: [{}]",
            (DenyShape::EmptyDeny, false) => "egressDeny: [{}]",
            (DenyShape::DenyAll, true) => "ingressDeny of every peer",
            (DenyShape::DenyAll, false) => "egressDeny of every peer",
            (DenyShape::NoRules, true) => "policyTypes: [Ingress] with no ingress rule",
            (DenyShape::NoRules, false) => "policyTypes: [Egress] with no egress rule",
            (DenyShape::FirstSelecting, _) => "allow rules without enableDefaultDeny: false",
        }
    }
}

/// What a rule does in one direction for the endpoints it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionEffect {
    pub shape: DenyShape,
    /// The rule denies (the default-deny is in force, not merely staged).
    pub enforced: bool,
    /// The rule opens something in this direction.
    pub allows: bool,
}

impl Rule {
    /// Whether the rule takes part in a direction, and how: `None` when it says
    /// nothing about it.
    pub fn effect(&self, ingress: bool) -> Option<DirectionEffect> {
        let (present, allows, denies, setting) = if ingress {
            (
                self.has_ingress,
                &self.ingress,
                &self.ingress_deny,
                self.default_deny.ingress,
            )
        } else {
            (
                self.has_egress,
                &self.egress,
                &self.egress_deny,
                self.default_deny.egress,
            )
        };
        if !present {
            return None;
        }
        let opens = allows.iter().any(|r| !r.matches_nothing());
        let switch = setting.unwrap_or(true);
        if denies.iter().any(PeerRule::matches_everything) {
            return Some(DirectionEffect {
                shape: DenyShape::DenyAll,
                enforced: true,
                allows: opens,
            });
        }
        let shape = if opens || denies.iter().any(|r| !r.matches_nothing()) {
            DenyShape::FirstSelecting
        } else if !allows.is_empty() {
            DenyShape::EmptyAllow
        } else if !denies.is_empty() {
            DenyShape::EmptyDeny
        } else {
            DenyShape::NoRules
        };
        Some(DirectionEffect {
            shape,
            enforced: switch,
            allows: opens,
        })
    }

    /// Selects the endpoints, and in every direction it takes part in, opens
    /// nothing: its only effect is a default-deny (staged or enforced).
    pub fn is_default_deny_shape(&self) -> bool {
        let effects = [self.effect(true), self.effect(false)];
        effects.iter().any(Option::is_some)
            && effects
                .iter()
                .flatten()
                .all(|e| !e.allows && e.shape != DenyShape::FirstSelecting)
    }
}

impl Policy {
    /// Every rule selects every endpoint it can (`endpointSelector: {}`) and
    /// does nothing but deny by default: the namespace's default-deny, whoever
    /// wrote it and whatever it is called.
    pub fn is_default_deny_shape(&self) -> bool {
        !self.rules.is_empty()
            && self
                .rules
                .iter()
                .all(|r| r.subject.selector.is_empty() && r.is_default_deny_shape())
    }
}
