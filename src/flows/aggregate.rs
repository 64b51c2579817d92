//! Per-namespace traffic statistics, updated as flows arrive and read by the
//! namespace table and the Drops and Flows tabs.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;

use super::flow::{Direction, DropReason, Flow, Protocol, SharedFlow, Verdict};
use super::window::{MinuteSeries, TopCounts, minute_of};

/// How many flows each namespace's live tail keeps.
pub const TAIL_CAPACITY: usize = 2_000;
/// How many distinct keys each ranking keeps per namespace.
pub const TOP_CAPACITY: usize = 128;

/// What a policy drop without denied-by policies is: no rule allowed it.
pub const NO_MATCHING_ALLOW: &str = "(default deny: no rule allowed it)";

/// The namespace's part in a flow. Source and destination evidence stay apart:
/// a drop *from* a namespace and a drop *into* it call for different fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Source,
    Destination,
    /// Both ends are in the namespace.
    Internal,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Source => "from here",
            Side::Destination => "into here",
            Side::Internal => "internal",
        }
    }
}

/// Who dropped what: the key of the per-peer ranking.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DropPeer {
    pub side: Side,
    pub direction: Direction,
    pub source: String,
    pub destination: String,
    pub port: u16,
    pub protocol: Protocol,
    pub reason: DropReason,
}

impl DropPeer {
    /// `source → destination:port/protocol`, as an operator would search for it
    /// in `hubble observe`.
    pub fn describe(&self) -> String {
        let port = if self.port == 0 {
            format!(" {}", self.protocol.name())
        } else {
            format!(":{}/{}", self.port, self.protocol.name())
        };
        format!("{} → {}{port}", self.source, self.destination)
    }
}

/// Everything kept about one namespace's traffic.
#[derive(Debug, Clone)]
pub struct NamespaceTraffic {
    pub drops: MinuteSeries,
    pub policy_drops: MinuteSeries,
    pub forwarded: MinuteSeries,
    pub audit: MinuteSeries,
    pub reasons: TopCounts<DropReason>,
    pub peers: TopCounts<DropPeer>,
    /// Drops and AUDIT verdicts by the policy that denied them (Hubble's
    /// denied-by fields), or [`NO_MATCHING_ALLOW`] for a default-deny drop.
    pub policies: TopCounts<String>,
    pub directions: TopCounts<Direction>,
    pub tail: VecDeque<SharedFlow>,
    pub last_seen: Option<Timestamp>,
}

impl Default for NamespaceTraffic {
    fn default() -> Self {
        NamespaceTraffic {
            drops: MinuteSeries::default(),
            policy_drops: MinuteSeries::default(),
            forwarded: MinuteSeries::default(),
            audit: MinuteSeries::default(),
            reasons: TopCounts::new(TOP_CAPACITY),
            peers: TopCounts::new(TOP_CAPACITY),
            policies: TopCounts::new(TOP_CAPACITY),
            directions: TopCounts::new(3),
            tail: VecDeque::with_capacity(64),
            last_seen: None,
        }
    }
}

impl NamespaceTraffic {
    fn record(&mut self, flow: &SharedFlow, side: Side) {
        let minute = minute_of(flow.time);
        match flow.verdict {
            Verdict::Dropped => {
                self.drops.add(minute, 1);
                let reason = flow.drop_reason.unwrap_or(DropReason(0));
                if reason.is_policy() {
                    self.policy_drops.add(minute, 1);
                }
                self.reasons.add(reason, minute);
                self.directions.add(flow.direction, minute);
                self.count_policies(flow, reason.is_policy(), minute);
                self.peers.add(
                    DropPeer {
                        side,
                        direction: flow.direction,
                        source: flow.source.qualified_name(),
                        destination: flow.destination.qualified_name(),
                        port: flow.destination_port,
                        protocol: flow.protocol,
                        reason,
                    },
                    minute,
                );
            }
            Verdict::Audit => {
                self.audit.add(minute, 1);
                self.count_policies(flow, true, minute);
            }
            Verdict::Forwarded => self.forwarded.add(minute, 1),
            _ => {}
        }
        if self.tail.len() == TAIL_CAPACITY {
            self.tail.pop_front();
        }
        self.tail.push_back(Arc::clone(flow));
        self.last_seen = Some(self.last_seen.map_or(flow.time, |t| t.max(flow.time)));
    }

    /// Who denied it: Hubble names the deny rules; a policy drop it names none
    /// for is the default deny.
    fn count_policies(&mut self, flow: &SharedFlow, policy_drop: bool, minute: i64) {
        if flow.denied_by.is_empty() {
            if policy_drop {
                self.policies.add(NO_MATCHING_ALLOW.to_string(), minute);
            }
            return;
        }
        for policy in &flow.denied_by {
            self.policies.add(policy.clone(), minute);
        }
    }

    /// Flows seen over the last `minutes` (any verdict): the evidence a gate needs.
    pub fn flows_seen(&self, now: Timestamp, minutes: usize) -> u64 {
        self.drops.window(now, minutes) + self.forwarded.window(now, minutes) + self.audit.window(now, minutes)
    }
}

/// Statistics for every namespace that has been seen in a flow.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    namespaces: HashMap<String, NamespaceTraffic>,
    pub flows_total: u64,
}

impl Traffic {
    pub fn record(&mut self, flow: Flow) {
        self.flows_total += 1;
        let flow = Arc::new(flow);
        let (src, dst) = (flow.source.namespace.clone(), flow.destination.namespace.clone());
        if !src.is_empty() && src == dst {
            self.entry(&src).record(&flow, Side::Internal);
            return;
        }
        if !src.is_empty() {
            self.entry(&src).record(&flow, Side::Source);
        }
        if !dst.is_empty() {
            self.entry(&dst).record(&flow, Side::Destination);
        }
    }

