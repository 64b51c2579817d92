use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::cluster::demo::fixtures;
use crate::cluster::{PolicyKind, ServicePort};
use crate::policy::{TemplateVars, Templates};
use crate::rollout::labels;

// ---------------------------------------------------------------------------
// Fixtures.

/// Every document of a YAML stream, as policy objects.
fn policies(yaml: &str) -> Vec<PolicyObject> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .map(|v| PolicyObject::from_manifest(&v).expect("a policy manifest"))
        .collect()
}

fn namespace(name: &str, intent: Option<&str>) -> NamespaceInfo {
    NamespaceInfo {
        name: name.into(),
        labels: BTreeMap::from([("kubernetes.io/metadata.name".to_string(), name.to_string())]),
        annotations: intent
            .map(|i| BTreeMap::from([(labels::INTENT.to_string(), i.to_string())]))
            .unwrap_or_default(),
        uid: None,
        resource_version: None,
        created: None,
    }
}

fn pod(ns: &str, name: &str, pod_labels: &[(&str, &str)]) -> PodInfo {
    PodInfo {
        namespace: ns.into(),
        name: name.into(),
        labels: pod_labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        workload: None,
        service_account: None,
    }
}

/// A Service selecting the fixture's pods of its name (`app`, or the label
/// those pods carry instead).
fn service(ns: &str, name: &str, ports: &[(u16, &str, &str)]) -> ServiceInfo {
    let key = match name {
        "db" => "app.kubernetes.io/name",
        "kube-dns" => "k8s-app",
        _ => "app",
    };
    ServiceInfo {
        selector: Some(BTreeMap::from([(key.to_string(), name.to_string())])),
        translated_ips: Vec::new(),
        external_name: None,
        namespace: ns.into(),
        name: name.into(),
        ports: ports
            .iter()
            .map(|(port, target, protocol)| ServicePort {
                name: String::new(),
                port: *port,
                target_port: target.to_string(),
                protocol: protocol.to_string(),
            })
            .collect(),
    }
}

/// A small cluster: `shop` (web, api, db), `payments` (gateway), `kube-system`
/// (coredns), `empty` (no pods), `legacy` (observed only).
struct Cluster {
    namespaces: Vec<NamespaceInfo>,
    pods: Vec<PodInfo>,
    services: Vec<ServiceInfo>,
}

fn cluster() -> Cluster {
    Cluster {
        namespaces: vec![
            namespace("shop", Some("baseline")),
            namespace("payments", Some("enforced")),
            namespace("kube-system", Some("carved-out")),
            namespace("empty", None),
            namespace("legacy", Some("observe")),
        ],
        pods: vec![
            pod("shop", "web-7d9f-abcde", &[("app", "web")]),
            pod("shop", "api-5c4b-fghij", &[("app", "api")]),
            pod("shop", "db-0", &[("app.kubernetes.io/name", "db")]),
            pod("payments", "gateway-0", &[("app", "gateway")]),
            pod("kube-system", "coredns-1", &[("k8s-app", "kube-dns")]),
            pod("legacy", "report-1", &[("app", "report")]),
        ],
        services: vec![
            service("shop", "web", &[(80, "8080", "TCP")]),
            service("shop", "api", &[(8080, "8080", "TCP")]),
            service("shop", "db", &[(5432, "postgres", "TCP")]),
            service("payments", "gateway", &[(443, "8443", "TCP")]),
            service("kube-system", "kube-dns", &[(53, "53", "UDP"), (53, "53", "TCP")]),
        ],
    }
}

fn lint_with_cluster(policies: &[PolicyObject]) -> Vec<Finding> {
    let c = cluster();
    lint(&LintInput {
        policies,
        namespaces: &c.namespaces,
        pods: &c.pods,
        services: &c.services,
        address_pools: &[],
        cluster_known: true,
    })
}

fn lint_bare(policies: &[PolicyObject]) -> Vec<Finding> {
    lint(&LintInput::policies_only(policies))
}

fn with_code<'f>(findings: &'f [Finding], code: &str) -> Vec<&'f Finding> {
    findings.iter().filter(|f| f.code == code).collect()
}

/// One table row: YAML, and the findings of one code it must produce (severity
/// and a piece of the message each, in sorted order).
struct Case {
    name: &'static str,
    yaml: &'static str,
    expect: &'static [(Severity, &'static str)],
}

fn run_table(code: &str, cases: &[Case], run: impl Fn(&[PolicyObject]) -> Vec<Finding>) {
    for case in cases {
        let findings = run(&policies(case.yaml));
        let got = with_code(&findings, code);
        assert_eq!(
            got.len(),
            case.expect.len(),
            "case {:?}: expected {} {code} finding(s), got {got:#?}",
            case.name,
            case.expect.len()
        );
        for (finding, (severity, needle)) in got.iter().zip(case.expect) {
            assert_eq!(finding.severity, *severity, "case {:?}: {finding:#?}", case.name);
            assert!(
                finding.message.contains(needle) || finding.fix.contains(needle),
                "case {:?}: {needle:?} not in {finding:#?}",
                case.name
            );
            assert!(!finding.fix.is_empty(), "case {:?}: a fix is given", case.name);
        }
    }
}

const DNS_BASELINE_SHOP: &str = "
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: tighten-baseline-dns
  namespace: shop
  labels: {app.kubernetes.io/managed-by: tighten, tighten.dev/role: baseline, tighten.dev/baseline: dns}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  egress:
    - toEndpoints:
        - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}
      toPorts:
        - ports: [{port: '53', protocol: UDP}, {port: '53', protocol: TCP}]
          rules:
            dns: [{matchPattern: '*'}]
";

// ---------------------------------------------------------------------------
// 1. service-port

#[test]
fn service_port_rules_name_the_target_port() {
    let cases = [
        Case {
            name: "ingress on Service port 80 while the Service targets 8080",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: api}}]
      toPorts: [{ports: [{port: '80', protocol: TCP}]}]
",
            expect: &[(Severity::Warning, "use port 8080 (the Service's targetPort)")],
        },
        Case {
            name: "the targetPort itself",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: api}}]
      toPorts: [{ports: [{port: '8080', protocol: TCP}]}]
",
            expect: &[],
        },
        Case {
            name: "both ports listed",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - toPorts: [{ports: [{port: '80', protocol: TCP}, {port: '8080', protocol: TCP}]}]
",
            expect: &[],
        },
        Case {
            name: "egress to another namespace's Service port",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-api-to-gateway, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: payments, app: gateway}}]
      toPorts: [{ports: [{port: '443'}]}]
