//! Hubble's flow filters, applied by the replay server as Hubble applies them:
//! fields inside one filter are ANDed, filters in a list are ORed; a flow is
//! sent when it matches the whitelist (or there is none) and not the blacklist.
//! Filter fields outside tighten's proto are unknown to it and not applied.

use crate::flows::{Direction, Flow, Protocol, Verdict};
use crate::policy::model::Cidr;

use super::proto::flow::FlowFilter;

pub fn allowed(flow: &Flow, whitelist: &[FlowFilter], blacklist: &[FlowFilter]) -> bool {
    (whitelist.is_empty() || whitelist.iter().any(|f| matches(flow, f))) && !blacklist.iter().any(|f| matches(flow, f))
}

/// Whether one filter matches: every field that is set must match.
pub fn matches(flow: &Flow, filter: &FlowFilter) -> bool {
    let (src, dst) = (&flow.source, &flow.destination);
    any(&filter.source_pod, |w| pod(w, &src.namespace, &src.pod))
        && any(&filter.destination_pod, |w| pod(w, &dst.namespace, &dst.pod))
        && any(&filter.source_ip, |w| ip(w, &src.ip))
        && any(&filter.destination_ip, |w| ip(w, &dst.ip))
        && any(&filter.source_label, |w| label(w, &src.labels))
        && any(&filter.destination_label, |w| label(w, &dst.labels))
        && any(&filter.source_port, |w| {
            w.parse::<u16>().is_ok_and(|p| p == flow.source_port)
        })
        && any(&filter.destination_port, |w| {
            w.parse::<u16>().is_ok_and(|p| p == flow.destination_port)
        })
        && any(&filter.protocol, |w| protocol(w, flow.protocol))
        && any(&filter.destination_fqdn, |w| {
            flow.destination_names.iter().any(|n| glob(w, n.trim_end_matches('.')))
        })
        && any(&filter.node_name, |w| glob(w, &flow.node))
        && (filter.verdict.is_empty() || filter.verdict.iter().any(|v| Verdict::from_wire(*v) == flow.verdict))
        && (filter.reply.is_empty() || filter.reply.contains(&flow.is_reply))
        && (filter.traffic_direction.is_empty()
            || filter
                .traffic_direction
                .iter()
                .any(|d| Direction::from_wire(*d) == flow.direction))
}

/// An unset (empty) field matches everything.
fn any(values: &[String], test: impl Fn(&str) -> bool) -> bool {
    values.is_empty() || values.iter().any(|v| test(v))
}

/// "ns/" selects a namespace; "ns/prefix" pods of it by name prefix.
fn pod(want: &str, namespace: &str, pod: &str) -> bool {
    match want.split_once('/') {
        Some((ns, prefix)) => ns == namespace && pod.starts_with(prefix),
        None => pod.starts_with(want),
    }
}

fn ip(want: &str, have: &str) -> bool {
    match (Cidr::parse(want), have.parse()) {
        (Some(net), Ok(addr)) => net.contains(addr),
        _ => want == have,
    }
}

/// "app=api" matches any label source; "k8s:app=api" exactly.
fn label(want: &str, labels: &[String]) -> bool {
    labels
        .iter()
        .any(|l| l == want || l.split_once(':').is_some_and(|(_, bare)| bare == want))
}

fn protocol(want: &str, have: Protocol) -> bool {
    let name = match have {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
        Protocol::IcmpV4 => "icmpv4",
        Protocol::IcmpV6 => "icmpv6",
        Protocol::Other => "",
    };
    want.eq_ignore_ascii_case(name) || (want.eq_ignore_ascii_case("icmp") && name.starts_with("icmp"))
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len())
                    .any(|i| text.is_char_boundary(head.len() + i) && glob(rest, &text[head.len() + i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::Endpoint;
    use jiff::Timestamp;

    fn flow() -> Flow {
        Flow {
            time: Timestamp::UNIX_EPOCH,
            verdict: Verdict::Dropped,
            drop_reason: None,
            direction: Direction::Ingress,
            source: Endpoint {
                namespace: "frontend".into(),
                pod: "web-1".into(),
                labels: vec!["k8s:app=web".into()],
                ip: "10.0.1.2".into(),
                ..Endpoint::default()
            },
            destination: Endpoint {
                namespace: "payments".into(),
                pod: "api-7d9f".into(),
                labels: vec!["k8s:app=api".into()],
                ip: "10.0.2.3".into(),
                ..Endpoint::default()
            },
            protocol: Protocol::Tcp,
            source_port: 40000,
            destination_port: 8080,
            is_reply: false,
            node: "kind-worker".into(),
            destination_names: vec![],
            denied_by: vec![],
            icmp: None,
        }
    }

    #[test]
    fn filters_match_as_hubble_documents_them() {
        let f = flow();
        let filter = |build: fn(&mut FlowFilter)| {
            let mut filter = FlowFilter::default();
            build(&mut filter);
            filter
        };
        // `hubble observe --namespace payments` sends these two, ORed.
        let ns = [
            filter(|f| f.source_pod = vec!["payments/".into()]),
            filter(|f| f.destination_pod = vec!["payments/".into()]),
        ];
        assert!(allowed(&f, &ns, &[]));
        assert!(!allowed(
            &f,
            &[filter(|f| f.source_pod = vec!["payments/".into()])],
            &[]
        ));
        assert!(matches(
            &f,
            &filter(|f| f.destination_pod = vec!["payments/api".into()])
        ));
        assert!(matches(&f, &filter(|f| f.verdict = vec![2])));
        assert!(!matches(&f, &filter(|f| f.verdict = vec![1])));
        assert!(matches(&f, &filter(|f| f.source_ip = vec!["10.0.1.0/24".into()])));
        assert!(matches(&f, &filter(|f| f.destination_label = vec!["app=api".into()])));
        assert!(matches(&f, &filter(|f| f.destination_port = vec!["8080".into()])));
        assert!(matches(&f, &filter(|f| f.protocol = vec!["TCP".into()])));
        assert!(matches(&f, &filter(|f| f.node_name = vec!["kind-*".into()])));
        assert!(matches(&f, &filter(|f| f.traffic_direction = vec![1])));
        // Fields inside one filter are ANDed.
        assert!(!matches(
            &f,
            &filter(|f| {
                f.verdict = vec![2];
                f.destination_port = vec!["9090".into()];
            })
        ));
        // The blacklist wins.
        assert!(!allowed(&f, &ns, &[filter(|f| f.verdict = vec![2])]));
    }
}
