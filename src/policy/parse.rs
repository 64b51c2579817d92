//! Reading policy objects into the typed model. Every malformed shape is an
//! error naming the policy and the field path; nothing panics.

use serde_json::{Map, Value};

use crate::cluster::{PolicyKind, PolicyObject};
use crate::rollout::PolicyRole;

use super::model::*;
use super::selector::NAMESPACE_LABELS_PREFIX;
use super::selector::{LabelSelector, POD_NAMESPACE_LABEL};

/// A policy that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{policy}: {path}: {message}")]
pub struct ParseError {
    /// `CiliumNetworkPolicy shop/x`.
    pub policy: String,
    /// `specs[1].egress[0].toEntities[2]`.
    pub path: String,
    pub message: String,
}

/// A parsed policy and whether it is a namespace's default-deny (whose
/// `enableDefaultDeny` a preview may treat as enforced): tighten's by its
/// labels, anyone's by its shape (selects every endpoint, allows nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPolicy {
    pub policy: Policy,
    pub is_default_deny: bool,
}

pub fn parse_policy(object: &PolicyObject) -> Result<ParsedPolicy, ParseError> {
    let reference = PolicyRef {
        kind: object.kind,
        namespace: object.namespace.clone(),
        name: object.name.clone(),
    };
    let context = Ctx {
        policy: object.object_ref().to_string(),
        namespace: object.namespace.clone(),
    };
    let rules = match object.kind {
        PolicyKind::NetworkPolicy => {
            let spec = object
                .spec()
                .ok_or_else(|| context.error("spec", "a NetworkPolicy needs a spec"))?;
            vec![network_policy(&context, spec)?]
        }
        _ => {
            let mut rules = Vec::new();
            if let Some(spec) = object.body.get("spec").filter(|v| !v.is_null()) {
                rules.extend(cilium_rule(&context, "spec", spec)?);
            }
            if let Some(specs) = object.body.get("specs").filter(|v| !v.is_null()) {
                let list = specs
                    .as_array()
                    .ok_or_else(|| context.error("specs", "must be a list"))?;
                for (i, spec) in list.iter().enumerate() {
                    rules.extend(cilium_rule(&context, &format!("specs[{i}]"), spec)?);
                }
            }
            if rules.is_empty() && object.body.get("spec").is_none() && object.body.get("specs").is_none() {
                return Err(context.error("spec", "a Cilium policy needs spec or specs"));
            }
            rules
        }
    };
    let policy = Policy { reference, rules };
    let is_default_deny = object.kind == PolicyKind::CiliumNetworkPolicy
        && (PolicyRole::of(object) == PolicyRole::DefaultDeny || policy.is_default_deny_shape());
    Ok(ParsedPolicy {
        policy,
        is_default_deny,
    })
}

struct Ctx {
    policy: String,
    namespace: Option<String>,
}

impl Ctx {
    fn error(&self, path: &str, message: impl Into<String>) -> ParseError {
        ParseError {
            policy: self.policy.clone(),
            path: path.to_string(),
            message: message.into(),
        }
    }
}

fn object<'a>(ctx: &Ctx, path: &str, value: &'a Value) -> Result<&'a Map<String, Value>, ParseError> {
    value.as_object().ok_or_else(|| ctx.error(path, "must be a mapping"))
}

fn list<'a>(ctx: &Ctx, path: &str, value: Option<&'a Value>) -> Result<&'a [Value], ParseError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ctx.error(path, "must be a list")),
    }
}

fn selector(ctx: &Ctx, path: &str, value: &Value) -> Result<LabelSelector, ParseError> {
    LabelSelector::parse(value).map_err(|e| ctx.error(path, e.to_string()))
}

