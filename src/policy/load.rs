//! Reading policies from YAML files and directories (`--policies PATH...`).
//!
//! Multi-document files are allowed, as are `kind: List` documents such as
//! `kubectl get cnp -o yaml` prints. Objects that are not policies are skipped
//! and counted, so a kustomize directory can be read as it is.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::cluster::{PolicyKind, PolicyObject};

use super::parse::{ParsedPolicy, parse_policy};

/// A policy file that cannot be read, naming the file, the document and (when
/// known) the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: document {document}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based.
    pub document: usize,
    pub line: Option<usize>,
    pub message: String,
}

/// Policies read from files.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<PolicyObject>,
    pub parsed: Vec<ParsedPolicy>,
    /// Documents that were not policies (Deployments, Kustomizations...).
    pub skipped: usize,
}

/// Reads every policy under `paths` (files, or directories searched for
/// `*.yaml`/`*.yml`, in name order).
pub fn load(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for path in paths {
        for file in yaml_files(path).map_err(|message| LoadError {
            file: path.clone(),
            document: 0,
            line: None,
            message,
        })? {
            let text = std::fs::read_to_string(&file).map_err(|e| LoadError {
                file: file.clone(),
                document: 0,
                line: None,
                message: e.to_string(),
            })?;
            load_text(&file, &text, &mut loaded)?;
        }
    }
    Ok(loaded)
}

fn yaml_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err("no such file or directory".into());
    }
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                pending.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the policies of one file's text.
pub fn load_text(file: &Path, text: &str, loaded: &mut Loaded) -> Result<(), LoadError> {
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let error = |line: Option<usize>, message: String| LoadError {
            file: file.to_path_buf(),
            document: index + 1,
            line,
            message,
        };
        let value = Value::deserialize(document).map_err(|e| error(e.location().map(|l| l.line()), e.to_string()))?;
        let items: Vec<&Value> = match value.get("kind").and_then(Value::as_str) {
            _ if value.is_null() => continue,
            Some(kind) if kind.ends_with("List") => value
                .get("items")
                .and_then(Value::as_array)
                .map(|i| i.iter().collect())
                .unwrap_or_default(),
            Some(_) => vec![&value],
            None => return Err(error(None, "the document has no kind".into())),
        };
        for item in items {
            let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default();
            if PolicyKind::from_kind(kind).is_none() {
                loaded.skipped += 1;
                continue;
            }
            let object = PolicyObject::from_manifest(item).map_err(|e| error(None, e.to_string()))?;
            let parsed = parse_policy(&object).map_err(|e| error(None, e.to_string()))?;
            loaded.objects.push(object);
            loaded.parsed.push(parsed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_directories_and_lists_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("overlays/shop")).expect("dirs");
        std::fs::write(
            dir.path().join("overlays/shop/policies.yaml"),
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {endpointSelector: {}, ingress: [{}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("list.yml"),
            "kind: List\nitems:\n- kind: NetworkPolicy\n  metadata: {name: n, namespace: shop}\n  spec: {podSelector: {}}\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("README.md"), "not yaml").expect("write");
        let loaded = load(&[dir.path().to_path_buf()]).expect("loads");
        assert_eq!(loaded.parsed.len(), 2);
        assert_eq!(loaded.skipped, 1);
    }

    #[test]
    fn errors_name_the_file_document_and_line() {
        let mut loaded = Loaded::default();
        let text = "kind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {endpointSelector: {}}\n---\nkind: [broken\n";
        let err = load_text(Path::new("p.yaml"), text, &mut loaded).expect_err("broken");
        assert_eq!(err.document, 2);
        assert!(err.to_string().starts_with("p.yaml:"), "{err}");
        let bad_entity = "kind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {endpointSelector: {}, egress: [{toEntities: [moon]}]}\n";
        let err = load_text(Path::new("q.yaml"), bad_entity, &mut loaded).expect_err("entity");
        assert!(
            err.to_string().contains("document 1") && err.to_string().contains("toEntities[0]"),
            "{err}"
        );
        let err = load(&[PathBuf::from("/nonexistent/path")]).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/path"), "{err}");
    }
}
