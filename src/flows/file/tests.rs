use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/flows")
        .join(name)
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Parses one JSON value as a line; panics with the error for the test's sake.
fn flow_of(value: Value) -> Flow {
    parse_line(&value.to_string())
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .unwrap_or_else(|| panic!("{value}: not a flow"))
}

fn err_of(line: &str) -> String {
    match parse_line(line) {
        Err(e) => e,
        Ok(f) => panic!("{line:?} parsed as {f:?}"),
    }
}

/// The smallest flow: only its time.
fn base() -> Value {
    json!({ "time": "2026-11-22T10:00:21Z" })
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

fn labels(ns: &str, app: &str) -> Vec<String> {
    vec![
        format!("k8s:app={app}"),
        format!("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}"),
        "k8s:io.cilium.k8s.policy.cluster=kind-kind".to_string(),
        format!("k8s:io.cilium.k8s.policy.serviceaccount={app}"),
        format!("k8s:io.kubernetes.pod.namespace={ns}"),
    ]
}

// ---------------------------------------------------------------------------
// Fixtures

#[test]
fn jsonpb_fixture_reads_flows_and_counts_the_rest() {
    let file = read(&fixture("sample.jsonpb")).unwrap();
    assert_eq!(file.flows.len(), 10);
    assert_eq!(
        file.skipped,
        Skipped {
            node_status: 1,
            lost_events: 2,
            lost_flows: 45,
            other: 0,
        }
    );
}

#[test]
fn jsonpb_fixture_first_flow_in_full() {
    let file = read(&fixture("sample.jsonpb")).unwrap();
    let expected = Flow {
        time: ts("2026-11-22T10:00:21.418230512Z"),
        verdict: Verdict::Dropped,
        drop_reason: Some(DropReason::POLICY_DENIED),
        direction: Direction::Ingress,
        source: Endpoint {
            identity: 48213,
            namespace: "frontend".into(),
            pod: "web-6d9f7c8b5-x2kqp".into(),
            workload: "web".into(),
            labels: labels("frontend", "web"),
            ip: "10.244.1.37".into(),
        },
        destination: Endpoint {
            identity: 17345,
            namespace: "payments".into(),
            pod: "api-7c5d9b8f4-m8w2n".into(),
            workload: "api".into(),
            labels: labels("payments", "api"),
            ip: "10.244.2.18".into(),
        },
        protocol: Protocol::Tcp,
        source_port: 51234,
        destination_port: 8080,
        is_reply: false,
        node: "kind-worker2".into(),
        destination_names: vec![],
        denied_by: vec![],
        icmp: None,
    };
    assert_eq!(file.flows[0], expected);
}

/// One row per fixture flow: the fields that differ from flow to flow.
#[test]
fn jsonpb_fixture_every_flow() {
    type Row<'a> = (
        (Verdict, Option<DropReason>, Direction),
        (&'a str, &'a str),
        (Protocol, u16, u16, Option<(u8, u8)>),
        bool,
        &'a [&'a str],
        &'a [&'a str],
        &'a str,
    );
    use Direction::{Egress, Ingress};
    use Protocol::*;
    use Verdict::*;
    let expected: [Row; 10] = [
        (
            (Dropped, Some(DropReason::POLICY_DENIED), Ingress),
            ("frontend/web", "payments/api"),
            (Tcp, 51234, 8080, None),
            false,
            &[],
            &[],
            "kind-worker2",
        ),
        (
            (Forwarded, None, Egress),
            ("payments/api", "kube-system/coredns"),
            (Udp, 41023, 53, None),
            false,
            &[],
            &[],
            "kind-worker2",
        ),
        (
            (Forwarded, None, Ingress),
            ("kube-system/coredns", "payments/api"),
            (Udp, 53, 41023, None),
            true,
            &[],
            &[],
            "kind-worker2",
        ),
        (
            (Dropped, Some(DropReason::POLICY_DENIED), Egress),
            ("payments/api", "world"),
            (Udp, 38211, 53, None),
            false,
            &["one.one.one.one"],
            &[],
            "kind-worker2",
        ),
        (
            (Dropped, Some(DropReason::POLICY_DENY), Egress),
            ("payments/api", "world"),
            (Tcp, 60122, 443, None),
            false,
            &["api.stripe.com"],
            &["payments/deny-external"],
            "kind-worker2",
        ),
        (
            (Forwarded, None, Ingress),
            ("monitoring/blackbox-exporter", "payments/api"),
            (IcmpV4, 0, 0, Some((8, 0))),
            false,
            &[],
            &[],
            "kind-worker",
        ),
        (
            (Forwarded, None, Egress),
            ("payments/api", "monitoring/blackbox-exporter"),
            (IcmpV6, 0, 0, Some((129, 0))),
            true,
            &[],
            &[],
            "kind-worker",
        ),
        (
            (Audit, None, Ingress),
            ("frontend/web", "payments/postgres"),
            (Tcp, 49876, 5432, None),
            false,
            &[],
            &["default-deny"],
            "kind-worker2",
        ),
        (
            (Forwarded, None, Egress),
            ("telecom/amf", "telecom/gnb-sim"),
            (Sctp, 38412, 38412, None),
            false,
            &[],
            &[],
            "kind-worker",
        ),
        (
            (Dropped, Some(DropReason::CT_MAP_INSERTION_FAILED), Ingress),
            ("host", "monitoring/blackbox-exporter"),
            (Tcp, 9115, 34020, None),
            true,
            &[],
            &[],
            "kind-worker",
        ),
    ];
    let file = read(&fixture("sample.jsonpb")).unwrap();
    assert_eq!(file.flows.len(), expected.len());
    for (i, (flow, row)) in file.flows.iter().zip(expected).enumerate() {
        let actual: Row = (
            (flow.verdict, flow.drop_reason, flow.direction),
            (&flow.source.qualified_name(), &flow.destination.qualified_name()),
            (
                flow.protocol,
                flow.source_port,
                flow.destination_port,
                flow.icmp.map(|i| (i.icmp_type, i.code)),
            ),
            flow.is_reply,
            &flow.destination_names.iter().map(String::as_str).collect::<Vec<_>>(),
            &flow.denied_by.iter().map(String::as_str).collect::<Vec<_>>(),
            &flow.node,
        );
        assert_eq!(actual, row, "flow {i}");
    }
    // Times are strictly increasing in the fixture, and keep their nanoseconds.
    assert!(file.flows.windows(2).all(|w| w[0].time < w[1].time));
    assert_eq!(file.flows[9].time, ts("2026-11-22T10:00:26.090311874Z"));
    // Non-pod peers keep their reserved labels and IPs.
    assert_eq!(file.flows[3].destination.labels, ["reserved:world"]);
    assert_eq!(file.flows[3].destination.identity, 2);
    assert_eq!(file.flows[3].destination.ip, "1.1.1.1");
    assert_eq!(file.flows[6].source.ip, "fd00:10:244:2::4c1a");
    assert_eq!(file.flows[9].source.identity, 1);
}

