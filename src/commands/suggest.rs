//! `tighten suggest`: allow rules for what a namespace drops, or would drop once
//! its default-deny is enforced.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use crate::flows::{Direction, Flow, Verdict, file};
use crate::policy::engine::Engine;
use crate::policy::{load, suggest};

use super::exit;

pub struct SuggestOptions {
    pub flows: PathBuf,
    pub namespace: String,
    /// With policies, suggest for would-drop flows; without, for recorded drops.
    pub policies: Vec<PathBuf>,
}

pub fn run(options: &SuggestOptions, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<u8> {
    let flows = match file::read(&options.flows) {
        Ok(f) => f.flows,
        Err(e) => {
            writeln!(err, "tighten suggest: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    let ns = options.namespace.as_str();
    let drops: Vec<(&Flow, Direction)> = if options.policies.is_empty() {
        // Recorded drops that a policy decided, on this namespace's side.
        flows
            .iter()
            .filter(|f| {
                matches!(f.verdict, Verdict::Dropped | Verdict::Audit) && f.drop_reason.is_none_or(|r| r.is_policy())
            })
            .filter_map(|f| deciding_side(f, ns))
            .collect()
    } else {
        let loaded = match load::load(&options.policies) {
            Ok(l) => l,
            Err(e) => {
                writeln!(err, "tighten suggest: {e}")?;
                return Ok(exit::BAD_INPUT);
            }
        };
        let engine = Engine::new(loaded.parsed);
        let enforce = BTreeSet::from([options.namespace.clone()]);
        flows
            .iter()
            .filter_map(|f| {
                let v = engine.evaluate_enforcing(f, &enforce);
                match v.direction {
                    Some(Direction::Ingress) if !v.allowed && f.destination.namespace == ns => {
                        Some((f, Direction::Ingress))
                    }
                    Some(Direction::Egress) if !v.allowed && f.source.namespace == ns => Some((f, Direction::Egress)),
                    _ => None,
                }
            })
            .collect()
    };
    let suggested = suggest::suggest(ns, drops.iter().copied());
    if suggested.is_empty() {
        writeln!(err, "nothing to suggest: no flow of {ns} is (or would be) dropped")?;
        return Ok(exit::OK);
    }
    writeln!(err, "# {} policies from {} dropped flows", suggested.len(), drops.len())?;
    for policy in &suggested {
        writeln!(out, "---")?;
        write!(out, "{}", policy.to_yaml())?;
    }
    Ok(exit::OK)
}

/// The direction in which `namespace` dropped the flow, if it did.
fn deciding_side<'a>(flow: &'a Flow, namespace: &str) -> Option<(&'a Flow, Direction)> {
    match flow.direction {
        Direction::Ingress if flow.destination.namespace == namespace => Some((flow, Direction::Ingress)),
        Direction::Egress if flow.source.namespace == namespace => Some((flow, Direction::Egress)),
        _ => None,
    }
}
