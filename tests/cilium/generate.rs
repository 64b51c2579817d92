//! Seeded scenarios for the differential test: a small cluster of pods and
//! reserved peers, policy sets drawn from every feature tighten's engine
//! claims, and flows between everything and everything.

use jiff::Timestamp;
use serde_json::{Value, json};

use tighten::flows::{Direction, Endpoint, Flow, Protocol, Verdict};

pub const CLUSTER: &str = "default";

/// Namespaces with their labels.
const NAMESPACES: [(&str, &str, &str); 3] = [("shop", "prod", "web"), ("data", "prod", "db"), ("lab", "dev", "web")];
/// Apps in every namespace, with their tier.
const APPS: [(&str, &str); 3] = [("web", "frontend"), ("api", "backend"), ("db", "data")];
const PORTS: [u16; 8] = [53, 80, 443, 5432, 6443, 8080, 8081, 9090];
const WORLD: [&str; 5] = ["8.8.8.8", "1.1.1.1", "10.1.2.3", "192.168.7.9", "172.16.5.4"];

/// A pod or a reserved peer, as Hubble describes it.
#[derive(Clone, Debug)]
pub struct Peer {
    pub namespace: String,
    pub labels: Vec<String>,
    pub ip: String,
    pub name: String,
}

/// Every peer of the generated cluster.
pub fn peers() -> Vec<Peer> {
    let mut peers = Vec::new();
    let mut octet = 10;
    for (ns, env, team) in NAMESPACES {
        for (app, tier) in APPS {
            octet += 1;
            let mut labels = vec![
                format!("k8s:app={app}"),
                format!("k8s:tier={tier}"),
                format!("k8s:io.kubernetes.pod.namespace={ns}"),
                format!("k8s:io.cilium.k8s.namespace.labels.env={env}"),
                format!("k8s:io.cilium.k8s.namespace.labels.team={team}"),
                format!("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}"),
                format!("k8s:io.cilium.k8s.policy.cluster={CLUSTER}"),
                format!("k8s:io.cilium.k8s.policy.serviceaccount={app}"),
            ];
            // A label only some pods have, for Exists / DoesNotExist.
            if app != "db" {
                labels.push("k8s:version=v2".into());
            }
            labels.sort();
            peers.push(Peer {
                namespace: ns.into(),
                labels,
                ip: format!("10.0.{octet}.7"),
                name: format!("{ns}/{app}"),
            });
        }
    }
    for ip in WORLD {
        peers.push(Peer {
            namespace: String::new(),
            labels: vec!["reserved:world".into()],
            ip: ip.into(),
            name: format!("world {ip}"),
        });
    }
    let reserved = [
        (vec!["reserved:host"], "172.18.0.2", "host"),
        (
            vec!["reserved:kube-apiserver", "reserved:remote-node"],
            "172.18.0.3",
            "kube-apiserver",
        ),
        (vec!["reserved:remote-node"], "172.18.0.4", "remote-node"),
    ];
    for (labels, ip, name) in reserved {
        peers.push(Peer {
            namespace: String::new(),
            labels: labels.into_iter().map(String::from).collect(),
            ip: ip.into(),
            name: name.into(),
        });
    }
    peers
}

/// A scenario: policies (as YAML documents), flows, and namespaces to enforce.
pub struct Scenario {
    pub policies: Vec<Value>,
    pub flows: Vec<Flow>,
    pub enforce: Vec<String>,
    /// The policies with the staged default-deny of each `enforce` namespace
    /// switched on: what the cluster holds once it is enforced, for the
    /// oracle, which then needs no notion of which policy is the default-deny.
    pub enforced: Vec<Value>,
}

