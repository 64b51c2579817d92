//! The demo's traffic: recurring connections between its workloads, the world,
//! the nodes and the API server.
//!
//! This is a scripted world, not a policy engine: each pattern names what would
//! allow it on each side (a baseline allow or an app-allow policy by name). When
//! that side's namespace enforces its default-deny and the named allow is absent
//! (or rejected by the agent), the flow is dropped there. So enforcing, rolling
//! back and restoring in the demo change the drops the way they would in a
//! cluster.

use jiff::{SignedDuration, Timestamp};

use crate::cluster::{ClusterSnapshot, PolicyObject};
use crate::flows::{Direction, DropReason, Endpoint, Flow, Protocol, Verdict};
use crate::rollout::phase::default_deny_flags;
use crate::rollout::{BaselineComponent, PolicyRole};

/// One side of a pattern.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Pod(&'static str, &'static str),
    World(&'static str, &'static str),
    KubeApiserver,
    Host,
}

/// What allows a pattern on one side once that side enforces.
#[derive(Debug, Clone, Copy)]
pub enum Cover {
    Baseline(BaselineComponent),
    Policy(&'static str),
    Nothing,
}

/// A recurring connection.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    pub src: Peer,
    pub dst: Peer,
    pub protocol: Protocol,
    pub port: u16,
    pub per_minute: f64,
    pub egress: Cover,
    pub ingress: Cover,
    /// A datapath drop unrelated to policy, with its share of the flows.
    pub noise: Option<(DropReason, f64)>,
}

const fn pattern(
    src: Peer,
    dst: Peer,
    protocol: Protocol,
    port: u16,
    per_minute: f64,
    egress: Cover,
    ingress: Cover,
) -> Pattern {
    Pattern {
        src,
        dst,
        protocol,
        port,
        per_minute,
        egress,
        ingress,
        noise: None,
    }
}

use BaselineComponent as B;
use Cover::{Nothing, Policy};
use Peer::{Host, KubeApiserver, Pod, World};
use Protocol::{Tcp, Udp};

const DNS: Cover = Cover::Baseline(B::Dns);
const API: Cover = Cover::Baseline(B::KubeApiserver);
const INTRA: Cover = Cover::Baseline(B::IntraNamespace);
const SCRAPE: Cover = Cover::Baseline(B::MonitoringScrape);
const PROBES: Cover = Cover::Baseline(B::HostProbes);
const COREDNS: Peer = Pod("kube-system", "coredns");

