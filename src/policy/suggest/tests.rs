use super::*;
use crate::cluster::demo::DemoCluster;
use crate::flows::{Endpoint, Verdict};
use crate::policy::engine::Engine;
use crate::policy::parse::parse_policy;
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeSet;

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().expect("time")
}

/// The demo's policies (those Cilium accepts) and ten minutes of its traffic.
fn demo() -> (Vec<PolicyObject>, Vec<Flow>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = DemoCluster::new(now(), dir.path());
    let policies = demo
        .snapshot()
        .policies
        .iter()
        .filter(|p| !crate::gate::is_rejected(p))
        .cloned()
        .collect();
    (
        policies,
        demo.flows_between(now() - SignedDuration::from_mins(10), now(), 3),
        dir,
    )
}

fn engine(policies: &[PolicyObject]) -> Engine {
    Engine::new(
        policies
            .iter()
            .map(|p| parse_policy(p).expect("parses"))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn applying_the_suggestions_lets_every_would_drop_flow_through() {
    let (mut policies, flows, _dir) = demo();
    let enforce = BTreeSet::from(["databases".to_string()]);
    let before = engine(&policies);
    let drops: Vec<(&Flow, Direction)> = flows
        .iter()
        .filter_map(|f| {
            let v = before.evaluate_enforcing(f, &enforce);
            (!v.allowed).then(|| (f, v.direction.unwrap_or(Direction::Unknown)))
        })
        .filter(|(f, d)| {
            (*d == Direction::Ingress && f.destination.namespace == "databases")
                || (*d == Direction::Egress && f.source.namespace == "databases")
        })
        .collect();
    assert!(!drops.is_empty());
    let suggested = suggest("databases", drops.iter().copied());
    let names: Vec<_> = suggested.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["tighten-allow-postgres", "tighten-allow-redis"]);
    for p in &suggested {
        assert_eq!(crate::rollout::PolicyRole::of(p), crate::rollout::PolicyRole::AppAllow);
        assert_eq!(
            crate::rollout::phase::default_deny_flags(p),
            (false, false),
            "never isolates by itself"
        );
    }
    policies.extend(suggested);
    let after = engine(&policies);
    for (flow, _) in &drops {
        let v = after.evaluate_enforcing(flow, &enforce);
        assert!(
            v.allowed,
            "{} -> {} still dropped",
            flow.source.qualified_name(),
            flow.destination.qualified_name()
        );
    }
}

#[test]
fn peers_are_named_by_app_labels_entities_and_dns_names() {
    let pod = |ns: &str, labels: &[&str]| Endpoint {
        namespace: ns.into(),
        labels: labels
            .iter()
            .map(|l| format!("k8s:{l}"))
            .chain([format!("k8s:io.kubernetes.pod.namespace={ns}")])
            .collect(),
        pod: "api-7d9f8b-x2x9q".into(),
        ..Endpoint::default()
    };
    let flow = |source, destination, protocol, port, names: &[&str]| Flow {
        time: now(),
        verdict: Verdict::Dropped,
        drop_reason: None,
        direction: Direction::Egress,
        source,
        destination,
        protocol,
        source_port: 40000,
        destination_port: port,
        is_reply: false,
        node: String::new(),
        destination_names: names.iter().map(|n| n.to_string()).collect(),
        denied_by: Vec::new(),
        icmp: None,
    };
    let api = || {
        pod(
            "shop",
            &["app.kubernetes.io/name=api", "pod-template-hash=7d9f8b", "version=v2"],
        )
    };
    let world = Endpoint {
        labels: vec!["reserved:world".into()],
        ip: "54.1.2.3".into(),
        ..Endpoint::default()
    };
    let apiserver = Endpoint {
        labels: vec!["reserved:kube-apiserver".into(), "reserved:remote-node".into()],
        ..Endpoint::default()
    };
    let flows = [
        flow(api(), world.clone(), Protocol::Tcp, 443, &["api.stripe.com."]),
        flow(api(), world, Protocol::Tcp, 443, &[]),
        flow(api(), apiserver, Protocol::Tcp, 6443, &[]),
        flow(pod("web", &["app=frontend"]), api(), Protocol::Tcp, 8080, &[]),
        flow(pod("web", &["app=frontend"]), api(), Protocol::Tcp, 8443, &[]),
        flow(pod("shop", &["app=worker"]), api(), Protocol::Udp, 8125, &[]),
    ];
    let directions = [
        Direction::Egress,
        Direction::Egress,
        Direction::Egress,
        Direction::Ingress,
        Direction::Ingress,
        Direction::Ingress,
    ];
    let suggested = suggest("shop", flows.iter().zip(directions));
    assert_eq!(suggested.len(), 1, "one policy for the api workload");
    let yaml = suggested[0].to_yaml();
    assert!(yaml.contains("app.kubernetes.io/name: api"), "{yaml}");
    assert!(!yaml.contains("pod-template-hash") && !yaml.contains("x2x9q"), "{yaml}");
    assert!(yaml.contains("matchName: api.stripe.com"), "{yaml}");
    assert!(yaml.contains("- world") && yaml.contains("- kube-apiserver"), "{yaml}");
    assert!(yaml.contains("k8s:io.kubernetes.pod.namespace: web"), "{yaml}");
    assert!(
        yaml.contains("port: '8080'") && yaml.contains("port: '8443'"),
        "ports of one peer grouped: {yaml}"
    );
    assert!(yaml.contains("protocol: UDP"), "{yaml}");
    // The worker is in the same namespace: no namespace label needed.
    let worker = yaml
        .lines()
        .skip_while(|l| !l.contains("app: worker"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!worker.contains("namespace"), "{worker}");
    // Suggestions are valid policies tighten itself can read back.
    assert!(parse_policy(&suggested[0]).is_ok());
}
