//! Reading Hubble flow files: one JSON object per line, as `hubble observe`
//! writes them.
//!
//! Two line shapes are accepted, and may be mixed in one file:
//!
//! 1. An `observer.GetFlowsResponse` (what `hubble observe -o jsonpb` prints, and
//!    the `ExportEvent`s of Hubble's flow exporter): `{"flow": {...},
//!    "node_name": "...", "time": "..."}`. Responses that carry `node_status` or
//!    `lost_events` instead of a flow are counted in [`Skipped`], not read as
//!    flows; so are `agent_event` and `debug_event` exports.
//! 2. A bare `flow.Flow` (what `hubble observe -o json` prints, and `-o jsonpb` of
//!    old versions): the flow's fields at the top level, no `flow` key.
//!
//! Field names may be protobuf's original snake_case names (`drop_reason_desc`;
//! what the hubble CLI prints) or their lowerCamelCase JSON names
//! (`dropReasonDesc`; what generic protobuf-JSON tools such as grpcurl print).
//! Enums may be names (`"DROPPED"`) or numbers (`2`), 64-bit integers numbers or
//! strings, timestamps RFC 3339 strings (or the `{"seconds", "nanos"}` object the
//! oldest JSON output used). Unknown fields are ignored, so files from newer
//! Cilium versions still read.
//!
//! Nothing in here panics on any input: a line that cannot be read is an error
//! naming the file and the 1-based line number.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::flow::{Direction, DropReason, Endpoint, Flow, Icmp, Protocol, Verdict};

/// The flows of one file, in file order.
///
/// `flows[i]` is the i-th line of the file that holds a flow: blank lines and
/// responses that are not flows (node status, lost events) are not counted, so
/// the index is stable whichever of the two line shapes the file uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowFile {
    pub flows: Vec<Flow>,
    pub skipped: Skipped,
}

/// Lines that were valid but held no flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// `node_status` responses (Hubble Relay reporting nodes joining or failing).
    pub node_status: usize,
    /// `lost_events` responses.
    pub lost_events: usize,
    /// The sum of their `num_events_lost`: flows Hubble dropped before they were
    /// written, so the file under-counts by at least this much.
    pub lost_flows: u64,
    /// Other exported events (`agent_event`, `debug_event`).
    pub other: usize,
}

/// A line of a flow file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FlowFileError {
    pub file: PathBuf,
    /// 1-based line number; 0 when the file as a whole could not be opened.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FlowFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// What one line of a flow file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A blank line (only whitespace).
    Blank,
    Flow(Box<Flow>),
    NodeStatus,
    /// A `lost_events` response and its `num_events_lost`.
    LostEvents {
        lost: u64,
    },
    /// An `agent_event` or `debug_event` export.
    OtherEvent,
}

/// Reads a flow file line by line (it is never held in memory whole). Blank
/// lines are skipped; the first unreadable line ends the read with an error.
pub fn read(path: &Path) -> Result<FlowFile, FlowFileError> {
    let file = File::open(path).map_err(|e| error(path, 0, format!("cannot open: {e}")))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut out = FlowFile::default();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| error(path, line.saturating_add(1), format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        line = line.saturating_add(1);
        let record = parse_record_bytes(&buf).map_err(|m| error(path, line, m))?;
        out.push(record);
    }
    Ok(out)
}

/// Parses the text of a flow file; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<FlowFile, FlowFileError> {
    let mut out = FlowFile::default();
    for (index, line) in text.split('\n').enumerate() {
        let record = parse_record(line).map_err(|m| error(path, index.saturating_add(1), m))?;
        out.push(record);
    }
    Ok(out)
}

/// Parses one line: `Some` flow, or `None` for a blank line or a response that
/// carries no flow (node status, lost events). Streaming readers that want the
/// lost-event counts use [`parse_record`].
pub fn parse_line(line: &str) -> Result<Option<Flow>, String> {
    Ok(match parse_record(line)? {
        Record::Flow(flow) => Some(*flow),
        Record::Blank | Record::NodeStatus | Record::LostEvents { .. } | Record::OtherEvent => None,
    })
}

