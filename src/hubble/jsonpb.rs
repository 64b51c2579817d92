//! Flows as `hubble observe -o jsonpb` prints them: one `GetFlowsResponse` per
//! line in protobuf's JSON mapping with the .proto field names, enums by name,
//! default values left out and timestamps in RFC 3339. tighten's recordings
//! are written this way, so the hubble CLI and tighten's reader both read them.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::flows::{Direction, Endpoint, Flow, Protocol, policy_parts};

/// One response line (without the newline).
pub fn line(flow: &Flow) -> String {
    let mut response = Map::new();
    response.insert("flow".into(), Value::Object(flow_object(flow)));
    put_str(&mut response, "node_name", &flow.node);
    response.insert("time".into(), Value::String(time(flow.time)));
    Value::Object(response).to_string()
}

/// protobuf's JSON timestamps: 0, 3, 6 or 9 fractional digits.
pub fn time(t: Timestamp) -> String {
    let nanos = t.subsec_nanosecond();
    let seconds = Timestamp::from_second(t.as_second()).unwrap_or(t);
    let whole = seconds.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let fraction = if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    };
    format!("{whole}{fraction}Z")
}

fn flow_object(flow: &Flow) -> Map<String, Value> {
    let mut f = Map::new();
    f.insert("time".into(), Value::String(time(flow.time)));
    f.insert("verdict".into(), Value::String(flow.verdict.name().into()));
    if let Some(reason) = flow.drop_reason.filter(|r| r.0 != 0) {
        f.insert("drop_reason".into(), json!(reason.0));
    }
    let mut ip = Map::new();
    put_str(&mut ip, "source", &flow.source.ip);
    put_str(&mut ip, "destination", &flow.destination.ip);
    if !ip.is_empty() {
        f.insert("IP".into(), Value::Object(ip));
    }
    if let Some(l4) = layer4(flow) {
        f.insert("l4".into(), l4);
    }
    put_object(&mut f, "source", endpoint(&flow.source));
    put_object(&mut f, "destination", endpoint(&flow.destination));
    f.insert("Type".into(), Value::String("L3_L4".into()));
    put_str(&mut f, "node_name", &flow.node);
    if !flow.destination_names.is_empty() {
        f.insert("destination_names".into(), json!(flow.destination_names));
    }
    if flow.direction != Direction::Unknown {
        f.insert(
            "traffic_direction".into(),
            Value::String(flow.direction.name().to_ascii_uppercase()),
        );
    }
    if let Some(reason) = flow.drop_reason.filter(|r| r.0 != 0) {
        // A code without a name in this build stays a number, as protobuf's
        // JSON writes an enum value it does not know.
        let value = match reason.name() {
            "UNKNOWN_DROP_REASON" => json!(reason.0),
            name => Value::String(name.into()),
        };
        f.insert("drop_reason_desc".into(), value);
    }
    f.insert("is_reply".into(), Value::Bool(flow.is_reply));
    if !flow.denied_by.is_empty() {
        let field = if flow.denied_on_egress() {
            "egress_denied_by"
        } else {
            "ingress_denied_by"
        };
        let policies: Vec<Value> = flow.denied_by.iter().map(|p| policy(p)).collect();
        f.insert(field.into(), Value::Array(policies));
    }
    f
}

fn layer4(flow: &Flow) -> Option<Value> {
    let ports = || {
        let mut p = Map::new();
        if flow.source_port != 0 {
            p.insert("source_port".into(), json!(flow.source_port));
        }
        if flow.destination_port != 0 {
            p.insert("destination_port".into(), json!(flow.destination_port));
        }
        Value::Object(p)
    };
    let icmp = || {
        let mut p = Map::new();
        if let Some(icmp) = flow.icmp {
            if icmp.icmp_type != 0 {
                p.insert("type".into(), json!(icmp.icmp_type));
            }
            if icmp.code != 0 {
                p.insert("code".into(), json!(icmp.code));
            }
        }
        Value::Object(p)
    };
    let (name, body) = match flow.protocol {
        Protocol::Tcp => ("TCP", ports()),
        Protocol::Udp => ("UDP", ports()),
        Protocol::Sctp => ("SCTP", ports()),
        Protocol::IcmpV4 => ("ICMPv4", icmp()),
        Protocol::IcmpV6 => ("ICMPv6", icmp()),
        Protocol::Other => return None,
    };
    Some(json!({ name: body }))
}

fn endpoint(e: &Endpoint) -> Map<String, Value> {
    let mut m = Map::new();
    if e.identity != 0 {
        m.insert("identity".into(), json!(e.identity));
    }
    put_str(&mut m, "namespace", &e.namespace);
    if !e.labels.is_empty() {
        m.insert("labels".into(), json!(e.labels));
    }
    put_str(&mut m, "pod_name", &e.pod);
    if !e.workload.is_empty() {
        m.insert("workloads".into(), json!([{ "name": e.workload }]));
    }
    m
}

/// `namespace/name`, or a cluster-wide `name`.
fn policy(qualified: &str) -> Value {
    let (namespace, name, kind) = policy_parts(qualified);
    let mut m = Map::new();
    put_str(&mut m, "name", name);
    put_str(&mut m, "namespace", namespace);
    put_str(&mut m, "kind", kind);
    Value::Object(m)
}

fn put_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        map.insert(key.into(), Value::String(value.into()));
    }
}

fn put_object(map: &mut Map<String, Value>, key: &str, value: Map<String, Value>) {
    if !value.is_empty() {
        map.insert(key.into(), Value::Object(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::file;

    #[test]
    fn timestamps_use_protobufs_digit_groups() {
        let t = |s: i64, n: i32| Timestamp::new(s, n).expect("valid");
        assert_eq!(time(t(1_763_805_623, 0)), "2025-11-22T10:00:23Z");
        assert_eq!(time(t(1_763_805_623, 500_000_000)), "2025-11-22T10:00:23.500Z");
        assert_eq!(time(t(1_763_805_623, 1_000)), "2025-11-22T10:00:23.000001Z");
        assert_eq!(time(t(1_763_805_623, 874_511_209)), "2025-11-22T10:00:23.874511209Z");
    }

    #[test]
    fn written_lines_read_back_equal() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flows/sample.jsonpb");
        let flows = file::read(std::path::Path::new(path)).expect("fixture").flows;
        let text: String = flows.iter().map(|f| line(f) + "\n").collect();
        let back = file::parse(std::path::Path::new("written.jsonpb"), &text).expect("parses");
        assert_eq!(back.flows, flows);
        // Hubble's own spelling of the fields.
        assert!(text.contains(r#""l4":{"TCP":{"#), "{text}");
        assert!(text.contains(r#""drop_reason_desc":"POLICY_DENY""#));
    }
}
