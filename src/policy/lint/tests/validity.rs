//! Class 2 (policies the API server or the agent refuses), class 3 (peer
//! selectors that match nothing) and NetworkPolicy `policyTypes` as Cilium
//! reads it: each broken policy beside its fixed version, which must lint
//! clean of that code.

use super::*;

/// A broken policy, the finding it must give (code, severity, a piece of
/// the message), and its fixed version, which must give none of that code.
struct Pair {
    name: &'static str,
    broken: &'static str,
    code: &'static str,
    severity: Severity,
    needle: &'static str,
    fixed: &'static str,
}

fn check_pairs(pairs: &[Pair], run: impl Fn(&[PolicyObject]) -> Vec<Finding>) {
    for pair in pairs {
        let findings = run(&policies(pair.broken));
        let got = with_code(&findings, pair.code);
        assert!(
            got.iter().any(
                |f| f.severity == pair.severity && (f.message.contains(pair.needle) || f.fix.contains(pair.needle))
            ),
            "{}: no {:?} {} finding containing {:?} in {findings:#?}",
            pair.name,
            pair.severity,
            pair.code,
            pair.needle
        );
        let fixed = run(&policies(pair.fixed));
        assert!(
            with_code(&fixed, pair.code).is_empty(),
            "{}: the fixed version still gives {fixed:#?}",
            pair.name
        );
    }
}

#[test]
fn what_the_api_server_or_the_agent_refuses_is_an_error_and_its_fix_is_clean() {
    let pairs = [
        Pair {
            name: "only endpointSelector and enableDefaultDeny",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: true, egress: true}
",
            code: code::EMPTY_RULE_LIST,
            severity: Severity::Error,
            needle: "has no ingress, ingressDeny, egress or egressDeny list",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress: [{}]
",
        },
        Pair {
            name: "ingress: [] alone",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec: {endpointSelector: {}, ingress: []}
",
            code: code::EMPTY_RULE_LIST,
            severity: Severity::Error,
            needle: "rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec: {endpointSelector: {}, ingress: [{}]}
",
        },
        Pair {
            name: "egress: [] beside ingress rules is accepted (Cilium 1.19.4 takes it)",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec: {endpointSelector: {}, egress: []}
",
            code: code::EMPTY_RULE_LIST,
            severity: Severity::Error,
            needle: "`spec.egress` is an empty list",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: api}}]}]
  egress: []