pub fn scenario(seed: u64, flows: usize) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(seed);
    let peers = peers();
    let mut policies = Vec::new();
    for i in 0..rng.usize(1..=5) {
        let policy = match rng.u8(0..10) {
            0..=5 => cnp(&mut rng, i),
            6 => ccnp(&mut rng, i),
            _ => knp(&mut rng, i),
        };
        policies.push(policy);
    }
    let mut enforce = Vec::new();
    let mut enforced = policies.clone();
    if rng.bool() {
        let ns = NAMESPACES[rng.usize(..NAMESPACES.len())].0;
        // tighten's own, or a team's in one of the shapes teams write.
        let staged = if rng.bool() {
            tighten_default_deny(ns)
        } else {
            team_default_deny(&mut rng, ns)
        };
        let on = rng.bool();
        if on {
            enforce.push(ns.to_string());
        }
        enforced.push(if on { switched_on(&staged) } else { staged.clone() });
        policies.push(staged);
    }
    let base: Timestamp = "2026-11-24T10:00:00Z".parse().expect("time");
    let flows = (0..flows)
        .map(|i| {
            let src = &peers[rng.usize(..peers.len())];
            let dst = loop {
                let d = &peers[rng.usize(..peers.len())];
                // Two reserved peers never make a flow a policy decides.
                if !(src.namespace.is_empty() && d.namespace.is_empty()) {
                    break d;
                }
            };
            flow(
                base + jiff::SignedDuration::from_millis(i as i64),
                src,
                dst,
                if rng.u8(0..4) == 0 {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
                PORTS[rng.usize(..PORTS.len())],
            )
        })
        .collect();
    Scenario {
        policies,
        flows,
        enforce,
        enforced,
    }
}

fn flow(time: Timestamp, src: &Peer, dst: &Peer, protocol: Protocol, port: u16) -> Flow {
    let endpoint = |p: &Peer| Endpoint {
        namespace: p.namespace.clone(),
        labels: p.labels.clone(),
        ip: p.ip.clone(),
        pod: if p.namespace.is_empty() {
            String::new()
        } else {
            format!("{}-0", p.name.rsplit('/').next().unwrap_or("pod"))
        },
        ..Endpoint::default()
    };
    Flow {
        time,
        verdict: Verdict::Forwarded,
        drop_reason: None,
        direction: Direction::Egress,
        source: endpoint(src),
        destination: endpoint(dst),
        protocol,
        source_port: 40_000,
        destination_port: port,
        is_reply: false,
        node: "node-1".into(),
        destination_names: Vec::new(),
        denied_by: Vec::new(),
        icmp: None,
    }
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

/// An endpoint selector of a namespaced policy's subject or peer.
fn selector(rng: &mut fastrand::Rng, peer: bool) -> Value {
    let app = pick(rng, &APPS).0;
    let tier = pick(rng, &APPS).1;
    let ns = pick(rng, &NAMESPACES).0;
    match rng.u8(0..9) {
        0 => json!({}),
        1 => json!({"matchLabels": {"app": app}}),
        2 => json!({"matchLabels": {"tier": tier}}),
        3 if peer => json!({"matchLabels": {"app": app, "k8s:io.kubernetes.pod.namespace": ns}}),
        4 if peer => json!({"matchLabels": {"io.cilium.k8s.namespace.labels.env": pick(rng, &["prod", "dev"])}}),
        5 => {
            json!({"matchExpressions": [{"key": "app", "operator": pick(rng, &["In", "NotIn"]), "values": [app, pick(rng, &APPS).0]}]})
        }
        6 => json!({"matchExpressions": [{"key": "version", "operator": pick(rng, &["Exists", "DoesNotExist"])}]}),
        7 => {
            json!({"matchLabels": {"app": app}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": [tier]}]})
        }
        _ => json!({"matchLabels": {"app": app}}),
    }
}

fn ports(rng: &mut fastrand::Rng) -> Option<Value> {
    if rng.u8(0..3) == 0 {
        return None;
    }
    let port = *pick(rng, &PORTS);
    let protocol = pick(rng, &["TCP", "UDP", "ANY"]);
    let mut entry = json!({"port": port.to_string(), "protocol": protocol});
    if rng.u8(0..4) == 0 {
        entry["endPort"] = json!(port + rng.u16(0..3000));
    }
    Some(json!([{"ports": [entry]}]))
}

/// One peer rule of a CiliumNetworkPolicy, for `from` or `to`.
fn cilium_peer(rng: &mut fastrand::Rng, from: bool) -> Value {
    let (endpoints, entities, cidr, cidr_set) = if from {
        ("fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet")
    } else {
        ("toEndpoints", "toEntities", "toCIDR", "toCIDRSet")
    };
    let mut rule = match rng.u8(0..6) {
        0 | 1 => json!({ endpoints: [selector(rng, true)] }),
        2 => {
            let entity = pick(
                rng,
                &["world", "cluster", "host", "kube-apiserver", "remote-node", "all"],
            );
            json!({ entities: [entity] })
        }
        3 => {
            let ip = pick(rng, &WORLD);
            let prefix = pick(rng, &["32", "24", "8"]);
            json!({ cidr: [format!("{ip}/{prefix}")] })
        }
        4 => {
            let (cidr_value, except) = pick(
                rng,
                &[
                    ("0.0.0.0/0", "10.0.0.0/8"),
                    ("10.0.0.0/8", "10.1.0.0/16"),
                    ("192.168.0.0/16", "192.168.7.0/24"),
                    ("172.16.0.0/12", "172.18.0.0/16"),
                ],
            );
            json!({ cidr_set: [{"cidr": cidr_value, "except": [except]}] })
        }
        _ => json!({}),
    };
    if let Some(ports) = ports(rng) {
        rule["toPorts"] = ports;
    }
    rule
}

fn cilium_spec(rng: &mut fastrand::Rng, subject: Value) -> Value {
    let mut spec = json!({ "endpointSelector": subject });
    for (section, deny, from) in [("ingress", "ingressDeny", true), ("egress", "egressDeny", false)] {
        if rng.u8(0..3) > 0 {
            let rules: Vec<Value> = (0..rng.usize(1..=2)).map(|_| cilium_peer(rng, from)).collect();
            spec[section] = Value::Array(rules);
        }
        if rng.u8(0..5) == 0 {
            spec[deny] = json!([cilium_peer(rng, from)]);
        }
    }
    if spec.get("ingress").is_none() && spec.get("egress").is_none() && spec.get("ingressDeny").is_none() {
        spec["ingress"] = json!([cilium_peer(rng, true)]);
    }
    if rng.u8(0..4) == 0 {
        let mut setting = json!({});
        if rng.bool() {
            setting["ingress"] = json!(rng.bool());
        }
        if rng.bool() {
            setting["egress"] = json!(rng.bool());
        }
        spec["enableDefaultDeny"] = setting;
    }
    spec
}

fn cnp(rng: &mut fastrand::Rng, i: usize) -> Value {
    let ns = pick(rng, &NAMESPACES).0;
    let subject = selector(rng, false);
    let mut policy = json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": format!("cnp-{i}"), "namespace": ns},
    });
    if rng.u8(0..5) == 0 {
        let other = selector(rng, false);
        policy["specs"] = json!([cilium_spec(rng, subject), cilium_spec(rng, other)]);
    } else {
        policy["spec"] = cilium_spec(rng, subject);
    }
    policy
}

fn ccnp(rng: &mut fastrand::Rng, i: usize) -> Value {
    let mut subject = selector(rng, false);
    if rng.bool() {
        let ns = pick(rng, &NAMESPACES).0;
        subject["matchLabels"]["k8s:io.kubernetes.pod.namespace"] = json!(ns);
    }
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": format!("ccnp-{i}")},
        "spec": cilium_spec(rng, subject),
    })
}

