//! One test per semantic rule, from Cilium's documentation and cilium-facts.md.

use super::*;
use crate::cluster::PolicyObject;
use crate::flows::{Endpoint, Icmp, Verdict};
use crate::policy::parse::parse_policy;
use jiff::Timestamp;

fn engine(yaml: &str) -> Engine {
    let policies = serde_yaml::Deserializer::from_str(yaml).map(|doc| {
        let value = serde_json::Value::deserialize(doc).expect("yaml");
        parse_policy(&PolicyObject::from_manifest(&value).expect("manifest")).expect("parses")
    });
    Engine::new(policies.collect::<Vec<_>>())
}
use serde::Deserialize;

/// A pod endpoint: `ns`, then `key=value` labels.
fn pod(ns: &str, labels: &[&str]) -> Endpoint {
    let mut all: Vec<String> = labels.iter().map(|l| format!("k8s:{l}")).collect();
    all.push(format!("k8s:io.kubernetes.pod.namespace={ns}"));
    all.push(format!(
        "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}"
    ));
    Endpoint {
        namespace: ns.into(),
        labels: all,
        ip: "10.0.0.9".into(),
        ..Endpoint::default()
    }
}

fn reserved(names: &[&str], ip: &str) -> Endpoint {
    Endpoint {
        labels: names.iter().map(|n| format!("reserved:{n}")).collect(),
        ip: ip.into(),
        ..Endpoint::default()
    }
}

fn world(ip: &str) -> Endpoint {
    reserved(&["world"], ip)
}

fn tcp(source: Endpoint, destination: Endpoint, port: u16) -> Flow {
    Flow {
        time: Timestamp::UNIX_EPOCH,
        verdict: Verdict::Forwarded,
        drop_reason: None,
        direction: Direction::Egress,
        source,
        destination,
        protocol: Protocol::Tcp,
        source_port: 40000,
        destination_port: port,
        is_reply: false,
        node: String::new(),
        destination_names: Vec::new(),
        denied_by: Vec::new(),
        icmp: None,
    }
}

fn with(mut flow: Flow, protocol: Protocol) -> Flow {
    flow.protocol = protocol;
    flow
}

fn verdict(e: &Engine, flow: &Flow) -> (bool, Reason) {
    let v = e.evaluate(flow);
    (v.allowed, v.reason)
}

const ALLOW_WEB_TO_API: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
"#;

#[test]
fn an_unselected_pod_is_allowed_everything() {
    let e = engine(ALLOW_WEB_TO_API);
    let f = tcp(pod("shop", &["app=web"]), pod("shop", &["app=db"]), 5432);
    assert_eq!(verdict(&e, &f), (true, Reason::DefaultAllow));
}

#[test]
fn selection_puts_the_direction_in_default_deny() {
    let e = engine(ALLOW_WEB_TO_API);
    let allowed = tcp(pod("shop", &["app=web"]), pod("shop", &["app=api"]), 8080);
    let v = e.evaluate(&allowed);
    assert_eq!(
        (v.allowed, v.reason, v.direction),
        (true, Reason::AllowedByRule, Some(Direction::Ingress))
    );
    assert_eq!(v.policies[0].to_string(), "shop/allow-web");
    let other_port = tcp(pod("shop", &["app=web"]), pod("shop", &["app=api"]), 9090);
    assert_eq!(verdict(&e, &other_port), (false, Reason::DefaultDeny));
    let other_peer = tcp(pod("shop", &["app=batch"]), pod("shop", &["app=api"]), 8080);
    assert_eq!(verdict(&e, &other_peer), (false, Reason::DefaultDeny));
    // Egress of the api pod is not selected: its own outgoing traffic is free.
    let out = tcp(pod("shop", &["app=api"]), world("1.1.1.1"), 443);
    assert_eq!(verdict(&e, &out), (true, Reason::DefaultAllow));
}

#[test]
fn enable_default_deny_false_leaves_the_direction_open_unless_another_policy_closes_it() {
    let open = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: baseline, namespace: shop}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress: [{fromEntities: [host]}]