/// One CNP/CCNP rule; `None` for host policies (`nodeSelector`), which tighten
/// does not simulate.
fn cilium_rule(ctx: &Ctx, path: &str, value: &Value) -> Result<Option<Rule>, ParseError> {
    let rule = object(ctx, path, value)?;
    if rule.contains_key("nodeSelector") {
        return Ok(None);
    }
    let subject = Subject {
        selector: selector(
            ctx,
            &format!("{path}.endpointSelector"),
            rule.get("endpointSelector").unwrap_or(&Value::Null),
        )?,
        namespace: ctx.namespace.clone(),
    };
    let flag = |direction: &str| -> Result<Option<bool>, ParseError> {
        match rule.get("enableDefaultDeny").and_then(|d| d.get(direction)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ctx.error(
                &format!("{path}.enableDefaultDeny.{direction}"),
                "must be true or false",
            )),
        }
    };
    let section = |key: &str, ingress: bool| -> Result<Vec<PeerRule>, ParseError> {
        list(ctx, &format!("{path}.{key}"), rule.get(key))?
            .iter()
            .enumerate()
            .map(|(i, r)| cilium_peer_rule(ctx, &format!("{path}.{key}[{i}]"), r, ingress))
            .collect()
    };
    let present = |key: &str| rule.get(key).is_some_and(|v| !v.is_null());
    Ok(Some(Rule {
        subject,
        default_deny: DefaultDenySetting {
            ingress: flag("ingress")?,
            egress: flag("egress")?,
        },
        has_ingress: present("ingress") || present("ingressDeny"),
        has_egress: present("egress") || present("egressDeny"),
        ingress: section("ingress", true)?,
        ingress_deny: section("ingressDeny", true)?,
        egress: section("egress", false)?,
        egress_deny: section("egressDeny", false)?,
    }))
}