fn knp_peer(rng: &mut fastrand::Rng) -> Value {
    match rng.u8(0..5) {
        0 => json!({"podSelector": {"matchLabels": {"app": pick(rng, &APPS).0}}}),
        1 => json!({"namespaceSelector": {"matchLabels": {"env": pick(rng, &["prod", "dev"])}}}),
        2 => json!({
            "namespaceSelector": {"matchLabels": {"team": pick(rng, &["web", "db"])}},
            "podSelector": {"matchLabels": {"tier": pick(rng, &APPS).1}},
        }),
        3 => {
            let (cidr, except) = pick(rng, &[("0.0.0.0/0", "10.0.0.0/8"), ("10.0.0.0/8", "10.1.0.0/16")]);
            json!({"ipBlock": {"cidr": cidr, "except": [except]}})
        }
        _ => json!({"ipBlock": {"cidr": format!("{}/32", pick(rng, &WORLD))}}),
    }
}

fn knp_rule(rng: &mut fastrand::Rng, peer_key: &str) -> Value {
    let mut rule = json!({});
    if rng.u8(0..4) > 0 {
        rule[peer_key] = json!([knp_peer(rng)]);
    }
    if rng.bool() {
        let port = *pick(rng, &PORTS);
        let mut entry = json!({"protocol": pick(rng, &["TCP", "UDP"]), "port": port});
        if rng.u8(0..3) == 0 {
            entry["endPort"] = json!(port + rng.u16(1..2000));
        }
        rule["ports"] = json!([entry]);
    }
    rule
}