/// Parses one line into what it holds. A trailing `\r` or `\n` is ignored.
pub fn parse_record(line: &str) -> Result<Record, String> {
    parse_record_bytes(line.as_bytes())
}

impl FlowFile {
    fn push(&mut self, record: Record) {
        match record {
            Record::Blank => {}
            Record::Flow(flow) => self.flows.push(*flow),
            Record::NodeStatus => self.skipped.node_status = self.skipped.node_status.saturating_add(1),
            Record::LostEvents { lost } => {
                self.skipped.lost_events = self.skipped.lost_events.saturating_add(1);
                self.skipped.lost_flows = self.skipped.lost_flows.saturating_add(lost);
            }
            Record::OtherEvent => self.skipped.other = self.skipped.other.saturating_add(1),
        }
    }
}

fn error(path: &Path, line: usize, message: String) -> FlowFileError {
    FlowFileError {
        file: path.to_path_buf(),
        line,
        message,
    }
}

fn parse_record_bytes(line: &[u8]) -> Result<Record, String> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(Record::Blank);
    }
    let Object(wire) = serde_json::from_slice::<Object<WireFlow>>(line).map_err(describe)?;
    wire.into_record()
}

/// serde_json's message without its "at line 1 column N" (every line is line 1
/// to it); the column stays, as it points into a long line.
fn describe(err: serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) if err.column() > 0 => format!("{message} (column {})", err.column()),
        Some(message) => message.to_string(),
        None => text,
    }
}

// ---------------------------------------------------------------------------
// The wire shapes. One struct serves both a GetFlowsResponse and a bare Flow:
// the response's fields (`flow`, `node_status`, `lost_events`, `node_name`,
// `time`) are a subset of the union.

#[derive(Deserialize)]
struct WireFlow {
    // GetFlowsResponse / ExportEvent.
    flow: Option<Object<Box<WireFlow>>>,
    #[serde(alias = "nodeStatus")]
    node_status: Option<IgnoredAny>,
    #[serde(alias = "lostEvents")]
    lost_events: Option<Object<WireLostEvents>>,
    #[serde(alias = "agentEvent")]
    agent_event: Option<IgnoredAny>,
    #[serde(alias = "debugEvent")]
    debug_event: Option<IgnoredAny>,

    // Both.
    time: Option<WireTime>,
    #[serde(alias = "nodeName")]
    node_name: Option<String>,

    // flow.Flow.
    verdict: Option<WireEnum>,
    #[serde(alias = "dropReason")]
    drop_reason: Option<WireU32>,
    #[serde(alias = "dropReasonDesc")]
    drop_reason_desc: Option<WireEnum>,
    #[serde(rename = "IP")]
    ip: Option<Object<WireIp>>,
    l4: Option<Object<WireLayer4>>,
    source: Option<Object<WireEndpoint>>,
    destination: Option<Object<WireEndpoint>>,
    #[serde(alias = "destinationNames")]
    destination_names: Option<Vec<String>>,
    #[serde(alias = "trafficDirection")]
    traffic_direction: Option<WireEnum>,
    #[serde(alias = "isReply")]
    is_reply: Option<bool>,
    /// Deprecated predecessor of `is_reply`.
    reply: Option<bool>,
    #[serde(alias = "egressDeniedBy")]
    egress_denied_by: Option<Vec<Object<WirePolicy>>>,
    #[serde(alias = "ingressDeniedBy")]
    ingress_denied_by: Option<Vec<Object<WirePolicy>>>,
}

#[derive(Deserialize)]
struct WireLostEvents {
    #[serde(alias = "numEventsLost")]
    num_events_lost: Option<WireU64>,
}

#[derive(Deserialize)]
struct WireIp {
    source: Option<String>,
    destination: Option<String>,
}