#[test]
fn all_fixture_forms_hold_the_same_flows() {
    let jsonpb = read(&fixture("sample.jsonpb")).unwrap();
    let json = read(&fixture("sample.json")).unwrap();
    let camel = read(&fixture("sample-camel.jsonpb")).unwrap();
    assert_eq!(json.flows, jsonpb.flows, "-o json (bare flows)");
    assert_eq!(json.skipped, Skipped::default());
    assert_eq!(camel, jsonpb, "lowerCamelCase names");
}

#[test]
fn parse_matches_read() {
    for name in ["sample.jsonpb", "sample.json", "sample-camel.jsonpb"] {
        let path = fixture(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(parse(&path, &text).unwrap(), read(&path).unwrap(), "{name}");
    }
}

#[test]
fn parse_line_agrees_with_the_file_reader_line_by_line() {
    let path = fixture("sample.jsonpb");
    let text = std::fs::read_to_string(&path).unwrap();
    let flows: Vec<Flow> = text.lines().filter_map(|l| parse_line(l).unwrap()).collect();
    assert_eq!(flows, read(&path).unwrap().flows);
}

#[test]
fn fixtures_stay_small() {
    for name in ["sample.jsonpb", "sample.json", "sample-camel.jsonpb"] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        assert!(text.lines().count() < 50, "{name}");
        assert!(text.ends_with('\n'), "{name}");
    }
}

// ---------------------------------------------------------------------------
// Records that are not flows