",
        },
        Pair {
            name: "ingress: null",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
  egress: [{}]
",
            code: code::NULL_RULE_LIST,
            severity: Severity::Error,
            needle: "server-side apply (Flux, kubectl apply --server-side) refuses null",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec: {endpointSelector: {}, egress: [{}]}
",
        },
        Pair {
            name: "no endpointSelector",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec: {ingress: [{}]}
",
            code: code::MALFORMED_RULE,
            severity: Severity::Error,
            needle: "neither endpointSelector nor nodeSelector",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec: {endpointSelector: {}, ingress: [{}]}
",
        },
        Pair {
            name: "two kinds of peer in one rule",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toEntities: [kube-apiserver]
      toCIDR: [10.0.0.0/8]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
",
            code: code::UNSUPPORTED_COMBINATION,
            severity: Severity::Error,
            needle: "combines toEntities and toCIDR in one rule",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toEntities: [kube-apiserver]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
    - toCIDR: [10.0.0.0/8]
      toPorts: [{ports: [{port: '443', protocol: TCP}]}]
",
        },
        Pair {
            name: "HTTP rules on a port without protocol TCP",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
    - toPorts: [{ports: [{port: '8080'}], rules: {http: [{method: GET}]}}]
",
            code: code::UNSUPPORTED_COMBINATION,
            severity: Severity::Error,
            needle: "L7 rules can only apply to TCP (not ANY)",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
    - toPorts: [{ports: [{port: '8080', protocol: TCP}], rules: {http: [{method: GET}]}}]
",
        },
        Pair {
            name: "DNS rules on ingress",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - toPorts: [{ports: [{port: '53', protocol: UDP}], rules: {dns: [{matchPattern: '*'}]}}]
",
            code: code::UNSUPPORTED_COMBINATION,
            severity: Severity::Error,
            needle: "L7 protocol DNS is not supported on ingress yet",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - toPorts: [{ports: [{port: '53', protocol: UDP}]}]
",
        },
        Pair {
            name: "ICMP beside toPorts",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - icmps: [{fields: [{type: 8}]}]
      toPorts: [{ports: [{port: '80', protocol: TCP}]}]
",
            code: code::UNSUPPORTED_COMBINATION,
            severity: Severity::Error,
            needle: "has both icmps and toPorts",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - icmps: [{fields: [{type: 8}]}]
    - toPorts: [{ports: [{port: '80', protocol: TCP}]}]
",
        },
        Pair {
            name: "a port as a number, and lower-case protocol",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - toPorts: [{ports: [{port: 80, protocol: tcp}]}]
",
            code: code::INVALID_PORT,
            severity: Severity::Error,
            needle: "not a string",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - toPorts: [{ports: [{port: '80', protocol: TCP}]}]
",
        },
        Pair {
            name: "a port above 65535 passes the schema and the agent refuses it",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - toPorts: [{ports: [{port: '70000', protocol: TCP}]}]
",
            code: code::INVALID_PORT,
            severity: Severity::Error,
            needle: "rejected by the Cilium agent",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  ingress:
    - toPorts: [{ports: [{port: '7000', protocol: TCP}]}]
",
        },
        Pair {
            name: "enableDefaultDeny as strings",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: 'false', egress: 'false'}
  ingress: [{fromEntities: [cluster]}]
",
            code: code::MALFORMED_RULE,
            severity: Severity::Error,
            needle: "not true or false",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress: [{fromEntities: [cluster]}]
",
        },
        Pair {
            name: "an except outside its CIDR",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toCIDRSet: [{cidr: 10.0.0.0/8, except: [192.168.0.0/16]}]
",
            code: code::INVALID_CIDR,
            severity: Severity::Error,
            needle: "outside 10.0.0.0/8",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]
",
        },
        Pair {
            name: "world-ipv4 is not in Cilium 1.19's schema",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world-ipv4]}]
",
            code: code::UNKNOWN_ENTITY,
            severity: Severity::Error,
            needle: "the agent knows but Cilium 1.19's CRD schema does not",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]
",
        },
        Pair {
            name: "a NetworkPolicy peer with ipBlock and a selector",
            broken: "kind: NetworkPolicy
metadata: {name: n, namespace: shop}
spec:
  podSelector: {}
  ingress:
    - from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {matchLabels: {app: web}}}]
",
            code: code::MALFORMED_RULE,
            severity: Severity::Error,
            needle: "has ipBlock beside a selector",
            fixed: "kind: NetworkPolicy
metadata: {name: n, namespace: shop}
spec:
  podSelector: {}
  ingress:
    - from: [{ipBlock: {cidr: 10.0.0.0/8}}, {podSelector: {matchLabels: {app: web}}}]
",
        },
    ];
    check_pairs(&pairs, lint_bare);
}

#[test]
fn a_refused_policy_is_never_applied_by_the_engine_and_says_why() {
    let broken = policies(
        "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {}
  egress:
    - toEndpoints: [{matchLabels: {app: db}}]
      toCIDR: [10.0.0.0/8]
",
    );
    let reading = crate::policy::parse::read_policy(&broken[0]);
    let refusal = reading.rejection().expect("refused");
    assert_eq!(refusal.path, "spec.egress[0]");
    let err = crate::policy::parse::parse_policy(&broken[0]).expect_err("not applied");
    assert!(err.message.contains("the Cilium agent refuses the policy"), "{err}");
    // What lint reads is what the engine would have applied.
    assert_eq!(reading.parsed.policy.rules[0].egress[0].peers.endpoints.len(), 1);
}

