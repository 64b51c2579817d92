//! Reading policies from files and directories (`--policies PATH...`) and from
//! kustomize builds (`-k DIR`), as a team's GitOps repository holds them.
//!
//! Multi-document files are allowed, as are `kind: List` documents such as
//! `kubectl get cnp -o yaml` prints. Objects that are not policies are skipped
//! and counted, so a kustomize directory can be read as it is; but a path in
//! which no policy at all is found is an error, since a mistyped path would
//! otherwise pass every check.

pub(crate) mod kustomize;
mod substitute;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::cluster::{PolicyKind, PolicyObject};

use super::parse::{ParsedPolicy, parse_policy};

pub use substitute::valid_name as valid_var_name;

/// A policy file that cannot be read, naming the file, the document and (when
/// known) the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}{}: {}{message}",
    file.display(),
    line.map(|l| format!(":{l}")).unwrap_or_default(),
    if *document > 0 { format!("document {document}: ") } else { String::new() }
)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole (it cannot be
    /// read, a `${VAR}` in its text, no policy in it).
    pub document: usize,
    pub line: Option<usize>,
    pub message: String,
}

impl LoadError {
    fn about(file: &Path, line: Option<usize>, message: String) -> LoadError {
        LoadError {
            file: file.to_path_buf(),
            document: 0,
            line,
            message,
        }
    }
}

/// Where policies are read from, and what fills in what their files leave open.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Files, or directories searched for `*.yaml`, `*.yml` and `*.json`.
    pub paths: Vec<PathBuf>,
    /// Directories built with `kubectl kustomize`.
    pub kustomize: Vec<PathBuf>,
    /// Flux post-build variables, for `${VAR}` in the files.
    pub vars: BTreeMap<String, String>,
    /// The namespace of a namespaced policy whose file names none and that no
    /// kustomization places; `default` when not given, as for kubectl.
    pub namespace: Option<String>,
}

impl Sources {
    /// Whether no file or directory was given.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.kustomize.is_empty()
    }
}

/// Policies read from files.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every policy read, refused ones included (lint judges them all).
    pub objects: Vec<PolicyObject>,
    /// The policies the engine applies: those no problem refuses.
    pub parsed: Vec<ParsedPolicy>,
    /// Policies the API server or the agent would refuse, with where they are
    /// and why: read, never applied.
    pub refused: Vec<LoadError>,
    /// Documents that were not policies (Deployments, Kustomizations...).
    pub skipped: usize,
}

/// How the namespace of the namespaced policies of one file is decided.
struct Placement<'a> {
    /// Set by a kustomization that includes the file: wins over the file's own.
    kustomize: Option<String>,
    /// For a policy that names no namespace.
    fallback: &'a str,
}

/// Reads every policy the sources hold.
pub fn load(sources: &Sources) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let mut kustomizations = kustomize::Kustomizations::default();
    let fallback = sources.namespace.as_deref().unwrap_or("default");
    for path in &sources.paths {
        let (policies, skipped) = (loaded.objects.len(), loaded.skipped);
        let files = policy_files(path).map_err(|message| LoadError::about(path, None, message))?;
        for file in &files {
            if kustomize::is_kustomization(file) {
                loaded.skipped += 1;
                continue;
            }
            let text = std::fs::read_to_string(file).map_err(|e| LoadError::about(file, None, e.to_string()))?;
            let text = substitute(file, text, &sources.vars)?;
            let placement = Placement {
                kustomize: kustomizations
                    .namespace_of(file)
                    .map_err(|e| LoadError::about(&e.file, e.line, e.message))?,
                fallback,
            };
            read_documents(file, &text, &placement, &mut loaded)?;
        }
        if loaded.objects.len() == policies {
            return Err(LoadError::about(
                path,
                None,
                nothing_found(path, files.len(), loaded.skipped - skipped),
            ));
        }
    }
    for dir in &sources.kustomize {
        let (policies, skipped) = (loaded.objects.len(), loaded.skipped);
        let built = |message: String| LoadError::about(dir, None, message);
        let text = kustomize::build(dir).map_err(built)?;
        let text = substitute(dir, text, &sources.vars)?;
        let placement = Placement {
            kustomize: None,
            fallback,
        };
        read_documents(dir, &text, &placement, &mut loaded).map_err(|e| LoadError {
            message: format!("{} (in the output of kubectl kustomize)", e.message),
            ..e
        })?;
        if loaded.objects.len() == policies {
            return Err(built(format!(
                "kubectl kustomize built no policy ({} other objects)",
                loaded.skipped - skipped
            )));
        }
    }
    Ok(loaded)
}