#[derive(Deserialize)]
struct WireLayer4 {
    #[serde(rename = "TCP")]
    tcp: Option<Object<WirePorts>>,
    #[serde(rename = "UDP")]
    udp: Option<Object<WirePorts>>,
    #[serde(rename = "SCTP")]
    sctp: Option<Object<WirePorts>>,
    #[serde(rename = "ICMPv4")]
    icmpv4: Option<Object<WireIcmp>>,
    #[serde(rename = "ICMPv6")]
    icmpv6: Option<Object<WireIcmp>>,
    /// The oneof wrapper as Go's encoding/json wrote it in the oldest output.
    #[serde(rename = "Protocol")]
    protocol: Option<Object<Box<WireLayer4>>>,
}

#[derive(Deserialize)]
struct WirePorts {
    #[serde(alias = "sourcePort")]
    source_port: Option<WireU32>,
    #[serde(alias = "destinationPort")]
    destination_port: Option<WireU32>,
}

#[derive(Deserialize)]
struct WireIcmp {
    #[serde(rename = "type")]
    icmp_type: Option<WireU32>,
    code: Option<WireU32>,
}

#[derive(Deserialize)]
struct WireEndpoint {
    identity: Option<WireU32>,
    namespace: Option<String>,
    labels: Option<Vec<String>>,
    #[serde(alias = "podName")]
    pod_name: Option<String>,
    workloads: Option<Vec<Object<WireWorkload>>>,
}

#[derive(Deserialize)]
struct WireWorkload {
    name: Option<String>,
}

#[derive(Deserialize)]
struct WirePolicy {
    name: Option<String>,
    namespace: Option<String>,
}

impl WireFlow {
    fn into_record(self) -> Result<Record, String> {
        if let Some(Object(flow)) = self.flow {
            return flow
                .into_flow(self.time, self.node_name)
                .map(|f| Record::Flow(Box::new(f)));
        }
        if self.node_status.is_some() {
            return Ok(Record::NodeStatus);
        }
        if let Some(Object(lost)) = self.lost_events {
            return Ok(Record::LostEvents {
                lost: lost.num_events_lost.map_or(0, |n| n.0),
            });
        }
        if self.agent_event.is_some() || self.debug_event.is_some() {
            return Ok(Record::OtherEvent);
        }
        self.into_flow(None, None).map(|f| Record::Flow(Box::new(f)))
    }

    /// `response_time` and `response_node` are the enclosing response's, used
    /// when the flow itself lacks them.
    fn into_flow(self, response_time: Option<WireTime>, response_node: Option<String>) -> Result<Flow, String> {
        let Some(WireTime(time)) = self.time.or(response_time) else {
            return Err("flow has no time".to_string());
        };
        let (protocol, source_port, destination_port, icmp) = match self.l4 {
            Some(Object(l4)) => l4.into_parts()?,
            None => (Protocol::Other, 0, 0, None),
        };
        let (source_ip, destination_ip) = match self.ip {
            Some(Object(ip)) => (ip.source.unwrap_or_default(), ip.destination.unwrap_or_default()),
            None => (String::new(), String::new()),
        };
        let node = match self.node_name {
            Some(node) if !node.is_empty() => node,
            _ => response_node.unwrap_or_default(),
        };
        let mut denied_by = Vec::new();
        for Object(policy) in self
            .egress_denied_by
            .into_iter()
            .flatten()
            .chain(self.ingress_denied_by.into_iter().flatten())
        {
            if let Some(name) = policy.qualified_name() {
                denied_by.push(name);
            }
        }
        Ok(Flow {
            time,
            verdict: self.verdict.map_or(Verdict::Unknown, |v| v.verdict()),
            drop_reason: drop_reason(self.drop_reason_desc, self.drop_reason),
            direction: self.traffic_direction.map_or(Direction::Unknown, |d| d.direction()),
            source: endpoint(self.source, source_ip),
            destination: endpoint(self.destination, destination_ip),
            protocol,
            source_port,
            destination_port,
            is_reply: self.is_reply.or(self.reply).unwrap_or(false),
            node,
            destination_names: self.destination_names.unwrap_or_default(),
            denied_by,
            icmp,
        })
    }
}

