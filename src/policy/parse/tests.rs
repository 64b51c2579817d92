use super::*;
use serde_json::json;

fn object(manifest: Value) -> PolicyObject {
    PolicyObject::from_manifest(&manifest).expect("manifest")
}

fn error_of(spec: Value) -> ParseError {
    parse_policy(&object(
        json!({"kind": "CiliumNetworkPolicy", "metadata": {"name": "p", "namespace": "shop"}, "spec": spec}),
    ))
    .expect_err("malformed")
}

#[test]
fn errors_name_the_policy_and_the_field() {
    let e = error_of(json!({"endpointSelector": {}, "egress": [{"toEntities": ["world", "moon"]}]}));
    assert_eq!(e.policy, "CiliumNetworkPolicy shop/p");
    assert_eq!(e.path, "spec.egress[0].toEntities[1]");
    assert_eq!(
        error_of(json!({"endpointSelector": {}, "egress": [{"toCIDR": ["10.0.0.0/33"]}]})).path,
        "spec.egress[0].toCIDR[0]"
    );
    assert_eq!(
        error_of(json!({"endpointSelector": {}, "ingress": [{"toPorts": [{"ports": [{"port": "70000"}]}]}]})).path,
        "spec.ingress[0].toPorts[0].ports[0].port"
    );
    assert_eq!(
        error_of(json!({"endpointSelector": {}, "ingress": {"not": "a list"}})).path,
        "spec.ingress"
    );
    assert_eq!(
        error_of(json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": "yes"}})).path,
        "spec.enableDefaultDeny.ingress"
    );
    assert_eq!(
        error_of(json!({"endpointSelector": [], "ingress": [{}]})).path,
        "spec.endpointSelector"
    );
    let np = parse_policy(&object(
        json!({"kind": "NetworkPolicy", "metadata": {"name": "n", "namespace": "shop"},
        "spec": {"podSelector": {}, "ingress": [{"from": [{}]}]}}),
    ))
    .expect_err("empty peer");
    assert_eq!(np.path, "spec.ingress[0].from[0]");
}

#[test]
fn directions_and_defaults_are_read() {
    let parsed = parse_policy(&object(
        json!({"kind": "CiliumNetworkPolicy", "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"endpointSelector": {}, "egressDeny": [{"toEntities": ["world"]}],
                 "egress": [{"toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}], "rules": {"http": [{"method": "GET"}]}}]}]}}),
    ))
    .expect("parses");
    let rule = &parsed.policy.rules[0];
    assert!(rule.has_egress && !rule.has_ingress);
    assert_eq!(rule.egress_deny[0].peers.entities, vec![Entity::World]);
    assert!(rule.egress[0].peers.unrestricted && rule.egress[0].has_l7);
    assert_eq!(
        rule.egress[0].ports[0],
        PortRule {
            path: "spec.egress[0].toPorts[0].ports[0].port".into(),
            port: PortSpec::Range(80, 80),
            protocol: L4Protocol::Tcp
        }
    );
    assert_eq!(rule.default_deny, DefaultDenySetting::default());

    let np = parse_policy(&object(
        json!({"kind": "NetworkPolicy", "metadata": {"name": "n", "namespace": "shop"},
        "spec": {"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}]}}),
    ))
    .expect("parses");
    let rule = &np.policy.rules[0];
    assert!(
        rule.has_ingress && rule.has_egress,
        "no policyTypes: Ingress, and Egress because egress rules exist"
    );
    assert_eq!(rule.egress[0].ports[0].port, PortSpec::Named("http".into()));
    assert_eq!(rule.egress[0].peers.endpoints[0].namespace, None);
}

#[test]
fn unsupported_peers_are_recorded_not_dropped() {
    let parsed = parse_policy(&object(
        json!({"kind": "CiliumNetworkPolicy", "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"endpointSelector": {}, "egress": [{"toServices": [{"k8sService": {"serviceName": "x"}}]}]}}),
    ))
    .expect("parses");
    let peers = &parsed.policy.rules[0].egress[0].peers;
    assert_eq!(peers.unsupported, vec!["spec.egress[0].toServices".to_string()]);
    assert!(!peers.unrestricted, "an unsupported peer is not a wildcard");
}

#[test]
fn network_policy_directions_default_as_the_api_server_defaults_policy_types() {
    let rule = |spec: Value| {
        let parsed = parse_policy(&object(json!({"kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "shop"}, "spec": spec})))
        .expect("parses");
        let rule = &parsed.policy.rules[0];
        (rule.has_ingress, rule.has_egress)
    };
    // No policyTypes: Ingress always; Egress only with egress rules, and
    // `egress: []` has none (it does not deny all egress).
    assert_eq!(rule(json!({"podSelector": {}, "egress": []})), (true, false));
    assert_eq!(rule(json!({"podSelector": {}, "egress": [{}]})), (true, true));
    assert_eq!(rule(json!({"podSelector": {}})), (true, false));
    // An empty policyTypes list is no list.
    assert_eq!(rule(json!({"podSelector": {}, "policyTypes": []})), (true, false));
    assert_eq!(
        rule(json!({"podSelector": {}, "policyTypes": ["Egress"]})),
        (false, true)
    );
    assert_eq!(
        rule(json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": []})),
        (true, true)
    );
}
