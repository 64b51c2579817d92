//! `tighten export NS DIR`: the namespace's policy set, as the cluster has
//! it, written as a kustomize layout for review in a pull request.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::rollout::export::layout;
use crate::runtime::backend::Backends;

use super::exit;
use super::session::Headless;

pub struct ExportOptions {
    pub namespace: String,
    pub dir: PathBuf,
    /// Replace an existing `overlays/<namespace>`.
    pub force: bool,
}

pub async fn run(
    backends: &Backends,
    context: &str,
    options: &ExportOptions,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let namespace = &options.namespace;
    let overlay = options.dir.join("overlays").join(namespace);
    if overlay.exists() && !options.force {
        writeln!(err, "tighten: {} exists; --force replaces it", overlay.display())?;
        return Ok(exit::BAD_INPUT);
    }
    let session = match Headless::open(backends, context, std::slice::from_ref(namespace)).await {
        Ok(session) => session,
        Err(failure) => return failure.report(err),
    };
    let policies: Vec<_> = session.state.snapshot.namespaced_policies(namespace).collect();
    if policies.is_empty() {
        writeln!(err, "tighten: {namespace} has no policies to export")?;
        return Ok(exit::BAD_INPUT);
    }
    let layout = layout(namespace, &policies);
    if let Err(e) = write_layout(&options.dir, &overlay, &layout.files) {
        writeln!(err, "tighten: {e}")?;
        return Ok(exit::BAD_INPUT);
    }
    for path in layout.files.keys() {
        writeln!(out, "wrote {}", options.dir.join(path).display())?;
    }
    for name in &layout.kept_in_overlay {
        writeln!(
            out,
            "note: {name} names {namespace} in its rules, so it stays in the overlay rather than the shared base"
        )?;
    }
    writeln!(out, "build it with: kubectl kustomize {}", overlay.display())?;
    tracing::info!(%namespace, dir = %options.dir.display(), files = layout.files.len(), "exported");
    Ok(exit::OK)
}

/// Writes the files; the namespace's overlay is replaced as a whole so no
/// stale policy survives in it.
fn write_layout(dir: &Path, overlay: &Path, files: &std::collections::BTreeMap<PathBuf, String>) -> Result<(), String> {
    if overlay.exists() {
        std::fs::remove_dir_all(overlay).map_err(|e| format!("cannot replace {}: {e}", overlay.display()))?;
    }
    for (path, text) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, text).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}
