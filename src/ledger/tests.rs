use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::flows::{Direction, DropReason, Endpoint, Flow, Protocol, Verdict};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("time")
}

fn pod(namespace: &str, app: &str, n: u32) -> Endpoint {
    Endpoint {
        namespace: namespace.into(),
        pod: format!("{app}-{n}"),
        labels: vec![
            format!("k8s:app={app}"),
            format!("k8s:io.kubernetes.pod.namespace={namespace}"),
            "k8s:pod-template-hash=abc".into(),
        ],
        ip: format!("10.0.0.{n}"),
        ..Endpoint::default()
    }
}

fn flow(seconds: i64, source: Endpoint, destination: Endpoint, port: u16, verdict: Verdict, node: &str) -> Flow {
    Flow {
        time: at(seconds),
        verdict,
        drop_reason: (verdict == Verdict::Dropped).then_some(DropReason::POLICY_DENIED),
        direction: Direction::Ingress,
        source,
        destination,
        protocol: Protocol::Tcp,
        source_port: 40_000,
        destination_port: port,
        is_reply: false,
        node: node.into(),
        destination_names: Vec::new(),
        denied_by: Vec::new(),
        icmp: None,
    }
}

#[test]
fn flows_aggregate_into_connections_across_writes_and_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_for(dir.path(), "kind-prod/eu");
    assert!(path.ends_with("ledger/kind-prod_eu.sqlite"));
    let mut tally = Tally::default();
    // Three replicas of web call api on 8080, ten times each, over an hour.
    for i in 0..30 {
        tally.add(&flow(
            i * 120,
            pod("shop", "web", (i % 3) as u32),
            pod("shop", "api", 1),
            8080,
            Verdict::Forwarded,
            "node-a",
        ));
    }
    // A nightly job, once, dropped.
    tally.add(&flow(
        7_200,
        pod("batch", "report", 1),
        pod("shop", "api", 1),
        8080,
        Verdict::Dropped,
        "node-b",
    ));
    assert_eq!(tally.connections.len(), 2);
    {
        let mut ledger = Ledger::open(&path).expect("opens");
        ledger.write(&tally, Evidence::Flows).expect("writes");
        // The same connection again later: counts add up, first/last widen.
        let mut more = Tally::default();
        more.add(&flow(
            10_000,
            pod("shop", "web", 9),
            pod("shop", "api", 2),
            8080,
            Verdict::Forwarded,
            "node-c",
        ));
        ledger.write(&more, Evidence::Flows).expect("writes");
    }
    let ledger = Ledger::open(&path).expect("reopens");
    let shop = ledger.connections_of("shop", at(0)).expect("reads");
    assert_eq!(shop.len(), 2, "{shop:#?}");
    let web = shop
        .iter()
        .find(|r| r.connection.source.qualified() == "shop/web")
        .expect("web → api");
    assert_eq!(web.seen.count, 31);
    assert_eq!(web.seen.forwarded, 31);
    assert_eq!((web.seen.first, web.seen.last), (at(0), at(10_000)));
    assert_eq!(web.seen.nodes, vec!["node-a".to_string(), "node-c".to_string()]);
    assert!(web.seen.source_labels.contains(&"k8s:app=web".to_string()));
    assert!(!web.seen.source_labels.iter().any(|l| l.contains("pod-template-hash")));
    let nightly = shop
        .iter()
        .find(|r| r.connection.source.qualified() == "batch/report")
        .expect("the nightly job");
    assert_eq!((nightly.seen.count, nightly.seen.dropped), (1, 1));
    assert_eq!(nightly.seen.drop_reason, Some(133));
    // It shows for its own namespace too, once.
    assert_eq!(ledger.connections_of("batch", at(0)).expect("reads").len(), 1);
    // Only what was seen since a moment.
    assert_eq!(ledger.connections_of("shop", at(9_000)).expect("reads").len(), 1);
    let summary = ledger.summary().expect("summary");
    assert_eq!((summary.connections, summary.flows), (2, 32));
    assert_eq!(ledger.newest_flow().expect("meta"), Some(at(10_000)));
}

