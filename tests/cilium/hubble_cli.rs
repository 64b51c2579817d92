//! The real hubble CLI as a client of `tighten replay`, and as a reader of the
//! files tighten records.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use tighten::flows::{Flow, Verdict, file};

use super::replay_process::{ReplayProcess, played, write_recording};
use super::tools;

/// The shipped incident recording (written by tighten's recorder).
const INCIDENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/flows/demo-databases-enforced.jsonpb"
);
/// A recording made by Hubble itself, with fields tighten's .proto leaves out.
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flows/sample.jsonpb");

/// Runs the hubble CLI to completion; its stdout.
fn hubble(args: &[&str]) -> String {
    let output = Command::new(tools::hubble())
        .args(args)
        .env("HUBBLE_CONFIG", "/dev/null")
        .output()
        .expect("hubble runs");
    assert!(
        output.status.success(),
        "hubble {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn flows_of(text: &str) -> Vec<Flow> {
    file::parse(Path::new("hubble-output.jsonpb"), text)
        .expect("tighten reads hubble's output")
        .flows
}

fn recording() -> Vec<Flow> {
    file::read(Path::new(INCIDENT)).expect("fixture").flows
}

/// Everything the replay holds, played at once: waits until the server says
/// it has seen every flow of the file.
fn served(file: &Path) -> ReplayProcess {
    let replay = ReplayProcess::start(file, &["--listen", "127.0.0.1:0", "--speed", "1000000000"]);
    let count = file::read(file).expect("recording").flows.len() as u64;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(played(&replay.address, count));
    replay
}

#[test]
fn observe_returns_exactly_the_recording() {
    let replay = served(Path::new(INCIDENT));
    let out = hubble(&["observe", "--server", &replay.address, "--all", "-o", "jsonpb"]);
    let expected = json_lines(&std::fs::read_to_string(INCIDENT).expect("fixture"));
    let got = json_lines(&out);
    assert_eq!(got.len(), expected.len());
    for (i, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, expected, "line {i}");
    }
}

#[test]
fn observe_honours_namespace_verdict_since_and_last() {
    let replay = served(Path::new(INCIDENT));
    let all = recording();
    let server = replay.address.as_str();

    let databases = flows_of(&hubble(&[
        "observe",
        "--server",
        server,
        "--all",
        "--namespace",
        "databases",
        "-o",
        "jsonpb",
    ]));
    let expected: Vec<&Flow> = all
        .iter()
        .filter(|f| f.source.namespace == "databases" || f.destination.namespace == "databases")
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(databases.iter().collect::<Vec<_>>(), expected);

    let dropped = flows_of(&hubble(&[
        "observe",
        "--server",
        server,
        "--all",
        "--verdict",
        "DROPPED",
        "-o",
        "jsonpb",
    ]));
    let expected: Vec<&Flow> = all.iter().filter(|f| f.verdict == Verdict::Dropped).collect();
    assert!(!expected.is_empty());
    assert_eq!(dropped.iter().collect::<Vec<_>>(), expected);

    let since = all[all.len() / 2].time;
    let later = flows_of(&hubble(&[
        "observe",
        "--server",
        server,
        "--since",
        &since.to_string(),
        "-o",
        "jsonpb",
    ]));
    let expected: Vec<&Flow> = all.iter().filter(|f| f.time >= since).collect();
    assert_eq!(later.iter().collect::<Vec<_>>(), expected);

    let last = flows_of(&hubble(&["observe", "--server", server, "--last", "7", "-o", "jsonpb"]));
    assert_eq!(last, all[all.len() - 7..]);
}

#[test]
fn observe_follows_a_recording_as_it_plays() {
    // Twenty flows over two seconds of recording, played at real speed.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("slow.jsonpb");
    let all = recording();
    let start = all[0].time;
    let flows: Vec<Flow> = all[..20]
        .iter()
        .enumerate()
        .map(|(i, f)| Flow {
            time: start + jiff::SignedDuration::from_millis(100 * i as i64),
            ..f.clone()
        })
        .collect();
    write_recording(&path, &flows);
    let replay = ReplayProcess::start(&path, &["--listen", "127.0.0.1:0", "--speed", "1"]);
    let started = Instant::now();
    let mut child = Command::new(tools::hubble())
        .args(["observe", "--server", &replay.address, "--follow", "-o", "jsonpb"])
        .env("HUBBLE_CONFIG", "/dev/null")
        .stdout(Stdio::piped())
        .spawn()
        .expect("hubble runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut got = Vec::new();
    while got.len() < flows.len() {
        let line = lines.next().expect("hubble keeps following").expect("a line");
        got.extend(flows_of(&line));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got, flows);
    // The last flow is 1.9 s into the recording: it came as it was played.
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn status_reports_the_servers_status() {
    let replay = served(Path::new(INCIDENT));
    let out = hubble(&["status", "--server", &replay.address, "-o", "json"]);
    let status: Value = json_lines(&out).pop().expect("a status object");
    let count = recording().len() as u64;
    let number = |v: &Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    assert_eq!(number(&status["num_flows"]), Some(count), "{status}");
    assert_eq!(number(&status["seen_flows"]), Some(count), "{status}");
    assert_eq!(number(&status["max_flows"]), Some(4_096), "{status}");
    assert_eq!(status["num_connected_nodes"], 3, "{status}");
    assert!(
        status["version"].as_str().is_some_and(|v| v.starts_with("tighten")),
        "{status}"
    );
}

#[test]
fn files_tighten_records_are_read_by_hubble() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join("recorded.jsonpb");
    let recorder = tighten::hubble::record::Recorder::start(tighten::hubble::record::RecordOptions {
        path: path.clone(),
        max_bytes: 64 << 20,
        keep: 1,
    })
    .expect("records");
    let all = recording();
    for flow in &all {
        recorder.write(flow);
    }
    drop(recorder);
    let mut written = Vec::new();
    for _ in 0..200 {
        written = file::read(&path).map(|f| f.flows).unwrap_or_default();
        if written.len() == all.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(written.len(), all.len());
    let out = hubble(&["observe", "--input-file", &path.display().to_string(), "-o", "jsonpb"]);
    assert_eq!(flows_of(&out), all);
    // And hubble's own output is byte-for-byte what tighten wrote, as JSON.
    assert_eq!(
        json_lines(&out),
        json_lines(&std::fs::read_to_string(&path).expect("recording"))
    );
}

#[test]
fn fields_tightens_proto_leaves_out_do_not_break_the_cli() {
    // Hubble's own recording carries ethernet, event_type, Summary, uuid and
    // more; tighten serves what it knows, and hubble prints it all the same.
    let replay = served(Path::new(SAMPLE));
    let out = hubble(&["observe", "--server", &replay.address, "--all", "-o", "jsonpb"]);
    let mut expected = file::read(Path::new(SAMPLE)).expect("fixture").flows;
    expected.sort_by_key(|f| f.time);
    assert_eq!(flows_of(&out), expected);
    // The compact form, the one operators read, works too.
    let compact = hubble(&["observe", "--server", &replay.address, "--all"]);
    assert_eq!(compact.lines().filter(|l| !l.trim().is_empty()).count(), expected.len());
    assert!(compact.contains("DROPPED"), "{compact}");
}