    fn entry(&mut self, namespace: &str) -> &mut NamespaceTraffic {
        // Avoid allocating the key for namespaces already known (the common case).
        if !self.namespaces.contains_key(namespace) {
            self.namespaces
                .insert(namespace.to_string(), NamespaceTraffic::default());
        }
        self.namespaces.entry(namespace.to_string()).or_default()
    }

    pub fn namespace(&self, name: &str) -> Option<&NamespaceTraffic> {
        self.namespaces.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::flow::Endpoint;

    fn endpoint(ns: &str, workload: &str) -> Endpoint {
        Endpoint {
            namespace: ns.into(),
            workload: workload.into(),
            ..Endpoint::default()
        }
    }

    fn flow(seconds: i64, verdict: Verdict, src: Endpoint, dst: Endpoint) -> Flow {
        Flow {
            time: Timestamp::from_second(seconds).expect("valid"),
            verdict,
            drop_reason: (verdict == Verdict::Dropped).then_some(DropReason::POLICY_DENIED),
            direction: Direction::Ingress,
            source: src,
            destination: dst,
            protocol: Protocol::Tcp,
            source_port: 40000,
            destination_port: 5432,
            is_reply: false,
            node: "node-1".into(),
            destination_names: vec![],
            denied_by: vec![],
            icmp: None,
        }
    }

    #[test]
    fn drops_count_on_both_sides_with_their_side_kept_apart() {
        let mut traffic = Traffic::default();
        traffic.record(flow(
            600,
            Verdict::Dropped,
            endpoint("shop", "api"),
            endpoint("db", "postgres"),
        ));
        traffic.record(flow(
            610,
            Verdict::Forwarded,
            endpoint("shop", "api"),
            endpoint("shop", "web"),
        ));
        let now = Timestamp::from_second(620).expect("valid");

        let shop = traffic.namespace("shop").expect("shop seen");
        assert_eq!(shop.drops.sum(10, 1), 1);
        assert_eq!(shop.forwarded.sum(10, 1), 1);
        assert_eq!(shop.tail.len(), 2);
        let peers = shop.peers.top(now, 10, 5);
        assert_eq!(peers[0].key.side, Side::Source);
        assert_eq!(peers[0].key.destination, "db/postgres");

        let db = traffic.namespace("db").expect("db seen");
        assert_eq!(db.peers.top(now, 10, 5)[0].key.side, Side::Destination);
        assert_eq!(db.policy_drops.sum(10, 1), 1);
        assert_eq!(db.flows_seen(now, 10), 1);
        assert_eq!(db.policies.top(now, 10, 5)[0].key, NO_MATCHING_ALLOW);
        assert_eq!(db.directions.top(now, 10, 5)[0].key, Direction::Ingress);
        assert_eq!(traffic.flows_total, 2);
    }

    #[test]
    fn world_endpoints_count_only_for_the_pod_side() {
        let mut traffic = Traffic::default();
        let world = Endpoint {
            labels: vec!["reserved:world".into()],
            ip: "1.1.1.1".into(),
            ..Endpoint::default()
        };
        traffic.record(flow(600, Verdict::Dropped, endpoint("shop", "api"), world));
        assert!(traffic.namespace("shop").is_some());
        assert!(traffic.namespace("").is_none());
        let peers = traffic
            .namespace("shop")
            .map(|t| t.peers.top(Timestamp::from_second(600).expect("t"), 1, 1));
        assert_eq!(peers.expect("peers")[0].key.destination, "world");
    }

    #[test]
    fn deny_rules_and_audit_verdicts_count_by_policy() {
        let mut traffic = Traffic::default();
        let mut denied = flow(600, Verdict::Dropped, endpoint("shop", "api"), endpoint("shop", "db"));
        denied.denied_by = vec!["shop/deny-db".into()];
        traffic.record(denied);
        let mut audited = flow(600, Verdict::Audit, endpoint("shop", "api"), endpoint("shop", "db"));
        audited.denied_by = vec!["default-deny".into()];
        traffic.record(audited);
        let mut noise = flow(600, Verdict::Dropped, endpoint("shop", "api"), endpoint("shop", "db"));
        noise.drop_reason = Some(DropReason::CT_MAP_INSERTION_FAILED);
        traffic.record(noise);
        let shop = traffic.namespace("shop").expect("seen");
        let now = Timestamp::from_second(610).expect("t");
        let mut policies: Vec<(String, u64)> = shop
            .policies
            .top(now, 1, 5)
            .into_iter()
            .map(|r| (r.key, r.count))
            .collect();
        policies.sort();
        // A datapath drop is nobody's policy.
        assert_eq!(
            policies,
            [("default-deny".to_string(), 1), ("shop/deny-db".to_string(), 1)]
        );
        assert_eq!(shop.audit.window(now, 1), 1);
    }

    #[test]
    fn the_tail_is_bounded() {
        let mut traffic = Traffic::default();
        for i in 0..(TAIL_CAPACITY + 10) {
            traffic.record(flow(
                600 + i as i64,
                Verdict::Forwarded,
                endpoint("shop", "a"),
                endpoint("shop", "b"),
            ));
        }
        assert_eq!(traffic.namespace("shop").map(|t| t.tail.len()), Some(TAIL_CAPACITY));
    }
}