"#;
    let f = tcp(pod("shop", &["app=web"]), pod("shop", &["app=api"]), 8080);
    assert_eq!(verdict(&engine(open), &f), (true, Reason::DefaultAllow));
    let both = format!("{open}\n---\n{ALLOW_WEB_TO_API}");
    let e = engine(&both);
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=x"]), pod("shop", &["app=api"]), 8080)),
        (false, Reason::DefaultDeny)
    );
    // The baseline's allow still applies under the other policy's default-deny.
    let probe = tcp(reserved(&["host"], "172.18.0.3"), pod("shop", &["app=api"]), 8080);
    assert_eq!(verdict(&e, &probe), (true, Reason::AllowedByRule));
}

#[test]
fn deny_rules_beat_allow_rules() {
    let e = engine(&format!(
        "{ALLOW_WEB_TO_API}\n---\n{}",
        r#"
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: quarantine}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingressDeny: [{fromEndpoints: [{matchLabels: {app: web, "k8s:io.kubernetes.pod.namespace": shop}}]}]
"#
    ));
    let v = e.evaluate(&tcp(pod("shop", &["app=web"]), pod("shop", &["app=api"]), 8080));
    assert_eq!((v.allowed, v.reason), (false, Reason::DeniedByRule));
    assert_eq!(v.policies[0].to_string(), "quarantine");
}

#[test]
fn match_expressions_select() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: tiers, namespace: shop}
spec:
  endpointSelector: {matchExpressions: [{key: tier, operator: In, values: [backend]}]}
  ingress: [{fromEndpoints: [{matchExpressions: [{key: app, operator: NotIn, values: [batch]}, {key: app, operator: Exists}]}]}]
"#,
    );
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=web"]), pod("shop", &["tier=backend"]), 1)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=batch"]), pod("shop", &["tier=backend"]), 1)),
        (false, Reason::DefaultDeny)
    );
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["x=y"]), pod("shop", &["tier=backend"]), 1)),
        (false, Reason::DefaultDeny)
    );
}

#[test]
fn cnp_peers_are_scoped_to_the_policy_namespace_unless_they_name_one() {
    let e = engine(ALLOW_WEB_TO_API);
    let elsewhere = tcp(pod("other", &["app=web"]), pod("shop", &["app=api"]), 8080);
    assert_eq!(verdict(&e, &elsewhere), (false, Reason::DefaultDeny));
    let pinned = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-ingress, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": network}}]}]
"#,
    );
    assert_eq!(
        verdict(
            &pinned,
            &tcp(pod("network", &["app=nginx"]), pod("shop", &["app=api"]), 80)
        ),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&pinned, &tcp(pod("shop", &["app=web"]), pod("shop", &["app=api"]), 80)),
        (false, Reason::DefaultDeny)
    );
}

#[test]
fn the_empty_rule_selects_nothing_and_an_empty_selector_is_the_namespace() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {endpointSelector: {}, ingress: [{}], egress: [{}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: intra, namespace: shop}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress: [{fromEndpoints: [{}]}]
  egress: [{toEndpoints: [{}]}]
"#,
    );
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=a"]), pod("shop", &["app=b"]), 80)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=a"]), pod("other", &["app=b"]), 80)),
        (false, Reason::DefaultDeny)
    );
    let v = e.evaluate(&tcp(pod("shop", &["app=a"]), world("8.8.8.8"), 53));
    assert_eq!(
        (v.allowed, v.direction),
        (false, Some(Direction::Egress)),
        "egress is decided at the source first"
    );
}

#[test]
fn entities_cover_the_reserved_identities() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: entities, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
  - toEntities: [kube-apiserver]
  - toEntities: [world]
    toPorts: [{ports: [{port: "443"}]}]
  ingress:
  - fromEntities: [host, remote-node]
"#,
    );
    let api = || pod("shop", &["app=api"]);
    let apiserver = reserved(&["kube-apiserver", "remote-node"], "172.18.0.2");
    assert_eq!(verdict(&e, &tcp(api(), apiserver, 6443)), (true, Reason::AllowedByRule));
    assert_eq!(
        verdict(&e, &tcp(api(), world("1.1.1.1"), 443)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(api(), world("1.1.1.1"), 80)),
        (false, Reason::DefaultDeny)
    );
    assert_eq!(
        verdict(&e, &tcp(api(), reserved(&["host"], "172.18.0.3"), 10250)),
        (false, Reason::DefaultDeny)
    );
    assert_eq!(
        verdict(&e, &tcp(reserved(&["host"], "172.18.0.3"), api(), 8080)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(reserved(&["remote-node"], "172.18.0.4"), api(), 8080)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(world("1.2.3.4"), api(), 8080)),
        (false, Reason::DefaultDeny)
    );

    let cluster = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cluster, namespace: shop}
