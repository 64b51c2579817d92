//! tighten's verdicts against Cilium's own policy engine, flow by flow.
//!
//! Each seeded scenario is a policy set and flows between every kind of peer;
//! `tighten simulate` and the oracle (Cilium's `policy.LookupFlow`) read the
//! same files. Every disagreement is a bug in tighten until shown otherwise.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use tighten::commands::Output;
use tighten::commands::simulate::{SimulateOptions, run};
use tighten::policy::load::Sources;

use super::generate::{self, CLUSTER, Scenario};
use super::replay_process::write_recording;
use super::tools;

/// Scenarios per run and flows per scenario: tens of thousands of verdicts.
const SCENARIOS: u64 = 100;
const FLOWS: usize = 500;

/// One flow's verdict: allowed, or dropped in a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    verdict: String,
    direction: Option<String>,
    /// Why a drop: `default-deny` or `denied-by-rule` (the reasons for an
    /// allow are each tool's own classification, not Cilium's decision).
    reason: Option<String>,
}

fn verdicts(json_lines: &str) -> BTreeMap<usize, Verdict> {
    json_lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let flow = v["flow"].as_u64().expect("flow index") as usize;
            let verdict = v["verdict"].as_str().expect("verdict").to_string();
            // A direction only distinguishes drops.
            let direction = (verdict == "dropped")
                .then(|| v["direction"].as_str().map(str::to_string))
                .flatten();
            let reason = (verdict == "dropped")
                .then(|| v["reason"].as_str().map(str::to_string))
                .flatten();
            (
                flow,
                Verdict {
                    verdict,
                    direction,
                    reason,
                },
            )
        })
        .collect()
}

fn write(dir: &Path, scenario: &Scenario) {
    let yaml = |policies: &[Value]| -> String {
        policies
            .iter()
            .map(|p| format!("---\n{}", serde_yaml::to_string(p).expect("yaml")))
            .collect()
    };
    std::fs::write(dir.join("policies.yaml"), yaml(&scenario.policies)).expect("policies written");
    std::fs::write(dir.join("enforced.yaml"), yaml(&scenario.enforced)).expect("policies written");
    write_recording(&dir.join("flows.jsonpb"), &scenario.flows);
}

fn tighten_verdicts(dir: &Path, enforce: &[String]) -> BTreeMap<usize, Verdict> {
    let options = SimulateOptions {
        policies: Sources {
            paths: vec![dir.join("policies.yaml")],
            ..Sources::default()
        },
        flows: dir.join("flows.jsonpb"),
        enforce: enforce.to_vec(),
        output: Output::Json,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(&options, &mut out, &mut err).expect("simulate runs");
    assert!(code < 2, "tighten simulate: {}", String::from_utf8_lossy(&err));
    verdicts(&String::from_utf8_lossy(&out))
}

/// Cilium's verdicts on the policies as they are once `--enforce`'s
/// default-deny is switched on (`enforced.yaml`): tighten must recognise the
/// staged default-deny by its shape, whoever wrote it, to agree.
fn oracle_verdicts(dir: &Path) -> BTreeMap<usize, Verdict> {
    let mut command = Command::new(tools::oracle());
    command
        .arg("--policies")
        .arg(dir.join("enforced.yaml"))
        .arg("--flows")
        .arg(dir.join("flows.jsonpb"))
        .args(["--cluster-name", CLUSTER])
        // Cilium 1.19.4 with its default policy-default-local-cluster turns an
        // ipBlock-only NetworkPolicy peer into "every pod of the namespace"
        // too: a security bug fixed after it (cilium/cilium#46305, backported
        // as #46456). tighten decides as the fix does; without the option the
        // oracle takes the path the fix restored. With one cluster, the option
        // changes nothing else.
        .args(["--policy-default-local-cluster", "false"]);
    let output = command.output().expect("the oracle runs");
    assert!(
        output.status.success(),
        "the oracle failed on {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    verdicts(&String::from_utf8_lossy(&output.stdout))
        .into_iter()
        .filter(|(_, v)| v.verdict != "skipped")
        .collect()
}

#[test]
fn tighten_decides_as_ciliums_policy_engine() {
    let (mut compared, mut dropped, mut disagreements) = (0usize, 0usize, Vec::new());
    for seed in 0..SCENARIOS {
        let scenario = generate::scenario(seed, FLOWS);
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &scenario);
        // TIGHTEN_DIFFERENTIAL_KEEP=DIR keeps each scenario's files for a closer look.
        if let Ok(keep) = std::env::var("TIGHTEN_DIFFERENTIAL_KEEP") {
            let to = Path::new(&keep).join(format!("seed-{seed}"));
            std::fs::create_dir_all(&to).expect("keep dir");
            for name in ["policies.yaml", "enforced.yaml", "flows.jsonpb"] {
                std::fs::copy(dir.path().join(name), to.join(name)).expect("kept");
            }
        }
        let ours = tighten_verdicts(dir.path(), &scenario.enforce);
        let cilium = oracle_verdicts(dir.path());
        for (index, expected) in &cilium {
            compared += 1;
            dropped += usize::from(expected.verdict == "dropped");
            let got = ours.get(index);
            if got != Some(expected) {
                let flow = &scenario.flows[*index];
                disagreements.push((
                    seed,
                    format!(
                        "seed {seed}, flow {index}: {} -> {} {}/{}: tighten {:?}, Cilium {:?}",
                        flow.source.qualified_name(),
                        flow.destination.qualified_name(),
                        flow.destination_port,
                        flow.protocol.name(),
                        got,
                        expected
                    ),
                ));
            }
        }
    }
    let agreed = compared - disagreements.len();
    let only: Option<u64> = std::env::var("TIGHTEN_DIFFERENTIAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    if let Some(seed) = only {
        disagreements.retain(|(s, _)| *s == seed);
    }
    println!(
        "differential: {agreed} of {compared} verdicts agree ({:.3}%) over {SCENARIOS} scenarios; Cilium dropped {dropped}",
        100.0 * agreed as f64 / compared.max(1) as f64
    );
    // Both outcomes must be well represented, or agreement says little.
    assert!(
        dropped > compared / 10 && dropped < compared * 9 / 10,
        "{dropped} of {compared} dropped"
    );
    assert!(
        compared >= SCENARIOS as usize * FLOWS * 9 / 10,
        "too many flows skipped: {compared}"
    );
    if let Some((seed, _)) = disagreements.first() {
        let shown: Vec<&str> = disagreements.iter().take(20).map(|(_, d)| d.as_str()).collect();
        let policies: String = generate::scenario(*seed, FLOWS)
            .policies
            .iter()
            .map(|p| format!("---\n{}", serde_yaml::to_string(p).unwrap_or_default()))
            .collect();
        panic!(
            "{} disagreements (first {}):\n{}\n\nThe policies of seed {seed}:\n{policies}",
            disagreements.len(),
            shown.len(),
            shown.join("\n")
        );
    }
}
