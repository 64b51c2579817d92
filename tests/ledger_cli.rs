//! The connection ledger as a user feeds it: `tighten ledger import` from
//! both recording formats, and `tighten observe` against `tighten replay`,
//! stopped and started again (no flow counted twice), and killed outright
//! (the file stays whole).

#[path = "common/replay_process.rs"]
mod replay_process;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tighten::flows::file;
use tighten::ledger::{Ledger, Tally};

use replay_process::ReplayProcess;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/flows/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tighten(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tighten"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The connections' flows a recording holds (replies not counted).
fn flows_in(path: &str) -> u64 {
    let mut tally = Tally::default();
    for flow in &file::read(Path::new(path)).expect("recording").flows {
        tally.add(flow);
    }
    tally.flows
}

fn ledger_flows(path: &Path) -> u64 {
    if !path.exists() {
        return 0;
    }
    Ledger::open(path).expect("opens").summary().expect("summary").flows
}

#[test]
fn imports_read_hubble_recordings_and_exporter_logs_once_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("l.sqlite");
    let l = ledger.to_str().expect("utf-8");
    let (code, out, err) = tighten(&["ledger", "import", "--ledger", l, &fixture("exporter.log")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("7 flows, 7 connections"), "{out}");
    // The same flows as a `hubble observe -o jsonpb` recording, then that again.
    let (code, out, _) = tighten(&[
        "ledger",
        "import",
        "--ledger",
        l,
        &fixture("sample.jsonpb"),
        &fixture("sample.jsonpb"),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("already imported (same content), skipped"), "{out}");
    let (code, out, _) = tighten(&["ledger", "show", "--ledger", l, "-n", "payments", "--json"]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let stripe = lines
        .iter()
        .find(|l| l["destination"].as_str().is_some_and(|d| d.starts_with("world ")) && l["port"] == 443)
        .unwrap_or_else(|| panic!("payments' egress to the world: {out}"));
    // Two files, one import each: counted twice (exporter + jsonpb), not three times.
    assert_eq!(stripe["count"], 2, "{stripe}");
    let (code, table, _) = tighten(&["ledger", "show", "--ledger", l]);
    assert_eq!(code, 0);
    assert!(
        table.contains("FIRST SEEN") && table.contains("connections; observed"),
        "{table}"
    );
    // A file that is not a recording names its line.
    let bad = dir.path().join("bad.log");
    std::fs::write(&bad, "{\"flow\": {\"time\": 7}}\n").expect("write");
    let (code, _, err) = tighten(&["ledger", "import", "--ledger", l, bad.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.log:1"), "{err}");
}

/// `tighten observe` on the replay: `--demo` goes through the cockpit's
/// backends, without it the address alone is used, as in a Pod.
fn observe(replay: &ReplayProcess, ledger: &Path, home: &Path, demo: bool) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tighten"))
        .arg("observe")
        .args(demo.then_some("--demo"))
        .args(["--flush-every", "1s", "--hubble-server", &replay.address, "--ledger"])
        .arg(ledger)
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("observe starts")
}

fn wait_for(ledger: &Path, flows: u64) {
    let started = Instant::now();
    while ledger_flows(ledger) < flows {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the ledger holds {} of {flows} flows",
            ledger_flows(ledger)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn terminate(child: Child) -> String {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    let out = child.wait_with_output().expect("ends");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into()
}

#[test]
fn observe_survives_restarts_of_either_side_without_counting_a_flow_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.sqlite");
    let recording = fixture("demo-databases-enforced.jsonpb");
    let total = flows_in(&recording);
    assert!(total > 500, "{total}");

    let replay = ReplayProcess::start(Path::new(&recording), &["--listen", "127.0.0.1:0", "--speed", "500"]);
    let first = observe(&replay, &ledger, dir.path(), true);
    wait_for(&ledger, total);
    let said = terminate(first);
    assert!(said.contains("recording into"), "{said}");
    assert_eq!(ledger_flows(&ledger), total, "every flow once: {said}");

    // Both sides again: the replay starts over, the observer resumes.
    drop(replay);
    let replay = ReplayProcess::start(Path::new(&recording), &["--listen", "127.0.0.1:0", "--speed", "500"]);
    let second = observe(&replay, &ledger, dir.path(), false);
    std::thread::sleep(Duration::from_secs(4));
    let said = terminate(second);
    assert_eq!(ledger_flows(&ledger), total, "no flow counted twice");
    assert!(
        !said.contains(" 0 skipped"),
        "the replayed flows were recognised: {said}"
    );
    let spans = Ledger::open(&ledger)
        .expect("opens")
        .observed_spans(jiff::Timestamp::UNIX_EPOCH)
        .expect("spans");
    assert_eq!(spans.len(), 2, "each run observed a span of its own: {spans:?}");

    // Killed outright mid-stream: the file is whole, and holds what was written.
    let replay = ReplayProcess::start(
        Path::new(&recording),
        &["--listen", "127.0.0.1:0", "--speed", "50", "--loop", "--rebase"],
    );
    let mut third = observe(&replay, &ledger, dir.path(), false);
    std::thread::sleep(Duration::from_millis(2500));
    third.kill().expect("SIGKILL");
    third.wait().expect("reaped");
    let after = Ledger::open(&ledger).expect("opens after a crash");
    assert_eq!(after.integrity().expect("check"), "ok");
    assert!(after.summary().expect("summary").flows >= total);
}

/// A staged namespace whose only would-drop was seen once, hours earlier:
/// the preview over the ledger finds it, a ten-minute window never would.
#[test]
fn the_preview_over_the_soak_finds_the_nightly_job_a_window_misses() {
    use tighten::flows::{Direction, Endpoint, Flow, Protocol, Verdict};
    use tighten::policy::{TemplateVars, Templates};

    let dir = tempfile::tempdir().expect("tempdir");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("dir");
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace("payments");
    let mut docs: Vec<String> = templates
        .render_baseline(&vars)
        .expect("baseline")
        .iter()
        .map(|p| p.to_yaml())
        .collect();
    docs.push(templates.render_default_deny(&vars).expect("default-deny").to_yaml());
    std::fs::write(policies.join("tighten.yaml"), docs.join("---\n")).expect("write");
    std::fs::write(
        policies.join("app.yaml"),
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-from-web, namespace: payments}
spec:
  endpointSelector: {matchLabels: {app: api}}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {\"k8s:io.kubernetes.pod.namespace\": frontend, app: web}}]
    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]
",
    )
    .expect("write");

    let pod = |namespace: &str, app: &str| Endpoint {
        namespace: namespace.into(),
        pod: format!("{app}-1"),
        workload: app.into(),
        labels: vec![
            format!("k8s:app={app}"),
            format!("k8s:io.kubernetes.pod.namespace={namespace}"),
            format!("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={namespace}"),
        ],
        ip: "10.0.0.1".into(),
        ..Endpoint::default()
    };
    let now = jiff::Timestamp::now();
    let at = |hours_ago: f64| now - jiff::SignedDuration::from_secs_f64(hours_ago * 3600.0);
    let flow = |time, source: Endpoint, destination: Endpoint| Flow {
        time,
        verdict: Verdict::Forwarded,
        drop_reason: None,
        direction: Direction::Ingress,
        source,
        destination,
        protocol: Protocol::Tcp,
        source_port: 40_000,
        destination_port: 8080,
        is_reply: false,
        node: "node-1".into(),
        destination_names: Vec::new(),
        denied_by: Vec::new(),
        icmp: None,
    };
    // Web calls the API every ten minutes for a day; the nightly report job
    // called it once, nine hours ago.
    let mut flows: Vec<Flow> = (0..144)
        .map(|i| {
            flow(
                at(24.0 - f64::from(i) / 6.0),
                pod("frontend", "web"),
                pod("payments", "api"),
            )
        })
        .collect();
    flows.push(flow(at(9.0), pod("batch", "report"), pod("payments", "api")));
    flows.sort_by_key(|f| f.time);
    let recording = dir.path().join("day.jsonpb");
    replay_process::write_recording(&recording, &flows);

    let ledger = dir.path().join("l.sqlite");
    let l = ledger.to_str().expect("utf-8");
    let (code, out, err) = tighten(&["ledger", "import", "--ledger", l, recording.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    let p = policies.to_str().expect("utf-8");
    let (code, out, err) = tighten(&[
        "ledger",
        "preview",
        "-n",
        "payments",
        "--policies",
        p,
        "--ledger",
        l,
        "--since",
        "24h",
    ]);
    assert_eq!(code, 1, "something would be dropped: {out}{err}");
    eprintln!("{out}");
    assert!(
        out.contains("would drop if payments were enforced: 1 of the 2 connections"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("batch/report -> payments/api"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("ingress") && line.contains("8080/TCP"), "{line}");
    let nine_hours_ago = at(9.0).strftime("%Y-%m-%d %H:%M").to_string();
    assert_eq!(
        line.matches(&nine_hours_ago).count(),
        2,
        "first and last seen, once: {line}"
    );

    // The last ten minutes of the same day, as the cockpit's window holds
    // them: the job is not in it, so nothing would seem to be dropped.
    let window: Vec<Flow> = flows.iter().filter(|f| f.time >= at(10.0 / 60.0)).cloned().collect();
    let recent = dir.path().join("window.jsonpb");
    replay_process::write_recording(&recent, &window);
    let (code, out, _) = tighten(&[
        "simulate",
        "--policies",
        p,
        "--flows",
        recent.to_str().expect("utf-8"),
        "--enforce",
        "payments",
    ]);
    assert_eq!(code, 0, "the window sees no drop: {out}");
}
