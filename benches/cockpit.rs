//! Speed of the cockpit's hot paths. Figures are reported in issue notes; no test
//! asserts a time.
//!
//! - `render/main_120x40`: one full frame of the main screen (the render budget is
//!   16 ms per frame).
//! - `update/flows_1000`: ingesting a batch of 1,000 flows into the statistics.
//! - `rows/derive_demo`: re-deriving every row (phase, gate, sparkline) of the demo.
//! - `render/table_1000_namespaces_120x40`: a frame with a thousand rows in
//!   the table, scrolled to the middle.
//! - `rows/derive_1000_namespaces`: every row of a thousand-namespace cluster
//!   (9,500 policies), as each one-second tick does, with lint's findings on
//!   them: half the namespaces also allow ingress from `world`, so the
//!   definition of done reads 500 broad-entity findings.

use std::hint::black_box;

mod support;

use support::{cockpit, now};

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::SignedDuration;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use tighten::app::{Msg, update};
use tighten::cluster::{ClusterSnapshot, NamespaceInfo};
use tighten::config::Settings;
use tighten::flows::FlowEvent;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut state, demo) = cockpit(dir.path());

    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    c.bench_function("render/main_120x40", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| tighten::ui::render(frame, black_box(&state)))
                .map(|_| ())
        })
    });

    // A minute of demo traffic, cut to exactly 1,000 flows.
    let mut batch = demo.flows_between(now(), now() + SignedDuration::from_mins(2), 7);
    batch.truncate(1_000);
    assert_eq!(batch.len(), 1_000);
    c.bench_function("update/flows_1000", |b| {
        b.iter_batched(
            || batch.clone(),
            |flows| update(&mut state, Msg::Flows(FlowEvent::Batch(flows))),
            criterion::BatchSize::SmallInput,
        )
    });

    c.bench_function("rows/derive_demo", |b| {
        b.iter(|| update(&mut state, Msg::Tick(black_box(now()))))
    });

    // A thousand namespaces, each with the demo's auth policies copied in.
    let source = demo.snapshot();
    let mut large = ClusterSnapshot::default();
    for i in 0..1_000 {
        let name = format!("team-{i}");
        large.namespaces.push(NamespaceInfo {
            name: name.clone(),
            ..source.namespace("auth").cloned().expect("auth")
        });
        for policy in source.namespaced_policies("auth") {
            let mut copy = policy.clone();
            copy.namespace = Some(name.clone());
            large.policies.push(copy);
        }
        if i % 2 == 1 {
            let mut public = source.namespaced_policies("auth").next().cloned().expect("a policy");
            public.namespace = Some(name.clone());
            public.name = "allow-public".into();
            public.body.insert(
                "spec".into(),
                serde_json::json!({"endpointSelector": {}, "ingress": [{"fromEntities": ["world"]}]}),
            );
            large.policies.push(public);
        }
    }
    let settings = Settings::default().for_context("demo");
    let traffic = tighten::flows::Traffic::default();
    let preview = tighten::policy::preview::Preview::default();
    let prometheus = tighten::app::state::PromState::default();
    // Once per snapshot too: lint, one-sided allows included.
    c.bench_function("lint/1000_namespaces", |b| {
        b.iter(|| {
            tighten::policy::lint::lint(&tighten::policy::lint::LintInput::from_snapshot(black_box(&large))).len()
        })
    });
    // With the demo's auth pods in every namespace: the one-sided check asks
    // each allow's flows between them of the other side.
    let mut populated = large.clone();
    for ns in &large.namespaces {
        for pod in source.pods_in("auth") {
            let mut copy = pod.clone();
            copy.namespace = ns.name.clone();
            populated.pods.push(copy);
        }
    }
    c.bench_function("lint/1000_namespaces_with_pods", |b| {
        b.iter(|| {
            tighten::policy::lint::lint(&tighten::policy::lint::LintInput::from_snapshot(black_box(&populated))).len()
        })
    });
    let lint = tighten::policy::lint::lint(&tighten::policy::lint::LintInput::from_snapshot(&large));
    let broad = lint
        .iter()
        .filter(|f| f.code == tighten::policy::lint::code::BROAD_ENTITY)
        .count();
    assert_eq!(broad, 500, "broad-entity findings");
    // Once per snapshot: every namespace's posture (every policy parsed).
    c.bench_function("statuses/derive_1000_namespaces", |b| {
        b.iter(|| tighten::rollout::statuses(black_box(&large)).len())
    });
    let statuses = tighten::rollout::statuses(&large);
    let inputs = tighten::app::rows::RowInputs {
        traffic: &traffic,
        preview: &preview,
        settings: &settings,
        now: now(),
        backups_writable: &Some(Ok(())),
        prometheus: &prometheus,
        stream_lost: 0,
        lint: &lint,
        statuses: &statuses,
        observed: None,
        soak: None,
        waiting: &Default::default(),
    };
    c.bench_function("rows/derive_1000_namespaces", |b| {
        b.iter(|| tighten::app::rows::derive_rows(black_box(&large), &inputs).len())
    });

    // A frame with the thousand namespaces in the table, the selection in
    // the middle: only the rows on screen should cost anything.
    state.rows = tighten::app::rows::derive_rows(&large, &inputs);
    state.table.visible = (0..state.rows.len()).collect();
    state.table.selected = state.rows.get(state.rows.len() / 2).map(|r| r.name.clone());
    c.bench_function("render/table_1000_namespaces_120x40", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| tighten::ui::render(frame, black_box(&state)))
                .map(|_| ())
        })
    });
}

criterion_group!(cockpit_benches, benches);
criterion_main!(cockpit_benches);