#[test]
fn retention_forgets_what_was_last_seen_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("opens");
    let mut tally = Tally::default();
    tally.add(&flow(
        0,
        pod("a", "x", 1),
        pod("b", "y", 1),
        80,
        Verdict::Forwarded,
        "n",
    ));
    tally.add(&flow(
        100_000,
        pod("a", "x", 1),
        pod("b", "z", 1),
        80,
        Verdict::Forwarded,
        "n",
    ));
    ledger.write(&tally, Evidence::Flows).expect("writes");
    ledger.observed("hubble", at(0), at(50)).expect("span");
    ledger.observed("hubble", at(90_000), at(100_000)).expect("span");
    assert_eq!(ledger.prune(at(50_000)).expect("prunes"), 1);
    let left = ledger.connections_since(at(0)).expect("reads");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].connection.destination.name, "z");
    assert_eq!(ledger.observed_spans(at(0)).expect("spans").len(), 1);
}

#[test]
fn observed_spans_extend_by_heartbeat_and_give_the_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("opens");
    // An observer ran 0-2 h (heartbeats), stopped, ran again from 4.5 h.
    for minutes in [10, 60, 120] {
        ledger.observed("observe@host", at(0), at(minutes * 60)).expect("beat");
    }
    ledger
        .observed("observe@host", at(4 * 3600 + 1800), at(24 * 3600))
        .expect("beat");
    let spans = ledger.observed_spans(at(0)).expect("spans");
    let c = coverage(
        Span {
            start: at(0),
            end: at(24 * 3600),
        },
        &spans,
    );
    assert_eq!(
        c.gaps,
        vec![Span {
            start: at(2 * 3600),
            end: at(4 * 3600 + 1800)
        }]
    );
    assert_eq!(c.observed, SignedDuration::from_secs(21 * 3600 + 1800));
}

#[test]
fn a_narrowed_stream_is_recorded_but_not_counted_as_observing() {
    use crate::flows::{FlowEvent, FlowStreamState};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("l.sqlite");
    let mut observer = Observer::new(Ledger::open(&path).expect("opens"), "cockpit".into()).expect("observer");
    let connected = FlowEvent::State(FlowStreamState::Connected {
        source: "hubble".into(),
    });
    observer.on_event(&connected, at(0)).expect("event");
    let batch = |s: i64| {
        FlowEvent::Batch(vec![flow(
            s,
            pod("a", "x", 1),
            pod("b", "y", 1),
            80,
            Verdict::Forwarded,
            "n",
        )])
    };
    observer.on_event(&batch(10), at(10)).expect("event");
    observer.flush(at(600)).expect("flush");
    // The operator filters the table: only some namespaces are streamed.
    observer.set_covering(false, at(600)).expect("narrowed");
    observer.on_event(&batch(700), at(700)).expect("event");
    observer.flush(at(1_200)).expect("flush");
    // Back to every namespace, then the stream breaks.
    observer.set_covering(true, at(1_200)).expect("widened");
    observer.flush(at(1_800)).expect("flush");
    observer
        .on_event(
            &FlowEvent::State(FlowStreamState::Reconnecting {
                attempt: 1,
                reason: "x".into(),
            }),
            at(1_800),
        )
        .expect("event");
    observer.flush(at(2_400)).expect("flush");
    let ledger = Ledger::open(&path).expect("opens");
    let c = coverage(
        Span {
            start: at(0),
            end: at(2_400),
        },
        &ledger.observed_spans(at(0)).expect("spans"),
    );
    assert_eq!(
        c.gaps,
        vec![
            Span {
                start: at(600),
                end: at(1_200)
            },
            Span {
                start: at(1_800),
                end: at(2_400)
            }
        ]
    );
    // The narrowed stretch's flow is in the ledger all the same.
    assert_eq!(ledger.summary().expect("summary").flows, 2);
}