spec: {endpointSelector: {}, ingress: [{fromEntities: [cluster]}]}
"#,
    );
    assert_eq!(
        verdict(&cluster, &tcp(pod("other", &["a=b"]), pod("shop", &["a=b"]), 1)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(
            &cluster,
            &tcp(reserved(&["host"], "172.18.0.3"), pod("shop", &["a=b"]), 1)
        ),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&cluster, &tcp(world("1.2.3.4"), pod("shop", &["a=b"]), 1)),
        (false, Reason::DefaultDeny)
    );
    let all = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: all, namespace: shop}
spec: {endpointSelector: {}, ingress: [{fromEntities: [all]}]}
"#,
    );
    assert_eq!(
        verdict(&all, &tcp(world("1.2.3.4"), pod("shop", &["a=b"]), 1)),
        (true, Reason::AllowedByRule)
    );
}

#[test]
fn cidrs_match_the_world_only_and_honour_except() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cidr, namespace: shop}
spec:
  endpointSelector: {}
  egress:
  - toCIDR: [203.0.113.0/24]
  - toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8, 192.168.0.0/16]}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"#,
    );
    let src = || pod("shop", &["app=a"]);
    assert_eq!(
        verdict(&e, &tcp(src(), world("203.0.113.7"), 22)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(src(), world("8.8.8.8"), 443)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(src(), world("192.168.1.1"), 443)),
        (false, Reason::DefaultDeny),
        "except"
    );
    // 0.0.0.0/0 never matches the API server, the host or pods (the classic trap).
    let apiserver = reserved(&["kube-apiserver", "remote-node"], "172.18.0.2");
    assert_eq!(verdict(&e, &tcp(src(), apiserver, 443)), (false, Reason::DefaultDeny));
    assert_eq!(
        verdict(&e, &tcp(src(), pod("other", &["a=b"]), 443)),
        (false, Reason::DefaultDeny)
    );
}

#[test]
fn ports_ranges_and_protocols() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ports, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
  - toPorts:
    - ports: [{port: "8000", endPort: 8010, protocol: TCP}, {port: "53", protocol: UDP}, {port: "9000", protocol: ANY}, {port: "3868", protocol: SCTP}]
"#,
    );
    let f = |port, protocol| with(tcp(world("1.1.1.1"), pod("shop", &["a=b"]), port), protocol);
    assert_eq!(
        verdict(&e, &f(8005, Protocol::Tcp)),
        (true, Reason::AllowedByRule),
        "an L4-only rule allows any peer"
    );
    assert_eq!(verdict(&e, &f(8011, Protocol::Tcp)), (false, Reason::DefaultDeny));
    assert_eq!(verdict(&e, &f(8005, Protocol::Udp)), (false, Reason::DefaultDeny));
    assert_eq!(verdict(&e, &f(53, Protocol::Udp)), (true, Reason::AllowedByRule));
    assert_eq!(verdict(&e, &f(53, Protocol::Tcp)), (false, Reason::DefaultDeny));
    assert_eq!(verdict(&e, &f(9000, Protocol::Udp)), (true, Reason::AllowedByRule));
    assert_eq!(verdict(&e, &f(9000, Protocol::Sctp)), (true, Reason::AllowedByRule));
    assert_eq!(verdict(&e, &f(3868, Protocol::Sctp)), (true, Reason::AllowedByRule));
}

#[test]
fn icmp_rules_match_type_and_family() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ping, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{icmps: [{fields: [{type: 8, family: IPv4}, {type: EchoRequest, family: IPv6}]}]}]
"#,
    );
    let ping = |protocol, icmp_type| {
        let mut f = with(tcp(pod("other", &["a=b"]), pod("shop", &["a=b"]), 0), protocol);
        f.icmp = Some(Icmp { icmp_type, code: 0 });
        f
    };
    assert_eq!(verdict(&e, &ping(Protocol::IcmpV4, 8)), (true, Reason::AllowedByRule));
    assert_eq!(verdict(&e, &ping(Protocol::IcmpV4, 0)), (false, Reason::DefaultDeny));
    assert_eq!(verdict(&e, &ping(Protocol::IcmpV6, 128)), (true, Reason::AllowedByRule));
    assert_eq!(
        verdict(&e, &tcp(pod("other", &["a=b"]), pod("shop", &["a=b"]), 8)),
        (false, Reason::DefaultDeny)
    );
}

