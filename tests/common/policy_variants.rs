//! Policies near the edge of what the API server and Cilium accept: valid
//! shapes with one or two changes each, of the kinds real rollouts shipped
//! (empty or null rule lists, two kinds of peer in one rule, ports as
//! numbers, lower-case protocols, HTTP rules without TCP, entities the
//! schema does not list...). Shared by the judges: the live API server
//! (schema and validation, with dry-run) and Cilium's parser (the oracle).

use serde_json::{Value, json};

/// `count` policy manifests in namespace `namespace`, named `v-0`, `v-1`...,
/// the same for the same seed.
pub fn variants(seed: u64, count: usize, namespace: &str) -> Vec<Value> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..count)
        .map(|i| {
            let name = format!("v-{i}");
            if rng.u8(0..4) == 0 {
                network_policy(&mut rng, &name, namespace)
            } else {
                cilium_policy(&mut rng, &name, namespace)
            }
        })
        .collect()
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(0..items.len())]
}

fn cilium_policy(rng: &mut fastrand::Rng, name: &str, namespace: &str) -> Value {
    let mut spec = json!({"endpointSelector": {"matchLabels": {"app": "web"}}});
    match rng.u8(0..3) {
        0 => spec["ingress"] = json!([cilium_entry(rng, true)]),
        1 => spec["egress"] = json!([cilium_entry(rng, false)]),
        _ => {
            spec["ingress"] = json!([cilium_entry(rng, true)]);
            spec["egress"] = json!([cilium_entry(rng, false)]);
        }
    }
    for _ in 0..rng.usize(0..=2) {
        mutate_rule(rng, &mut spec);
    }
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

fn cilium_entry(rng: &mut fastrand::Rng, ingress: bool) -> Value {
    let prefix = if ingress { "from" } else { "to" };
    let mut entry = json!({});
    match rng.u8(0..5) {
        0 => entry[format!("{prefix}Endpoints")] = json!([{"matchLabels": {"app": "api"}}]),
        1 => entry[format!("{prefix}Entities")] = json!([pick(rng, &["cluster", "world", "kube-apiserver", "host"])]),
        2 => entry[format!("{prefix}CIDR")] = json!(["10.0.0.0/8"]),
        3 => entry[format!("{prefix}CIDRSet")] = json!([{"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}]),
        _ => {}
    }
    if rng.bool() || entry.as_object().is_some_and(|m| m.is_empty()) {
        entry["toPorts"] = json!([{"ports": [{"port": pick(rng, &["80", "443", "5432", "8080"]), "protocol": "TCP"}]}]);
    }
    entry
}

/// One change to a valid rule.
fn mutate_rule(rng: &mut fastrand::Rng, spec: &mut Value) {
    let lists = ["ingress", "egress", "ingressDeny", "egressDeny"];
    let entry_key = if spec.get("ingress").and_then(|l| l.get(0)).is_some() {
        ("ingress", true)
    } else {
        ("egress", false)
    };
    let prefix = if entry_key.1 { "from" } else { "to" };
    let choice = rng.u8(0..27);
    match choice {
        // The rule lists.
        0 => {
            if let Some(map) = spec.as_object_mut() {
                for key in lists {
                    map.remove(key);
                }
                map.insert("enableDefaultDeny".into(), json!({"ingress": true, "egress": true}));
            }
        }
        1 => spec[*pick(rng, &lists)] = json!([]),
        2 => {
            for key in lists {
                spec[key] = json!([]);
            }
        }
        3 => spec[*pick(rng, &["ingressDeny", "egressDeny"])] = Value::Null,
        4 => {
            if let Some(map) = spec.as_object_mut() {
                map.remove("endpointSelector");
            }
        }
        5 => spec["nodeSelector"] = json!({"matchLabels": {"role": "worker"}}),
        6 => spec["enableDefaultDeny"] = json!({"ingress": "false"}),
        7 => spec["enableDefaultDeny"] = json!({"ingress": false, "egress": false}),
        26 => spec["specs"] = json!([]),
        _ => {}
    }
    if choice <= 7 || choice >= 26 {
        return;
    }
    let Some(entry) = spec.get_mut(entry_key.0).and_then(|l| l.get_mut(0)) else {
        return;
    };
    match choice {
        // Peers.
        8 => entry[format!("{prefix}CIDR")] = json!(["192.168.0.0/16"]),
        9 => entry[format!("{prefix}Entities")] = json!([pick(rng, &["world-ipv4", "moon", "none", "all"])]),
        10 => {
            entry[format!("{prefix}Endpoints")] = json!([{"matchLabels": {"app": pick(rng, &["db", "a b", "-x", ""])}}])
        }
        11 => {
            entry[format!("{prefix}Endpoints")] =
                json!([{"matchExpressions": [{"key": "app", "operator": pick(rng, &["In", "Exists", "Near"])}]}])
        }
        12 => entry[format!("{prefix}CIDRSet")] = json!([{"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}]),
        13 => entry[format!("{prefix}CIDR")] = json!([pick(rng, &["10.0.0.1", "10.0.0.0/33", "0.0.0.0/0"])]),
        14 => entry["icmps"] = json!([{"fields": [{"type": 8}]}]),
        15 if !entry_key.1 => entry["toFQDNs"] = json!([{"matchName": "example.com"}]),
        // Ports.
        16 => entry["toPorts"] = json!([{"ports": [{"port": 80, "protocol": "TCP"}]}]),
        17 => {
            entry["toPorts"] = json!([{"ports": [{"port": pick(rng, &["70000", "", "http", "HTTP", "a_b", "0x50", "0"]),
                "protocol": "TCP"}]}])
        }
        18 => entry["toPorts"] = json!([{"ports": [{"protocol": "TCP"}]}]),
        19 => {
            entry["toPorts"] =
                json!([{"ports": [{"port": "80", "protocol": pick(rng, &["tcp", "ANY", "VRRP", "ICMP"])}]}])
        }
        20 => entry["toPorts"] = json!([{"ports": [{"port": "80", "endPort": pick(rng, &[90, 70, 70000])}]}]),
        // L7.
        21 => {
            entry["toPorts"] = json!([{"ports": [{"port": "80", "protocol": pick(rng, &["TCP", "UDP", "ANY"])}],
                "rules": {"http": [{"method": "GET"}]}}])
        }
        22 => entry["toPorts"] = json!([{"rules": {"http": [{"method": "GET"}]}}]),
        23 => {
            entry["toPorts"] = json!([{"ports": [{"port": pick(rng, &["53", "0"]), "protocol": "UDP"}],
                "rules": {"dns": [{"matchPattern": "*"}]}}])
        }
        24 => {
            entry["toPorts"] = json!([{"ports": [{"port": "53", "endPort": 60, "protocol": "UDP"}],
                "rules": {"dns": [{"matchPattern": "*"}]}}])
        }
        25 => {
            entry["toPorts"] = json!([{"ports": [{"port": "80", "protocol": "TCP"}],
                "rules": {"http": [{"method": "GET"}], "dns": [{"matchPattern": "*"}]}}])
        }
        _ => {}
    }
}

fn network_policy(rng: &mut fastrand::Rng, name: &str, namespace: &str) -> Value {
    let mut peer = match rng.u8(0..3) {
        0 => json!({"podSelector": {"matchLabels": {"app": "api"}}}),
        1 => json!({"namespaceSelector": {"matchLabels": {"team": "shop"}}}),
        _ => json!({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}),
    };
    let mut port = json!({"port": 80, "protocol": "TCP"});
    let mut spec = json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]});
    match rng.u8(0..14) {
        0 => peer["podSelector"] = json!({"matchLabels": {"app": "api"}}),
        1 => peer = json!({}),
        2 => peer = json!({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}),
        3 => peer = json!({"ipBlock": {"cidr": "10.0.0.1"}}),
        4 => port["protocol"] = json!("tcp"),
        5 => port["port"] = json!(0),
        6 => port["port"] = json!("80"),
        7 => port["port"] = json!(pick(rng, &["http", "HTTP"])),
        8 => port["endPort"] = json!(pick(rng, &[70, 90])),
        9 => {
            port["port"] = json!("http");
            port["endPort"] = json!(90);
        }
        10 => spec["policyTypes"] = json!(["ingress"]),
        11 => spec["egress"] = json!([{"to": [peer.clone()]}]),
        12 => port["protocol"] = json!("ANY"),
        _ => {}
    }
    spec["ingress"] = json!([{"from": [peer], "ports": [port]}]);
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}
