use super::*;
use crate::cluster::ClusterSnapshot;
use crate::cluster::demo::fixtures;
use crate::flows::window::minute_of;
use crate::flows::{Direction, DropReason, Endpoint, Flow, Protocol, Traffic, Verdict};
use crate::policy::Templates;
use crate::rollout::status_for;

const HOUR: Duration = Duration::from_secs(3600);

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().expect("time")
}

fn demo() -> ClusterSnapshot {
    fixtures::initial(now(), &Templates::embedded(), "/b/payments.yaml")
}

fn traffic(namespace: &str, verdict: Verdict) -> Traffic {
    let mut traffic = Traffic::default();
    let endpoint = |w: &str| Endpoint {
        namespace: namespace.into(),
        workload: w.into(),
        ..Endpoint::default()
    };
    traffic.record(Flow {
        time: now() - SignedDuration::from_mins(1),
        verdict,
        drop_reason: (verdict == Verdict::Dropped).then_some(DropReason::POLICY_DENIED),
        direction: Direction::Ingress,
        source: endpoint("a"),
        destination: endpoint("b"),
        protocol: Protocol::Tcp,
        source_port: 1,
        destination_port: 80,
        is_reply: false,
        node: String::new(),
        destination_names: vec![],
        denied_by: vec![],
        icmp: None,
    });
    traffic
}

/// A healthy input for `status`: two labelled pods, a writable backup
/// directory, an hour's soak, no preview, no Prometheus, nothing lost.
fn input<'a>(
    status: &'a NamespaceStatus,
    policies: &'a [&'a PolicyObject],
    traffic: Option<&'a NamespaceTraffic>,
) -> GateInput<'a> {
    GateInput {
        status,
        policies,
        traffic,
        now: now(),
        soak: HOUR,
        pods: 2,
        unlabelled_pods: 0,
        backups_writable: Some(Ok(())),
        would_drop: None,
        would_drop_peers: None,
        prometheus: PromGate::NotConfigured,
        stream_lost: 0,
        broad_allows: &[],
        one_sided: &[],
        observed: None,
        soak_verdict: None,
    }
}

fn gate(snapshot: &ClusterSnapshot, namespace: &str, traffic: Option<&Traffic>, soak: Duration) -> Gate {
    let ns = snapshot.namespace(namespace).expect("ns");
    let status = status_for(snapshot, ns);
    let policies: Vec<_> = snapshot.namespaced_policies(namespace).collect();
    evaluate(&GateInput {
        soak,
        // The preview found nothing to drop in 5 judged flows.
        would_drop: (status.phase == crate::rollout::Phase::Audit).then_some((0, 5)),
        ..input(&status, &policies, traffic.and_then(|t| t.namespace(namespace)))
    })
}

fn check(gate: &Gate, name: &str) -> Check {
    gate.items
        .iter()
        .find(|i| i.name == name)
        .map(|i| i.check)
        .unwrap_or_else(|| panic!("no item {name}: {gate:?}"))
}

#[test]
fn audit_gate_waits_for_the_soak_window_and_its_boundary() {
    let snapshot = demo();
    let flows = traffic("databases", Verdict::Forwarded);
    // databases was staged 3 hours ago.
    let waiting = gate(&snapshot, "databases", Some(&flows), 24 * HOUR);
    assert_eq!(waiting.step, Some(RolloutAction::Enforce));
    assert_eq!(check(&waiting, "Soak window"), Check::Waiting);
    assert_eq!(waiting.summary(), GateSummary::Waiting(21 * HOUR));
    // Exactly at the boundary the soak has passed.
    let exact = gate(&snapshot, "databases", Some(&flows), 3 * HOUR);
    assert_eq!(check(&exact, "Soak window"), Check::Pass);
    assert_eq!(exact.summary(), GateSummary::Go);
    let just_short = gate(&snapshot, "databases", Some(&flows), 3 * HOUR + Duration::from_secs(1));
    assert_eq!(check(&just_short, "Soak window"), Check::Waiting);
}