#[test]
fn l7_rules_allow_at_l4_and_say_so() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: dns, namespace: shop}
spec:
  endpointSelector: {}
  egress:
  - toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, k8s-app: kube-dns}}]
    toPorts: [{ports: [{port: "53", protocol: UDP}], rules: {dns: [{matchPattern: "*"}]}}]
"#,
    );
    let f = with(
        tcp(pod("shop", &["a=b"]), pod("kube-system", &["k8s-app=kube-dns"]), 53),
        Protocol::Udp,
    );
    let v = e.evaluate(&f);
    assert_eq!((v.allowed, v.reason), (true, Reason::AllowedByRule));
    assert_eq!(v.approximations, vec!["L7 rules are judged at L4"]);
}

#[test]
fn to_fqdns_match_the_names_the_flow_carries() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: fqdn, namespace: shop}
spec:
  endpointSelector: {}
  egress:
  - toFQDNs: [{matchName: api.stripe.com}, {matchPattern: "*.github.com"}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"#,
    );
    let to = |names: &[&str]| {
        let mut f = tcp(pod("shop", &["a=b"]), world("54.1.2.3"), 443);
        f.destination_names = names.iter().map(|n| n.to_string()).collect();
        f
    };
    assert_eq!(verdict(&e, &to(&["API.stripe.com."])), (true, Reason::AllowedByRule));
    assert_eq!(
        verdict(&e, &to(&["codeload.github.com"])),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &to(&["github.com"])),
        (false, Reason::DefaultDeny),
        "* needs a label"
    );
    assert_eq!(
        verdict(&e, &to(&["a.b.github.com"])),
        (false, Reason::DefaultDeny),
        "* stays within one label"
    );
    assert_eq!(verdict(&e, &to(&[])), (false, Reason::DefaultDeny), "no name known");
    assert!(glob("*", "anything.example"));
}

#[test]
fn replies_are_not_subject_to_policy() {
    let e = engine(ALLOW_WEB_TO_API);
    let mut f = tcp(pod("shop", &["app=api"]), pod("shop", &["app=web"]), 40000);
    f.is_reply = true;
    assert_eq!(verdict(&e, &f), (true, Reason::Reply));
}

#[test]
fn network_policies_use_kubernetes_semantics() {
    let e = engine(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - namespaceSelector: {matchLabels: {team: payments}}
      podSelector: {matchLabels: {app: checkout}}
    - ipBlock: {cidr: 198.51.100.0/24, except: [198.51.100.128/25]}
    ports: [{port: 8080}, {port: 9000, endPort: 9005, protocol: TCP}]
  egress:
  - {}
"#,
    );
    let api = || pod("shop", &["app=api"]);
    let mut payments = pod("pay", &["app=checkout"]);
    payments
        .labels
        .push("k8s:io.cilium.k8s.namespace.labels.team=payments".into());
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=web"]), api(), 8080)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=web"]), api(), 9003)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(pod("shop", &["app=web"]), api(), 8081)),
        (false, Reason::DefaultDeny)
    );
    assert_eq!(
        verdict(&e, &tcp(pod("other", &["app=web"]), api(), 8080)),
        (false, Reason::DefaultDeny)
    );
    assert_eq!(
        verdict(&e, &tcp(payments.clone(), api(), 8080)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(world("198.51.100.5"), api(), 8080)),
        (true, Reason::AllowedByRule)
    );
    assert_eq!(
        verdict(&e, &tcp(world("198.51.100.200"), api(), 8080)),
        (false, Reason::DefaultDeny)
    );
    // `egress: [{}]` in a NetworkPolicy allows everything (unlike Cilium's empty rule).
    assert_eq!(
        verdict(&e, &tcp(api(), world("1.1.1.1"), 443)),
        (true, Reason::AllowedByRule)
    );
    // UDP is not TCP: ports default to TCP.
    assert_eq!(
        verdict(&e, &with(tcp(pod("shop", &["app=web"]), api(), 8080), Protocol::Udp)),
        (false, Reason::DefaultDeny)
    );

    let deny_all = engine(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
"#,
    );
    assert_eq!(
        verdict(&deny_all, &tcp(pod("shop", &["a=b"]), pod("shop", &["c=d"]), 80)),
        (false, Reason::DefaultDeny)
    );
    assert_eq!(
        verdict(&deny_all, &tcp(pod("shop", &["a=b"]), world("1.1.1.1"), 80)),
        (true, Reason::DefaultAllow)
    );
}

