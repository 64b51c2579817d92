//! The demo's traffic: recurring connections between its workloads, the world,
//! the nodes and the API server.
//!
//! Each flow is judged by tighten's policy engine against the demo's current
//! policies (those Cilium would accept), so enforcing, rolling back, restoring
//! and applying suggestions change the drops the way they would in a cluster.

use jiff::{SignedDuration, Timestamp};

use crate::cluster::ClusterSnapshot;
use crate::flows::{Direction, DropReason, Endpoint, Flow, Protocol, Verdict};
use crate::policy::engine::{Engine, Reason};
use crate::policy::parse::parse_policy;

/// One side of a pattern.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Pod(&'static str, &'static str),
    World(&'static str, &'static str),
    KubeApiserver,
    Host,
}

/// A recurring connection.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    pub src: Peer,
    pub dst: Peer,
    pub protocol: Protocol,
    pub port: u16,
    pub per_minute: f64,
    /// A datapath drop unrelated to policy, with its share of the flows.
    pub noise: Option<(DropReason, f64)>,
}

const fn pattern(src: Peer, dst: Peer, protocol: Protocol, port: u16, per_minute: f64) -> Pattern {
    Pattern {
        src,
        dst,
        protocol,
        port,
        per_minute,
        noise: None,
    }
}

use Peer::{Host, KubeApiserver, Pod, World};
use Protocol::{Tcp, Udp};

const COREDNS: Peer = Pod("kube-system", "coredns");