#[test]
fn no_evidence_is_not_a_pass() {
    let snapshot = demo();
    let gate = gate(&snapshot, "databases", None, HOUR);
    assert_eq!(check(&gate, "Hubble evidence"), Check::Fail);
    assert_eq!(gate.summary(), GateSummary::Blocked(1));
}

#[test]
fn policy_drops_and_rejected_policies_block() {
    let snapshot = demo();
    let drops = traffic("stage", Verdict::Dropped);
    let gate = gate(&snapshot, "stage", Some(&drops), HOUR);
    assert_eq!(check(&gate, "Policy drops explained"), Check::Fail);
    assert_eq!(check(&gate, "Policies accepted by Cilium"), Check::Fail);
    assert!(gate.items.iter().any(|i| i.evidence.contains("allow-shop-api-egress")));
}

/// A policy drop names its worst peer; datapath drops, even more of them, are
/// not what a policy fix addresses and are passed over.
#[test]
fn policy_drops_name_the_peer_that_dropped_most() {
    let snapshot = demo();
    let mut drops = traffic("stage", Verdict::Dropped);
    let mut datapath = drop_flow("stage", "db", 5432);
    datapath.drop_reason = Some(DropReason::CT_MAP_INSERTION_FAILED);
    for _ in 0..5 {
        drops.record(datapath.clone());
    }
    drops.record(drop_flow("stage", "cache", 6379));
    drops.record(drop_flow("stage", "cache", 6379));
    let gate = gate(&snapshot, "stage", Some(&drops), HOUR);
    let item = gate
        .items
        .iter()
        .find(|i| i.name == "Policy drops explained")
        .expect("item");
    assert_eq!(item.check, Check::Fail);
    assert_eq!(item.evidence, "3 policy drops in the last 10 min");
    assert_eq!(item.worst_peer.as_deref(), Some("stage/a → stage/cache:6379/TCP (2)"));
    assert!(item.see_drops);
    let accepted = gate
        .items
        .iter()
        .find(|i| i.name == "Policies accepted by Cilium")
        .expect("item");
    assert!(!accepted.see_drops && accepted.worst_peer.is_none());
}

fn drop_flow(namespace: &str, to: &str, port: u16) -> Flow {
    let endpoint = |w: &str| Endpoint {
        namespace: namespace.into(),
        workload: w.into(),
        ..Endpoint::default()
    };
    Flow {
        time: now() - SignedDuration::from_mins(2),
        verdict: Verdict::Dropped,
        drop_reason: Some(DropReason::POLICY_DENIED),
        direction: Direction::Egress,
        source: endpoint("a"),
        destination: endpoint(to),
        protocol: Protocol::Tcp,
        source_port: 40000,
        destination_port: port,
        is_reply: false,
        node: String::new(),
        destination_names: vec![],
        denied_by: vec![],
        icmp: None,
    }
}

#[test]
fn drift_blocks_enforcement() {
    let snapshot = demo();
    let flows = traffic("lab", Verdict::Forwarded);
    let gate = gate(&snapshot, "lab", Some(&flows), HOUR);
    assert_eq!(check(&gate, "No drift"), Check::Fail);
}