#[test]
fn the_cockpits_feed_writes_off_its_own_thread() {
    use crate::flows::FlowEvent;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("l.sqlite");
    let (spans_tx, spans_rx) = std::sync::mpsc::channel();
    let feed = LedgerFeed::start(
        path.clone(),
        "cockpit".into(),
        Box::new(move |spans| {
            let _ = spans_tx.send(spans);
        }),
    )
    .expect("starts");
    // It reports what was observed as soon as it opens the ledger.
    assert!(matches!(
        spans_rx.recv_timeout(std::time::Duration::from_secs(5)),
        Ok(feed::Report::Observed(_))
    ));
    feed.send(&FlowEvent::Batch(vec![flow(
        5,
        pod("a", "x", 1),
        pod("b", "y", 1),
        80,
        Verdict::Forwarded,
        "n",
    )]));
    drop(feed);
    let started = std::time::Instant::now();
    loop {
        let flows = Ledger::open(&path).expect("opens").summary().expect("summary").flows;
        if flows == 1 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the feed never wrote"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A ledger that cannot be opened says why.
    let err = LedgerFeed::start(dir.path().join("l.sqlite/not-a-dir/x"), "c".into(), Box::new(|_| {}))
        .err()
        .expect("refused");
    assert!(err.contains("not-a-dir") || err.contains("ledger"), "{err}");
}

#[test]
fn the_feed_judges_the_soak_with_the_previews_engine() {
    use crate::flows::FlowEvent;
    use crate::policy::{TemplateVars, Templates};
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, rx) = std::sync::mpsc::channel();
    let feed = LedgerFeed::start(
        dir.path().join("l.sqlite"),
        "cockpit".into(),
        Box::new(move |report| {
            let _ = tx.send(report);
        }),
    )
    .expect("starts");
    // The nightly job, once, and the web pods the baseline lets in.
    let mut report_job = pod("batch", "report", 1);
    report_job
        .labels
        .push("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=batch".into());
    feed.send(&FlowEvent::Batch(vec![
        flow(5, report_job, pod("payments", "api", 1), 8080, Verdict::Forwarded, "n"),
        flow(
            6,
            pod("payments", "web", 2),
            pod("payments", "api", 1),
            8080,
            Verdict::Forwarded,
            "n",
        ),
    ]));
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace("payments");
    let mut objects = templates.render_baseline(&vars).expect("baseline");
    objects.push(templates.render_default_deny(&vars).expect("default-deny"));
    let engine = crate::policy::engine::Engine::new(
        objects
            .iter()
            .map(|o| crate::policy::parse::parse_policy(o).expect("policy")),
    );
    feed.judge(feed::Judging {
        engine: std::sync::Arc::new(engine),
        namespaces: vec![("payments".into(), at(0))],
        snapshot: std::sync::Arc::default(),
        senders: Default::default(),
    });
    let verdicts = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(10)).expect("a report") {
            feed::Report::Soak(verdicts) => break verdicts,
            feed::Report::Observed(_) => {}
        }
    };
    let payments = &verdicts["payments"].drops;
    assert_eq!(payments.len(), 1, "only the job from another namespace: {payments:#?}");
    assert_eq!(payments[0].source, "batch/report");
    assert_eq!((payments[0].count, payments[0].first), (1, at(5)));
}

#[test]
fn a_node_relay_cannot_reach_is_a_gap_in_what_was_observed() {
    use crate::flows::{FlowEvent, FlowStreamState, StreamHealth};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("l.sqlite");
    let mut observer = Observer::new(Ledger::open(&path).expect("opens"), "observe@h".into()).expect("observer");
    let health = |missing: &[&str]| {
        FlowEvent::Health(StreamHealth {
            nodes_unavailable: missing.iter().map(|n| n.to_string()).collect(),
            ..StreamHealth::default()
        })
    };
    observer
        .on_event(
            &FlowEvent::State(FlowStreamState::Connected { source: "relay".into() }),
            at(0),
        )
        .expect("event");
    observer.flush(at(600)).expect("flush");
    // Relay loses node-b for twenty minutes: its flows are missing meanwhile.
    observer.on_event(&health(&["node-b"]), at(600)).expect("event");
    assert_eq!(observer.nodes_missing(), ["node-b".to_string()]);
    observer.on_event(&health(&["node-b"]), at(900)).expect("same news");
    observer.on_event(&health(&[]), at(1_800)).expect("event");
    observer.flush(at(2_400)).expect("flush");
    let spans = Ledger::open(&path)
        .expect("opens")
        .observed_spans(at(0))
        .expect("spans");
    let c = coverage(
        Span {
            start: at(0),
            end: at(2_400),
        },
        &spans,
    );
    assert_eq!(
        c.gaps,
        vec![Span {
            start: at(600),
            end: at(1_800)
        }]
    );
}

