//! The connection ledger at scale: ingest (flows counted per second on one
//! core), writing a million connections (and the file's size), and reading
//! one namespace's connections back out of a million, as the preview over
//! the soak does.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;

use tighten::flows::{Direction, Endpoint, Flow, Protocol, Verdict};
use tighten::ledger::{Evidence, Ledger, Tally};

fn endpoint(namespace: usize, app: usize) -> Endpoint {
    Endpoint {
        namespace: format!("team-{namespace}"),
        pod: format!("app-{app}-7d9f-x"),
        workload: format!("app-{app}"),
        labels: vec![
            format!("k8s:app=app-{app}"),
            format!("k8s:io.kubernetes.pod.namespace=team-{namespace}"),
        ],
        ip: "10.0.0.1".into(),
        ..Endpoint::default()
    }
}

/// Flow `i`: 2,000 namespaces, 20 apps each, 25 ports: up to 1 M distinct
/// connections.
fn flow(i: usize) -> Flow {
    Flow {
        time: Timestamp::from_second(1_800_000_000 + (i / 100) as i64).expect("time"),
        verdict: if i.is_multiple_of(17) {
            Verdict::Dropped
        } else {
            Verdict::Forwarded
        },
        drop_reason: None,
        direction: Direction::Ingress,
        source: endpoint((i / 7) % 2_000, i % 20),
        destination: endpoint(i % 2_000, (i / 3) % 20),
        protocol: Protocol::Tcp,
        source_port: 40_000,
        destination_port: 8_000 + (i % 25) as u16,
        is_reply: false,
        node: format!("node-{}", i % 5),
        destination_names: Vec::new(),
        denied_by: Vec::new(),
        icmp: None,
    }
}

/// Connection `j` of a million distinct ones: 2,000 namespaces, each with 20
/// client apps calling 25 server apps of the next namespace.
fn distinct(j: usize) -> Flow {
    let namespace = j % 2_000;
    let mut f = flow(j);
    f.source = endpoint(namespace, (j / 2_000) % 20);
    f.destination = endpoint((namespace + 1) % 2_000, 100 + (j / 40_000) % 25);
    f.destination_port = 8080;
    f
}

fn benches(c: &mut Criterion) {
    let flows: Vec<Flow> = (0..200_000).map(flow).collect();
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(flows.len() as u64));
    group.bench_function("ingest_200k_flows", |b| {
        b.iter(|| {
            let mut tally = Tally::default();
            for f in black_box(&flows) {
                tally.add(f);
            }
            tally.connections.len()
        })
    });
    group.finish();

    // A million connections on disk.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.sqlite");
    let mut ledger = Ledger::open(&path).expect("opens");
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    for j in 0..1_000_000 {
        tally.add(&distinct(j));
        if tally.connections.len() >= 100_000 {
            ledger.write(&tally.take(), Evidence::Flows).expect("writes");
        }
    }
    ledger.write(&tally.take(), Evidence::Flows).expect("writes");
    let summary = ledger.summary().expect("summary");
    drop(ledger);
    let size: u64 = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "ledger: {} connections written in {:.1} s; {:.0} MB on disk ({:.0} bytes per connection)",
        summary.connections,
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6,
        size as f64 / summary.connections as f64
    );

    let ledger = Ledger::open(&path).expect("opens");
    // team-42's baseline and staged default-deny, as the preview judges them.
    let templates = tighten::policy::Templates::embedded();
    let vars = tighten::policy::TemplateVars::for_namespace("team-42");
    let mut objects = templates.render_baseline(&vars).expect("baseline");
    objects.push(templates.render_default_deny(&vars).expect("default-deny"));
    let engine = tighten::policy::engine::Engine::new(
        objects
            .iter()
            .map(|o| tighten::policy::parse::parse_policy(o).expect("policy")),
    );
    let all = ledger.connections_since(Timestamp::UNIX_EPOCH).expect("reads");
    let mut group = c.benchmark_group("ledger");
    group.sample_size(10);
    group.bench_function("preview_one_namespace_of_1m_connections", |b| {
        b.iter(|| {
            let records = ledger
                .connections_of(black_box("team-42"), Timestamp::UNIX_EPOCH)
                .expect("reads");
            tighten::ledger::would_drop(&engine, "team-42", &records).len()
        })
    });
    group.bench_function("judge_all_1m_connections_for_one_namespace", |b| {
        b.iter(|| tighten::ledger::would_drop(&engine, "team-42", black_box(&all)).len())
    });
    group.bench_function("one_namespace_of_1m_connections", |b| {
        b.iter(|| {
            ledger
                .connections_of(black_box("team-42"), Timestamp::UNIX_EPOCH)
                .expect("reads")
                .len()
        })
    });
    group.finish();
}

criterion_group!(ledger_benches, benches);
criterion_main!(ledger_benches);
