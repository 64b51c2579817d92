//! One typed model for CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
//! Kubernetes NetworkPolicy, so evaluation and lint never look at raw YAML.

use std::net::IpAddr;

use crate::cluster::PolicyKind;

use super::selector::LabelSelector;

/// Where a rule came from: for verdicts ("decided by shop/allow-web") and lint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyRef {
    pub kind: PolicyKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A parsed policy: one or more rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub reference: PolicyRef,
    pub rules: Vec<Rule>,
}

/// Which endpoints a rule applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub selector: LabelSelector,
    /// Namespaced policies only select endpoints of their own namespace.
    pub namespace: Option<String>,
}

/// `enableDefaultDeny`; `None` is Cilium's default (true when the rule has
/// rules in that direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DefaultDenySetting {
    pub ingress: Option<bool>,
    pub egress: Option<bool>,
}

/// One rule of a policy (a CNP `spec`, an entry of `specs`, or a whole NetworkPolicy).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `spec`, `specs[1]`, or `spec` of a NetworkPolicy.
    pub path: String,
    pub subject: Subject,
    pub default_deny: DefaultDenySetting,
    /// Whether the rule takes part in each direction (puts its subjects into
    /// default-deny there unless `enableDefaultDeny` says otherwise).
    pub has_ingress: bool,
    pub has_egress: bool,
    pub ingress: Vec<PeerRule>,
    pub ingress_deny: Vec<PeerRule>,
    pub egress: Vec<PeerRule>,
    pub egress_deny: Vec<PeerRule>,
}

/// One entry of `ingress`, `egress` (or their deny forms): peers and ports,
/// both of which must match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeerRule {
    /// `spec.egress[0]`.
    pub path: String,
    pub peers: Peers,
    /// Empty: every port.
    pub ports: Vec<PortRule>,
    /// ICMP types; when set, the rule matches those ICMP messages only.
    pub icmps: Vec<IcmpRule>,
    /// The ports carry L7 rules, which Cilium enforces in a proxy; tighten
    /// judges them at L4.
    pub has_l7: bool,
    /// DNS rules on port 53: lookups go through Cilium's DNS proxy, which
    /// `toFQDNs` rules need.
    pub dns_proxy: bool,
}

/// The peers of a rule. All the listed kinds are alternatives (OR).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Peers {
    /// No peer field at all: every peer (an L4-only or empty rule).
    pub unrestricted: bool,
    pub endpoints: Vec<PeerSelector>,
    pub entities: Vec<Entity>,
    pub cidrs: Vec<CidrRule>,
    pub fqdns: Vec<FqdnRule>,
    /// Peer kinds tighten does not simulate (`toServices`, `fromRequires`...),
    /// named for the "not simulated" note.
    pub unsupported: Vec<String>,
}

/// An endpoint selector as a peer, with its namespace scoping resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSelector {
    /// `spec.egress[0].toEndpoints[1]`, `spec.ingress[0].from[0]`.
    pub path: String,
    pub selector: LabelSelector,
    /// The namespace the selector is limited to (a CNP's own, or the
    /// NetworkPolicy's), or `None` for cluster-wide.
    pub namespace: Option<String>,
    /// For NetworkPolicy `namespaceSelector`: the namespaces' labels to match.
    pub namespace_selector: Option<LabelSelector>,
}

/// A Cilium entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    World,
    Cluster,
    Host,
    RemoteNode,
    KubeApiserver,
    Ingress,
    Health,
    Init,
    Unmanaged,
    All,
}

impl Entity {
    pub fn parse(name: &str) -> Option<Entity> {
        Some(match name {
            "world" | "world-ipv4" | "world-ipv6" => Entity::World,
            "cluster" => Entity::Cluster,
            "host" => Entity::Host,
            "remote-node" => Entity::RemoteNode,
            "kube-apiserver" => Entity::KubeApiserver,
            "ingress" => Entity::Ingress,
            "health" => Entity::Health,
            "init" => Entity::Init,
            "unmanaged" => Entity::Unmanaged,
            "all" => Entity::All,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Entity::World => "world",
            Entity::Cluster => "cluster",
            Entity::Host => "host",
            Entity::RemoteNode => "remote-node",
            Entity::KubeApiserver => "kube-apiserver",
            Entity::Ingress => "ingress",
            Entity::Health => "health",
            Entity::Init => "init",
            Entity::Unmanaged => "unmanaged",
            Entity::All => "all",
        }
    }
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// The first and last address of the network.
    pub fn bounds(&self) -> (IpAddr, IpAddr) {
        match self.address {
            IpAddr::V4(a) => {
                let host = u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                let net = u32::from(a) & !host;
                (IpAddr::V4(net.into()), IpAddr::V4((net | host).into()))
            }
            IpAddr::V6(a) => {
                let host = u128::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                let net = u128::from(a) & !host;
                (IpAddr::V6(net.into()), IpAddr::V6((net | host).into()))
            }
        }
    }

    /// Whether this is the whole address space (`0.0.0.0/0`, `::/0`).
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// `toCIDR`, `toCIDRSet` (with `except`) or a NetworkPolicy `ipBlock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrRule {
    /// `spec.egress[0].toCIDRSet[1].cidr`.
    pub path: String,
    pub cidr: Cidr,
    pub except: Vec<Cidr>,
}

/// `toFQDNs`: an exact name or a pattern with `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FqdnRule {
    Name(String),
    Pattern(String),
}

/// Layer-4 protocol of a port rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4Protocol {
    Tcp,
    Udp,
    Sctp,
    Any,
}

/// A port or a range of ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// Every port (`port: "0"` or no port).
    All,
    Range(u16, u16),
    /// A named container port; resolving it needs the pod spec.
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    /// `spec.egress[0].toPorts[0].ports[1].port`.
    pub path: String,
    pub port: PortSpec,
    pub protocol: L4Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRule {
    pub v6: bool,
    pub icmp_type: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_contain_what_they_should() {
        let net = Cidr::parse("10.0.0.0/8").expect("cidr");
        assert!(net.contains("10.1.2.3".parse().expect("ip")));
        assert!(!net.contains("11.0.0.1".parse().expect("ip")));
        assert!(!net.contains("::1".parse().expect("ip")));
        assert!(Cidr::parse("0.0.0.0/0").expect("cidr").is_everything());
        assert_eq!(
            Cidr::parse("1.2.3.4"),
            Some(Cidr {
                address: "1.2.3.4".parse().expect("ip"),
                prefix: 32
            })
        );
        assert_eq!(Cidr::parse("1.2.3.4/33"), None);
        assert!(
            Cidr::parse("2001:db8::/32")
                .expect("v6")
                .contains("2001:db8::1".parse().expect("ip"))
        );
    }

    #[test]
    fn entities_parse_by_their_policy_names() {
        for name in [
            "world",
            "cluster",
            "host",
            "remote-node",
            "kube-apiserver",
            "ingress",
            "health",
            "init",
            "unmanaged",
            "all",
        ] {
            assert_eq!(Entity::parse(name).map(Entity::name), Some(name));
        }
        assert_eq!(Entity::parse("world-ipv4"), Some(Entity::World));
        assert_eq!(Entity::parse("moon"), None);
    }
}