#[test]
fn declared_paths_are_judged_as_if_enforced_and_looked_up_in_the_ledger() {
    use crate::cluster::routes::read_declaring;
    use crate::cluster::{ClusterSnapshot, PodInfo, ServiceInfo, ServicePort, WorkloadRef};
    use crate::policy::templates::{TemplateVars, Templates};
    use serde_json::json;

    let pod_info = |ns: &str, name: &str, workload: &str, labels: &[(&str, &str)]| PodInfo {
        namespace: ns.into(),
        name: name.into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        workload: Some(WorkloadRef {
            kind: "Deployment".into(),
            name: workload.into(),
        }),
        service_account: None,
    };
    let mut snapshot = ClusterSnapshot {
        pods: vec![
            pod_info("shop", "web-1", "web", &[("app", "web")]),
            pod_info(
                "ingress-nginx",
                "controller-1",
                "ingress-nginx-controller",
                &[
                    ("app.kubernetes.io/name", "ingress-nginx"),
                    ("app.kubernetes.io/component", "controller"),
                ],
            ),
        ],
        services: vec![ServiceInfo {
            namespace: "shop".into(),
            name: "web".into(),
            ports: vec![ServicePort {
                name: String::new(),
                port: 80,
                target_port: "8080".into(),
                protocol: "TCP".into(),
            }],
            selector: Some([("app".to_string(), "web".to_string())].into()),
            translated_ips: Vec::new(),
            external_name: None,
        }],
        ..ClusterSnapshot::default()
    };
    for (kind, object) in [
        (
            "IngressClass",
            json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
        ),
        (
            "Ingress",
            json!({"metadata": {"name": "web", "namespace": "shop"},
                   "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}),
        ),
    ] {
        snapshot.declarations.add(read_declaring(kind, &object).expect("reads"));
    }
    let wanted = std::collections::BTreeSet::from(["shop".to_string()]);
    let paths = crate::declared::declared_paths(&snapshot, &Default::default(), &wanted)
        .remove("shop")
        .expect("paths");
    assert_eq!(paths.paths.len(), 1);

    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace("shop");
    let mut objects = templates.render_baseline(&vars).expect("baseline");
    objects.push(templates.render_default_deny(&vars).expect("default-deny"));
    let engine_of = |objects: &[crate::cluster::PolicyObject]| {
        crate::policy::engine::Engine::new(
            objects
                .iter()
                .map(|o| crate::policy::parse::parse_policy(o).expect("policy")),
        )
    };

    // The baseline does not let the ingress controller in, and nothing tried
    // during the soak: the user's real path would break.
    let verdict = judge::judge_declared(&engine_of(&objects), "shop", &paths, &[]);
    assert_eq!(verdict.judged, 1);
    assert_eq!(verdict.unexercised.len(), 1, "{verdict:#?}");
    let unexercised = &verdict.unexercised[0];
    assert_eq!(unexercised.direction, Direction::Ingress);
    let allow = unexercised.allow_line();
    assert!(
        allow.contains(r#""app.kubernetes.io/name":"ingress-nginx""#)
            && allow.contains(r#""k8s:io.kubernetes.pod.namespace":"ingress-nginx""#)
            && allow.contains(r#""port":"8080""#),
        "{allow}"
    );
    assert_eq!(
        unexercised.allow_summary(),
        "ingress to app=web from app.kubernetes.io/name=ingress-nginx,namespace ingress-nginx on 8080/TCP"
    );

    // Seen in the ledger, it is one of the soak's would-drops instead.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("opens");
    let path = &paths.paths[0];
    let mut tally = Tally::default();
    tally.add(&Flow {
        time: at(0),
        direction: Direction::Ingress,
        ..path.flow(&path.sources[0])
    });
    ledger.write(&tally, Evidence::Flows).expect("writes");
    let records = ledger.connections_of("shop", at(-60)).expect("reads");
    let verdict = judge::judge_declared(&engine_of(&objects), "shop", &paths, &records);
    assert_eq!((verdict.unexercised.len(), verdict.dropped_seen), (0, 1));
    assert_eq!(would_drop(&engine_of(&objects), "shop", &records).len(), 1);

    // With the suggested allow added, the path works.
    objects.push(unexercised.allow.clone().expect("an allow"));
    let verdict = judge::judge_declared(&engine_of(&objects), "shop", &paths, &[]);
    assert_eq!((verdict.judged, verdict.unexercised.len()), (1, 0), "{verdict:#?}");
}