",
            expect: &[(
                Severity::Warning,
                "Service payments/gateway (443/TCP → targetPort 8443)",
            )],
        },
        Case {
            name: "egress to FQDNs is not in-cluster",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-stripe, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: gateway}}
  egress:
    - toFQDNs: [{matchName: api.stripe.com}]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
",
            expect: &[],
        },
        Case {
            name: "UDP rule does not match a TCP Service port",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: udp, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - toPorts: [{ports: [{port: '80', protocol: UDP}]}]
",
            expect: &[],
        },
        Case {
            name: "named targetPort",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-db, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app.kubernetes.io/name: db}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: api}}]
      toPorts: [{ports: [{port: '5432', protocol: TCP}]}]
",
            expect: &[(Severity::Warning, "use port postgres")],
        },
        Case {
            name: "NetworkPolicy ingress on the Service port",
            yaml: "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - ports: [{port: 80}]
",
            expect: &[(Severity::Warning, "`spec.ingress[0].ports[0].port` is 80")],
        },
        Case {
            name: "NetworkPolicy egress through a namespaceSelector",
            yaml: "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: payments}}}]
      ports: [{port: 443, protocol: TCP}]
",
            expect: &[(Severity::Warning, "use port 8443")],
        },
    ];
    run_table(code::SERVICE_PORT, &cases, lint_with_cluster);
    // Without Services there is nothing to compare with.
    let first = policies(cases[0].yaml);
    assert!(with_code(&lint_bare(&first), code::SERVICE_PORT).is_empty());
}

// ---------------------------------------------------------------------------
// 2. cidr-for-cluster-entity

#[test]
fn cidr_rules_do_not_reach_cluster_entities() {
    let cases = [
        Case {
            name: "toCIDR 0.0.0.0/0 to reach the apiserver",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-operator-egress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toCIDR: [0.0.0.0/0]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
",
            expect: &[(Severity::Error, "add toEntities: [kube-apiserver]")],
        },
        Case {
            name: "0.0.0.0/0 beside kube-apiserver in the same rule",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: ok, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toCIDR: [0.0.0.0/0]
    - toEntities: [kube-apiserver]
",
            expect: &[],
        },
        Case {
            name: "toCIDRSet ::/0",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: v6, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toCIDRSet: [{cidr: '::/0', except: ['fd00::/8']}]
",
            expect: &[(Severity::Error, "`spec.egress[0].toCIDRSet[0].cidr` is ::/0")],
        },
        Case {
            name: "fromCIDR 0.0.0.0/0 on ingress",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: open, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - fromCIDR: [0.0.0.0/0]
",
            expect: &[(Severity::Error, "add fromEntities: [host]")],
        },
        Case {
            name: "private /32 on 443: looks like the apiserver",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: apiserver-by-ip, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toCIDR: [10.96.0.1/32]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
    - toCIDRSet: [{cidr: 192.168.10.0/24}]
      toPorts: [{ports: [{port: '6443', protocol: TCP}]}]
",
            expect: &[
                (Severity::Warning, "`spec.egress[0].toCIDR[0]` is 10.96.0.1/32"),
                (
                    Severity::Warning,
                    "`spec.egress[1].toCIDRSet[0].cidr` is 192.168.10.0/24",
                ),
            ],
        },
        Case {
            name: "private range on a database port",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toCIDR: [10.0.0.0/8]
      toPorts: [{ports: [{port: '5432', protocol: TCP}]}]
    - toCIDR: [203.0.113.0/24]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
",
            expect: &[],
        },
        Case {
            name: "NetworkPolicy ipBlock 0.0.0.0/0",
            yaml: "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
",
            expect: &[(Severity::Error, "a NetworkPolicy cannot name Cilium entities")],
        },
    ];
    run_table(code::CIDR_FOR_CLUSTER_ENTITY, &cases, lint_bare);
}

// ---------------------------------------------------------------------------
// 3. fqdn-without-dns-rule

const FQDN_API: &str = "
kind: CiliumNetworkPolicy
metadata: {name: allow-stripe, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toFQDNs: [{matchName: api.stripe.com}]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
";

#[test]
fn fqdn_rules_need_the_dns_proxy() {
    let cases = [
        Case {
            name: "toFQDNs alone",
            yaml: FQDN_API,
            expect: &[(Severity::Error, "`spec.egress[0].toFQDNs`")],
        },
        Case {
            name: "DNS rule in the same policy",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-stripe, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}}]
      toPorts: [{ports: [{port: '53', protocol: ANY}], rules: {dns: [{matchPattern: '*'}]}}]
    - toFQDNs: [{matchPattern: '*.stripe.com'}]
",
            expect: &[],
        },
        Case {
            name: "DNS allowed on 53 but without the proxy rules",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-stripe, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}}]
      toPorts: [{ports: [{port: '53', protocol: UDP}]}]
    - toFQDNs: [{matchName: api.stripe.com}]
",
            expect: &[(Severity::Error, "tighten-baseline-dns")],
        },
        Case {
            name: "DNS rule in another namespace",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: tighten-baseline-dns, namespace: payments}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  egress:
    - toPorts: [{ports: [{port: '53'}], rules: {dns: [{matchPattern: '*'}]}}]
---
kind: CiliumNetworkPolicy
metadata: {name: allow-stripe, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toFQDNs: [{matchName: api.stripe.com}]
",
            expect: &[(Severity::Error, "toFQDNs")],
        },
        Case {
            name: "DNS rule for other pods only",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: web-dns, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
    - toPorts: [{ports: [{port: '53'}], rules: {dns: [{matchPattern: '*'}]}}]
---
kind: CiliumNetworkPolicy
metadata: {name: allow-stripe, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toFQDNs: [{matchName: api.stripe.com}]
",
            expect: &[(Severity::Error, "toFQDNs")],
        },
        Case {
            name: "a clusterwide DNS rule for every pod",
            yaml: "
kind: CiliumClusterwideNetworkPolicy
metadata: {name: dns-everywhere}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  egress:
    - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}}]
      toPorts: [{ports: [{port: '53', protocol: UDP}], rules: {dns: [{matchPattern: '*'}]}}]
