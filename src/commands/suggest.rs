//! `tighten suggest`: allow rules for what a namespace drops, or would drop once
//! its default-deny is enforced.

use std::io::Write;
use std::path::PathBuf;

use crate::flows::file;
use crate::policy::engine::Engine;
use crate::policy::{load, suggest};

use super::exit;

pub struct SuggestOptions {
    pub flows: PathBuf,
    pub namespace: String,
    /// With policies, suggest for would-drop flows; without, for recorded drops.
    /// Policies whose files name no namespace (and no kustomization places) are
    /// read as the namespace's.
    pub policies: load::Sources,
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
    let drops = if options.policies.is_empty() {
        suggest::recorded_drops(ns, &flows)
    } else {
        let mut sources = options.policies.clone();
        sources.namespace.get_or_insert_with(|| ns.to_string());
        let loaded = match load::load(&sources) {
            Ok(l) => l,
            Err(e) => {
                writeln!(err, "tighten suggest: {e}")?;
                return Ok(exit::BAD_INPUT);
            }
        };
        for refused in &loaded.refused {
            writeln!(err, "tighten suggest: not applied: {refused}")?;
        }
        suggest::would_drops(&Engine::new(loaded.parsed), ns, &flows)
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
