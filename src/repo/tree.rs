//! What a reconciler's folder holds: every manifest document under it, with
//! the namespace kustomize (or the reconciler's `targetNamespace`) gives it,
//! and where the namespace's own objects live.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cluster::PolicyKind;
use crate::policy::load::kustomize::{Kustomizations, is_kustomization, kustomization_file};

/// One document of a manifest file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Relative to the checkout's root.
    pub file: PathBuf,
    /// 0-based position in the file.
    pub index: usize,
    pub kind: String,
    pub name: String,
    /// As written in the file.
    pub written_namespace: Option<String>,
    /// As applied: the reconciler's target namespace, else the kustomization
    /// that includes the file, else the file's own.
    pub namespace: Option<String>,
    pub value: Value,
}

impl Document {
    pub fn is_policy(&self) -> bool {
        PolicyKind::from_kind(&self.kind).is_some()
    }
}

/// The documents under `folder` (relative to `root`), as a reconciler with
/// `target_namespace` applies them.
pub fn scan(root: &Path, folder: &Path, target_namespace: Option<&str>) -> Result<Vec<Document>, String> {
    let root = root.canonicalize().map_err(|e| format!("{}: {e}", root.display()))?;
    let root = root.as_path();
    let mut kustomizations = Kustomizations::default();
    // With a kustomization, the folder's build is what it includes, wherever
    // that is; without one, Flux builds every manifest under the folder.
    let kustomize_error =
        |e: crate::policy::load::kustomize::KustomizationError| format!("{}: {}", e.file.display(), e.message);
    let mut files: Vec<(PathBuf, Option<String>)> = Vec::new();
    if kustomization_file(&root.join(folder)).is_some() {
        files = kustomizations.files_of(&root.join(folder)).map_err(kustomize_error)?;
        files.retain(|(f, _)| !is_kustomization(f));
    } else {
        let mut found = Vec::new();
        collect(&root.join(folder), &mut found).map_err(|e| format!("{}: {e}", folder.display()))?;
        for file in found {
            let placed = kustomizations.namespace_of(&file).map_err(kustomize_error)?;
            files.push((file, placed));
        }
    }
    files.sort();
    let mut documents = Vec::new();
    for (path, placed) in files {
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", relative.display()))?;
        for (index, doc) in split_documents(&text).into_iter().enumerate() {
            let Ok(value) = serde_yaml::from_str::<Value>(doc) else {
                continue;
            };
            let (Some(kind), Some(name)) = (
                value.get("kind").and_then(Value::as_str),
                value.pointer("/metadata/name").and_then(Value::as_str),
            ) else {
                continue;
            };
            let written_namespace = value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            let namespace = if kind == "Namespace" {
                Some(name.to_string())
            } else {
                target_namespace
                    .map(str::to_string)
                    .or_else(|| placed.clone())
                    .or_else(|| written_namespace.clone())
            };
            documents.push(Document {
                file: relative.clone(),
                index,
                kind: kind.to_string(),
                name: name.to_string(),
                written_namespace,
                namespace,
                value,
            });
        }
    }
    Ok(documents)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, files)?;
        } else if !is_kustomization(&path)
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml"))
        {
            files.push(path);
        }
    }
    Ok(())
}

/// The documents of a YAML stream, as text (a `---` line separates them).
pub fn split_documents(text: &str) -> Vec<&str> {
    document_spans(text).into_iter().map(|span| &text[span]).collect()
}

/// Where each non-empty document of a YAML stream is, as byte ranges (the
/// separator lines belong to none).
pub fn document_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            spans.push(start..offset);
            start = offset + line.len();
        }
        offset += line.len();
    }
    spans.push(start..text.len());
    spans
        .into_iter()
        .filter(|span| {
            text[span.clone()]
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

/// The folder that holds `namespace`'s objects: the one with its Namespace
/// object, else where most of its policies are (a shared base included from
/// elsewhere is not its home), else any of its objects; `None` when the
/// folder holds nothing of it.
pub fn home_of(documents: &[Document], namespace: &str) -> Option<PathBuf> {
    let mine = |d: &&Document| d.namespace.as_deref() == Some(namespace);
    let folder = |d: &Document| d.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let by_count = |docs: Vec<&Document>| {
        let mut counts: std::collections::BTreeMap<PathBuf, usize> = std::collections::BTreeMap::new();
        for d in docs {
            *counts.entry(folder(d)).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(dir, _)| dir)
    };
    if let Some(ns) = documents.iter().find(|d| d.kind == "Namespace" && d.name == namespace) {
        return Some(folder(ns));
    }
    let policies: Vec<&Document> = documents.iter().filter(mine).filter(|d| d.is_policy()).collect();
    if !policies.is_empty() {
        return by_count(policies);
    }
    by_count(documents.iter().filter(mine).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_on_their_separator_lines_only() {
        let text = "# leading comment\n---\na: 1\n---\nb: '---'\n--- \nc: 3\n";
        assert_eq!(split_documents(text), vec!["a: 1\n", "b: '---'\n", "c: 3\n"]);
        assert_eq!(split_documents("a: 1\n"), vec!["a: 1\n"]);
    }
}