---
kind: CiliumNetworkPolicy
metadata: {name: allow-stripe, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toFQDNs: [{matchName: api.stripe.com}]
",
            expect: &[],
        },
    ];
    run_table(code::FQDN_WITHOUT_DNS_RULE, &cases, lint_bare);
    run_table(code::FQDN_WITHOUT_DNS_RULE, &cases, lint_with_cluster);

    // The same FQDN rule next to tighten's DNS baseline: no finding, bare or
    // against the cluster, with the shipped template and with a hand copy.
    let mut with_baseline = policies(FQDN_API);
    with_baseline.extend(
        Templates::embedded()
            .render_baseline(&TemplateVars::for_namespace("shop"))
            .expect("renders"),
    );
    assert!(with_code(&lint_bare(&with_baseline), code::FQDN_WITHOUT_DNS_RULE).is_empty());
    assert!(with_code(&lint_with_cluster(&with_baseline), code::FQDN_WITHOUT_DNS_RULE).is_empty());
    let mut hand_copy = policies(FQDN_API);
    hand_copy.extend(policies(DNS_BASELINE_SHOP));
    assert!(with_code(&lint_bare(&hand_copy), code::FQDN_WITHOUT_DNS_RULE).is_empty());
}

// ---------------------------------------------------------------------------
// 4. empty-rule-list

#[test]
fn empty_rule_lists_are_rejected() {
    let cases = [
        Case {
            name: "egress: [] as in the demo's stage namespace",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-shop-api-egress, namespace: stage}
spec:
  endpointSelector: {matchLabels: {app: shop-api}}
  egress: []
",
            expect: &[(Severity::Error, "`spec.egress` is an empty list")],
        },
        Case {
            name: "every list, in specs",
            yaml: "
kind: CiliumClusterwideNetworkPolicy
metadata: {name: lists}
specs:
  - endpointSelector: {}
    ingress: [{}]
  - endpointSelector: {}
    ingress: []
    ingressDeny: []
    egress: []
    egressDeny: []
",
            expect: &[
                (Severity::Error, "`specs[1].egressDeny` is"),
                (Severity::Error, "`specs[1].egress` is"),
                (Severity::Error, "`specs[1].ingressDeny` is"),
                (Severity::Error, "`specs[1].ingress` is"),
            ],
        },
        Case {
            name: "[{}] selects nothing and is valid",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: dd, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress: [{}]
",
            expect: &[],
        },
        Case {
            name: "a NetworkPolicy's ingress: [] is valid (deny all)",
            yaml: "
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {}
  ingress: []
",
            expect: &[],
        },
    ];
    run_table(code::EMPTY_RULE_LIST, &cases, lint_bare);
    let findings = lint_bare(&policies(cases[0].yaml));
    let f = with_code(&findings, code::EMPTY_RULE_LIST)[0];
    assert_eq!(f.fix, "use egress: [{}] to select nothing (or remove the field)");
    assert_eq!(f.policy.as_deref(), Some("stage/allow-shop-api-egress"));
}

// ---------------------------------------------------------------------------
// 5. deny-as-default-deny

#[test]
fn deny_of_everything_is_not_a_default_deny() {
    let cases = [
        Case {
            name: "egressDeny to all",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: lockdown, namespace: shop}
spec:
  endpointSelector: {}
  egressDeny:
    - toEntities: [all]
",
            expect: &[(Severity::Warning, "`spec.egressDeny[0].toEntities` contains all")],
        },
        Case {
            name: "ingressDeny from world and cluster",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: lockdown, namespace: shop}
spec:
  endpointSelector: {}
  ingressDeny:
    - fromEntities: [world, cluster]
",
            expect: &[(Severity::Warning, "world and cluster")],
        },
        Case {
            name: "ingressDeny from every endpoint",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: lockdown, namespace: shop}
spec:
  endpointSelector: {}
  ingressDeny:
    - fromEndpoints: [{}]
",
            expect: &[(Severity::Warning, "empty selector")],
        },
        Case {
            name: "egressDeny 0.0.0.0/0",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: lockdown, namespace: shop}
spec:
  endpointSelector: {}
  egressDeny:
    - toCIDR: [0.0.0.0/0]
",
            expect: &[(Severity::Warning, "enableDefaultDeny")],
        },
        Case {
            name: "a deny for one port is deliberate",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: no-smtp, namespace: shop}
spec:
  endpointSelector: {}
  egressDeny:
    - toEntities: [all]
      toPorts: [{ports: [{port: '25', protocol: TCP}]}]
",
            expect: &[],
        },
        Case {
            name: "a deny of the metadata API is targeted",
            yaml: "
kind: CiliumClusterwideNetworkPolicy
metadata: {name: deny-metadata-api}
spec:
  endpointSelector: {}
  egressDeny:
    - toCIDR: [169.254.169.254/32]
",
            expect: &[],
        },
    ];
    run_table(code::DENY_AS_DEFAULT_DENY, &cases, lint_bare);
}

// ---------------------------------------------------------------------------
// 6. broad-entity

#[test]
fn broad_entities_are_flagged() {
    let cases = [
        Case {
            name: "ingress from world",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: public, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - fromEntities: [world]
      toPorts: [{ports: [{port: '8080', protocol: TCP}]}]
",
            expect: &[(Severity::Warning, "`spec.ingress[0].fromEntities` contains world")],
        },
        Case {
            name: "ingress from cluster and all",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: open, namespace: shop}
specs:
  - endpointSelector: {}
    ingress: [{fromEntities: [cluster]}]
  - endpointSelector: {}
    ingress: [{fromEntities: [host, all]}]
",
            expect: &[
                (Severity::Warning, "`specs[0].ingress[0].fromEntities` contains cluster"),
                (Severity::Warning, "`specs[1].ingress[0].fromEntities` contains all"),
            ],
        },
        Case {
            name: "host probes are fine",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: probes, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [host, remote-node]}]
",
            expect: &[],
        },
        Case {
            name: "egress to world on every port",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: internet, namespace: shop}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]
",
            expect: &[(Severity::Info, "world without toPorts")],
        },
        Case {
            name: "egress to world on 443",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: internet, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toEntities: [world]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
",
            expect: &[],
        },
    ];
    run_table(code::BROAD_ENTITY, &cases, lint_bare);
}

// ---------------------------------------------------------------------------
// 7. selects-no-pods

#[test]
fn selectors_that_select_nothing() {
    let cases = [
        Case {
            name: "a typo in the app label",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-shop-api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: shop-api}}
  ingress: [{fromEndpoints: [{}]}]
",
            expect: &[(Severity::Warning, "app=api")],
        },
        Case {
            name: "selects a pod",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {k8s:app: api}}
  ingress: [{fromEndpoints: [{}]}]
",
            expect: &[],
        },
        Case {
            name: "a namespace without pods",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: anything, namespace: empty}
spec:
  endpointSelector: {}
  ingress: [{}]
