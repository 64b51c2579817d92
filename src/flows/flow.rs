//! A network flow as the cockpit uses it: the subset of Hubble's `flow.Flow` that
//! drives drop counts, the live tail and (later) policy evaluation.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;

/// Hubble's verdict, with its wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Unknown = 0,
    Forwarded = 1,
    Dropped = 2,
    Error = 3,
    Audit = 4,
    Redirected = 5,
    Traced = 6,
    Translated = 7,
}

impl Verdict {
    pub fn from_wire(value: i32) -> Verdict {
        match value {
            1 => Verdict::Forwarded,
            2 => Verdict::Dropped,
            3 => Verdict::Error,
            4 => Verdict::Audit,
            5 => Verdict::Redirected,
            6 => Verdict::Traced,
            7 => Verdict::Translated,
            _ => Verdict::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Unknown => "UNKNOWN",
            Verdict::Forwarded => "FORWARDED",
            Verdict::Dropped => "DROPPED",
            Verdict::Error => "ERROR",
            Verdict::Audit => "AUDIT",
            Verdict::Redirected => "REDIRECTED",
            Verdict::Traced => "TRACED",
            Verdict::Translated => "TRANSLATED",
        }
    }
}

/// Which side of the connection the verdict was taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Unknown = 0,
    Ingress = 1,
    Egress = 2,
}

impl Direction {
    pub fn from_wire(value: i32) -> Direction {
        match value {
            1 => Direction::Ingress,
            2 => Direction::Egress,
            _ => Direction::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Direction::Unknown => "unknown",
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// Hubble's drop reason code (`flow.DropReason`), kept as the number so codes
/// newer than this build still count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DropReason(pub u32);

impl DropReason {
    pub const POLICY_DENIED: DropReason = DropReason(133);
    pub const POLICY_DENY: DropReason = DropReason(181);
    pub const AUTH_REQUIRED: DropReason = DropReason(189);
    pub const STALE_OR_UNROUTABLE_IP: DropReason = DropReason(151);
    pub const CT_MAP_INSERTION_FAILED: DropReason = DropReason(155);
    pub const SERVICE_BACKEND_NOT_FOUND: DropReason = DropReason(158);
    pub const UNSUPPORTED_L3_PROTOCOL: DropReason = DropReason(139);

    /// The enum name as Hubble prints it.
    pub fn name(self) -> &'static str {
        DROP_REASON_NAMES
            .iter()
            .find(|(code, _)| *code == self.0)
            .map_or("UNKNOWN_DROP_REASON", |(_, name)| name)
    }

    pub fn from_name(name: &str) -> Option<DropReason> {
        DROP_REASON_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(code, _)| DropReason(*code))
    }

    /// Drops a network policy decided: the ones a rollout must explain.
    pub fn is_policy(self) -> bool {
        matches!(
            self,
            DropReason::POLICY_DENIED | DropReason::POLICY_DENY | DropReason::AUTH_REQUIRED
        )
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "UNKNOWN_DROP_REASON" => write!(f, "DROP_REASON_{}", self.0),
            name => f.write_str(name),
        }
    }
}

/// Values of `flow.DropReason` (Cilium v1.19).
const DROP_REASON_NAMES: &[(u32, &str)] = &[
    (0, "DROP_REASON_UNKNOWN"),
    (130, "INVALID_SOURCE_MAC"),
    (131, "INVALID_DESTINATION_MAC"),
    (132, "INVALID_SOURCE_IP"),
    (133, "POLICY_DENIED"),
    (134, "INVALID_PACKET_DROPPED"),
    (135, "CT_TRUNCATED_OR_INVALID_HEADER"),
    (136, "CT_MISSING_TCP_ACK_FLAG"),
    (137, "CT_UNKNOWN_L4_PROTOCOL"),
    (138, "CT_CANNOT_CREATE_ENTRY_FROM_PACKET"),
    (139, "UNSUPPORTED_L3_PROTOCOL"),
    (140, "MISSED_TAIL_CALL"),
    (141, "ERROR_WRITING_TO_PACKET"),
    (142, "UNKNOWN_L4_PROTOCOL"),
    (143, "UNKNOWN_ICMPV4_CODE"),
    (144, "UNKNOWN_ICMPV4_TYPE"),
    (145, "UNKNOWN_ICMPV6_CODE"),
    (146, "UNKNOWN_ICMPV6_TYPE"),
    (147, "ERROR_RETRIEVING_TUNNEL_KEY"),
    (148, "ERROR_RETRIEVING_TUNNEL_OPTIONS"),
    (149, "INVALID_GENEVE_OPTION"),
    (150, "UNKNOWN_L3_TARGET_ADDRESS"),
    (151, "STALE_OR_UNROUTABLE_IP"),
    (152, "NO_MATCHING_LOCAL_CONTAINER_FOUND"),
    (153, "ERROR_WHILE_CORRECTING_L3_CHECKSUM"),
    (154, "ERROR_WHILE_CORRECTING_L4_CHECKSUM"),
    (155, "CT_MAP_INSERTION_FAILED"),
    (156, "INVALID_IPV6_EXTENSION_HEADER"),
    (157, "IP_FRAGMENTATION_NOT_SUPPORTED"),
    (158, "SERVICE_BACKEND_NOT_FOUND"),
    (160, "NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT"),
    (161, "FAILED_TO_INSERT_INTO_PROXYMAP"),
    (162, "REACHED_EDT_RATE_LIMITING_DROP_HORIZON"),
    (163, "UNKNOWN_CONNECTION_TRACKING_STATE"),
    (164, "LOCAL_HOST_IS_UNREACHABLE"),
    (165, "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION"),
    (166, "UNSUPPORTED_L2_PROTOCOL"),
    (167, "NO_MAPPING_FOR_NAT_MASQUERADE"),
    (168, "UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE"),
    (169, "FIB_LOOKUP_FAILED"),
    (170, "ENCAPSULATION_TRAFFIC_IS_PROHIBITED"),
    (171, "INVALID_IDENTITY"),
    (172, "UNKNOWN_SENDER"),
    (173, "NAT_NOT_NEEDED"),
    (174, "IS_A_CLUSTERIP"),
    (175, "FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND"),
    (176, "FORBIDDEN_ICMPV6_MESSAGE"),
    (177, "DENIED_BY_LB_SRC_RANGE_CHECK"),
    (178, "SOCKET_LOOKUP_FAILED"),
    (179, "SOCKET_ASSIGN_FAILED"),
    (180, "PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL"),
    (181, "POLICY_DENY"),
    (182, "VLAN_FILTERED"),
    (183, "INVALID_VNI"),
    (184, "INVALID_TC_BUFFER"),
    (185, "NO_SID"),
    (186, "MISSING_SRV6_STATE"),
    (187, "NAT46"),
    (188, "NAT64"),
    (189, "AUTH_REQUIRED"),
    (190, "CT_NO_MAP_FOUND"),
    (191, "SNAT_NO_MAP_FOUND"),
    (192, "INVALID_CLUSTER_ID"),
    (193, "UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP"),
    (194, "NO_EGRESS_GATEWAY"),
    (196, "TTL_EXCEEDED"),
    (197, "NO_NODE_ID"),
    (202, "DROP_HOST_NOT_READY"),
    (203, "DROP_EP_NOT_READY"),
];