/// `drop_reason_desc` wins; the deprecated numeric `drop_reason` fills in when
/// it is absent or names a reason newer than this build. Zero is no reason.
fn drop_reason(desc: Option<WireEnum>, deprecated: Option<WireU32>) -> Option<DropReason> {
    let from_desc = match desc {
        Some(WireEnum::Name(name)) => DropReason::from_name(&name),
        Some(WireEnum::Number(n)) => u32::try_from(n).ok().map(DropReason),
        None => None,
    };
    from_desc
        .filter(|r| r.0 != 0)
        .or_else(|| deprecated.map(|n| DropReason(n.0)).filter(|r| r.0 != 0))
}

fn endpoint(wire: Option<Object<WireEndpoint>>, ip: String) -> Endpoint {
    let Some(Object(wire)) = wire else {
        return Endpoint {
            ip,
            ..Endpoint::default()
        };
    };
    let workload = wire
        .workloads
        .and_then(|w| w.into_iter().next())
        .and_then(|Object(w)| w.name)
        .unwrap_or_default();
    Endpoint {
        identity: wire.identity.map_or(0, |i| i.0),
        namespace: wire.namespace.unwrap_or_default(),
        pod: wire.pod_name.unwrap_or_default(),
        workload,
        labels: wire.labels.unwrap_or_default(),
        ip,
    }
}

impl WirePolicy {
    /// `namespace/name`, or `name` for cluster-wide policies; `None` without a name.
    fn qualified_name(self) -> Option<String> {
        super::flow::qualified_policy(
            self.namespace.as_deref().unwrap_or_default(),
            self.name.as_deref().unwrap_or_default(),
        )
    }
}

impl WireLayer4 {
    fn into_parts(self) -> Result<(Protocol, u16, u16, Option<Icmp>), String> {
        let ports = |proto: Protocol, Object(p): Object<WirePorts>| -> Result<_, String> {
            let source = port(proto, "source_port", p.source_port)?;
            let destination = port(proto, "destination_port", p.destination_port)?;
            Ok((proto, source, destination, None))
        };
        let icmp = |proto: Protocol, Object(i): Object<WireIcmp>| -> Result<_, String> {
            let icmp = Icmp {
                icmp_type: byte(proto, "type", i.icmp_type)?,
                code: byte(proto, "code", i.code)?,
            };
            Ok((proto, 0, 0, Some(icmp)))
        };
        if let Some(p) = self.tcp {
            ports(Protocol::Tcp, p)
        } else if let Some(p) = self.udp {
            ports(Protocol::Udp, p)
        } else if let Some(p) = self.sctp {
            ports(Protocol::Sctp, p)
        } else if let Some(i) = self.icmpv4 {
            icmp(Protocol::IcmpV4, i)
        } else if let Some(i) = self.icmpv6 {
            icmp(Protocol::IcmpV6, i)
        } else if let Some(Object(inner)) = self.protocol {
            inner.into_parts()
        } else {
            Ok((Protocol::Other, 0, 0, None))
        }
    }
}

fn port(proto: Protocol, field: &str, value: Option<WireU32>) -> Result<u16, String> {
    let value = value.map_or(0, |v| v.0);
    u16::try_from(value).map_err(|_| format!("{} {field} {value} is out of range", proto.name()))
}

fn byte(proto: Protocol, field: &str, value: Option<WireU32>) -> Result<u8, String> {
    let value = value.map_or(0, |v| v.0);
    u8::try_from(value).map_err(|_| format!("{} {field} {value} is out of range", proto.name()))
}

// ---------------------------------------------------------------------------
// Small wire values with lenient decoding.

/// A JSON object, and only an object: serde's derived structs would otherwise
/// also take an array, field by field in order.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData)).map(Object)
    }
}

/// A protobuf enum as its name or its number.
enum WireEnum {
    Name(String),
    Number(i64),
}