",
            expect: &[(Severity::Info, "has no pods")],
        },
        Case {
            name: "a clusterwide policy selecting nothing anywhere",
            yaml: "
kind: CiliumClusterwideNetworkPolicy
metadata: {name: prod-only}
spec:
  endpointSelector: {matchLabels: {k8s:io.cilium.k8s.namespace.labels.policy-tier: prod}}
  egress: [{toEntities: [kube-apiserver]}]
",
            expect: &[(Severity::Warning, "the cluster")],
        },
        Case {
            name: "a NetworkPolicy with a podSelector nothing carries",
            yaml: "
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  podSelector: {matchExpressions: [{key: tier, operator: In, values: [frontend]}]}
",
            expect: &[(Severity::Warning, "tier in (frontend)")],
        },
        Case {
            name: "host policies select nodes",
            yaml: "
kind: CiliumClusterwideNetworkPolicy
metadata: {name: host-fw}
spec:
  nodeSelector: {matchLabels: {node-role: worker}}
  ingress: [{fromEntities: [cluster]}]
",
            expect: &[],
        },
    ];
    run_table(code::SELECTS_NO_PODS, &cases, lint_with_cluster);
    // Without a cluster nothing is known about pods.
    assert!(with_code(&lint_bare(&policies(cases[0].yaml)), code::SELECTS_NO_PODS).is_empty());
}

// ---------------------------------------------------------------------------
// 8. missing-app-label

#[test]
fn pods_without_app_labels_are_listed_per_namespace() {
    let mut pods: Vec<PodInfo> = (0..7)
        .map(|i| pod("batch", &format!("job-{i}"), &[("job-name", "nightly")]))
        .collect();
    pods.push(pod("batch", "labelled", &[("app.kubernetes.io/name", "runner")]));
    pods.push(pod("kube-system", "coredns-1", &[("k8s-app", "kube-dns")]));
    pods.push(pod("shop", "web-1", &[("app", "web")]));
    let findings = lint(&LintInput {
        policies: &[],
        namespaces: &[],
        pods: &pods,
        services: &[],
        address_pools: &[],
        cluster_known: true,
    });
    let got = with_code(&findings, code::MISSING_APP_LABEL);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].namespace.as_deref(), Some("batch"));
    assert_eq!(got[0].severity, Severity::Info);
    assert!(got[0].message.starts_with("7 pods in batch"), "{}", got[0].message);
    assert!(
        got[0].message.contains("job-0, job-1, job-2, job-3, job-4 and 2 more"),
        "{}",
        got[0].message
    );
    assert!(got[1].message.starts_with("1 pod in kube-system"), "{}", got[1].message);
    assert!(got[1].message.contains("coredns-1"));
    // Not from policy files alone.
    let none = lint(&LintInput {
        pods: &pods,
        ..LintInput::policies_only(&[])
    });
    assert!(with_code(&none, code::MISSING_APP_LABEL).is_empty());
}

// ---------------------------------------------------------------------------
// 9. mixed-policy-kinds

#[test]
fn network_policies_next_to_cnps() {
    let cases = [
        Case {
            name: "a Helm chart's NetworkPolicy beside the baseline",
            yaml: "
kind: NetworkPolicy
metadata:
  name: jellyfin
  namespace: media
  labels: {app.kubernetes.io/managed-by: Helm}
  annotations: {meta.helm.sh/release-name: jellyfin}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: jellyfin}}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: 8096, protocol: TCP}]}]
---
kind: CiliumNetworkPolicy
metadata: {name: tighten-baseline-intra-namespace, namespace: media}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress: [{fromEndpoints: [{}]}]
",
            expect: &[(Severity::Warning, "Helm release jellyfin")],
        },
        Case {
            name: "kinds in different namespaces",
            yaml: "
kind: NetworkPolicy
metadata: {name: np, namespace: a}
spec: {podSelector: {}}
---
kind: CiliumNetworkPolicy
metadata: {name: cnp, namespace: b}
spec: {endpointSelector: {}, ingress: [{}]}
",
            expect: &[],
        },
    ];
    run_table(code::MIXED_POLICY_KINDS, &cases, lint_bare);
    let findings = lint_bare(&policies(cases[0].yaml));
    let f = with_code(&findings, code::MIXED_POLICY_KINDS)[0];
    assert!(f.message.contains("the NetworkPolicy narrows what the CNPs allow"));
    assert!(f.message.contains("default-deny for Ingress"));
    assert_eq!(f.policy.as_deref(), Some("media/jellyfin"));
}

// ---------------------------------------------------------------------------
// 10. baseline-without-enable-default-deny-false, allow-without-enable-default-deny

#[test]
fn baselines_must_not_switch_on_default_deny() {
    let cases = [
        Case {
            name: "enableDefaultDeny missing",
            yaml: "
kind: CiliumNetworkPolicy
metadata:
  name: tighten-baseline-kube-apiserver
  namespace: shop
  labels: {app.kubernetes.io/managed-by: tighten, tighten.dev/role: baseline}
spec:
  endpointSelector: {}
  egress: [{toEntities: [kube-apiserver]}]
",
            expect: &[(Severity::Error, "`spec.enableDefaultDeny.egress` is not set")],
        },
        Case {
            name: "only egress turned off while it has ingress rules too",
            yaml: "
kind: CiliumNetworkPolicy
metadata:
  name: tighten-baseline-intra-namespace
  namespace: shop
  labels: {app.kubernetes.io/managed-by: tighten, tighten.dev/role: baseline}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: true, egress: false}
  ingress: [{fromEndpoints: [{}]}]
  egress: [{toEndpoints: [{}]}]
",
            expect: &[(Severity::Error, "`spec.enableDefaultDeny.ingress` is true")],
        },
        Case {
            name: "as shipped",
            yaml: DNS_BASELINE_SHOP,
            expect: &[],
        },
        Case {
            name: "the default-deny is not a baseline",
            yaml: "
kind: CiliumNetworkPolicy
metadata:
  name: tighten-default-deny
  namespace: shop
  labels: {app.kubernetes.io/managed-by: tighten, tighten.dev/role: default-deny}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: true, egress: true}
  ingress: [{}]
  egress: [{}]
",
            expect: &[],
        },
    ];
    run_table(code::BASELINE_WITHOUT_ENABLE_DEFAULT_DENY_FALSE, &cases, lint_bare);

    let allow = [
        Case {
            name: "a team's CNP alone in an observed namespace",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: report-egress, namespace: legacy}
spec:
  endpointSelector: {matchLabels: {app: report}}
  egress: [{toEntities: [world], toPorts: [{ports: [{port: '443'}]}]}]
",
            expect: &[(
                Severity::Warning,
                "egress default-deny, while legacy is in phase Observe",
            )],
        },
        Case {
            name: "an allow that opts out",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: report-egress, namespace: legacy}