/// The demo's connections.
pub const PATTERNS: &[Pattern] = &[
    // DNS from every workload namespace.
    pattern(Pod("cert-manager", "cert-manager"), COREDNS, Udp, 53, 12.0),
    pattern(Pod("monitoring", "prometheus"), COREDNS, Udp, 53, 30.0),
    pattern(Pod("monitoring", "grafana"), COREDNS, Udp, 53, 6.0),
    pattern(Pod("auth", "keycloak"), COREDNS, Udp, 53, 10.0),
    pattern(Pod("auth", "oauth2-proxy"), COREDNS, Udp, 53, 8.0),
    pattern(Pod("databases", "postgres"), COREDNS, Udp, 53, 3.0),
    pattern(Pod("media", "jellyfin"), COREDNS, Udp, 53, 4.0),
    pattern(Pod("network", "ingress-nginx-controller"), COREDNS, Udp, 53, 20.0),
    pattern(Pod("lab", "loadgen"), COREDNS, Udp, 53, 6.0),
    pattern(Pod("stage", "shop-api"), COREDNS, Udp, 53, 9.0),
    pattern(Pod("payments", "payments-api"), COREDNS, Udp, 53, 14.0),
    pattern(Pod("orders", "orders-api"), COREDNS, Udp, 53, 8.0),
    pattern(Pod("legacy-batch", "report-cron"), COREDNS, Udp, 53, 2.0),
    pattern(Pod("flux-system", "source-controller"), COREDNS, Udp, 53, 4.0),
    // The API server.
    pattern(Pod("cert-manager", "cert-manager"), KubeApiserver, Tcp, 6443, 8.0),
    pattern(
        Pod("cert-manager", "cert-manager-cainjector"),
        KubeApiserver,
        Tcp,
        6443,
        4.0,
    ),
    pattern(
        Pod("flux-system", "kustomize-controller"),
        KubeApiserver,
        Tcp,
        6443,
        10.0,
    ),
    pattern(Pod("monitoring", "prometheus"), KubeApiserver, Tcp, 6443, 6.0),
    pattern(Pod("network", "external-dns"), KubeApiserver, Tcp, 6443, 2.0),
    pattern(
        KubeApiserver,
        Pod("cert-manager", "cert-manager-webhook"),
        Tcp,
        10250,
        5.0,
    ),
    // Inside namespaces.
    pattern(Pod("stage", "shop-frontend"), Pod("stage", "shop-api"), Tcp, 8080, 40.0),
    pattern(Pod("stage", "shop-worker"), Pod("stage", "shop-api"), Tcp, 8080, 6.0),
    pattern(
        Pod("payments", "payments-api"),
        Pod("payments", "ledger"),
        Tcp,
        9000,
        25.0,
    ),
    pattern(Pod("auth", "oauth2-proxy"), Pod("auth", "keycloak"), Tcp, 8080, 18.0),
    pattern(Pod("lab", "loadgen"), Pod("lab", "echo"), Tcp, 8080, 60.0),
    pattern(
        Pod("monitoring", "grafana"),
        Pod("monitoring", "prometheus"),
        Tcp,
        9090,
        12.0,
    ),
    // Metrics scrapes.
    pattern(Pod("monitoring", "prometheus"), Pod("auth", "keycloak"), Tcp, 9000, 4.0),
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("databases", "postgres"),
        Tcp,
        9187,
        4.0,
    ),
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("stage", "shop-api"),
        Tcp,
        9102,
        4.0,
    ),
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("cert-manager", "cert-manager"),
        Tcp,
        9402,
        2.0,
    ),
    // Kubelet probes.
    pattern(Host, Pod("auth", "keycloak"), Tcp, 9000, 6.0),
    pattern(Host, Pod("databases", "postgres"), Tcp, 5432, 6.0),
    pattern(Host, Pod("stage", "shop-api"), Tcp, 8080, 6.0),
    pattern(Host, Pod("payments", "payments-api"), Tcp, 8443, 6.0),
    pattern(Host, Pod("orders", "orders-api"), Tcp, 8080, 6.0),
    pattern(Pod("orders", "orders-api"), Pod("orders", "orders-db"), Tcp, 5432, 20.0),
    // Across namespaces.
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("auth", "keycloak"),
        Tcp,
        8080,
        30.0,
    ),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("payments", "payments-api"),
        Tcp,
        8443,
        45.0,
    ),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("stage", "shop-frontend"),
        Tcp,
        8080,
        25.0,
    ),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("media", "jellyfin"),
        Tcp,
        8096,
        10.0,
    ),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("orders", "orders-api"),
        Tcp,
        8080,
        20.0,
    ),
    pattern(
        Pod("orders", "orders-api"),
        Pod("payments", "payments-api"),
        Tcp,
        8443,
        10.0,
    ),
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("orders", "orders-api"),
        Tcp,
        9090,
        4.0,
    ),
    pattern(Pod("auth", "keycloak"), Pod("databases", "postgres"), Tcp, 5432, 20.0),
    pattern(
        Pod("payments", "payments-api"),
        Pod("databases", "postgres"),
        Tcp,
        5432,
        35.0,
    ),
    pattern(
        Pod("monitoring", "grafana"),
        Pod("databases", "postgres"),
        Tcp,
        5432,
        3.0,
    ),
    pattern(Pod("stage", "shop-api"), Pod("databases", "redis"), Tcp, 6379, 15.0),
    pattern(
        Pod("legacy-batch", "report-cron"),
        Pod("auth", "keycloak"),
        Tcp,
        8080,
        4.0,
    ),
    pattern(
        Pod("legacy-batch", "report-cron"),
        Pod("databases", "postgres"),
        Tcp,
        5432,
        3.0,
    ),
    // The world.
    pattern(
        Pod("cert-manager", "cert-manager"),
        World("172.65.32.248", "acme-v02.api.letsencrypt.org"),
        Tcp,
        443,
        2.0,
    ),
    pattern(
        Pod("cert-manager", "cert-manager"),
        World("203.0.113.10", "shop.example.com"),
        Tcp,
        80,
        3.0,
    ),
    pattern(
        Pod("network", "external-dns"),
        World("104.16.132.229", "api.cloudflare.com"),
        Tcp,
        443,
        2.0,
    ),
    pattern(
        Pod("flux-system", "source-controller"),
        World("140.82.121.4", "github.com"),
        Tcp,
        443,
        3.0,
    ),
    pattern(
        Pod("payments", "payments-api"),
        World("54.187.174.169", "api.stripe.com"),
        Tcp,
        443,
        12.0,
    ),
    pattern(
        Pod("monitoring", "grafana"),
        World("34.120.177.193", "grafana.com"),
        Tcp,
        443,
        1.0,
    ),
    // Datapath noise that no policy explains.
    Pattern {
        noise: Some((DropReason::STALE_OR_UNROUTABLE_IP, 0.04)),
        ..pattern(
            Pod("network", "ingress-nginx-controller"),
            Pod("media", "transcoder"),
            Tcp,
            8080,
            12.0,
        )
    },
    Pattern {
        noise: Some((DropReason::CT_MAP_INSERTION_FAILED, 0.01)),
        ..pattern(
            Pod("media", "transcoder"),
            World("151.101.1.140", "cdn.example.net"),
            Tcp,
            443,
            20.0,
        )
    },
];