fn cilium_peer_rule(ctx: &Ctx, path: &str, value: &Value, ingress: bool) -> Result<PeerRule, ParseError> {
    let rule = object(ctx, path, value)?;
    let (endpoints, entities, cidr, cidr_set) = if ingress {
        ("fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet")
    } else {
        ("toEndpoints", "toEntities", "toCIDR", "toCIDRSet")
    };
    let mut peers = Peers::default();
    let mut any_peer = false;
    for (i, s) in list(ctx, &format!("{path}.{endpoints}"), rule.get(endpoints))?
        .iter()
        .enumerate()
    {
        any_peer = true;
        let sel = selector(ctx, &format!("{path}.{endpoints}[{i}]"), s)?;
        // Inside a CNP, peers are this namespace's unless the selector names a
        // namespace, or selects namespaces by their labels (as Cilium's
        // getEndpointSelector leaves such selectors unscoped).
        let namespace = if sel.mentions(POD_NAMESPACE_LABEL) || sel.mentions_prefix(NAMESPACE_LABELS_PREFIX) {
            None
        } else {
            ctx.namespace.clone()
        };
        peers.endpoints.push(PeerSelector {
            selector: sel,
            namespace,
            namespace_selector: None,
        });
    }
    for (i, e) in list(ctx, &format!("{path}.{entities}"), rule.get(entities))?
        .iter()
        .enumerate()
    {
        any_peer = true;
        let name = e.as_str().unwrap_or_default();
        peers.entities.push(
            Entity::parse(name)
                .ok_or_else(|| ctx.error(&format!("{path}.{entities}[{i}]"), format!("unknown entity {e}")))?,
        );
    }
    for (i, c) in list(ctx, &format!("{path}.{cidr}"), rule.get(cidr))?.iter().enumerate() {
        any_peer = true;
        let at = format!("{path}.{cidr}[{i}]");
        peers.cidrs.push(CidrRule {
            cidr: parse_cidr(ctx, &at, c)?,
            except: Vec::new(),
        });
    }
    for (i, set) in list(ctx, &format!("{path}.{cidr_set}"), rule.get(cidr_set))?
        .iter()
        .enumerate()
    {
        any_peer = true;
        let at = format!("{path}.{cidr_set}[{i}]");
        let entry = object(ctx, &at, set)?;
        if entry.contains_key("cidrGroupRef") || entry.contains_key("cidrGroupSelector") {
            peers.unsupported.push(format!("{at}.cidrGroupRef"));
            continue;
        }
        let net = parse_cidr(ctx, &format!("{at}.cidr"), entry.get("cidr").unwrap_or(&Value::Null))?;
        let except = list(ctx, &format!("{at}.except"), entry.get("except"))?
            .iter()
            .enumerate()
            .map(|(j, e)| parse_cidr(ctx, &format!("{at}.except[{j}]"), e))
            .collect::<Result<_, _>>()?;
        peers.cidrs.push(CidrRule { cidr: net, except });
    }
    if !ingress {
        for (i, f) in list(ctx, &format!("{path}.toFQDNs"), rule.get("toFQDNs"))?
            .iter()
            .enumerate()
        {
            any_peer = true;
            let at = format!("{path}.toFQDNs[{i}]");
            let entry = object(ctx, &at, f)?;
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(normalize_fqdn);
            peers.fqdns.push(match (text("matchName"), text("matchPattern")) {
                (Some(name), _) => FqdnRule::Name(name),
                (None, Some(pattern)) => FqdnRule::Pattern(pattern),
                (None, None) => return Err(ctx.error(&at, "needs matchName or matchPattern")),
            });
        }
    }
    let unsupported: &[&str] = if ingress {
        &["fromRequires", "fromGroups", "fromNodes"]
    } else {
        &["toServices", "toRequires", "toGroups", "toNodes"]
    };
    for key in unsupported {
        if rule.get(*key).is_some_and(|v| !v.is_null()) {
            any_peer = true;
            peers.unsupported.push(format!("{path}.{key}"));
        }
    }

    let mut out = PeerRule::default();
    for (i, tp) in list(ctx, &format!("{path}.toPorts"), rule.get("toPorts"))?
        .iter()
        .enumerate()
    {
        let at = format!("{path}.toPorts[{i}]");
        let entry = object(ctx, &at, tp)?;
        let ports = list(ctx, &format!("{at}.ports"), entry.get("ports"))?;
        if ports.is_empty() {
            out.ports.push(PortRule {
                port: PortSpec::All,
                protocol: L4Protocol::Any,
            });
        }
        for (j, p) in ports.iter().enumerate() {
            out.ports.push(cilium_port(ctx, &format!("{at}.ports[{j}]"), p)?);
        }
        if entry
            .get("rules")
            .is_some_and(|r| r.as_object().is_some_and(|m| !m.is_empty()))
        {
            out.has_l7 = true;
        }
    }
    for (i, icmp) in list(ctx, &format!("{path}.icmps"), rule.get("icmps"))?
        .iter()
        .enumerate()
    {
        let at = format!("{path}.icmps[{i}]");
        for (j, field) in list(ctx, &format!("{at}.fields"), object(ctx, &at, icmp)?.get("fields"))?
            .iter()
            .enumerate()
        {
            out.icmps.push(icmp_field(ctx, &format!("{at}.fields[{j}]"), field)?);
        }
    }
    // A rule with no peer field applies to every peer, but only when it says
    // something (ports or ICMP): the empty rule `{}` selects nothing.
    peers.unrestricted = !any_peer && (!out.ports.is_empty() || !out.icmps.is_empty());
    out.peers = peers;
    Ok(out)
}

fn parse_cidr(ctx: &Ctx, path: &str, value: &Value) -> Result<Cidr, ParseError> {
    let text = value.as_str().ok_or_else(|| ctx.error(path, "must be a CIDR string"))?;
    Cidr::parse(text).ok_or_else(|| ctx.error(path, format!("{text:?} is not a CIDR")))
}