#[test]
fn non_flow_responses() {
    let cases: &[(&str, Record)] = &[
        ("", Record::Blank),
        ("   \t\r", Record::Blank),
        (
            r#"{"node_status":{"state_change":"NODE_CONNECTED","node_names":["a"]},"time":"2026-11-22T10:00:20Z"}"#,
            Record::NodeStatus,
        ),
        (r#"{"nodeStatus":{"stateChange":"NODE_GONE"}}"#, Record::NodeStatus),
        (r#"{"node_status":{}}"#, Record::NodeStatus),
        (
            r#"{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"42"},"node_name":"n"}"#,
            Record::LostEvents { lost: 42 },
        ),
        (
            r#"{"lostEvents":{"source":"PERF_EVENT_RING_BUFFER","numEventsLost":7,"cpu":1}}"#,
            Record::LostEvents { lost: 7 },
        ),
        (
            r#"{"lost_events":{"source":"OBSERVER_EVENTS_QUEUE"}}"#,
            Record::LostEvents { lost: 0 },
        ),
        (
            r#"{"lost_events":{"num_events_lost":"18446744073709551615"}}"#,
            Record::LostEvents { lost: u64::MAX },
        ),
        (
            r#"{"agent_event":{"type":"AGENT_STARTED"},"time":"2026-11-22T10:00:20Z"}"#,
            Record::OtherEvent,
        ),
        (r#"{"debugEvent":{"type":"DBG_GENERIC"}}"#, Record::OtherEvent),
    ];
    for (line, expected) in cases {
        assert_eq!(&parse_record(line).unwrap(), expected, "{line}");
        assert_eq!(parse_line(line).unwrap(), None, "{line}");
    }
}

#[test]
fn lost_flows_sum_saturates() {
    let line = r#"{"lost_events":{"num_events_lost":"18446744073709551615"}}"#;
    let text = format!("{line}\n{line}\n");
    let file = parse(Path::new("lost.jsonpb"), &text).unwrap();
    assert_eq!(file.skipped.lost_events, 2);
    assert_eq!(file.skipped.lost_flows, u64::MAX);
}

#[test]
fn flow_index_counts_only_flow_lines() {
    let flow = |port: u16| {
        json!({ "flow": { "time": "2026-11-22T10:00:21Z", "l4": { "TCP": { "destination_port": port } } } }).to_string()
    };
    let text = [
        r#"{"node_status":{"state_change":"NODE_CONNECTED"}}"#.to_string(),
        flow(1),
        String::new(),
        r#"{"lost_events":{"num_events_lost":"1"}}"#.to_string(),
        flow(2),
        r#"{"node_status":{}}"#.to_string(),
        flow(3),
    ]
    .join("\n");
    let file = parse(Path::new("mixed.jsonpb"), &text).unwrap();
    let ports: Vec<u16> = file.flows.iter().map(|f| f.destination_port).collect();
    assert_eq!(ports, [1, 2, 3]);
    assert_eq!(file.skipped.node_status, 2);
    assert_eq!(file.skipped.lost_events, 1);
}

// ---------------------------------------------------------------------------
// Field mapping, table-driven

#[test]
fn verdicts_by_name_and_number() {
    let cases = [
        (json!("FORWARDED"), Verdict::Forwarded),
        (json!("DROPPED"), Verdict::Dropped),
        (json!("ERROR"), Verdict::Error),
        (json!("AUDIT"), Verdict::Audit),
        (json!("REDIRECTED"), Verdict::Redirected),
        (json!("TRACED"), Verdict::Traced),
        (json!("TRANSLATED"), Verdict::Translated),
        (json!("VERDICT_UNKNOWN"), Verdict::Unknown),
        (json!("dropped"), Verdict::Dropped),
        (json!("SOMETHING_NEWER"), Verdict::Unknown),
        (json!(""), Verdict::Unknown),
        (json!(0), Verdict::Unknown),
        (json!(1), Verdict::Forwarded),
        (json!(2), Verdict::Dropped),
        (json!(4), Verdict::Audit),
        (json!(7), Verdict::Translated),
        (json!(99), Verdict::Unknown),
        (json!(-1), Verdict::Unknown),
        (json!(1u64 << 40), Verdict::Unknown),
        (json!(u64::MAX), Verdict::Unknown),
        (Value::Null, Verdict::Unknown),
    ];
    for (wire, expected) in cases {
        let flow = flow_of(with(base(), "verdict", wire.clone()));
        assert_eq!(flow.verdict, expected, "{wire}");
    }
    assert_eq!(flow_of(base()).verdict, Verdict::Unknown, "absent");
}

#[test]
fn directions_by_name_and_number() {
    let cases = [
        (json!("INGRESS"), Direction::Ingress),
        (json!("EGRESS"), Direction::Egress),
        (json!("TRAFFIC_DIRECTION_UNKNOWN"), Direction::Unknown),
        (json!("egress"), Direction::Egress),
        (json!("SIDEWAYS"), Direction::Unknown),
        (json!(0), Direction::Unknown),
        (json!(1), Direction::Ingress),
        (json!(2), Direction::Egress),
        (json!(3), Direction::Unknown),
        (json!(-5), Direction::Unknown),
    ];
    for (wire, expected) in cases {
        for key in ["traffic_direction", "trafficDirection"] {
            let flow = flow_of(with(base(), key, wire.clone()));
            assert_eq!(flow.direction, expected, "{key}: {wire}");
        }
    }
    assert_eq!(flow_of(base()).direction, Direction::Unknown, "absent");
}

#[test]
fn drop_reasons_from_desc_and_deprecated_number() {
    // (drop_reason_desc, deprecated drop_reason, expected)
    let cases = [
        (Some(json!("POLICY_DENIED")), None, Some(DropReason::POLICY_DENIED)),
        (Some(json!("POLICY_DENY")), None, Some(DropReason::POLICY_DENY)),
        (Some(json!("AUTH_REQUIRED")), None, Some(DropReason::AUTH_REQUIRED)),
        (
            Some(json!("STALE_OR_UNROUTABLE_IP")),
            Some(json!(151)),
            Some(DropReason::STALE_OR_UNROUTABLE_IP),
        ),
        (Some(json!(133)), None, Some(DropReason::POLICY_DENIED)),
        (Some(json!(250)), None, Some(DropReason(250))),
        // The description wins over the deprecated number.
        (
            Some(json!("POLICY_DENY")),
            Some(json!(133)),
            Some(DropReason::POLICY_DENY),
        ),
        // Deprecated number alone (old files), as a number or a string.
        (None, Some(json!(133)), Some(DropReason::POLICY_DENIED)),
        (None, Some(json!("181")), Some(DropReason::POLICY_DENY)),
        // A name newer than this build falls back to the number.
        (
            Some(json!("SOME_FUTURE_REASON")),
            Some(json!(204)),
            Some(DropReason(204)),
        ),
        (Some(json!("SOME_FUTURE_REASON")), None, None),
        // Zero is no reason.
        (Some(json!("DROP_REASON_UNKNOWN")), None, None),
        (Some(json!(0)), Some(json!(0)), None),
        (
            Some(json!("DROP_REASON_UNKNOWN")),
            Some(json!(155)),
            Some(DropReason::CT_MAP_INSERTION_FAILED),
        ),
        (Some(json!(-3)), None, None),
        (Some(Value::Null), Some(Value::Null), None),
        (None, None, None),
    ];
    for (desc, number, expected) in cases {
        for (desc_key, number_key) in [("drop_reason_desc", "drop_reason"), ("dropReasonDesc", "dropReason")] {
            let mut value = with(base(), "verdict", json!("DROPPED"));
            if let Some(desc) = &desc {
                value[desc_key] = desc.clone();
            }
            if let Some(number) = &number {
                value[number_key] = number.clone();
            }
            assert_eq!(flow_of(value.clone()).drop_reason, expected, "{value}");
        }
    }
}

type L4 = (Protocol, u16, u16, Option<Icmp>);

fn ports(protocol: Protocol, source: u16, destination: u16) -> L4 {
    (protocol, source, destination, None)
}

fn icmp(protocol: Protocol, icmp_type: u8, code: u8) -> L4 {
    (protocol, 0, 0, Some(Icmp { icmp_type, code }))
}

#[test]
fn layer4_variants() {
    use Protocol::*;
    let cases = [
        (
            json!({"TCP": {"source_port": 51234, "destination_port": 8080, "flags": {"SYN": true}}}),
            ports(Tcp, 51234, 8080),
        ),
        (
            json!({"TCP": {"sourcePort": 1, "destinationPort": 65535}}),
            ports(Tcp, 1, 65535),
        ),
        (
            json!({"UDP": {"source_port": 41023, "destination_port": 53}}),
            ports(Udp, 41023, 53),
        ),
        (json!({"UDP": {"destinationPort": "53"}}), ports(Udp, 0, 53)),
        (
            json!({"SCTP": {"source_port": 38412, "destination_port": 38412}}),
            ports(Sctp, 38412, 38412),
        ),
        (json!({"TCP": {"destination_port": 8080.0}}), ports(Tcp, 0, 8080)),
        (json!({"TCP": {}}), ports(Tcp, 0, 0)),
        (json!({"TCP": null}), ports(Other, 0, 0)),
        (json!({"ICMPv4": {"type": 8}}), icmp(IcmpV4, 8, 0)),
        (json!({"ICMPv4": {"type": 3, "code": 13}}), icmp(IcmpV4, 3, 13)),
        (json!({"ICMPv6": {"type": 129}}), icmp(IcmpV6, 129, 0)),
        (json!({"ICMPv6": {}}), icmp(IcmpV6, 0, 0)),
        // Newer oneof members this build does not know.
        (json!({"VRRP": {"type": 1}}), ports(Other, 0, 0)),
        (json!({"IGMP": {}}), ports(Other, 0, 0)),
        (json!({}), ports(Other, 0, 0)),
        (Value::Null, ports(Other, 0, 0)),
        // The oldest encoding/json output wrapped the oneof.
        (
            json!({"Protocol": {"TCP": {"source_port": 5, "destination_port": 6}}}),
            ports(Tcp, 5, 6),
        ),
    ];
    for (l4, expected) in cases {
        let flow = flow_of(with(base(), "l4", l4.clone()));
        let actual = (flow.protocol, flow.source_port, flow.destination_port, flow.icmp);
        assert_eq!(actual, expected, "{l4}");
    }
    assert_eq!(flow_of(base()).protocol, Protocol::Other, "absent");
}

#[test]
fn out_of_range_numbers_are_errors_naming_the_field() {
    let cases = [
        (
            json!({"TCP": {"destination_port": 70000}}),
            "TCP destination_port 70000 is out of range",
        ),
        (
            json!({"UDP": {"source_port": 65536}}),
            "UDP source_port 65536 is out of range",
        ),
        (json!({"ICMPv4": {"type": 256}}), "ICMPv4 type 256 is out of range"),
        (json!({"ICMPv6": {"code": 300}}), "ICMPv6 code 300 is out of range"),
        (
            json!({"TCP": {"destination_port": 4294967296u64}}),
            "out of range for an unsigned 32-bit integer",
        ),
        (json!({"TCP": {"destination_port": -1}}), "out of range"),
        (
            json!({"TCP": {"destination_port": 80.5}}),
            "is not an unsigned 32-bit integer",
        ),
        (
            json!({"TCP": {"destination_port": "http"}}),
            "\"http\" is not an unsigned 32-bit integer",
        ),
        (
            json!({"TCP": {"destination_port": true}}),
            "expected an unsigned 32-bit integer",
        ),
    ];
    for (l4, needle) in cases {
        let line = with(base(), "l4", l4.clone()).to_string();
        let err = err_of(&line);
        assert!(err.contains(needle), "{l4}: {err}");
    }
}

#[test]
fn endpoints() {
    let value = json!({
        "time": "2026-11-22T10:00:21Z",
        "IP": {"source": "10.244.1.37", "destination": "10.244.2.18", "ipVersion": "IPv4"},
        "source": {
            "ID": 1187, "identity": 48213, "namespace": "frontend",
            "labels": ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=frontend"],
            "pod_name": "web-6d9f7c8b5-x2kqp",
            "workloads": [{"name": "web", "kind": "Deployment"}, {"name": "web-6d9f7c8b5", "kind": "ReplicaSet"}]
        },
        "destination": {"identity": "2", "labels": ["reserved:world"]}
    });
    let flow = flow_of(value);
    assert_eq!(
        flow.source,
        Endpoint {
            identity: 48213,
            namespace: "frontend".into(),
            pod: "web-6d9f7c8b5-x2kqp".into(),
            workload: "web".into(),
            labels: vec!["k8s:app=web".into(), "k8s:io.kubernetes.pod.namespace=frontend".into()],
            ip: "10.244.1.37".into(),
        }
    );
    assert_eq!(
        flow.destination,
        Endpoint {
            identity: 2,
            labels: vec!["reserved:world".into()],
            ip: "10.244.2.18".into(),
            ..Endpoint::default()
        }
    );
    assert_eq!(flow.destination.qualified_name(), "world");
}

#[test]
fn endpoint_workload_and_pod_name_variants() {
    // (endpoint, pod, workload)
    let cases = [
        (json!({"podName": "api-1"}), "api-1", ""),
        (json!({"pod_name": "api-1", "workloads": []}), "api-1", ""),
        (json!({"workloads": [{"kind": "Deployment"}]}), "", ""),
        (json!({"workloads": [{"name": "api"}]}), "", "api"),
        (json!({"workloads": null, "pod_name": null}), "", ""),
        (json!({}), "", ""),
        (Value::Null, "", ""),
    ];
    for (endpoint, pod, workload) in cases {
        let flow = flow_of(with(base(), "source", endpoint.clone()));
        assert_eq!(
            (flow.source.pod.as_str(), flow.source.workload.as_str()),
            (pod, workload),
            "{endpoint}"
        );
    }
}

#[test]
fn is_reply_variants() {
    // (field, value, expected)
    let cases = [
        (None, false),
        (Some(("is_reply", json!(true))), true),
        (Some(("is_reply", json!(false))), false),
        (Some(("isReply", json!(true))), true),
        (Some(("is_reply", Value::Null)), false),
        // The deprecated bool, in files older than `is_reply`.
        (Some(("reply", json!(true))), true),
    ];
    for (field, expected) in cases {
        let mut value = base();
        if let Some((key, v)) = &field {
            value[*key] = v.clone();
        }
        assert_eq!(flow_of(value.clone()).is_reply, expected, "{value}");
    }
    // `is_reply` wins over the deprecated field when both are present.
    let both = json!({"time": "2026-11-22T10:00:21Z", "is_reply": false, "reply": true});
    assert!(!flow_of(both).is_reply);
}

#[test]
fn denied_by_policies() {
    let cnp =
        json!({"name": "deny-external", "namespace": "payments", "kind": "CiliumNetworkPolicy", "revision": "17"});
    let ccnp = json!({"name": "default-deny", "kind": "CiliumClusterwideNetworkPolicy"});
    let knp = json!({"name": "allow-dns", "namespace": "payments", "kind": "NetworkPolicy", "labels": ["x=y"]});
    let nameless = json!({"namespace": "payments", "kind": "CiliumNetworkPolicy"});
    // (egress, ingress, expected)
    let cases = [
        (Some(json!([cnp])), None, vec!["payments/deny-external"]),
        (None, Some(json!([ccnp])), vec!["default-deny"]),
        (
            Some(json!([cnp, knp])),
            None,
            vec!["payments/deny-external", "payments/allow-dns"],
        ),
        (
            Some(json!([cnp])),
            Some(json!([ccnp])),
            vec!["payments/deny-external", "default-deny"],
        ),
        (Some(json!([nameless, {"name": "", "namespace": "x"}])), None, vec![]),
        (Some(json!([{"name": "p", "namespace": ""}])), None, vec!["p"]),
        (Some(json!([])), Some(Value::Null), vec![]),
    ];
    for (egress, ingress, expected) in cases {
        for (egress_key, ingress_key) in [
            ("egress_denied_by", "ingress_denied_by"),
            ("egressDeniedBy", "ingressDeniedBy"),
        ] {
            let mut value = base();
            if let Some(e) = &egress {
                value[egress_key] = e.clone();
            }
            if let Some(i) = &ingress {
                value[ingress_key] = i.clone();
            }
            assert_eq!(flow_of(value.clone()).denied_by, expected, "{value}");
        }
    }
    // Allowed-by lists are not denials.
    let allowed = with(
        base(),
        "ingress_allowed_by",
        json!([{"name": "allow-web", "namespace": "payments"}]),
    );
    assert!(flow_of(allowed).denied_by.is_empty());
}

#[test]
fn node_and_names() {
    let value = json!({
        "time": "2026-11-22T10:00:21Z",
        "nodeName": "kind-worker",
        "destinationNames": ["api.stripe.com", "stripe.com"],
        "source_names": ["ignored.example"]
    });
    let flow = flow_of(value);
    assert_eq!(flow.node, "kind-worker");
    assert_eq!(flow.destination_names, ["api.stripe.com", "stripe.com"]);
}

#[test]
fn response_fills_in_time_and_node_the_flow_lacks() {
    let line = json!({
        "flow": {"verdict": "FORWARDED"},
        "node_name": "kind-worker2",
        "time": "2026-11-22T10:00:23Z"
    });
    let flow = flow_of(line);
    assert_eq!(flow.time, ts("2026-11-22T10:00:23Z"));
    assert_eq!(flow.node, "kind-worker2");

    // The flow's own values win.
    let line = json!({
        "flow": {"time": "2026-11-22T10:00:21Z", "node_name": "a"},
        "node_name": "b",
        "time": "2026-11-22T10:00:23Z"
    });
    let flow = flow_of(line);
    assert_eq!(flow.time, ts("2026-11-22T10:00:21Z"));
    assert_eq!(flow.node, "a");
}

#[test]
fn minimal_flow_has_defaults() {
    let flow = flow_of(base());
    assert_eq!(
        flow,
        Flow {
            time: ts("2026-11-22T10:00:21Z"),
            verdict: Verdict::Unknown,
            drop_reason: None,
            direction: Direction::Unknown,
            source: Endpoint::default(),
            destination: Endpoint::default(),
            protocol: Protocol::Other,
            source_port: 0,
            destination_port: 0,
            is_reply: false,
            node: String::new(),
            destination_names: vec![],
            denied_by: vec![],
            icmp: None,
        }
    );
}

#[test]
fn times() {
    let cases = [
        (json!("2026-11-22T10:00:23Z"), "2026-11-22T10:00:23Z"),
        (
            json!("2026-11-22T10:00:23.418230512Z"),
            "2026-11-22T10:00:23.418230512Z",
        ),
        (json!("2026-11-22T11:00:23+01:00"), "2026-11-22T10:00:23Z"),
        (
            json!({"seconds": 1795341623, "nanos": 500}),
            "2026-11-22T10:00:23.0000005Z",
        ),
        (json!({"seconds": 1795341623}), "2026-11-22T10:00:23Z"),
    ];
    for (wire, expected) in cases {
        let flow = flow_of(with(base(), "time", wire.clone()));
        assert_eq!(flow.time, ts(expected), "{wire}");
    }
}

#[test]
fn bad_or_missing_times_are_errors() {
    let cases = [
        (json!({"verdict": "DROPPED"}), "flow has no time"),
        (json!({}), "flow has no time"),
        (json!({"time": null}), "flow has no time"),
        (json!({"flow": {}, "node_name": "n"}), "flow has no time"),
        (json!({"time": "yesterday"}), "invalid time \"yesterday\""),
        (json!({"time": "2026-11-22T10:00:23"}), "invalid time"),
        (json!({"time": "2026-13-45T10:00:23Z"}), "invalid time"),
        (json!({"time": 1795341623}), "expected an RFC 3339 timestamp"),
        (json!({"time": {"seconds": i64::MAX}}), "invalid time"),
        (json!({"time": {"seconds": 0, "nanos": 2_000_000_000}}), "invalid time"),
    ];
    for (value, needle) in cases {
        let err = err_of(&value.to_string());
        assert!(err.contains(needle), "{value}: {err}");
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let value = json!({
        "time": "2026-11-22T10:00:21Z",
        "uuid": "4b8f2e0c",
        "emitter": {"name": "Hubble", "version": "1.99.0"},
        "l7": {"type": "REQUEST", "dns": {"query": "api.stripe.com.", "qtypes": ["A"]}},
        "extensions": {"@type": "type.googleapis.com/x.Y", "v": 1},
        "aggregate": {"ingress_flow_count": 3},
        "something_from_2030": [1, {"a": null}],
        "verdict": "FORWARDED",
        "source": {"cluster_name": "kind-kind", "future": true, "namespace": "a"}
    });
    let flow = flow_of(value);
    assert_eq!(flow.verdict, Verdict::Forwarded);
    assert_eq!(flow.source.namespace, "a");
}

// ---------------------------------------------------------------------------
// Errors

#[test]
fn invalid_json_names_file_and_line() {
    let good = r#"{"flow":{"time":"2026-11-22T10:00:21Z"}}"#;
    let text = format!("{good}\n\n{good}\n{{\"flow\": {{\"time\": \n{good}\n");
    let err = parse(Path::new("captures/prod.jsonpb"), &text).unwrap_err();
    assert_eq!(err.file, PathBuf::from("captures/prod.jsonpb"));
    assert_eq!(err.line, 4);
    let shown = err.to_string();
    assert!(shown.starts_with("captures/prod.jsonpb:4: "), "{shown}");
    assert!(!shown.contains("at line 1"), "{shown}");
    assert!(shown.contains("EOF"), "{shown}");
}

#[test]
fn read_reports_the_line_too() {
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    let good = r#"{"time":"2026-11-22T10:00:21Z"}"#;
    write!(tmp, "{good}\r\n{good}\r\n\r\noops, not json\r\n{good}\r\n").unwrap();
    let err = read(tmp.path()).unwrap_err();
    assert_eq!(err.line, 4);
    assert_eq!(err.file, tmp.path());
    assert!(
        err.to_string()
            .starts_with(&format!("{}:4: expected value", tmp.path().display())),
        "{err}"
    );
}

#[test]
fn read_handles_crlf_blank_lines_bom_and_no_final_newline() {
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    let good = r#"{"time":"2026-11-22T10:00:21Z","verdict":"DROPPED"}"#;
    write!(tmp, "\u{feff}{good}\r\n\r\n   \n\t\n{good}").unwrap();
    let file = read(tmp.path()).unwrap();
    assert_eq!(file.flows.len(), 2);
    assert!(file.flows.iter().all(|f| f.verdict == Verdict::Dropped));
}

#[test]
fn empty_files_hold_nothing() {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    assert_eq!(read(tmp.path()).unwrap(), FlowFile::default());
    assert_eq!(parse(Path::new("e"), "").unwrap(), FlowFile::default());
    assert_eq!(parse(Path::new("e"), "\n\n\r\n").unwrap(), FlowFile::default());
}

#[test]
fn missing_file_is_an_error_without_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.jsonpb");
    let err = read(&path).unwrap_err();
    assert_eq!(err.line, 0);
    assert_eq!(err.file, path);
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}: cannot open: ", path.display())),
        "{shown}"
    );
}

#[test]
fn a_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read(dir.path()).is_err());
}

