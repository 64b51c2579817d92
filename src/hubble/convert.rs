//! Hubble's wire flows and the cockpit's [`Flow`], both ways: the client reads
//! the wire; the replay server writes it.

use jiff::Timestamp;

use crate::flows::{Direction, DropReason, Endpoint, Flow, Icmp, Protocol, Verdict, policy_parts, qualified_policy};

use super::proto::flow as wire;

fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

fn from_timestamp(t: &prost_types::Timestamp) -> Option<Timestamp> {
    Timestamp::new(t.seconds, t.nanos).ok()
}

fn endpoint(e: &Endpoint) -> wire::Endpoint {
    wire::Endpoint {
        id: 0,
        identity: e.identity,
        namespace: e.namespace.clone(),
        labels: e.labels.clone(),
        pod_name: e.pod.clone(),
        workloads: if e.workload.is_empty() {
            Vec::new()
        } else {
            vec![wire::Workload {
                name: e.workload.clone(),
                kind: String::new(),
            }]
        },
    }
}

fn from_endpoint(e: Option<&wire::Endpoint>, ip: &str) -> Endpoint {
    let Some(e) = e else {
        return Endpoint {
            ip: ip.to_string(),
            ..Endpoint::default()
        };
    };
    Endpoint {
        identity: e.identity,
        namespace: e.namespace.clone(),
        pod: e.pod_name.clone(),
        workload: e.workloads.first().map(|w| w.name.clone()).unwrap_or_default(),
        labels: e.labels.clone(),
        ip: ip.to_string(),
    }
}

/// A flow as Hubble sends it.
pub fn to_wire(flow: &Flow) -> wire::Flow {
    use wire::layer4::Protocol as P;
    let ports = |s: u16, d: u16| (u32::from(s), u32::from(d));
    let (sp, dp) = ports(flow.source_port, flow.destination_port);
    let icmp = flow.icmp.unwrap_or(Icmp { icmp_type: 0, code: 0 });
    let l4 = match flow.protocol {
        Protocol::Tcp => Some(P::Tcp(wire::Tcp {
            source_port: sp,
            destination_port: dp,
        })),
        Protocol::Udp => Some(P::Udp(wire::Udp {
            source_port: sp,
            destination_port: dp,
        })),
        Protocol::Sctp => Some(P::Sctp(wire::Sctp {
            source_port: sp,
            destination_port: dp,
        })),
        Protocol::IcmpV4 => Some(P::IcmPv4(wire::IcmPv4 {
            r#type: u32::from(icmp.icmp_type),
            code: u32::from(icmp.code),
        })),
        Protocol::IcmpV6 => Some(P::IcmPv6(wire::IcmPv6 {
            r#type: u32::from(icmp.icmp_type),
            code: u32::from(icmp.code),
        })),
        Protocol::Other => None,
    };
    let reason = flow.drop_reason.map_or(0, |r| r.0);
    wire::Flow {
        time: Some(timestamp(flow.time)),
        verdict: flow.verdict as i32,
        drop_reason: reason,
        ip: Some(wire::Ip {
            source: flow.source.ip.clone(),
            destination: flow.destination.ip.clone(),
        }),
        l4: l4.map(|protocol| wire::Layer4 {
            protocol: Some(protocol),
        }),
        source: Some(endpoint(&flow.source)),
        destination: Some(endpoint(&flow.destination)),
        r#type: wire::FlowType::L3L4 as i32,
        node_name: flow.node.clone(),
        source_names: Vec::new(),
        destination_names: flow.destination_names.clone(),
        traffic_direction: flow.direction as i32,
        drop_reason_desc: reason as i32,
        is_reply: Some(flow.is_reply),
        uuid: String::new(),
        egress_denied_by: if flow.denied_on_egress() {
            policies(&flow.denied_by)
        } else {
            Vec::new()
        },
        ingress_denied_by: if flow.denied_on_egress() {
            Vec::new()
        } else {
            policies(&flow.denied_by)
        },
    }
}

/// `namespace/name` (or a cluster-wide `name`) as Hubble's policy reference.
fn policies(names: &[String]) -> Vec<wire::Policy> {
    names
        .iter()
        .map(|qualified| {
            let (namespace, name, kind) = policy_parts(qualified);
            wire::Policy {
                name: name.to_string(),
                namespace: namespace.to_string(),
                kind: kind.to_string(),
                ..wire::Policy::default()
            }
        })
        .collect()
}

fn qualified(policy: &wire::Policy) -> Option<String> {
    qualified_policy(&policy.namespace, &policy.name)
}

/// A flow as the cockpit uses it; `None` without a time.
pub fn from_wire(flow: &wire::Flow) -> Option<Flow> {
    use wire::layer4::Protocol as P;
    let narrow = |p: u32| u16::try_from(p).unwrap_or(0);
    let (protocol, source_port, destination_port, icmp) = match flow.l4.as_ref().and_then(|l| l.protocol.as_ref()) {
        Some(P::Tcp(t)) => (Protocol::Tcp, narrow(t.source_port), narrow(t.destination_port), None),
        Some(P::Udp(u)) => (Protocol::Udp, narrow(u.source_port), narrow(u.destination_port), None),
        Some(P::Sctp(s)) => (Protocol::Sctp, narrow(s.source_port), narrow(s.destination_port), None),
        Some(P::IcmPv4(i)) => (Protocol::IcmpV4, 0, 0, Some(icmp(i.r#type, i.code))),
        Some(P::IcmPv6(i)) => (Protocol::IcmpV6, 0, 0, Some(icmp(i.r#type, i.code))),
        None => (Protocol::Other, 0, 0, None),
    };
    let reason = match (u32::try_from(flow.drop_reason_desc).unwrap_or(0), flow.drop_reason) {
        (0, 0) => None,
        (0, old) => Some(DropReason(old)),
        (desc, _) => Some(DropReason(desc)),
    };
    let ip = flow.ip.clone().unwrap_or_default();
    Some(Flow {
        time: flow.time.as_ref().and_then(from_timestamp)?,
        verdict: Verdict::from_wire(flow.verdict),
        drop_reason: reason,
        direction: Direction::from_wire(flow.traffic_direction),
        source: from_endpoint(flow.source.as_ref(), &ip.source),
        destination: from_endpoint(flow.destination.as_ref(), &ip.destination),
        protocol,
        source_port,
        destination_port,
        is_reply: flow.is_reply.unwrap_or(false),
        node: flow.node_name.clone(),
        destination_names: flow.destination_names.clone(),
        denied_by: flow
            .egress_denied_by
            .iter()
            .chain(&flow.ingress_denied_by)
            .filter_map(qualified)
            .collect(),
        icmp,
    })
}

fn icmp(t: u32, c: u32) -> Icmp {
    Icmp {
        icmp_type: u8::try_from(t).unwrap_or(u8::MAX),
        code: u8::try_from(c).unwrap_or(u8::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_survive_the_wire() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/flows/sample.jsonpb"
        ))
        .expect("fixture");
        let flows = crate::flows::file::parse(std::path::Path::new("sample.jsonpb"), &text)
            .expect("parses")
            .flows;
        assert_eq!(flows.len(), 10);
        for flow in flows {
            let back = from_wire(&to_wire(&flow)).expect("has a time");
            assert_eq!(back, flow);
        }
    }
}