fn nothing_found(path: &Path, files: usize, skipped: usize) -> String {
    if kustomize::is_kustomization(path) {
        "no policy: this is a kustomization; give its directory with --policies, or build it with -k".into()
    } else if path.is_file() {
        format!("no policy in the file ({skipped} other objects)")
    } else if files == 0 {
        "no *.yaml, *.yml or *.json file under the directory".into()
    } else {
        format!("no policy in the {files} files under the directory ({skipped} other objects)")
    }
}

/// Substitutes Flux variables into a file's text, when it has any.
fn substitute(file: &Path, text: String, vars: &BTreeMap<String, String>) -> Result<String, LoadError> {
    if !text.contains("${") {
        return Ok(text);
    }
    substitute::substitute(&text, vars).map_err(|e| LoadError::about(file, Some(e.line), e.message))
}

/// The file itself, or the manifests under a directory in name order. Hidden
/// directories (`.git`, `.github`) hold no manifests a GitOps tool applies.
fn policy_files(path: &Path) -> Result<Vec<PathBuf>, String> {
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
                if !entry.file_name().to_string_lossy().starts_with('.') {
                    pending.push(p);
                }
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                || kustomize::is_kustomization(&p)
            {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the policies of one file's text, as a file outside any kustomization
/// whose namespaced policies default to `default`.
pub fn load_text(file: &Path, text: &str, loaded: &mut Loaded) -> Result<(), LoadError> {
    let placement = Placement {
        kustomize: None,
        fallback: "default",
    };
    read_documents(file, text, &placement, loaded)
}

fn read_documents(file: &Path, text: &str, placement: &Placement, loaded: &mut Loaded) -> Result<(), LoadError> {
    let error = |document: usize, line: Option<usize>, message: String| LoadError {
        file: file.to_path_buf(),
        document,
        line,
        message,
    };
    if file.extension().is_some_and(|e| e == "json") {
        // serde_json rather than the YAML reader: JSON indented with tabs is not YAML.
        let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        for (index, value) in stream.enumerate() {
            let value = value.map_err(|e| error(index + 1, Some(e.line()), e.to_string()))?;
            // Most JSON in a repository is not a Kubernetes object (package.json, dashboards).
            if value.get("kind").and_then(Value::as_str).is_none() {
                loaded.skipped += 1;
                continue;
            }
            read_value(&value, placement, loaded, &|m| error(index + 1, None, m))
                .map_err(|m| error(index + 1, None, m))?;
        }
        return Ok(());
    }
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document)
            .map_err(|e| error(index + 1, e.location().map(|l| l.line()), e.to_string()))?;
        if value.is_null() {
            continue;
        }
        read_value(&value, placement, loaded, &|m| error(index + 1, None, m)).map_err(|m| error(index + 1, None, m))?;
    }
    Ok(())
}

/// One document: a policy, another object, or a `List` of them. A policy
/// that would be refused is kept for lint and recorded, with `at` placing
/// it, but not applied.
fn read_value(
    value: &Value,
    placement: &Placement,
    loaded: &mut Loaded,
    at: &dyn Fn(String) -> LoadError,
) -> Result<(), String> {
    let items: Vec<&Value> = match value.get("kind").and_then(Value::as_str) {
        Some(kind) if kind.ends_with("List") => value
            .get("items")
            .and_then(Value::as_array)
            .map(|i| i.iter().collect())
            .unwrap_or_default(),
        Some(_) => vec![value],
        None => return Err("the document has no kind".into()),
    };
    for item in items {
        let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default();
        let Some(kind) = PolicyKind::from_kind(kind) else {
            loaded.skipped += 1;
            continue;
        };
        // Before parsing: the parser scopes selectors by the policy's namespace.
        let object = if kind.is_namespaced() {
            PolicyObject::from_manifest(&placed(item, placement))
        } else {
            PolicyObject::from_manifest(item)
        }
        .map_err(|e| e.to_string())?;
        match parse_policy(&object) {
            Ok(parsed) => loaded.parsed.push(parsed),
            Err(e) => loaded.refused.push(at(e.to_string())),
        }
        loaded.objects.push(object);
    }
    Ok(())
}

/// The manifest with the namespace it gets when applied: the kustomization's,
/// else its own, else the fallback.
fn placed(item: &Value, placement: &Placement) -> Value {
    let mut item = item.clone();
    if let Some(metadata) = item.get_mut("metadata").and_then(Value::as_object_mut) {
        let own = metadata.get("namespace").and_then(Value::as_str).map(str::to_string);
        let namespace = placement
            .kustomize
            .clone()
            .or(own)
            .unwrap_or_else(|| placement.fallback.to_string());
        metadata.insert("namespace".into(), Value::String(namespace));
    }
    item
}

#[cfg(test)]
mod tests;