/// Layer-4 protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    IcmpV4,
    IcmpV6,
    Other,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
            Protocol::IcmpV4 => "ICMPv4",
            Protocol::IcmpV6 => "ICMPv6",
            Protocol::Other => "other",
        }
    }
}

/// One side of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    pub identity: u32,
    /// Empty for endpoints outside any namespace (world, host).
    pub namespace: String,
    pub pod: String,
    /// The owning workload's name, when Hubble reports it.
    pub workload: String,
    /// `source:key=value` strings, as Hubble reports them.
    pub labels: Vec<String>,
    pub ip: String,
}

impl Endpoint {
    /// A pod as Hubble reports it: its own labels, and its namespace's name
    /// and labels as Cilium's pseudo labels.
    pub fn of_pod(
        namespace: &str,
        pod: &str,
        workload: &str,
        labels: &std::collections::BTreeMap<String, String>,
        namespace_labels: &std::collections::BTreeMap<String, String>,
    ) -> Endpoint {
        const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
        const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";
        let mut all: Vec<String> = labels.iter().map(|(k, v)| format!("k8s:{k}={v}")).collect();
        all.push(format!("k8s:{POD_NAMESPACE}={namespace}"));
        all.extend(
            namespace_labels
                .iter()
                .map(|(k, v)| format!("k8s:{NAMESPACE_LABELS}{k}={v}")),
        );
        Endpoint {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            workload: workload.to_string(),
            labels: all,
            ..Endpoint::default()
        }
    }

    /// The name operators recognise: the workload, else the pod, else the
    /// reserved entity (`world`, `host`, `kube-apiserver`), else the IP.
    pub fn display_name(&self) -> &str {
        if !self.workload.is_empty() {
            return &self.workload;
        }
        if !self.pod.is_empty() {
            return &self.pod;
        }
        self.labels
            .iter()
            .find_map(|l| l.strip_prefix("reserved:"))
            .map(|l| l.split('=').next().unwrap_or(l))
            .unwrap_or(self.ip.as_str())
    }

    /// `namespace/workload`, or the entity for non-pod endpoints.
    pub fn qualified_name(&self) -> String {
        if self.namespace.is_empty() {
            self.display_name().to_string()
        } else {
            format!("{}/{}", self.namespace, self.display_name())
        }
    }
}

/// One observed flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub time: Timestamp,
    pub verdict: Verdict,
    pub drop_reason: Option<DropReason>,
    pub direction: Direction,
    pub source: Endpoint,
    pub destination: Endpoint,
    pub protocol: Protocol,
    pub source_port: u16,
    pub destination_port: u16,
    pub is_reply: bool,
    pub node: String,
    /// DNS names of the destination, when Cilium's DNS proxy saw them.
    pub destination_names: Vec<String>,
    /// Policies that denied the flow, when Hubble reports them, as
    /// [`qualified_policy`] names them.
    pub denied_by: Vec<String>,
    /// ICMP type and code, for ICMP flows.
    pub icmp: Option<Icmp>,
}

impl Flow {
    /// Hubble reports the policies that denied a flow on the side that
    /// decided: `egress_denied_by` for egress, `ingress_denied_by` otherwise.
    pub fn denied_on_egress(&self) -> bool {
        self.direction == Direction::Egress
    }
}

/// A denying policy as flows name it: `namespace/name`, or `name` for a
/// cluster-wide policy; `None` without a name.
pub fn qualified_policy(namespace: &str, name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    Some(if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    })
}

/// The other way: namespace (empty for cluster-wide), name and the kind the
/// name implies.
pub fn policy_parts(qualified: &str) -> (&str, &str, &'static str) {
    match qualified.split_once('/') {
        Some((namespace, name)) => (namespace, name, "CiliumNetworkPolicy"),
        None => ("", qualified, "CiliumClusterwideNetworkPolicy"),
    }
}

/// The ICMP part of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmp {
    pub icmp_type: u8,
    pub code: u8,
}

/// Flows are shared between the tails of both namespaces they touch.
pub type SharedFlow = Arc<Flow>;

/// A frozen list of shared flows (a paused tail).
pub type SharedFlowList = Arc<Vec<SharedFlow>>;
