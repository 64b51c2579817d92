//! Flows per second through the Hubble client's decode path, alone and
//! followed by the cockpit's aggregation (per-namespace windows, rankings and
//! the would-drop preview), on one core. The ratio of the two says where a
//! busy stream's time goes. Figures are reported in issue notes.
//!
//! - `hubble/decode`: protobuf decoding and conversion of an hour of the
//!   demo's traffic, as `GetFlowsResponse` messages.
//! - `hubble/decode_aggregate`: the same, then handed to `update` as the
//!   cockpit receives it.
//! - `interop/hubble_input_file` and `interop/tighten_reader`: the same hour
//!   as a `-o jsonpb` file, through `hubble observe --input-file F -o jsonpb`
//!   (the real CLI, built by `tests/cilium/build`) and through tighten's
//!   reader, on the same machine in the same run.

use std::hint::black_box;

mod support;

use support::{cockpit, now};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::SignedDuration;
use prost::Message;

use tighten::app::{Msg, update};
use tighten::flows::{Flow, FlowEvent};
use tighten::hubble::client::{Decoded, decode};
use tighten::hubble::convert::to_wire;
use tighten::hubble::proto::observer::{GetFlowsResponse, get_flows_response::ResponseTypes};

fn flows_of(messages: &[Vec<u8>]) -> Vec<Flow> {
    messages
        .iter()
        .filter_map(|m| match decode(m) {
            Decoded::Flow { flow, .. } => Some(*flow),
            _ => None,
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    // Ten minutes of traffic already in; the hour below is counted on top.
    let (mut state, demo) = cockpit(dir.path());
    let flows = demo.flows_between(now() - SignedDuration::from_mins(60), now(), 7);
    let messages: Vec<Vec<u8>> = flows
        .iter()
        .map(|f| {
            GetFlowsResponse {
                response_types: Some(ResponseTypes::Flow(to_wire(f))),
                node_name: f.node.clone(),
                time: None,
            }
            .encode_to_vec()
        })
        .collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    eprintln!(
        "{} messages, {} bytes ({} per flow)",
        messages.len(),
        bytes,
        bytes / messages.len().max(1)
    );

    let mut group = c.benchmark_group("hubble");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("decode", |b| b.iter(|| black_box(flows_of(black_box(&messages)))));
    group.bench_function("decode_aggregate", |b| {
        b.iter(|| update(&mut state, Msg::Flows(FlowEvent::Batch(flows_of(black_box(&messages))))))
    });
    group.finish();

    interop(c, &flows, dir.path());
}

/// The hubble CLI, built (or found cached) by the repo's script.
fn hubble_cli() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new(root.join("tests/cilium/build"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let bin = std::path::PathBuf::from(stdout.lines().last()?.trim()).join("hubble");
    (output.status.success() && bin.exists()).then_some(bin)
}

fn interop(c: &mut Criterion, flows: &[Flow], dir: &std::path::Path) {
    let Some(hubble) = hubble_cli() else {
        eprintln!("interop benchmarks skipped: tests/cilium/build could not build the hubble CLI");
        return;
    };
    let path = dir.join("hour.jsonpb");
    let text: String = flows.iter().map(|f| tighten::hubble::jsonpb::line(f) + "\n").collect();
    std::fs::write(&path, &text).expect("written");
    let mut group = c.benchmark_group("interop");
    group.sample_size(10);
    group.throughput(Throughput::Elements(flows.len() as u64));
    group.bench_function("hubble_input_file", |b| {
        b.iter(|| {
            let output = std::process::Command::new(&hubble)
                .args(["observe", "--input-file"])
                .arg(&path)
                .args(["-o", "jsonpb"])
                .env("HUBBLE_CONFIG", "/dev/null")
                .stdout(std::process::Stdio::null())
                .status()
                .expect("hubble runs");
            assert!(output.success());
        })
    });
    group.bench_function("tighten_reader", |b| {
        b.iter(|| black_box(tighten::flows::file::read(black_box(&path)).expect("reads").flows.len()))
    });
    group.finish();
}

criterion_group!(hubble, benches);
criterion_main!(hubble);