spec:
  endpointSelector: {matchLabels: {app: report}}
  enableDefaultDeny: {ingress: false, egress: false}
  egress: [{toEntities: [world], toPorts: [{ports: [{port: '443'}]}]}]
",
            expect: &[],
        },
        Case {
            name: "a namespace past the baseline",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: gateway-egress, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: gateway}}
  egress: [{toEntities: [world], toPorts: [{ports: [{port: '443'}]}]}]
",
            expect: &[],
        },
    ];
    run_table(code::ALLOW_WITHOUT_ENABLE_DEFAULT_DENY, &allow, lint_with_cluster);
}

// ---------------------------------------------------------------------------
// 11. invalid-selector, invalid-cidr, unknown-entity

#[test]
fn invalid_fields_are_named_by_path() {
    let yaml = "
kind: CiliumNetworkPolicy
metadata: {name: broken, namespace: shop}
specs:
  - endpointSelector: {matchLabels: {app: web}}
    ingress: [{fromEndpoints: [{matchLabels: {app: api}}]}]
  - endpointSelector: {matchExpressions: [{key: app, operator: Near, values: [x]}]}
    egress:
      - toEntities: [world, kube-apiserver, moon]
        toCIDR: [10.0.0.0/8, 10.0.0.0/33]
      - toCIDRSet: [{cidr: 0.0.0.0/0, except: [not-a-cidr]}]
        toEndpoints: [{matchLabels: {app: 7}}]
";
    let findings = lint_bare(&policies(yaml));
    let messages =
        |code: &str| -> Vec<String> { with_code(&findings, code).iter().map(|f| f.message.clone()).collect() };
    let selectors = messages(code::INVALID_SELECTOR);
    assert_eq!(selectors.len(), 2, "{selectors:#?}");
    assert!(
        selectors[0].contains("`specs[1].egress[1].toEndpoints[0]`"),
        "{selectors:#?}"
    );
    assert!(selectors[1].contains("`specs[1].endpointSelector`"), "{selectors:#?}");
    let cidrs = messages(code::INVALID_CIDR);
    assert_eq!(cidrs.len(), 2, "{cidrs:#?}");
    assert!(cidrs[0].contains("`specs[1].egress[0].toCIDR[1]` is \"10.0.0.0/33\""));
    assert!(cidrs[1].contains("`specs[1].egress[1].toCIDRSet[0].except[0]`"));
    let entities = messages(code::UNKNOWN_ENTITY);
    assert_eq!(
        entities,
        vec![
            "`specs[1].egress[0].toEntities[2]` is \"moon\", which is not an entity Cilium knows (rejected by the API \
             server; none of the policy applies)"
                .to_string()
        ]
    );
    assert!(
        with_code(&findings, code::UNKNOWN_ENTITY)[0]
            .fix
            .contains("kube-apiserver")
    );

    let np = "
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  podSelector: {matchLabels: {app: [web]}}
  ingress:
    - from:
        - ipBlock: {cidr: 300.1.1.1/8}
        - namespaceSelector: {matchExpressions: [{key: team, operator: In}]}
";
    let findings = lint_bare(&policies(np));
    let paths: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.code, f.message.as_str()))
        .collect();
    assert!(
        paths
            .iter()
            .any(|(c, m)| *c == code::INVALID_CIDR && m.contains("`spec.ingress[0].from[0].ipBlock.cidr`")),
        "{paths:#?}"
    );
    assert!(
        paths
            .iter()
            .any(|(c, m)| *c == code::INVALID_SELECTOR && m.contains("`spec.podSelector`")),
        "{paths:#?}"
    );
    assert!(
        paths
            .iter()
            .any(|(c, m)| *c == code::INVALID_SELECTOR && m.contains("`spec.ingress[0].from[1].namespaceSelector`")),
        "{paths:#?}"
    );
}

// ---------------------------------------------------------------------------
// 12. rejected-by-cilium

#[test]
fn the_agents_verdict_is_shown() {
    let cases = [
        Case {
            name: "Valid=False",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: allow-shop-api-egress, namespace: stage}
spec:
  endpointSelector: {matchLabels: {app: shop-api}}
  egress: [{toEndpoints: [{}]}]
status:
  conditions:
    - type: Valid
      status: 'False'
      message: 'Invalid CiliumNetworkPolicy spec: rule egress: empty list is not allowed'
",
            expect: &[(Severity::Error, "rule egress: empty list is not allowed")],
        },
        Case {
            name: "Valid=True",
            yaml: "
kind: CiliumNetworkPolicy
metadata: {name: ok, namespace: stage}
spec:
  endpointSelector: {}
  egress: [{toEndpoints: [{}]}]
status:
  conditions: [{type: Valid, status: 'True', message: Policy validation succeeded}]
",
            expect: &[],
        },
    ];
    run_table(code::REJECTED_BY_CILIUM, &cases, lint_bare);
}

// ---------------------------------------------------------------------------
// Whole-input properties.

#[test]
fn tightens_shipped_templates_lint_clean() {
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace("shop");
    let mut shipped = templates.render_baseline(&vars).expect("baseline renders");
    assert_eq!(shipped.len(), 5);
    shipped.push(templates.render_default_deny(&vars).expect("default-deny renders"));
    for findings in [lint_bare(&shipped), lint_with_cluster(&shipped)] {
        let serious: Vec<&Finding> = findings.iter().filter(|f| f.severity > Severity::Info).collect();
        assert!(serious.is_empty(), "{serious:#?}");
    }
}

#[test]
fn the_demo_clusters_traps_are_found() {
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().expect("time");
    let snapshot = fixtures::initial(now, &Templates::embedded(), "/b");
    let findings = lint(&LintInput::from_snapshot(&snapshot));
    let has = |code: &str, policy: &str| {
        findings
            .iter()
            .any(|f| f.code == code && f.policy.as_deref() == Some(policy))
    };
    assert!(
        has(code::EMPTY_RULE_LIST, "stage/allow-shop-api-egress"),
        "{findings:#?}"
    );
    assert!(
        has(code::REJECTED_BY_CILIUM, "stage/allow-shop-api-egress"),
        "{findings:#?}"
    );
    assert!(has(code::MIXED_POLICY_KINDS, "media/jellyfin"), "{findings:#?}");
    // Nothing else in the demo is an error: the baselines, default-denies and the
    // other app allows are sound.
    let errors: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter(|f| f.policy.as_deref() != Some("stage/allow-shop-api-egress"))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // Errors come first.
    assert_eq!(findings.first().map(|f| f.severity), Some(Severity::Error));
}