/// Generates the flows of `(from, to]` from the cluster as it is now.
pub fn generate(snapshot: &ClusterSnapshot, from: Timestamp, to: Timestamp, rng: &mut fastrand::Rng) -> Vec<Flow> {
    let span = to.duration_since(from);
    if span <= SignedDuration::ZERO {
        return Vec::new();
    }
    let minutes = span.as_secs_f64() / 60.0;
    // The policies Cilium would enforce: rejected ones are left out.
    let engine = Engine::new(
        snapshot
            .policies
            .iter()
            .filter(|p| !crate::gate::is_rejected(p))
            .filter_map(|p| parse_policy(p).ok())
            .collect::<Vec<_>>(),
    );
    let mut flows = Vec::new();
    for pattern in PATTERNS {
        let expected = pattern.per_minute * minutes;
        let count = expected.floor() as usize + usize::from(rng.f64() < expected.fract());
        for _ in 0..count {
            let offset = SignedDuration::from_secs_f64(span.as_secs_f64() * rng.f64());
            if let Some(flow) = connection(snapshot, &engine, pattern, to - offset, rng) {
                flows.push(flow);
            }
        }
    }
    flows.sort_by_key(|f| f.time);
    flows
}

fn connection(
    snapshot: &ClusterSnapshot,
    engine: &Engine,
    pattern: &Pattern,
    time: Timestamp,
    rng: &mut fastrand::Rng,
) -> Option<Flow> {
    let source = endpoint(snapshot, pattern.src, rng)?;
    let destination = endpoint(snapshot, pattern.dst, rng)?;
    let direction = if source.namespace.is_empty() {
        Direction::Ingress
    } else {
        Direction::Egress
    };
    let mut flow = Flow {
        time,
        verdict: Verdict::Forwarded,
        drop_reason: None,
        direction,
        source,
        destination,
        protocol: pattern.protocol,
        source_port: rng.u16(32768..60999),
        destination_port: pattern.port,
        is_reply: false,
        node: String::new(),
        destination_names: match pattern.dst {
            World(_, name) => vec![name.to_string()],
            _ => Vec::new(),
        },
        denied_by: Vec::new(),
        icmp: None,
    };
    let verdict = engine.evaluate(&flow);
    if !verdict.allowed {
        flow.verdict = Verdict::Dropped;
        flow.drop_reason = Some(if verdict.reason == Reason::DeniedByRule {
            DropReason::POLICY_DENY
        } else {
            DropReason::POLICY_DENIED
        });
        flow.direction = verdict.direction.unwrap_or(direction);
    } else if let Some((noise, share)) = pattern.noise
        && rng.f64() < share
    {
        (flow.verdict, flow.drop_reason) = (Verdict::Dropped, Some(noise));
    }
    flow.node = format!(
        "demo-worker-{}",
        1 + (flow.source.identity + flow.destination.identity) % 3
    );
    Some(flow)
}

fn endpoint(snapshot: &ClusterSnapshot, peer: Peer, rng: &mut fastrand::Rng) -> Option<Endpoint> {
    match peer {
        Pod(namespace, workload) => {
            let pods: Vec<_> = snapshot
                .pods_in(namespace)
                .filter(|p| p.workload.as_ref().is_some_and(|w| w.name == workload))
                .collect();
            let pod = pods.get(rng.usize(..pods.len().max(1)))?;
            let ip_hash = stable_hash(&pod.name);
            let mut endpoint = Endpoint::of_pod(namespace, &pod.name, workload, &pod.labels, &Default::default());
            endpoint.labels.push("k8s:io.cilium.k8s.policy.cluster=default".into());
            endpoint.identity = 10_000 + stable_hash(&format!("{namespace}/{workload}")) % 50_000;
            endpoint.ip = format!("10.0.{}.{}", 1 + ip_hash % 3, 10 + ip_hash % 240);
            Some(endpoint)
        }
        World(ip, _) => Some(Endpoint {
            identity: 2,
            labels: vec!["reserved:world".into()],
            ip: ip.into(),
            ..Endpoint::default()
        }),
        KubeApiserver => Some(Endpoint {
            identity: 7,
            labels: vec!["reserved:kube-apiserver".into(), "reserved:remote-node".into()],
            ip: "172.18.0.2".into(),
            ..Endpoint::default()
        }),
        Host => Some(Endpoint {
            identity: 1,
            labels: vec!["reserved:host".into()],
            ip: "172.18.0.3".into(),
            ..Endpoint::default()
        }),
    }
}

fn stable_hash(text: &str) -> u32 {
    text.bytes()
        .fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619))
}