fn normalize_fqdn(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn protocol(ctx: &Ctx, path: &str, value: Option<&Value>, default: L4Protocol) -> Result<L4Protocol, ParseError> {
    match value.and_then(Value::as_str) {
        None => Ok(default),
        Some(p) => match p.to_ascii_uppercase().as_str() {
            "TCP" => Ok(L4Protocol::Tcp),
            "UDP" => Ok(L4Protocol::Udp),
            "SCTP" => Ok(L4Protocol::Sctp),
            "ANY" | "" => Ok(L4Protocol::Any),
            other => Err(ctx.error(path, format!("unknown protocol {other}"))),
        },
    }
}

fn port_number(value: &Value) -> Option<Result<u16, ()>> {
    match value {
        Value::Number(n) => Some(n.as_u64().and_then(|n| u16::try_from(n).ok()).ok_or(())),
        Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => {
            Some(s.parse::<u16>().map_err(|_| ()))
        }
        _ => None,
    }
}

fn port_spec(ctx: &Ctx, path: &str, port: Option<&Value>, end: Option<&Value>) -> Result<PortSpec, ParseError> {
    let start = match port {
        None | Some(Value::Null) => return Ok(PortSpec::All),
        Some(Value::String(s)) if s.is_empty() => return Ok(PortSpec::All),
        Some(v) => match port_number(v) {
            Some(Ok(0)) => return Ok(PortSpec::All),
            Some(Ok(n)) => n,
            Some(Err(())) => return Err(ctx.error(path, format!("port {v} is out of range"))),
            None => match v.as_str() {
                Some(name) => return Ok(PortSpec::Named(name.to_string())),
                None => return Err(ctx.error(path, "port must be a number or a name")),
            },
        },
    };
    let end = match end.and_then(port_number) {
        None => start,
        Some(Ok(e)) if e >= start => e,
        Some(_) => return Err(ctx.error(path, "endPort must be a port at or after port")),
    };
    Ok(PortSpec::Range(start, end))
}

fn cilium_port(ctx: &Ctx, path: &str, value: &Value) -> Result<PortRule, ParseError> {
    let entry = object(ctx, path, value)?;
    Ok(PortRule {
        port: port_spec(ctx, &format!("{path}.port"), entry.get("port"), entry.get("endPort"))?,
        protocol: protocol(ctx, &format!("{path}.protocol"), entry.get("protocol"), L4Protocol::Any)?,
    })
}

/// ICMP type names Cilium accepts beside numbers.
const ICMP_NAMES: &[(&str, u8, u8)] = &[
    ("EchoReply", 0, 129),
    ("DestinationUnreachable", 3, 1),
    ("Redirect", 5, 137),
    ("EchoRequest", 8, 128),
    ("TimeExceeded", 11, 3),
    ("ParameterProblem", 12, 4),
    ("PacketTooBig", 255, 2),
];

fn icmp_field(ctx: &Ctx, path: &str, value: &Value) -> Result<IcmpRule, ParseError> {
    let entry = object(ctx, path, value)?;
    let v6 = match entry.get("family").and_then(Value::as_str) {
        None | Some("IPv4") => false,
        Some("IPv6") => true,
        Some(other) => return Err(ctx.error(&format!("{path}.family"), format!("unknown family {other}"))),
    };
    let icmp_type = match entry.get("type") {
        Some(v) if port_number(v).is_some() => match port_number(v) {
            Some(Ok(n)) if n <= 255 => n as u8,
            _ => return Err(ctx.error(&format!("{path}.type"), "must be 0-255")),
        },
        Some(Value::String(name)) => ICMP_NAMES
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v4, v6t)| if v6 { *v6t } else { *v4 })
            .ok_or_else(|| ctx.error(&format!("{path}.type"), format!("unknown ICMP type {name}")))?,
        _ => return Err(ctx.error(&format!("{path}.type"), "is required")),
    };
    Ok(IcmpRule { v6, icmp_type })
}