#[test]
fn findings_are_sorted_by_severity_then_place() {
    let yaml = "
kind: CiliumNetworkPolicy
metadata: {name: b, namespace: zeta}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]
---
kind: CiliumNetworkPolicy
metadata: {name: a, namespace: zeta}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [world]}]
---
kind: CiliumNetworkPolicy
metadata: {name: c, namespace: alpha}
spec:
  endpointSelector: {}
  egress: []
---
kind: CiliumNetworkPolicy
metadata: {name: d, namespace: beta}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [cluster]}]
";
    let order: Vec<(Severity, String)> = lint_bare(&policies(yaml))
        .into_iter()
        .map(|f| (f.severity, f.policy.unwrap_or_default()))
        .collect();
    assert_eq!(
        order,
        vec![
            (Severity::Error, "alpha/c".to_string()),
            (Severity::Warning, "beta/d".to_string()),
            (Severity::Warning, "zeta/a".to_string()),
            (Severity::Info, "zeta/b".to_string()),
        ]
    );
    let text = lint_bare(&policies(yaml))[0].to_string();
    assert!(text.starts_with("error[empty-rule-list] alpha/c: "), "{text}");
}

#[test]
fn malformed_policies_never_panic() {
    let bodies = [
        json!({"spec": 5}),
        json!({"spec": []}),
        json!({"specs": "x"}),
        json!({"specs": [null, 1, {"endpointSelector": []}]}),
        json!({}),
        json!({"spec": {"endpointSelector": {}, "egress": "x", "ingress": [5, null, {"fromEndpoints": {}}]}}),
        json!({"spec": {"endpointSelector": {}, "egress": [{"toPorts": 5}, {"toPorts": [{"ports": [{"port": -1}, {"port": 70000}, {"port": "99999"}, {"port": "http", "endPort": "x"}, 3]}]}]}}),
        json!({"spec": {"endpointSelector": {}, "egress": [{"toCIDR": "0.0.0.0/0", "toCIDRSet": [{"except": 5}, 7], "toEntities": [1, null], "toFQDNs": 3, "toServices": [5, {"k8sService": 1}]}]}}),
        json!({"spec": {"endpointSelector": {}, "enableDefaultDeny": "yes", "ingressDeny": [{"fromEntities": "all"}]}}),
        json!({"spec": {"nodeSelector": 3}}),
        json!({"status": {"conditions": [5, {"type": "Valid", "status": false}, {"type": "Valid"}]}}),
        json!({"status": {"conditions": "x"}}),
    ];
    let np_bodies = [
        json!({"spec": 5}),
        json!({}),
        json!({"spec": {"podSelector": 5, "policyTypes": "x", "ingress": "x", "egress": [5, {"to": 5, "ports": 5}]}}),
        json!({"spec": {"ingress": [{"from": [5, {"ipBlock": 5}, {"ipBlock": {"cidr": 5, "except": [1]}}], "ports": [{"port": {}}]}]}}),
    ];
    let mut all: Vec<PolicyObject> = Vec::new();
    let make = |kind: PolicyKind, i: usize, body: &Value| PolicyObject {
        kind,
        name: format!("p{i}"),
        namespace: kind.is_namespaced().then(|| "shop".to_string()),
        labels: BTreeMap::from([
            (labels::MANAGED_BY.to_string(), "tighten".to_string()),
            (labels::ROLE.to_string(), "baseline".to_string()),
        ]),
        annotations: BTreeMap::new(),
        uid: None,
        resource_version: None,
        created: None,
        body: body.as_object().cloned().unwrap_or_default(),
    };
    for (i, body) in bodies.iter().enumerate() {
        all.push(make(PolicyKind::CiliumNetworkPolicy, i, body));
        all.push(make(PolicyKind::CiliumClusterwideNetworkPolicy, i, body));
    }
    for (i, body) in np_bodies.iter().enumerate() {
        all.push(make(PolicyKind::NetworkPolicy, 100 + i, body));
    }
    let bare = lint_bare(&all);
    let known = lint_with_cluster(&all);
    assert!(bare.iter().any(|f| f.code == code::MALFORMED_RULE));
    assert!(known.len() >= bare.len());
    for f in bare.iter().chain(&known) {
        assert!(code::ALL.contains(&f.code), "{f:#?}");
        assert!(!f.message.is_empty() && !f.fix.is_empty(), "{f:#?}");
    }

    // Random JSON over the keys lint reads.
    let keys = [
        "spec",
        "specs",
        "endpointSelector",
        "nodeSelector",
        "ingress",
        "egress",
        "ingressDeny",
        "egressDeny",
        "fromEndpoints",
        "toEndpoints",
        "fromEntities",
        "toEntities",
        "toCIDR",
        "fromCIDRSet",
        "toCIDRSet",
        "cidr",
        "except",
        "toFQDNs",
        "toPorts",
        "ports",
        "port",
        "endPort",
        "protocol",
        "rules",
        "dns",
        "matchLabels",
        "matchExpressions",
        "key",
        "operator",
        "values",
        "enableDefaultDeny",
        "podSelector",
        "namespaceSelector",
        "ipBlock",
        "from",
        "to",
        "policyTypes",
        "status",
        "conditions",
        "type",
        "message",
        "toServices",
        "icmps",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    fn random(rng: &mut fastrand::Rng, keys: &[&str], depth: u32) -> Value {
        let pick = if depth == 0 { rng.u8(0..5) } else { rng.u8(0..8) };
        match pick {
            0 => Value::Null,
            1 => json!(rng.i64(-5..70_000)),
            2 => json!(
                [
                    "0.0.0.0/0",
                    "53",
                    "world",
                    "all",
                    "In",
                    "Valid",
                    "False",
                    "x",
                    "::/0",
                    "10.0.0.1/32",
                    ""
                ][rng.usize(0..11)]
            ),
            3 => json!(rng.bool()),
            4 => json!(["443", "80", "TCP", "kube-apiserver", "k8s:app"][rng.usize(0..5)]),
            5 | 6 => Value::Object(
                (0..rng.usize(0..5))
                    .map(|_| (keys[rng.usize(0..keys.len())].to_string(), random(rng, keys, depth - 1)))
                    .collect(),
            ),
            _ => Value::Array((0..rng.usize(0..4)).map(|_| random(rng, keys, depth - 1)).collect()),
        }
    }
    for round in 0..300 {
        let policies: Vec<PolicyObject> = (0..4)
            .map(|i| {
                let kind = [
                    PolicyKind::CiliumNetworkPolicy,
                    PolicyKind::CiliumClusterwideNetworkPolicy,
                    PolicyKind::NetworkPolicy,
                ][rng.usize(0..3)];
                let mut body = serde_json::Map::new();
                body.insert("spec".into(), random(&mut rng, &keys, 5));
                if rng.bool() {
                    body.insert("specs".into(), random(&mut rng, &keys, 5));
                }
                body.insert("status".into(), random(&mut rng, &keys, 3));
                PolicyObject {
                    body,
                    ..make(kind, round * 10 + i, &json!({}))
                }
            })
            .collect();
        let _ = lint_with_cluster(&policies);
        let _ = lint_bare(&policies);
    }
}

// ---------------------------------------------------------------------------
// One-sided allows: the pair is in two namespaces and two files.

/// `shop`'s api may reach `payments`' gateway on 8443: its egress side.
const API_EGRESS_TO_GATEWAY: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-to-gateway, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  enableDefaultDeny: {ingress: false, egress: false}
  egress:
  - toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": payments, app: gateway}}]
    toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
"#;

/// `payments` denies by default (`enabled`: enforced, else staged).
fn payments_default_deny(enabled: bool) -> String {
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: deny-all, namespace: payments}}\n\
         spec: {{endpointSelector: {{}}, ingress: [{{}}], egress: [{{}}], enableDefaultDeny: {{ingress: {enabled}, egress: {enabled}}}}}\n"
    )
}