impl WireEnum {
    fn verdict(&self) -> Verdict {
        match self {
            WireEnum::Name(name) => [
                Verdict::Forwarded,
                Verdict::Dropped,
                Verdict::Error,
                Verdict::Audit,
                Verdict::Redirected,
                Verdict::Traced,
                Verdict::Translated,
            ]
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(name))
            .unwrap_or(Verdict::Unknown),
            WireEnum::Number(n) => i32::try_from(*n).map_or(Verdict::Unknown, Verdict::from_wire),
        }
    }

    fn direction(&self) -> Direction {
        match self {
            WireEnum::Name(name) if name.eq_ignore_ascii_case("INGRESS") => Direction::Ingress,
            WireEnum::Name(name) if name.eq_ignore_ascii_case("EGRESS") => Direction::Egress,
            WireEnum::Name(_) => Direction::Unknown,
            WireEnum::Number(n) => i32::try_from(*n).map_or(Direction::Unknown, Direction::from_wire),
        }
    }
}

impl<'de> Deserialize<'de> for WireEnum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnumVisitor;

        impl Visitor<'_> for EnumVisitor {
            type Value = WireEnum;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an enum name or number")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireEnum, E> {
                Ok(WireEnum::Name(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireEnum, E> {
                Ok(WireEnum::Number(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireEnum, E> {
                // Beyond i64 is beyond every enum: it reads as unknown.
                Ok(WireEnum::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }

        deserializer.deserialize_any(EnumVisitor)
    }
}

/// An unsigned integer as a JSON number or a decimal string (protobuf JSON
/// writes 64-bit integers as strings and accepts strings for all of them).
trait Unsigned: TryFrom<u64> + std::str::FromStr + Copy {
    const EXPECTING: &'static str;
}

impl Unsigned for u32 {
    const EXPECTING: &'static str = "an unsigned 32-bit integer";
}

impl Unsigned for u64 {
    const EXPECTING: &'static str = "an unsigned 64-bit integer";
}

struct UnsignedVisitor<T>(PhantomData<T>);

impl<T: Unsigned> Visitor<'_> for UnsignedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range for {}", T::EXPECTING)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(format!("{v} is out of range for {}", T::EXPECTING)))
            .and_then(|v| self.visit_u64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // Protobuf JSON allows `8080.0` and `8.08e3` for integers.
        if v.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&v) {
            self.visit_u64(v as u64)
        } else {
            Err(E::custom(format!("{v} is not {}", T::EXPECTING)))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse::<T>()
            .map_err(|_| E::custom(format!("{v:?} is not {}", T::EXPECTING)))
    }
}

struct WireU32(u32);

impl<'de> Deserialize<'de> for WireU32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UnsignedVisitor::<u32>(PhantomData))
            .map(WireU32)
    }
}

struct WireU64(u64);

impl<'de> Deserialize<'de> for WireU64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UnsignedVisitor::<u64>(PhantomData))
            .map(WireU64)
    }
}

/// A `google.protobuf.Timestamp`: an RFC 3339 string, or `{"seconds", "nanos"}`.
struct WireTime(Timestamp);

#[derive(Deserialize)]
struct SecondsNanos {
    seconds: Option<i64>,
    nanos: Option<i32>,
}

impl<'de> Deserialize<'de> for WireTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;

        impl<'de> Visitor<'de> for TimeVisitor {
            type Value = WireTime;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireTime, E> {
                v.parse::<Timestamp>()
                    .map(WireTime)
                    .map_err(|e| E::custom(format!("invalid time {v:?}: {e}")))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<WireTime, A::Error> {
                let parts = SecondsNanos::deserialize(MapAccessDeserializer::new(map))?;
                let (seconds, nanos) = (parts.seconds.unwrap_or(0), parts.nanos.unwrap_or(0));
                Timestamp::new(seconds, nanos)
                    .map(WireTime)
                    .map_err(|e| de::Error::custom(format!("invalid time {seconds}s {nanos}ns: {e}")))
            }
        }

        deserializer.deserialize_any(TimeVisitor)
    }
}

#[cfg(test)]
mod tests;
