//! The reader's verdict on validity against Cilium's own parser: for policies
//! near the edge of what Cilium accepts, the engine applies a policy exactly
//! when the reader reports no problem that refuses it, and Cilium's parser
//! (`CiliumNetworkPolicy.Parse`, which runs `Rule.Sanitize` as the agent does)
//! accepts exactly those. Policies the reader says the API server refuses
//! never reach the agent; the live suite judges those against the real
//! schema.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use tighten::cluster::PolicyObject;
use tighten::policy::parse::{Judge, parse_policy, read_policy};

use super::policy_variants::variants;
use super::tools;

#[test]
fn the_engine_applies_exactly_what_ciliums_parser_accepts() {
    let manifests = variants(16, 600, "shop");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("variants.yaml");
    let yaml: Vec<String> = manifests
        .iter()
        .map(|m| serde_yaml::to_string(m).expect("yaml"))
        .collect();
    std::fs::write(&file, yaml.join("---\n")).expect("write");
    let out = Command::new(tools::oracle())
        .arg("--validate")
        .arg("--policies")
        .arg(&file)
        .output()
        .expect("oracle runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let verdicts: BTreeMap<String, (bool, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            (
                v["name"].as_str().unwrap_or_default().to_string(),
                (
                    v["accepted"].as_bool().unwrap_or(false),
                    v["error"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(verdicts.len(), manifests.len(), "one verdict per policy");

    let (mut compared, mut accepted, mut refused, mut by_schema) = (0, 0, 0, 0);
    let mut disagreements = Vec::new();
    for manifest in &manifests {
        let object = PolicyObject::from_manifest(manifest).expect("manifest");
        let reading = read_policy(&object);
        // The engine applies it exactly when the reader finds nothing refusing.
        assert_eq!(
            parse_policy(&object).is_ok(),
            reading.rejection().is_none(),
            "{}",
            object.name
        );
        if reading.problems.iter().any(|p| p.judge == Judge::ApiServer) {
            by_schema += 1;
            continue;
        }
        compared += 1;
        let (cilium_accepts, said) = &verdicts[&object.name];
        let tighten_accepts = reading.rejection().is_none();
        if *cilium_accepts {
            accepted += 1;
        } else {
            refused += 1;
        }
        if *cilium_accepts != tighten_accepts {
            disagreements.push(format!(
                "{}: Cilium {} ({said}), tighten {:?}\n{}",
                object.name,
                if *cilium_accepts { "accepts" } else { "refuses" },
                reading.problems,
                serde_yaml::to_string(manifest).unwrap_or_default()
            ));
        }
    }
    eprintln!(
        "validity: {compared} policies judged by Cilium's parser ({accepted} accepted, {refused} refused), \
         {by_schema} refused by the schema first"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(accepted > 50 && refused > 50, "both outcomes are exercised");
}