/// The gateway's ingress side of the same flow.
const GATEWAY_INGRESS_FROM_API: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: gateway-from-shop, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: gateway}}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": shop, app: api}}]
    toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
"#;

fn one_sided(findings: &[Finding]) -> Vec<&Finding> {
    with_code(findings, code::ONE_SIDED_ALLOW)
}

#[test]
fn an_egress_allow_without_its_ingress_side_is_an_error_naming_the_rule_to_add() {
    let all = policies(&format!("{API_EGRESS_TO_GATEWAY}---\n{}", payments_default_deny(true)));
    for findings in [lint_with_cluster(&all), lint_bare(&all)] {
        let found = one_sided(&findings);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = found[0];
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.policy.as_deref(), Some("shop/api-to-gateway"));
        assert!(f.message.starts_with("spec.egress[0] allows shop/"), "{}", f.message);
        assert!(f.message.contains(":8443/TCP"), "{}", f.message);
        assert!(
            f.message.contains("no ingress policy selecting payments/"),
            "{}",
            f.message
        );
        assert!(f.message.contains("payments/deny-all"), "{}", f.message);
        // The fix is the allow to add on the gateway's side, as suggest writes it.
        assert!(f.fix.contains("in payments, a CiliumNetworkPolicy"), "{}", f.fix);
        assert!(
            f.fix.contains(
                r#""fromEndpoints":[{"matchLabels":{"app":"api","k8s:io.kubernetes.pod.namespace":"shop"}}]"#
            ),
            "{}",
            f.fix
        );
        assert!(f.fix.contains(r#""port":"8443""#), "{}", f.fix);
    }
    // Fixed: both sides allow it.
    let fixed = policies(&format!(
        "{API_EGRESS_TO_GATEWAY}---\n{}---\n{GATEWAY_INGRESS_FROM_API}",
        payments_default_deny(true)
    ));
    assert!(one_sided(&lint_with_cluster(&fixed)).is_empty());
    assert!(one_sided(&lint_bare(&fixed)).is_empty());
}

#[test]
fn an_ingress_allow_without_its_egress_side_is_an_error_too() {
    let shop_denies = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\n\
                       spec: {endpointSelector: {}, egressDeny: [{}]}\n";
    let all = policies(&format!("{GATEWAY_INGRESS_FROM_API}---\n{shop_denies}"));
    let findings = lint_with_cluster(&all);
    let found = one_sided(&findings);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].policy.as_deref(), Some("payments/gateway-from-shop"));
    assert!(
        found[0].message.starts_with("spec.ingress[0] allows shop/api-"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.contains("no egress policy selecting shop/api-"),
        "{}",
        found[0].message
    );
    assert!(found[0].fix.contains(r#""toEndpoints""#), "{}", found[0].fix);
}

#[test]
fn a_staged_other_side_is_a_warning_and_an_open_one_nothing() {
    let staged = policies(&format!("{API_EGRESS_TO_GATEWAY}---\n{}", payments_default_deny(false)));
    let findings = lint_with_cluster(&staged);
    let found = one_sided(&findings);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(
        found[0].message.contains("once that default-deny is enforced"),
        "{}",
        found[0].message
    );
    // payments selects nothing in ingress: the flow is allowed there by default.
    let open = policies(API_EGRESS_TO_GATEWAY);
    assert!(one_sided(&lint_with_cluster(&open)).is_empty());
}

#[test]
fn a_port_is_compared_only_with_the_services_of_its_peer() {
    // shop's web Service is 80 → 8080; an unrelated admin Service of api's is
    // 8080 → 9000. A rule to web on 8080 is right, whatever admin says.
    let mut c = cluster();
    c.services.push(ServiceInfo {
        selector: Some(BTreeMap::from([("app".to_string(), "api".to_string())])),
        ..service("shop", "admin", &[(8080, "9000", "TCP")])
    });
    let lint_here = |yaml: &str| {
        lint(&LintInput {
            policies: &policies(yaml),
            namespaces: &c.namespaces,
            pods: &c.pods,
            services: &c.services,
            address_pools: &[],
            cluster_known: true,
        })
    };
    let to_web = |port: u16| {
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: to-web, namespace: shop}}\n\
             spec:\n  endpointSelector: {{matchLabels: {{app: api}}}}\n  enableDefaultDeny: {{ingress: false, egress: false}}\n\
             \x20 egress:\n  - toEndpoints: [{{matchLabels: {{app: web}}}}]\n    toPorts: [{{ports: [{{port: \"{port}\", protocol: TCP}}]}}]\n"
        )
    };
    let right = lint_here(&to_web(8080));
    assert!(with_code(&right, code::SERVICE_PORT).is_empty(), "{right:#?}");
    let wrong = lint_here(&to_web(80));
    let found = with_code(&wrong, code::SERVICE_PORT);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("Service shop/web"), "{}", found[0].message);
    assert_eq!(found[0].fix, "use port 8080 (the Service's targetPort)");
    // A Service without a selector sends to no pod tighten can name.
    let mut headless = cluster();
    for s in &mut headless.services {
        s.selector = None;
    }
    let none = lint(&LintInput {
        policies: &policies(&to_web(80)),
        namespaces: &headless.namespaces,
        pods: &headless.pods,
        services: &headless.services,
        address_pools: &[],
        cluster_known: true,
    });
    assert!(with_code(&none, code::SERVICE_PORT).is_empty(), "{none:#?}");
}

#[test]
fn unlabelled_pods_under_default_deny_are_a_warning_that_says_what_it_means() {
    let mut c = cluster();
    c.pods.push(pod("shop", "cron-28391", &[("job-name", "cron-28391")]));
    let lint_here = |yaml: &str| {
        lint(&LintInput {
            policies: &policies(yaml),
            namespaces: &c.namespaces,
            pods: &c.pods,
            services: &c.services,
            address_pools: &[],
            cluster_known: true,
        })
    };
    let open = lint_here("");
    let notes = with_code(&open, code::MISSING_APP_LABEL);
    let shop: Vec<_> = notes
        .iter()
        .filter(|f| f.namespace.as_deref() == Some("shop"))
        .collect();
    assert_eq!(shop.len(), 1, "{notes:#?}");
    assert_eq!(shop[0].severity, Severity::Info);

    let denied = lint_here(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\n\
         spec: {endpointSelector: {}, ingress: [{}], egress: [{}]}\n",
    );
    let found = with_code(&denied, code::MISSING_APP_LABEL);
    let shop: Vec<_> = found
        .iter()
        .filter(|f| f.namespace.as_deref() == Some("shop"))
        .collect();
    assert_eq!(shop.len(), 1, "{found:#?}");
    assert_eq!(shop[0].severity, Severity::Warning);
    assert!(
        shop[0].message.contains("under default-deny: cron-28391"),
        "{}",
        shop[0].message
    );
    assert!(
        shop[0].message.contains("no allow can select them by workload"),
        "{}",
        shop[0].message
    );
    // Elsewhere nothing changes: kube-system's coredns is only a note.
    assert!(
        found
            .iter()
            .filter(|f| f.namespace.as_deref() == Some("kube-system"))
            .all(|f| f.severity == Severity::Info)
    );
}

#[test]
fn a_cidr_on_a_load_balancer_address_is_said_to_never_match() {
    let mut c = cluster();
    c.services.push(ServiceInfo {
        translated_ips: vec!["10.20.0.5".into()],
        external_name: None,
        ..service("payments", "gateway-lb", &[(443, "8443", "TCP")])
    });
    let lint_here = |cidr: &str| {
        let yaml = format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: to-gateway, namespace: shop}}\n\
             spec:\n  endpointSelector: {{matchLabels: {{app: api}}}}\n  enableDefaultDeny: {{ingress: false, egress: false}}\n\
             \x20 egress:\n  - toCIDR: [\"{cidr}\"]\n    toPorts: [{{ports: [{{port: \"443\", protocol: TCP}}]}}]\n"
        );
        lint(&LintInput {
            policies: &policies(&yaml),
            namespaces: &c.namespaces,
            pods: &c.pods,
            services: &c.services,
            address_pools: &[],
            cluster_known: true,
        })
    };
    let found = lint_here("10.20.0.5/32");
    let translated = with_code(&found, code::CIDR_FOR_TRANSLATED_ADDRESS);
    assert_eq!(translated.len(), 1, "{found:#?}");
    assert!(
        translated[0]
            .message
            .contains("holds 10.20.0.5, an address of Service payments/gateway-lb"),
        "{}",
        translated[0].message
    );
    assert!(translated[0].fix.contains("toEndpoints"), "{}", translated[0].fix);
    // Said instead of "looks like the API server", which a private range on 443 would get.
    assert!(
        with_code(&found, code::CIDR_FOR_CLUSTER_ENTITY).is_empty(),
        "{found:#?}"
    );
    let elsewhere = lint_here("10.30.0.0/16");
    assert!(with_code(&elsewhere, code::CIDR_FOR_TRANSLATED_ADDRESS).is_empty());
    assert_eq!(
        with_code(&elsewhere, code::CIDR_FOR_CLUSTER_ENTITY).len(),
        1,
        "{elsewhere:#?}"
    );
}

mod validity;

#[test]
fn a_cidr_on_a_load_balancer_pool_is_said_to_never_match() {
    let c = cluster();
    let pools = [crate::cluster::live::resources::address_pool(
        "public".into(),
        Some(&json!({"blocks": [{"cidr": "203.0.113.0/24"}, {"start": "198.51.100.10", "stop": "198.51.100.20"}]})),
    )];
    let run = |yaml: &str| {
        lint(&LintInput {
            policies: &policies(yaml),
            namespaces: &c.namespaces,
            pods: &c.pods,
            services: &c.services,
            address_pools: &pools,
            cluster_known: true,
        })
    };
    let rule = |cidr: &str| {
        format!(
            "kind: CiliumNetworkPolicy
metadata: {{name: to-lb, namespace: shop}}
spec:
  endpointSelector: {{matchLabels: {{app: web}}}}
  egress:
    - toCIDR: [{cidr}]
      toPorts: [{{ports: [{{port: '443', protocol: TCP}}]}}]
"
        )
    };
    for cidr in ["203.0.113.7/32", "198.51.100.0/24"] {
        let findings = run(&rule(cidr));
        let got = with_code(&findings, code::CIDR_FOR_TRANSLATED_ADDRESS);
        assert_eq!(got.len(), 1, "{cidr}: {findings:#?}");
        assert!(
            got[0].message.contains("CiliumLoadBalancerIPPool public"),
            "{}",
            got[0].message
        );
        assert_eq!(got[0].path.as_deref(), Some("spec.egress[0].toCIDR[0]"));
    }
    // An address outside every pool: an external host, nothing to say.
    assert!(with_code(&run(&rule("192.0.2.0/24")), code::CIDR_FOR_TRANSLATED_ADDRESS).is_empty());
}

#[test]
fn an_allow_of_every_port_is_one_sided_only_when_the_other_side_allows_no_port() {
    let every_port = "
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-to-gateway-any-port, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  enableDefaultDeny: {ingress: false, egress: false}
  egress:
  - toEndpoints: [{matchLabels: {\"k8s:io.kubernetes.pod.namespace\": payments, app: gateway}}]
";
    let broken = policies(&format!("{every_port}---\n{}", payments_default_deny(true)));
    for findings in [lint_with_cluster(&broken), lint_bare(&broken)] {
        let found = one_sided(&findings);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            found[0].message.contains("it allows every port"),
            "{}",
            found[0].message
        );
    }
    // The gateway allows the api on 8443: the broader egress is not a defect.
    let fixed = policies(&format!(
        "{every_port}---\n{}---\n{GATEWAY_INGRESS_FROM_API}",
        payments_default_deny(true)
    ));
    assert!(one_sided(&lint_with_cluster(&fixed)).is_empty());
    assert!(one_sided(&lint_bare(&fixed)).is_empty());
}