/// The demo's connections.
pub const PATTERNS: &[Pattern] = &[
    // DNS from every workload namespace.
    pattern(
        Pod("cert-manager", "cert-manager"),
        COREDNS,
        Udp,
        53,
        12.0,
        DNS,
        Nothing,
    ),
    pattern(Pod("monitoring", "prometheus"), COREDNS, Udp, 53, 30.0, DNS, Nothing),
    pattern(Pod("monitoring", "grafana"), COREDNS, Udp, 53, 6.0, DNS, Nothing),
    pattern(Pod("auth", "keycloak"), COREDNS, Udp, 53, 10.0, DNS, Nothing),
    pattern(Pod("auth", "oauth2-proxy"), COREDNS, Udp, 53, 8.0, DNS, Nothing),
    pattern(Pod("databases", "postgres"), COREDNS, Udp, 53, 3.0, DNS, Nothing),
    pattern(Pod("media", "jellyfin"), COREDNS, Udp, 53, 4.0, DNS, Nothing),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        COREDNS,
        Udp,
        53,
        20.0,
        DNS,
        Nothing,
    ),
    pattern(Pod("lab", "loadgen"), COREDNS, Udp, 53, 6.0, DNS, Nothing),
    pattern(Pod("stage", "shop-api"), COREDNS, Udp, 53, 9.0, DNS, Nothing),
    pattern(Pod("payments", "payments-api"), COREDNS, Udp, 53, 14.0, DNS, Nothing),
    pattern(Pod("legacy-batch", "report-cron"), COREDNS, Udp, 53, 2.0, DNS, Nothing),
    pattern(
        Pod("flux-system", "source-controller"),
        COREDNS,
        Udp,
        53,
        4.0,
        DNS,
        Nothing,
    ),
    // The API server.
    pattern(
        Pod("cert-manager", "cert-manager"),
        KubeApiserver,
        Tcp,
        6443,
        8.0,
        API,
        Nothing,
    ),
    pattern(
        Pod("cert-manager", "cert-manager-cainjector"),
        KubeApiserver,
        Tcp,
        6443,
        4.0,
        API,
        Nothing,
    ),
    pattern(
        Pod("flux-system", "kustomize-controller"),
        KubeApiserver,
        Tcp,
        6443,
        10.0,
        API,
        Nothing,
    ),
    pattern(
        Pod("monitoring", "prometheus"),
        KubeApiserver,
        Tcp,
        6443,
        6.0,
        API,
        Nothing,
    ),
    pattern(
        Pod("network", "external-dns"),
        KubeApiserver,
        Tcp,
        6443,
        2.0,
        API,
        Nothing,
    ),
    pattern(
        KubeApiserver,
        Pod("cert-manager", "cert-manager-webhook"),
        Tcp,
        10250,
        5.0,
        Nothing,
        Policy("allow-webhook-from-apiserver"),
    ),
    // Inside namespaces.
    pattern(
        Pod("stage", "shop-frontend"),
        Pod("stage", "shop-api"),
        Tcp,
        8080,
        40.0,
        INTRA,
        INTRA,
    ),
    pattern(
        Pod("stage", "shop-worker"),
        Pod("stage", "shop-api"),
        Tcp,
        8080,
        6.0,
        INTRA,
        INTRA,
    ),
    pattern(
        Pod("payments", "payments-api"),
        Pod("payments", "ledger"),
        Tcp,
        9000,
        25.0,
        INTRA,
        INTRA,
    ),
    pattern(
        Pod("auth", "oauth2-proxy"),
        Pod("auth", "keycloak"),
        Tcp,
        8080,
        18.0,
        INTRA,
        INTRA,
    ),
    pattern(Pod("lab", "loadgen"), Pod("lab", "echo"), Tcp, 8080, 60.0, INTRA, INTRA),
    pattern(
        Pod("monitoring", "grafana"),
        Pod("monitoring", "prometheus"),
        Tcp,
        9090,
        12.0,
        INTRA,
        INTRA,
    ),
    // Metrics scrapes.
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("auth", "keycloak"),
        Tcp,
        9000,
        4.0,
        Policy("allow-prometheus-scrape-all"),
        SCRAPE,
    ),
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("databases", "postgres"),
        Tcp,
        9187,
        4.0,
        Policy("allow-prometheus-scrape-all"),
        SCRAPE,
    ),
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("stage", "shop-api"),
        Tcp,
        9102,
        4.0,
        Policy("allow-prometheus-scrape-all"),
        SCRAPE,
    ),
    pattern(
        Pod("monitoring", "prometheus"),
        Pod("cert-manager", "cert-manager"),
        Tcp,
        9402,
        2.0,
        Policy("allow-prometheus-scrape-all"),
        SCRAPE,
    ),
    // Kubelet probes.
    pattern(Host, Pod("auth", "keycloak"), Tcp, 9000, 6.0, Nothing, PROBES),
    pattern(Host, Pod("databases", "postgres"), Tcp, 5432, 6.0, Nothing, PROBES),
    pattern(Host, Pod("stage", "shop-api"), Tcp, 8080, 6.0, Nothing, PROBES),
    pattern(Host, Pod("payments", "payments-api"), Tcp, 8443, 6.0, Nothing, PROBES),
    // Across namespaces.
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("auth", "keycloak"),
        Tcp,
        8080,
        30.0,
        Nothing,
        Policy("allow-keycloak-from-ingress"),
    ),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("payments", "payments-api"),
        Tcp,
        8443,
        45.0,
        Nothing,
        Policy("allow-api-from-ingress"),
    ),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("stage", "shop-frontend"),
        Tcp,
        8080,
        25.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("network", "ingress-nginx-controller"),
        Pod("media", "jellyfin"),
        Tcp,
        8096,
        10.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("auth", "keycloak"),
        Pod("databases", "postgres"),
        Tcp,
        5432,
        20.0,
        Policy("allow-keycloak-to-postgres"),
        Policy("allow-postgres-clients"),
    ),
    pattern(
        Pod("payments", "payments-api"),
        Pod("databases", "postgres"),
        Tcp,
        5432,
        35.0,
        Nothing,
        Policy("allow-postgres-clients"),
    ),
    pattern(
        Pod("monitoring", "grafana"),
        Pod("databases", "postgres"),
        Tcp,
        5432,
        3.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("stage", "shop-api"),
        Pod("databases", "redis"),
        Tcp,
        6379,
        15.0,
        Policy("allow-shop-api-egress"),
        Nothing,
    ),
    pattern(
        Pod("legacy-batch", "report-cron"),
        Pod("auth", "keycloak"),
        Tcp,
        8080,
        4.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("legacy-batch", "report-cron"),
        Pod("databases", "postgres"),
        Tcp,
        5432,
        3.0,
        Nothing,
        Nothing,
    ),
    // The world.
    pattern(
        Pod("cert-manager", "cert-manager"),
        World("172.65.32.248", "acme-v02.api.letsencrypt.org"),
        Tcp,
        443,
        2.0,
        Policy("allow-acme-https"),
        Nothing,
    ),
    pattern(
        Pod("cert-manager", "cert-manager"),
        World("203.0.113.10", "shop.example.com"),
        Tcp,
        80,
        3.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("network", "external-dns"),
        World("104.16.132.229", "api.cloudflare.com"),
        Tcp,
        443,
        2.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("flux-system", "source-controller"),
        World("140.82.121.4", "github.com"),
        Tcp,
        443,
        3.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("payments", "payments-api"),
        World("54.187.174.169", "api.stripe.com"),
        Tcp,
        443,
        12.0,
        Nothing,
        Nothing,
    ),
    pattern(
        Pod("monitoring", "grafana"),
        World("34.120.177.193", "grafana.com"),
        Tcp,
        443,
        1.0,
        Nothing,
        Nothing,
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
            Nothing,
            Nothing,
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
            Nothing,
            Nothing,
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
    let mut flows = Vec::new();
    for pattern in PATTERNS {
        let expected = pattern.per_minute * minutes;
        let count = expected.floor() as usize + usize::from(rng.f64() < expected.fract());
        for _ in 0..count {
            let offset = SignedDuration::from_secs_f64(span.as_secs_f64() * rng.f64());
            if let Some(flow) = connection(snapshot, pattern, to - offset, rng) {
                flows.push(flow);
            }
        }
    }
    flows.sort_by_key(|f| f.time);
    flows
}