#[test]
fn valid_json_that_is_not_an_object_is_an_error() {
    let cases = [
        ("[1, 2, 3]", "invalid type: sequence, expected a JSON object"),
        ("[\"2026-11-22T10:00:21Z\"]", "expected a JSON object"),
        ("42", "invalid type: integer `42`, expected a JSON object"),
        ("\"flow\"", "expected a JSON object"),
        ("null", "invalid type: null, expected a JSON object"),
        ("true", "expected a JSON object"),
        // Nested objects must be objects too: no positional struct filling.
        (r#"{"flow": ["2026-11-22T10:00:21Z"]}"#, "expected a JSON object"),
        (r#"{"flow": "x"}"#, "expected a JSON object"),
        (
            r#"{"time":"2026-11-22T10:00:21Z","source":["ns","pod"]}"#,
            "expected a JSON object",
        ),
        (
            r#"{"time":"2026-11-22T10:00:21Z","l4":[{"destination_port":1}]}"#,
            "expected a JSON object",
        ),
        (
            r#"{"time":"2026-11-22T10:00:21Z","l4":{"TCP":[1,2]}}"#,
            "expected a JSON object",
        ),
        (
            r#"{"time":"2026-11-22T10:00:21Z","IP":"10.0.0.1"}"#,
            "expected a JSON object",
        ),
        (
            r#"{"time":"2026-11-22T10:00:21Z","egress_denied_by":["p"]}"#,
            "expected a JSON object",
        ),
        (r#"{"lost_events": 5}"#, "expected a JSON object"),
    ];
    for (line, needle) in cases {
        let err = err_of(line);
        assert!(err.contains(needle), "{line}: {err}");
    }
    let err = parse(Path::new("f.json"), "[1]\n").unwrap_err();
    assert_eq!((err.line, err.file.as_path()), (1, Path::new("f.json")));
}

#[test]
fn wrong_types_are_errors() {
    let cases = [
        r#"{"time":"2026-11-22T10:00:21Z","verdict":{"name":"DROPPED"}}"#,
        r#"{"time":"2026-11-22T10:00:21Z","verdict":true}"#,
        r#"{"time":"2026-11-22T10:00:21Z","verdict":2.5}"#,
        r#"{"time":"2026-11-22T10:00:21Z","is_reply":"yes"}"#,
        r#"{"time":"2026-11-22T10:00:21Z","node_name":7}"#,
        r#"{"time":"2026-11-22T10:00:21Z","destination_names":"a.example"}"#,
        r#"{"time":"2026-11-22T10:00:21Z","destination_names":["a", null]}"#,
        r#"{"time":"2026-11-22T10:00:21Z","source":{"labels":[1]}}"#,
        r#"{"time":"2026-11-22T10:00:21Z","source":{"identity":-2}}"#,
        r#"{"lost_events":{"num_events_lost":"-1"}}"#,
        r#"{"lost_events":{"num_events_lost":"lots"}}"#,
        // Protobuf JSON rejects a field given twice, under either name.
        r#"{"time":"2026-11-22T10:00:21Z","node_name":"a","nodeName":"b"}"#,
        r#"{"time":"2026-11-22T10:00:21Z","time":"2026-11-22T10:00:22Z"}"#,
    ];
    for line in cases {
        let err = err_of(line);
        assert!(!err.is_empty(), "{line}");
        assert!(err.contains("column"), "{line}: {err}");
    }
}

#[test]
fn trailing_garbage_is_an_error() {
    for line in [
        r#"{"time":"2026-11-22T10:00:21Z"} x"#,
        r#"{"time":"2026-11-22T10:00:21Z"}{"time":"2026-11-22T10:00:21Z"}"#,
        r#"{"time":"2026-11-22T10:00:21Z"},"#,
    ] {
        assert!(err_of(line).contains("trailing"), "{line}");
    }
}

// ---------------------------------------------------------------------------
// Never panic

#[test]
fn garbage_unicode_never_panics() {
    let lines = [
        "\u{0}",
        "\u{feff}",
        "\u{feff}\u{feff}{}",
        "{\"time\":\"\u{0}\"}",
        "{\"time\":\"2026-11-22T10:00:21Z\",\"source\":{\"namespace\":\"\u{1F4A5}\u{202E}\u{0301}\"}}",
        "{\"time\":\"\\ud800\"}",
        "{\"time\":\"2026-11-22T10:00:21Z\",\"node_name\":\"\\udc00\\ud800\"}",
        "{\"\\u0000\":1}",
        "{\"time\":\"２０２６-11-22T10:00:21Z\"}",
        "{\"verdict\":\"ＤＲＯＰＰＥＤ\",\"time\":\"2026-11-22T10:00:21Z\"}",
        "{\"traffic_direction\":\"İNGRESS\",\"time\":\"2026-11-22T10:00:21Z\"}",
        "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ",
        "{\u{2028}}",
        "{\"time\":\"2026-11-22T10:00:21Z\"}\u{3000}",
        "{\"l4\":{\"TCP\":{\"destination_port\":1e400}},\"time\":\"2026-11-22T10:00:21Z\"}",
        "{\"l4\":{\"TCP\":{\"destination_port\":-0.0}},\"time\":\"2026-11-22T10:00:21Z\"}",
        "{\"l4\":{\"TCP\":{\"destination_port\":1e19}},\"time\":\"2026-11-22T10:00:21Z\"}",
        "{\"time\":{\"seconds\":-9223372036854775808,\"nanos\":-2147483648}}",
        "{\"time\":{\"seconds\":\"1\"}}",
    ];
    for line in lines {
        let _ = parse_record(line);
        let _ = parse(Path::new("g"), line);
    }
    // Deep nesting hits serde_json's recursion limit instead of the stack.
    for open in ["[", "{\"flow\":", "{\"l4\":{\"Protocol\":"] {
        let deep = open.repeat(100_000);
        assert!(parse_line(&deep).is_err());
    }
}

#[test]
fn invalid_utf8_in_a_file_is_an_error_not_a_panic() {
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(b"{\"time\":\"2026-11-22T10:00:21Z\"}\n").unwrap();
    tmp.write_all(b"{\"time\":\"2026-11-22T10:00:21Z\",\"node_name\":\"\xff\xfe\xc0\"}\n")
        .unwrap();
    let err = read(tmp.path()).unwrap_err();
    assert_eq!(err.line, 2);
    // Invalid bytes outside strings too.
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(b"\x80\x81{}\n").unwrap();
    assert_eq!(read(tmp.path()).unwrap_err().line, 1);
}

#[test]
fn mangled_fixture_lines_never_panic() {
    const EDITS: &[u8] = b"{}[]\",:0-9eE.\\u\xff";
    let text = std::fs::read_to_string(fixture("sample.jsonpb")).unwrap();
    let mut rng = fastrand::Rng::with_seed(0x7167_6874);
    let mut parsed = 0usize;
    for line in text.lines() {
        // Every truncation at a char boundary.
        for (i, _) in line.char_indices() {
            let _ = parse_line(&line[..i]);
        }
        // Random byte edits, read as a file would be (lossy bytes included).
        for _ in 0..300 {
            let mut bytes = line.as_bytes().to_vec();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..bytes.len());
                match rng.u8(..3) {
                    0 => bytes[at] = rng.u8(..),
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, EDITS[rng.usize(..EDITS.len())]),
                }
            }
            if parse_record_bytes(&bytes).is_ok() {
                parsed += 1;
            }
        }
    }
    // Some edits land in ignored fields or strings and still parse.
    assert!(parsed > 0);
}