#[test]
fn clusterwide_specs_lists_and_host_policies() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: multi}
specs:
- endpointSelector: {matchLabels: {"k8s:io.kubernetes.pod.namespace": shop}}
  ingress: [{fromEntities: [cluster]}]
- nodeSelector: {}
  ingress: [{fromEntities: [world]}]
"#,
    );
    assert_eq!(e.rule_count(), 1, "the host policy is not simulated");
    assert_eq!(
        verdict(&e, &tcp(world("1.1.1.1"), pod("shop", &["a=b"]), 1)),
        (false, Reason::DefaultDeny)
    );
    assert_eq!(
        verdict(&e, &tcp(world("1.1.1.1"), pod("other", &["a=b"]), 1)),
        (true, Reason::DefaultAllow)
    );
}

#[test]
fn the_preview_treats_a_staged_default_deny_as_enforced() {
    let staged = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: tighten-default-deny
  namespace: shop
  labels: {app.kubernetes.io/managed-by: tighten, tighten.dev/role: default-deny}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress: [{}]
  egress: [{}]
"#;
    let f = tcp(pod("other", &["a=b"]), pod("shop", &["c=d"]), 80);
    assert_eq!(verdict(&engine(staged), &f), (true, Reason::DefaultAllow));
    let preview = engine(staged).enforcing(["shop".to_string()]);
    let v = preview.evaluate(&f);
    assert_eq!(
        (v.allowed, v.reason, v.direction),
        (false, Reason::DefaultDeny, Some(Direction::Ingress))
    );
    assert_eq!(v.policies[0].name, "tighten-default-deny");
    // Other namespaces are not affected by the preview.
    let elsewhere = engine(staged).enforcing(["lab".to_string()]);
    assert!(elsewhere.evaluate(&f).allowed);
}

// The three rules below were found by the differential test against Cilium's
// own engine (tests/cilium).

#[test]
fn the_local_host_reaches_its_pods_unless_a_deny_rule_says_otherwise() {
    let e = engine(ALLOW_WEB_TO_API);
    let probe = tcp(reserved(&["host"], "172.18.0.2"), pod("shop", &["app=api"]), 9090);
    let v = e.evaluate(&probe);
    assert_eq!(
        (v.allowed, v.reason, v.direction),
        (true, Reason::Localhost, Some(Direction::Ingress))
    );
    // A remote node is not the local host.
    let remote = tcp(
        reserved(&["remote-node"], "172.18.0.4"),
        pod("shop", &["app=api"]),
        9090,
    );
    assert_eq!(verdict(&e, &remote), (false, Reason::DefaultDeny));
    let deny = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-dns, namespace: shop}
spec:
  endpointSelector: {}
  ingressDeny: [{toPorts: [{ports: [{port: "53", protocol: ANY}]}]}]
"#,
    );
    let probe = tcp(reserved(&["host"], "172.18.0.2"), pod("shop", &["app=api"]), 53);
    assert_eq!(verdict(&deny, &probe), (false, Reason::DeniedByRule));
}

#[test]
fn a_peer_selected_by_namespace_labels_is_not_limited_to_the_policys_namespace() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-prod, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name: data}}]
"#,
    );
    let from_data = tcp(pod("data", &["app=etl"]), pod("shop", &["app=api"]), 8080);
    assert_eq!(verdict(&e, &from_data), (true, Reason::AllowedByRule));
    let from_shop = tcp(pod("shop", &["app=web"]), pod("shop", &["app=api"]), 8080);
    assert_eq!(verdict(&e, &from_shop), (false, Reason::DefaultDeny));
}

#[test]
fn the_kube_apiserver_is_also_a_remote_node() {
    let e = engine(
        r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: to-nodes, namespace: shop}
spec:
  endpointSelector: {}
  egress: [{toEntities: [remote-node]}]
"#,
    );
    let f = tcp(
        pod("shop", &["app=api"]),
        reserved(&["kube-apiserver"], "172.18.0.3"),
        6443,
    );
    assert_eq!(verdict(&e, &f), (true, Reason::AllowedByRule));
}