fn connection(snapshot: &ClusterSnapshot, pattern: &Pattern, time: Timestamp, rng: &mut fastrand::Rng) -> Option<Flow> {
    let source = endpoint(snapshot, pattern.src, rng)?;
    let destination = endpoint(snapshot, pattern.dst, rng)?;
    let mut verdict = Verdict::Forwarded;
    let mut reason = None;
    let mut direction = if source.namespace.is_empty() {
        Direction::Ingress
    } else {
        Direction::Egress
    };

    if !source.namespace.is_empty() && blocks(snapshot, &source.namespace, Side::Egress, pattern.egress) {
        (verdict, reason, direction) = (Verdict::Dropped, Some(DropReason::POLICY_DENIED), Direction::Egress);
    } else if !destination.namespace.is_empty()
        && blocks(snapshot, &destination.namespace, Side::Ingress, pattern.ingress)
    {
        (verdict, reason, direction) = (Verdict::Dropped, Some(DropReason::POLICY_DENIED), Direction::Ingress);
    } else if let Some((noise, share)) = pattern.noise
        && rng.f64() < share
    {
        (verdict, reason) = (Verdict::Dropped, Some(noise));
    }
    let node = format!("demo-worker-{}", 1 + (source.identity + destination.identity) % 3);
    let destination_names = match pattern.dst {
        World(_, name) => vec![name.to_string()],
        _ => Vec::new(),
    };
    Some(Flow {
        time,
        verdict,
        drop_reason: reason,
        direction,
        source,
        destination,
        protocol: pattern.protocol,
        source_port: rng.u16(32768..60999),
        destination_port: pattern.port,
        is_reply: false,
        node,
        destination_names,
        denied_by: Vec::new(),
        icmp: None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Ingress,
    Egress,
}

/// Whether `namespace` enforces a default-deny on `side` that `cover` does not open.
fn blocks(snapshot: &ClusterSnapshot, namespace: &str, side: Side, cover: Cover) -> bool {
    let policies: Vec<&PolicyObject> = snapshot.namespaced_policies(namespace).collect();
    let enforced = policies.iter().any(|p| {
        PolicyRole::of(p) == PolicyRole::DefaultDeny && {
            let (ingress, egress) = default_deny_flags(p);
            if side == Side::Ingress { ingress } else { egress }
        }
    });
    if !enforced {
        return false;
    }
    let valid = |p: &PolicyObject| {
        !p.body
            .get("status")
            .and_then(|s| s.get("conditions"))
            .and_then(|c| c.as_array())
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Valid" && c["status"] == "False"))
    };
    let opened = match cover {
        Cover::Nothing => false,
        Cover::Baseline(component) => policies
            .iter()
            .any(|p| PolicyRole::of(p) == PolicyRole::Baseline(Some(component))),
        Cover::Policy(name) => policies.iter().any(|p| p.name == name && valid(p)),
    };
    !opened
}

fn endpoint(snapshot: &ClusterSnapshot, peer: Peer, rng: &mut fastrand::Rng) -> Option<Endpoint> {
    match peer {
        Pod(namespace, workload) => {
            let pods: Vec<_> = snapshot
                .pods_in(namespace)
                .filter(|p| p.workload.as_ref().is_some_and(|w| w.name == workload))
                .collect();
            let pod = pods.get(rng.usize(..pods.len().max(1)))?;
            let identity = 10_000 + stable_hash(&format!("{namespace}/{workload}")) % 50_000;
            let mut labels: Vec<String> = pod.labels.iter().map(|(k, v)| format!("k8s:{k}={v}")).collect();
            labels.push(format!("k8s:io.kubernetes.pod.namespace={namespace}"));
            labels.push("k8s:io.cilium.k8s.policy.cluster=default".into());
            let ip_hash = stable_hash(&pod.name);
            Some(Endpoint {
                identity,
                namespace: namespace.into(),
                pod: pod.name.clone(),
                workload: workload.into(),
                labels,
                ip: format!("10.0.{}.{}", 1 + ip_hash % 3, 10 + ip_hash % 240),
            })
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
