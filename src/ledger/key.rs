//! What makes two flows the same connection in the ledger.
//!
//! A connection is who talked to whom, on which port: the two ends by
//! workload (pods of one Deployment are one end), reserved entity, or
//! address bucket outside the cluster, the destination port, the protocol,
//! the direction the verdict was taken in, and the DNS name the client
//! looked up when Hubble gave one. Replies are the same connection and are
//! not counted again.

use std::net::IpAddr;

use crate::flows::{Direction, Endpoint, Flow, Protocol};

/// One end of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Party {
    /// Empty outside any namespace (entities, the world).
    pub namespace: String,
    /// The workload (`api`), a reserved entity (`kube-apiserver`), or an
    /// address bucket of the world (`world 203.0.113.0/24`).
    pub name: String,
}

impl Party {
    /// The end a flow's endpoint stands for.
    pub fn of(endpoint: &Endpoint) -> Party {
        if !endpoint.namespace.is_empty() {
            return Party {
                namespace: endpoint.namespace.clone(),
                name: workload_name(endpoint),
            };
        }
        let entity = endpoint
            .labels
            .iter()
            .find_map(|l| l.strip_prefix("reserved:"))
            .map(|l| l.split('=').next().unwrap_or(l).to_string());
        let name = match entity.as_deref() {
            Some("world" | "world-ipv4" | "world-ipv6") | None => match bucket(&endpoint.ip) {
                Some(bucket) => format!("world {bucket}"),
                None => entity.unwrap_or_else(|| "unknown".into()),
            },
            Some(_) => entity.unwrap_or_default(),
        };
        Party {
            namespace: String::new(),
            name,
        }
    }

    /// `shop/api`, or `kube-apiserver`.
    pub fn qualified(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

/// A pod's workload: Hubble's workload name, else its app label, else the
/// pod name.
fn workload_name(endpoint: &Endpoint) -> String {
    if !endpoint.workload.is_empty() {
        return endpoint.workload.clone();
    }
    for key in ["k8s:app.kubernetes.io/name=", "k8s:app=", "k8s:k8s-app="] {
        if let Some(value) = endpoint.labels.iter().find_map(|l| l.strip_prefix(key)) {
            return value.to_string();
        }
    }
    endpoint.pod.clone()
}

/// The address bucket of an outside address: its /24, or /48 for IPv6, so a
/// service behind many addresses stays a few rows.
fn bucket(ip: &str) -> Option<String> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let [x, y, z, _] = a.octets();
            Some(format!("{x}.{y}.{z}.0/24"))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

/// A connection, as the ledger keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Connection {
    pub source: Party,
    pub destination: Party,
    pub port: u16,
    pub protocol: Protocol,
    pub direction: Direction,
    /// The DNS name looked up for the destination, when Hubble gave one.
    pub dns: String,
}

impl Connection {
    /// The connection a flow belongs to; `None` for replies, which belong to
    /// the connection that opened them.
    pub fn of(flow: &Flow) -> Option<Connection> {
        if flow.is_reply {
            return None;
        }
        Some(Connection {
            source: Party::of(&flow.source),
            destination: Party::of(&flow.destination),
            port: flow.destination_port,
            protocol: flow.protocol,
            direction: flow.direction,
            dns: flow.destination_names.first().cloned().unwrap_or_default(),
        })
    }
}

/// The labels the policy engine needs of an end (its own, its namespace's
/// pseudo labels), without those that change with every rollout.
pub fn lasting_labels(endpoint: &Endpoint) -> Vec<String> {
    const VOLATILE: [&str; 4] = [
        "k8s:pod-template-hash=",
        "k8s:controller-revision-hash=",
        "k8s:statefulset.kubernetes.io/pod-name=",
        "k8s:pod-template-generation=",
    ];
    let mut labels: Vec<String> = endpoint
        .labels
        .iter()
        .filter(|l| !VOLATILE.iter().any(|v| l.starts_with(v)))
        .cloned()
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::Verdict;

    fn endpoint(namespace: &str, pod: &str, labels: &[&str], ip: &str) -> Endpoint {
        Endpoint {
            namespace: namespace.into(),
            pod: pod.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ip: ip.into(),
            ..Endpoint::default()
        }
    }

    fn flow(source: Endpoint, destination: Endpoint, reply: bool) -> Flow {
        Flow {
            time: jiff::Timestamp::UNIX_EPOCH,
            verdict: Verdict::Forwarded,
            drop_reason: None,
            direction: Direction::Egress,
            source,
            destination,
            protocol: Protocol::Tcp,
            source_port: 40_000,
            destination_port: 5432,
            is_reply: reply,
            node: "node-1".into(),
            destination_names: Vec::new(),
            denied_by: Vec::new(),
            icmp: None,
        }
    }

    #[test]
    fn pods_of_one_workload_are_one_end_and_the_world_is_bucketed() {
        let a = endpoint(
            "shop",
            "api-7d9f-abc",
            &["k8s:app=api", "k8s:pod-template-hash=7d9f"],
            "10.0.0.1",
        );
        let b = endpoint(
            "shop",
            "api-7d9f-xyz",
            &["k8s:app=api", "k8s:pod-template-hash=7d9f"],
            "10.0.0.2",
        );
        assert_eq!(Party::of(&a), Party::of(&b));
        assert_eq!(Party::of(&a).qualified(), "shop/api");
        let world = endpoint("", "", &["reserved:world"], "203.0.113.77");
        assert_eq!(Party::of(&world).name, "world 203.0.113.0/24");
        let apiserver = endpoint("", "", &["reserved:kube-apiserver"], "10.96.0.1");
        assert_eq!(Party::of(&apiserver).name, "kube-apiserver");
        assert_eq!(lasting_labels(&a), vec!["k8s:app=api".to_string()]);
    }

    #[test]
    fn replies_belong_to_the_connection_that_opened_them() {
        let a = endpoint("shop", "api-1", &["k8s:app=api"], "10.0.0.1");
        let db = endpoint("db", "pg-0", &["k8s:app=postgres"], "10.0.1.1");
        let key = Connection::of(&flow(a.clone(), db.clone(), false)).expect("a connection");
        assert_eq!(key.port, 5432);
        assert_eq!(key.destination.qualified(), "db/postgres");
        assert_eq!(Connection::of(&flow(db, a, true)), None);
    }
}