#[test]
fn peer_selectors_that_select_no_pod_are_a_warning_naming_what_the_pods_carry() {
    let pairs = [
        Pair {
            name: "a chart's label named wrong",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: api-to-db, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEndpoints: [{matchLabels: {app: postgres}}]
      toPorts: [{ports: [{port: '5432', protocol: TCP}]}]
",
            code: code::PEER_SELECTS_NO_PODS,
            severity: Severity::Warning,
            needle: "`spec.egress[0].toEndpoints[0]` (app=postgres) selects none of the 3 pods in namespace shop",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: api-to-db, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEndpoints: [{matchLabels: {app.kubernetes.io/name: db}}]
      toPorts: [{ports: [{port: '5432', protocol: TCP}]}]
",
        },
        Pair {
            name: "another namespace's pods, by a label they do not carry",
            broken: "kind: CiliumNetworkPolicy
metadata: {name: from-gateway, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: payments, app: payment-gateway}}]
",
            code: code::PEER_SELECTS_NO_PODS,
            severity: Severity::Warning,
            needle: "pods there carry app=gateway",
            fixed: "kind: CiliumNetworkPolicy
metadata: {name: from-gateway, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
    - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: payments, app: gateway}}]
",
        },
        Pair {
            name: "a NetworkPolicy namespaceSelector that selects no namespace",
            broken: "kind: NetworkPolicy
metadata: {name: n, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: payment}}}]
",
            code: code::PEER_SELECTS_NO_PODS,
            severity: Severity::Warning,
            needle: "selects no pod in the namespaces its namespaceSelector selects",
            fixed: "kind: NetworkPolicy
metadata: {name: n, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: payments}}}]
",
        },
    ];
    check_pairs(&pairs, lint_with_cluster);
    // Without a cluster nothing is known to be missing.
    assert!(with_code(&lint_bare(&policies(pairs[0].broken)), code::PEER_SELECTS_NO_PODS).is_empty());
}

#[test]
fn a_network_policy_section_its_policy_types_leave_out_is_enforced_as_cilium_does() {
    let yaml = "kind: NetworkPolicy
metadata: {name: n, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]
  egress: [{to: [{podSelector: {matchLabels: {app: api}}}]}]
";
    let objects = policies(yaml);
    let findings = lint_bare(&objects);
    let got = with_code(&findings, code::POLICY_TYPES_IGNORED);
    assert_eq!(got.len(), 1, "{findings:#?}");
    assert!(got[0].message.contains("cilium/cilium#48703"));
    let parsed = crate::policy::parse::parse_policy(&objects[0]).expect("applies");
    assert!(parsed.policy.rules[0].has_egress, "Cilium 1.19 isolates egress too");
}

#[test]
fn json_findings_carry_every_field_always_and_the_field_path() {
    let findings = lint_with_cluster(&policies(
        "kind: CiliumNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
    - toEndpoints: [{matchLabels: {app: postgres}}]
      toCIDR: [10.0.0.0/8]
    - toEndpoints: [{matchLabels: {app: postgres}}]
      toPorts: [{ports: [{port: '5432', protocol: TCP}]}]
",
    ));
    let keys = [
        "code",
        "fix",
        "message",
        "namespace",
        "path",
        "peer",
        "peer_namespace",
        "policy",
        "severity",
    ];
    for finding in &findings {
        let value = serde_json::to_value(finding).expect("json");
        let mut got: Vec<&str> = value.as_object().expect("object").keys().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, keys, "the same fields on every line, null when empty");
    }
    let at = |code: &str| with_code(&findings, code).first().and_then(|f| f.path.clone());
    assert_eq!(at(code::UNSUPPORTED_COMBINATION).as_deref(), Some("spec.egress[0]"));
    // The refused policy is not applied, so no check looks at its peers.
    assert_eq!(at(code::PEER_SELECTS_NO_PODS), None);
}