/// A Kubernetes NetworkPolicy as one rule.
fn network_policy(ctx: &Ctx, spec: &Value) -> Result<Rule, ParseError> {
    let spec = object(ctx, "spec", spec)?;
    let subject = Subject {
        selector: selector(ctx, "spec.podSelector", spec.get("podSelector").unwrap_or(&Value::Null))?,
        namespace: ctx.namespace.clone(),
    };
    list(ctx, "spec.policyTypes", spec.get("policyTypes"))?;
    let (has_ingress, has_egress) = network_policy_types(spec);
    let section = |key: &str, peer_key: &str| -> Result<Vec<PeerRule>, ParseError> {
        list(ctx, &format!("spec.{key}"), spec.get(key))?
            .iter()
            .enumerate()
            .map(|(i, r)| np_rule(ctx, &format!("spec.{key}[{i}]"), r, peer_key))
            .collect()
    };
    Ok(Rule {
        subject,
        default_deny: DefaultDenySetting::default(),
        has_ingress,
        has_egress,
        ingress: if has_ingress {
            section("ingress", "from")?
        } else {
            Vec::new()
        },
        ingress_deny: Vec::new(),
        egress: if has_egress {
            section("egress", "to")?
        } else {
            Vec::new()
        },
        egress_deny: Vec::new(),
    })
}

/// The directions a NetworkPolicy takes part in, as the API server defaults
/// `policyTypes`: the listed ones; without any, Ingress always and Egress
/// when it has egress rules (`egress: []` has none, so no egress side).
pub fn network_policy_types(spec: &Map<String, Value>) -> (bool, bool) {
    let listed: Vec<&str> = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if listed.is_empty() {
        let egress_rules = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        (true, egress_rules)
    } else {
        (listed.contains(&"Ingress"), listed.contains(&"Egress"))
    }
}

fn np_rule(ctx: &Ctx, path: &str, value: &Value, peer_key: &str) -> Result<PeerRule, ParseError> {
    let rule = object(ctx, path, value)?;
    let mut peers = Peers::default();
    let entries = list(ctx, &format!("{path}.{peer_key}"), rule.get(peer_key))?;
    // No peers listed: every peer.
    peers.unrestricted = entries.is_empty();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{path}.{peer_key}[{i}]");
        let entry = object(ctx, &at, entry)?;
        if let Some(block) = entry.get("ipBlock") {
            let block_at = format!("{at}.ipBlock");
            let b = object(ctx, &block_at, block)?;
            let except = list(ctx, &format!("{block_at}.except"), b.get("except"))?
                .iter()
                .enumerate()
                .map(|(j, e)| parse_cidr(ctx, &format!("{block_at}.except[{j}]"), e))
                .collect::<Result<_, _>>()?;
            peers.cidrs.push(CidrRule {
                cidr: parse_cidr(ctx, &format!("{block_at}.cidr"), b.get("cidr").unwrap_or(&Value::Null))?,
                except,
            });
            continue;
        }
        let pods = entry
            .get("podSelector")
            .map(|s| selector(ctx, &format!("{at}.podSelector"), s))
            .transpose()?;
        let namespaces = entry
            .get("namespaceSelector")
            .map(|s| selector(ctx, &format!("{at}.namespaceSelector"), s))
            .transpose()?;
        if pods.is_none() && namespaces.is_none() {
            return Err(ctx.error(&at, "needs podSelector, namespaceSelector or ipBlock"));
        }
        peers.endpoints.push(PeerSelector {
            selector: pods.unwrap_or_default(),
            // A podSelector alone means this namespace's pods.
            namespace: if namespaces.is_none() {
                ctx.namespace.clone()
            } else {
                None
            },
            namespace_selector: namespaces,
        });
    }
    let mut out = PeerRule {
        peers,
        ..PeerRule::default()
    };
    for (i, p) in list(ctx, &format!("{path}.ports"), rule.get("ports"))?
        .iter()
        .enumerate()
    {
        let at = format!("{path}.ports[{i}]");
        let entry = object(ctx, &at, p)?;
        out.ports.push(PortRule {
            port: port_spec(ctx, &format!("{at}.port"), entry.get("port"), entry.get("endPort"))?,
            protocol: protocol(ctx, &format!("{at}.protocol"), entry.get("protocol"), L4Protocol::Tcp)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