#[test]
fn dns_without_its_l7_rule_fails() {
    let mut snapshot = demo();
    for p in snapshot
        .policies
        .iter_mut()
        .filter(|p| p.name == "tighten-baseline-dns")
    {
        p.body.insert(
            "spec".into(),
            serde_json::json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                "egress": [{"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}}],
                            "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}]}]}]}),
        );
    }
    let gate = gate(&snapshot, "media", Some(&traffic("media", Verdict::Forwarded)), HOUR);
    assert_eq!(gate.step, Some(RolloutAction::StageDefaultDeny));
    assert_eq!(check(&gate, "DNS allowed with its L7 rule"), Check::Fail);
}

#[test]
fn enforced_namespaces_show_the_definition_of_done() {
    let snapshot = demo();
    let flows = traffic("cert-manager", Verdict::Forwarded);
    let done = gate(&snapshot, "cert-manager", Some(&flows), HOUR);
    assert_eq!(done.step, None);
    assert_eq!(done.title, "Definition of done");
    assert_eq!(done.summary(), GateSummary::Done);
    let dropping = gate(
        &snapshot,
        "cert-manager",
        Some(&traffic("cert-manager", Verdict::Dropped)),
        HOUR,
    );
    assert_eq!(dropping.summary(), GateSummary::Blocked(2), "{dropping:?}");
}

#[test]
fn carved_out_and_unwritable_backups() {
    let snapshot = demo();
    let carved = gate(&snapshot, "kube-system", None, HOUR);
    assert_eq!(carved.summary(), GateSummary::NotApplicable);
    assert!(carved.items[0].evidence.contains("platform team"));

    let ns = snapshot.namespace("network").expect("ns");
    let status = status_for(&snapshot, ns);
    let flows = traffic("network", Verdict::Forwarded);
    let gate = evaluate(&GateInput {
        pods: 3,
        unlabelled_pods: 1,
        backups_writable: Some(Err("read-only file system".into())),
        ..input(&status, &[], flows.namespace("network"))
    });
    assert_eq!(check(&gate, "Rollback ready"), Check::Fail);
    assert_eq!(check(&gate, "Standard labels"), Check::Fail);
    assert_eq!(gate.summary(), GateSummary::Blocked(2));
}

#[test]
fn the_would_drop_preview_gates_enforcement() {
    let snapshot = demo();
    let ns = snapshot.namespace("databases").expect("ns");
    let status = status_for(&snapshot, ns);
    let policies: Vec<_> = snapshot.namespaced_policies("databases").collect();
    let flows = traffic("databases", Verdict::Forwarded);
    let with = |would_drop| {
        evaluate(&GateInput {
            would_drop,
            ..input(&status, &policies, flows.namespace("databases"))
        })
    };
    assert_eq!(check(&with(Some((0, 40))), "Would-drop preview"), Check::Pass);
    let blocked = with(Some((3, 40)));
    assert_eq!(check(&blocked, "Would-drop preview"), Check::Fail);
    assert!(blocked.items.iter().any(|i| i.evidence.starts_with("3 of 40 flows")));
    let mut peers = TopCounts::new(8);
    let peer = |destination: &str, port| DropPeer {
        side: crate::flows::Side::Destination,
        direction: Direction::Ingress,
        source: "shop/api".into(),
        destination: destination.into(),
        port,
        protocol: Protocol::Tcp,
        reason: DropReason::POLICY_DENIED,
    };
    let minute = minute_of(now()) - 1;
    peers.add(peer("databases/pg", 5432), minute);
    peers.add(peer("databases/pg", 5432), minute);
    peers.add(peer("databases/redis", 6379), minute);
    let named = evaluate(&GateInput {
        would_drop: Some((3, 40)),
        would_drop_peers: Some(&peers),
        ..input(&status, &policies, flows.namespace("databases"))
    });
    let item = named
        .items
        .iter()
        .find(|i| i.name == "Would-drop preview")
        .expect("item");
    assert_eq!(item.evidence, "3 of 40 flows in the last 10 min would be dropped");
    assert_eq!(item.worst_peer.as_deref(), Some("shop/api → databases/pg:5432/TCP (2)"));
    assert!(item.see_drops);
    assert_eq!(
        check(&with(Some((0, 0))), "Would-drop preview"),
        Check::Fail,
        "no evidence is not a pass"
    );
}

/// Prometheus evidence with everything healthy unless changed by `edit`.
fn prom(edit: impl FnOnce(&mut crate::prometheus::PromEvidence)) -> crate::prometheus::PromEvidence {
    use std::collections::BTreeMap;
    let window = Duration::from_secs(24 * 3600);
    let mut evidence = crate::prometheus::PromEvidence {
        window,
        queries: crate::prometheus::Queries::new("databases", window),
        namespace_labels: Ok(Some(true)),
        drops_into: Ok(BTreeMap::new()),
        drops_from: Ok(BTreeMap::new()),
        policy_verdicts: Ok(BTreeMap::new()),
        cluster_drops: Ok(BTreeMap::new()),
        node_drops: Ok(BTreeMap::new()),
        lost_events: Ok(Some(0.0)),
        map_pressure: Ok(Some(("policy_00123".into(), 0.42))),
    };
    edit(&mut evidence);
    evidence
}

#[test]
fn prometheus_evidence_gates_enforcement_at_its_boundaries() {
    let snapshot = demo();
    let ns = snapshot.namespace("databases").expect("ns");
    let status = status_for(&snapshot, ns);
    let policies: Vec<_> = snapshot.namespaced_policies("databases").collect();
    let flows = traffic("databases", Verdict::Forwarded);
    let with = |prometheus: PromGate<'_>, stream_lost: u64| {
        evaluate(&GateInput {
            would_drop: Some((0, 40)),
            prometheus,
            stream_lost,
            ..input(&status, &policies, flows.namespace("databases"))
        })
    };
    // Not configured: said, and not a blocker.
    assert_eq!(check(&with(PromGate::NotConfigured, 0), "Prometheus"), Check::Info);
    assert_eq!(
        check(&with(PromGate::Pending("http://p:9090"), 0), "Prometheus"),
        Check::Waiting
    );
    assert_eq!(
        check(&with(PromGate::Invalid("--prometheus x: bad"), 0), "Prometheus"),
        Check::Fail
    );

    let healthy = prom(|_| {});
    let gate = with(PromGate::Fetched(&healthy), 0);
    for name in ["Telemetry healthy", "BPF map pressure", "Policy drops (Prometheus)"] {
        assert_eq!(check(&gate, name), Check::Pass, "{name}: {gate:?}");
    }
    // Lost events, from Prometheus or from the stream itself.
    let lost = prom(|e| e.lost_events = Ok(Some(3.0)));
    assert_eq!(
        check(&with(PromGate::Fetched(&lost), 0), "Telemetry healthy"),
        Check::Fail
    );
    assert_eq!(
        check(&with(PromGate::Fetched(&healthy), 2), "Telemetry healthy"),
        Check::Fail
    );
    // The pressure limit: just below passes, at it fails.
    let below = prom(|e| e.map_pressure = Ok(Some(("ct4_global".into(), MAP_PRESSURE_LIMIT - 0.001))));
    let at = prom(|e| e.map_pressure = Ok(Some(("ct4_global".into(), MAP_PRESSURE_LIMIT))));
    assert_eq!(
        check(&with(PromGate::Fetched(&below), 0), "BPF map pressure"),
        Check::Pass
    );
    let full = with(PromGate::Fetched(&at), 0);
    assert_eq!(check(&full, "BPF map pressure"), Check::Fail);
    assert!(
        full.items
            .iter()
            .any(|i| i.evidence.starts_with("ct4_global is 90% full"))
    );
    // Policy drops count; a datapath drop does not.
    let policy = prom(|e| e.drops_into = Ok([("POLICY_DENIED".to_string(), 4.0)].into()));
    let datapath = prom(|e| e.drops_into = Ok([("STALE_OR_UNROUTABLE_IP".to_string(), 4.0)].into()));
    assert_eq!(
        check(&with(PromGate::Fetched(&policy), 0), "Policy drops (Prometheus)"),
        Check::Fail
    );
    assert_eq!(
        check(&with(PromGate::Fetched(&datapath), 0), "Policy drops (Prometheus)"),
        Check::Pass
    );
    // Without namespace labels the drops cannot be attributed: said, not blocking.
    let unlabelled = prom(|e| e.namespace_labels = Ok(Some(false)));
    assert_eq!(
        check(&with(PromGate::Fetched(&unlabelled), 0), "Policy drops (Prometheus)"),
        Check::Info
    );
    // An unreachable Prometheus is no evidence.
    let down = prom(|e| {
        e.lost_events = Err(crate::prometheus::PromError::Unreachable {
            url: "http://p:9090".into(),
            message: "connection refused".into(),
        })
    });
    let gate = with(PromGate::Fetched(&down), 0);
    assert_eq!(check(&gate, "Telemetry healthy"), Check::Fail);
    assert!(gate.items.iter().any(|i| i.evidence.contains("http://p:9090")));
}

#[test]
fn no_lost_events_series_is_not_a_clean_bill_of_health() {
    let snapshot = demo();
    let ns = snapshot.namespace("databases").expect("ns");
    let status = status_for(&snapshot, ns);
    let policies: Vec<_> = snapshot.namespaced_policies("databases").collect();
    let absent = prom(|e| e.lost_events = Ok(None));
    let gate = evaluate(&GateInput {
        would_drop: Some((0, 40)),
        prometheus: PromGate::Fetched(&absent),
        ..input(&status, &policies, None)
    });
    assert_eq!(check(&gate, "Telemetry healthy"), Check::Info);
}

#[test]
fn done_needs_minimal_allowlists_and_rollback_steps() {
    let snapshot = demo();
    let ns = snapshot.namespace("cert-manager").expect("ns");
    let status = status_for(&snapshot, ns);
    let policies: Vec<_> = snapshot.namespaced_policies("cert-manager").collect();
    let flows = traffic("cert-manager", Verdict::Forwarded);
    let done = evaluate(&input(&status, &policies, flows.namespace("cert-manager")));
    assert_eq!(check(&done, "Allowlists minimal"), Check::Pass);
    assert_eq!(check(&done, "Rollback steps available"), Check::Pass);
    assert!(!done.items.iter().any(|i| i.name == "Rollback ready"));

    let one = ["cert-manager/webhook: `ingress[0].fromEntities` contains world".to_string()];
    let broad = evaluate(&GateInput {
        broad_allows: &one,
        ..input(&status, &policies, flows.namespace("cert-manager"))
    });
    assert_eq!(check(&broad, "Allowlists minimal"), Check::Fail);
    assert_eq!(broad.summary(), GateSummary::Blocked(1));
    let two = [
        one[0].clone(),
        "cert-manager/x: `ingress[0].fromEntities` contains all".to_string(),
    ];
    let broader = evaluate(&GateInput {
        broad_allows: &two,
        ..input(&status, &policies, flows.namespace("cert-manager"))
    });
    assert!(
        broader
            .items
            .iter()
            .any(|i| i.name == "Allowlists minimal" && i.evidence.ends_with("(and 1 more: see `tighten lint`)"))
    );

    let unwritable = evaluate(&GateInput {
        backups_writable: Some(Err("read-only file system".into())),
        ..input(&status, &policies, flows.namespace("cert-manager"))
    });
    assert_eq!(check(&unwritable, "Rollback steps available"), Check::Fail);
}

#[test]
fn earlier_steps_weigh_less_of_prometheus() {
    let snapshot = demo();
    let names = |gate: &Gate| -> Vec<&'static str> { gate.items.iter().map(|i| i.name).collect() };
    let full = prom(|e| e.map_pressure = Ok(Some(("policy_00042".into(), 0.95))));
    let for_phase = |namespace: &str| {
        let ns = snapshot.namespace(namespace).expect("ns");
        let status = status_for(&snapshot, ns);
        let flows = traffic(namespace, Verdict::Forwarded);
        let gate = evaluate(&GateInput {
            prometheus: PromGate::Fetched(&full),
            ..input(&status, &[], flows.namespace(namespace))
        });
        (status.phase, gate)
    };
    let mut seen = Vec::new();
    for namespace in snapshot.namespaces.iter().map(|n| n.name.clone()) {
        let (phase, gate) = for_phase(&namespace);
        if seen.contains(&phase) || matches!(phase, Phase::CarvedOut | Phase::Enforced | Phase::Audit) {
            continue;
        }
        seen.push(phase);
        let names = names(&gate);
        // The guardrail is in every step's gate, and fails at 95%.
        assert!(names.contains(&"BPF map pressure"), "{phase:?}: {names:?}");
        assert_eq!(check(&gate, "BPF map pressure"), Check::Fail);
        match phase {
            Phase::Baseline => {
                assert!(names.contains(&"Telemetry healthy"), "{names:?}");
                assert!(!names.contains(&"Policy drops (Prometheus)"), "{names:?}");
            }
            _ => {
                assert!(!names.contains(&"Telemetry healthy"), "{phase:?}: {names:?}");
                assert!(!names.contains(&"Policy drops (Prometheus)"), "{names:?}");
            }
        }
    }
    assert!(seen.contains(&Phase::Baseline), "{seen:?}");
    assert!(seen.len() >= 2, "{seen:?}");
}

#[test]
fn rates_read_in_their_unit() {
    assert_eq!(per(2.5), "2.5/s");
    assert_eq!(per(1.0), "1.0/s");
    assert_eq!(per(0.05), "3.0/min");
    assert_eq!(per(1.0 / 60.0), "1.0/min");
    assert_eq!(per(0.4 / 3600.0), "0.40/h");
    assert_eq!(per(0.0), "0.00/h");
}

#[test]
fn the_gate_decides_exactly_the_steps_it_names() {
    let snapshot = demo();
    let flows = traffic("databases", Verdict::Forwarded);
    let mut steps = std::collections::BTreeSet::new();
    for ns in &snapshot.namespaces {
        let status = status_for(&snapshot, ns);
        if let Some(step) = evaluate(&input(&status, &[], flows.namespace(&ns.name))).step {
            assert!(decides(step), "{step:?}");
            steps.insert(step);
        }
    }
    assert_eq!(steps.len(), 3, "{steps:?}");
    for action in crate::cluster::access::ACTIONS {
        assert_eq!(decides(action), steps.contains(&action), "{action:?}");
    }
}

#[test]
fn an_allow_without_its_other_side_blocks_staging_and_enforcing() {
    let snapshot = demo();
    for (namespace, step) in [
        ("media", crate::rollout::RolloutAction::StageDefaultDeny),
        ("databases", crate::rollout::RolloutAction::Enforce),
    ] {
        let ns = snapshot.namespace(namespace).expect("ns");
        let status = status_for(&snapshot, ns);
        let policies: Vec<_> = snapshot.namespaced_policies(namespace).collect();
        let flows = traffic(namespace, Verdict::Forwarded);
        let clear = evaluate(&GateInput {
            would_drop: Some((0, 5)),
            ..input(&status, &policies, flows.namespace(namespace))
        });
        assert_eq!(clear.step, Some(step));
        assert_eq!(check(&clear, "Allows on both sides"), Check::Pass);
        let one = [format!(
            "shop/api-to-db: spec.egress[0] allows shop/api-0 → {namespace}/db-0:5432/TCP, but no ingress policy \
             selecting {namespace}/db-0 allows it"
        )];
        let blocked = evaluate(&GateInput {
            one_sided: &one,
            would_drop: Some((0, 5)),
            ..input(&status, &policies, flows.namespace(namespace))
        });
        assert_eq!(check(&blocked, "Allows on both sides"), Check::Fail, "{namespace}");
        assert!(matches!(blocked.summary(), GateSummary::Blocked(_)), "{namespace}");
    }
}

#[test]
fn the_soak_counts_only_as_far_as_the_ledger_observed_it() {
    let snapshot = demo();
    let flows = traffic("databases", Verdict::Forwarded);
    let ns = snapshot.namespace("databases").expect("ns");
    let status = status_for(&snapshot, ns);
    let policies: Vec<_> = snapshot.namespaced_policies("databases").collect();
    // databases was staged 3 hours ago; the soak is 3 hours.
    let staged = now() - jiff::SignedDuration::from_hours(3);
    let judged = |observed_minutes: i64, required: u8| {
        let spans = [crate::ledger::Span {
            start: staged,
            end: staged + jiff::SignedDuration::from_mins(observed_minutes),
        }];
        let gate = evaluate(&GateInput {
            soak: 3 * HOUR,
            would_drop: Some((0, 5)),
            observed: Some(Observed {
                spans: &spans,
                required_percent: required,
            }),
            ..input(&status, &policies, flows.namespace("databases"))
        });
        let item = gate
            .items
            .iter()
            .find(|i| i.name == "Soak window")
            .cloned()
            .expect("soak item");
        (item.check, item.evidence)
    };
    // 50 % and 89 % of the window observed, 90 % required: the soak is not evidence.
    for minutes in [90, 160] {
        let (check, detail) = judged(minutes, 90);
        assert_eq!(check, Check::Fail, "{minutes} min: {detail}");
        assert!(
            detail.contains("below 90%") && detail.contains("tighten observe"),
            "{detail}"
        );
        assert!(detail.contains("not observed"), "the gap is named: {detail}");
    }
    // 95 %: it is.
    let (check, detail) = judged(171, 90);
    assert_eq!(check, Check::Pass, "{detail}");
    assert!(detail.contains("(95%)"), "{detail}");
    // The required share comes from the config.
    assert_eq!(judged(90, 50).0, Check::Pass);
}

#[test]
fn a_connection_seen_once_hours_ago_that_enforcing_would_drop_blocks_the_gate() {
    let snapshot = demo();
    let flows = traffic("databases", Verdict::Forwarded);
    let ns = snapshot.namespace("databases").expect("ns");
    let status = status_for(&snapshot, ns);
    let policies: Vec<_> = snapshot.namespaced_policies("databases").collect();
    let nightly = crate::ledger::SoakDrop {
        source: "batch/report".into(),
        destination: "databases/postgres".into(),
        port: 5432,
        protocol: Protocol::Tcp,
        direction: Direction::Ingress,
        dns: String::new(),
        first: now() - jiff::SignedDuration::from_hours(9),
        last: now() - jiff::SignedDuration::from_hours(9),
        count: 1,
        coarse: false,
    };
    let judged = |drops: &[crate::ledger::SoakDrop]| {
        let verdict = crate::ledger::feed::SoakVerdict {
            drops: drops.to_vec(),
            ..Default::default()
        };
        evaluate(&GateInput {
            soak: HOUR,
            would_drop: Some((0, 5)),
            soak_verdict: Some(&verdict),
            ..input(&status, &policies, flows.namespace("databases"))
        })
    };
    // The last ten minutes saw nothing to drop; the soak did.
    let blocked = judged(std::slice::from_ref(&nightly));
    assert_eq!(check(&blocked, "Would-drop preview"), Check::Pass);
    assert_eq!(check(&blocked, "Would-drop over the soak"), Check::Fail);
    let item = blocked
        .items
        .iter()
        .find(|i| i.name == "Would-drop over the soak")
        .expect("item");
    assert!(item.evidence.contains("seen once"), "{}", item.evidence);
    assert!(
        item.worst_peer
            .as_deref()
            .is_some_and(|w| w.starts_with("batch/report → databases/postgres:5432/TCP")),
        "{item:?}"
    );
    assert_ne!(blocked.summary(), GateSummary::Go);
    assert_eq!(check(&judged(&[]), "Would-drop over the soak"), Check::Pass);
}

/// Staged through Git, the namespace carries no staged-at: the soak is timed
/// from when the reconciler created the default-deny.
#[test]
fn a_default_deny_applied_from_git_times_the_soak_from_its_creation() {
    let mut snapshot = demo();
    let ns = snapshot
        .namespaces
        .iter_mut()
        .find(|n| n.name == "databases")
        .expect("databases");
    ns.annotations.retain(|k, _| !k.starts_with("tighten.dev/"));
    let two_hours_ago = now() - SignedDuration::from_hours(2);
    for policy in snapshot
        .policies
        .iter_mut()
        .filter(|p| p.namespace.as_deref() == Some("databases"))
    {
        policy.created = Some(two_hours_ago);
    }
    let flows = traffic("databases", Verdict::Forwarded);
    let waiting = gate(&snapshot, "databases", Some(&flows), 24 * HOUR);
    let soak = waiting.items.iter().find(|i| i.name == "Soak window").expect("soak");
    assert_eq!(soak.check, Check::Waiting, "{soak:?}");
    assert!(
        soak.evidence.starts_with("staged 2h ago; 22h of 24h left"),
        "{}",
        soak.evidence
    );
    assert!(
        soak.evidence.contains("timed from tighten-default-deny's creation"),
        "{}",
        soak.evidence
    );
    assert_eq!(
        check(&gate(&snapshot, "databases", Some(&flows), HOUR), "Soak window"),
        Check::Pass
    );
}