fn knp(rng: &mut fastrand::Rng, i: usize) -> Value {
    let ns = pick(rng, &NAMESPACES).0;
    let pod_selector = match rng.u8(0..3) {
        0 => json!({}),
        _ => json!({"matchLabels": {"app": pick(rng, &APPS).0}}),
    };
    let mut spec = json!({"podSelector": pod_selector});
    let mut types = Vec::new();
    if rng.u8(0..3) > 0 {
        types.push("Ingress");
        let rules: Vec<Value> = (0..rng.usize(0..=2)).map(|_| knp_rule(rng, "from")).collect();
        spec["ingress"] = Value::Array(rules);
    }
    if rng.u8(0..3) > 0 || types.is_empty() {
        types.push("Egress");
        let rules: Vec<Value> = (0..rng.usize(0..=2)).map(|_| knp_rule(rng, "to")).collect();
        spec["egress"] = Value::Array(rules);
    }
    // Sometimes without policyTypes, for the defaulting to decide (an
    // `egress: []` then has no egress side).
    if rng.u8(0..4) > 0 {
        // Sometimes one type left out while its section stays: Cilium 1.19
        // enforces the section anyway (cilium/cilium#48703).
        if types.len() == 2 && rng.u8(0..5) == 0 {
            types.remove(rng.usize(0..2));
        }
        spec["policyTypes"] = json!(types);
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": format!("knp-{i}"), "namespace": ns},
        "spec": spec,
    })
}

/// A team's staged default-deny: its own name, no tighten label, one of the
/// shapes teams write (empty allow rules, the explicit deny form, one
/// direction, a `specs` list), with `enableDefaultDeny` false.
fn team_default_deny(rng: &mut fastrand::Rng, ns: &str) -> Value {
    let off = |directions: &[&str]| -> Value {
        Value::Object(directions.iter().map(|d| (d.to_string(), json!(false))).collect())
    };
    let rule = |sections: &[&str], directions: &[&str]| -> Value {
        let mut spec = json!({"endpointSelector": {}, "enableDefaultDeny": off(directions)});
        for section in sections {
            spec[*section] = json!([{}]);
        }
        spec
    };
    let (key, body) = match rng.u8(0..5) {
        0 => ("spec", rule(&["ingress", "egress"], &["ingress", "egress"])),
        1 => ("spec", rule(&["ingressDeny", "egressDeny"], &["ingress", "egress"])),
        2 => ("spec", rule(&["ingress"], &["ingress"])),
        3 => ("spec", rule(&["egressDeny"], &["egress"])),
        _ => (
            "specs",
            json!([rule(&["ingressDeny"], &["ingress"]), rule(&["egress"], &["egress"])]),
        ),
    };
    let name = ["default-deny", "deny-all", "zero-trust", "lockdown"][rng.usize(..4)];
    let mut policy = json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
    });
    policy[key] = body;
    policy
}

/// A default-deny with `enableDefaultDeny` true in both directions on every rule.
fn switched_on(policy: &Value) -> Value {
    let mut on = policy.clone();
    let both = json!({"ingress": true, "egress": true});
    if let Some(spec) = on.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("enableDefaultDeny".into(), both.clone());
    }
    if let Some(specs) = on.get_mut("specs").and_then(Value::as_array_mut) {
        for spec in specs.iter_mut().filter_map(Value::as_object_mut) {
            spec.insert("enableDefaultDeny".into(), both.clone());
        }
    }
    on
}

/// tighten's staged default-deny, as its template writes it.
fn tighten_default_deny(ns: &str) -> Value {
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {
            "name": "tighten-default-deny",
            "namespace": ns,
            "labels": {"app.kubernetes.io/managed-by": "tighten", "tighten.dev/role": "default-deny"},
        },
        "spec": {
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": false, "egress": false},
            "ingress": [{}],
            "egress": [{}],
        },
    })
}
