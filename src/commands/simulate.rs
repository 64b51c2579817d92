//! `tighten simulate`: decides recorded flows against policy files, as if the
//! default-deny of the named namespaces were enforced.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::flows::{Direction, file};
use crate::policy::engine::{Engine, Reason};
use crate::policy::load;

use super::{Output, exit};

pub struct SimulateOptions {
    pub policies: load::Sources,
    pub flows: PathBuf,
    pub enforce: Vec<String>,
    pub output: Output,
}

/// One line of `-o json`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VerdictLine {
    pub flow: usize,
    pub verdict: &'static str,
    pub direction: Option<&'static str>,
    pub reason: Reason,
    pub policies: Vec<String>,
}

/// Runs the simulation; errors go to `err`, results to `out`. Returns the exit code.
pub fn run(options: &SimulateOptions, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<u8> {
    let loaded = match load::load(&options.policies) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "tighten simulate: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    let flows = match file::read(&options.flows) {
        Ok(f) => f,
        Err(e) => {
            writeln!(err, "tighten simulate: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    // As the cluster would: a refused policy never applies. Said, not fatal.
    for refused in &loaded.refused {
        writeln!(err, "tighten simulate: not applied: {refused}")?;
    }
    let engine = Engine::new(loaded.parsed).enforcing(options.enforce.iter().cloned());
    let mut dropped = 0;
    let mut lines = Vec::with_capacity(flows.flows.len());
    for (index, flow) in flows.flows.iter().enumerate() {
        let verdict = engine.evaluate(flow);
        dropped += usize::from(!verdict.allowed);
        let line = VerdictLine {
            flow: index,
            verdict: if verdict.allowed { "allowed" } else { "dropped" },
            direction: verdict.direction.map(|d| match d {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
                Direction::Unknown => "unknown",
            }),
            reason: verdict.reason,
            policies: verdict.policies.iter().map(ToString::to_string).collect(),
        };
        match options.output {
            Output::Json => writeln!(out, "{}", serde_json::to_string(&line).map_err(std::io::Error::other)?)?,
            Output::Table => lines.push((line, flow)),
        }
    }
    if options.output == Output::Table {
        writeln!(
            out,
            "{:<6} {:<8} {:<8} {:<60} {:<10} {:<16} POLICIES",
            "FLOW", "VERDICT", "DIR", "SOURCE -> DESTINATION", "PORT", "REASON"
        )?;
        for (line, flow) in &lines {
            let reason = serde_json::to_value(line.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            writeln!(
                out,
                "{:<6} {:<8} {:<8} {:<60} {:<10} {:<16} {}",
                line.flow,
                line.verdict,
                line.direction.unwrap_or("-"),
                format!(
                    "{} -> {}",
                    flow.source.qualified_name(),
                    flow.destination.qualified_name()
                ),
                format!("{}/{}", flow.destination_port, flow.protocol.name()),
                reason,
                line.policies.join(",")
            )?;
        }
        let enforced = if options.enforce.is_empty() {
            String::new()
        } else {
            format!(" with {} enforced", options.enforce.join(", "))
        };
        writeln!(
            out,
            "{} flows{enforced}: {} allowed, {dropped} dropped",
            lines.len(),
            lines.len() - dropped
        )?;
    }
    if flows.skipped.lost_events > 0 {
        writeln!(
            err,
            "note: the recording reports {} lost flows",
            flows.skipped.lost_flows
        )?;
    }
    // The verdicts stand for the policies that apply; a refused one is still
    // bad input, which scripts must not read as a clean run.
    if !loaded.refused.is_empty() {
        writeln!(
            err,
            "tighten simulate: {} policies would be refused and were not applied",
            loaded.refused.len()
        )?;
        return Ok(exit::BAD_INPUT);
    }
    Ok(if dropped > 0 { exit::FOUND } else { exit::OK })
}
