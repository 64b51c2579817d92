//! A plan's object changes as edits to the files of a reconciler's folder, in
//! the repository's own style: new policies as files beside the namespace's
//! others (with `metadata.namespace` only when those files carry one), listed
//! in the nearest kustomization; a policy of the namespace's folder changed
//! in place; a policy that comes from a shared base or component changed by a
//! patch in the namespace's kustomization, so the other namespaces keep theirs.
//!
//! Kustomization files are edited as text, line by line, so their comments
//! and order survive review.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cluster::PolicyObject;
use crate::rollout::Change;
use crate::rollout::export::{file_name, portable};

use super::tree::{self, Document};

/// One file's content before and after (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// Relative to the checkout's root.
    pub path: PathBuf,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Where the namespace's changes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The folder of the namespace's objects, relative to the root.
    pub home: PathBuf,
    /// The kustomization that lists the home's files, when there is one
    /// between the home and the reconciler's folder.
    pub kustomization: Option<PathBuf>,
    /// Whether the namespace's files name their namespace.
    pub names_namespace: bool,
    /// Where the baseline goes as a kustomize component, when the
    /// namespace's kustomization uses components (relative to the root).
    pub baseline_component: Option<PathBuf>,
}

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Decides where `namespace`'s objects live under `folder`.
pub fn placement(
    root: &Path,
    folder: &Path,
    documents: &[Document],
    namespace: &str,
    target_namespace: Option<&str>,
) -> Result<Placement, String> {
    let home = match tree::home_of(documents, namespace) {
        Some(home) => home,
        None if target_namespace == Some(namespace) => folder.to_path_buf(),
        None => {
            return Err(format!(
                "nothing under {} is applied to {namespace}: tighten cannot tell which folder is the namespace's",
                folder.display()
            ));
        }
    };
    // The nearest kustomization lists the home's files (it may be outside
    // the reconciler's folder, which includes it).
    let kustomization = home.ancestors().find_map(|dir| {
        KUSTOMIZATION_FILES
            .iter()
            .map(|name| dir.join(name))
            .find(|path| root.join(path).is_file())
    });
    let written: Vec<bool> = documents
        .iter()
        .filter(|d| d.namespace.as_deref() == Some(namespace) && d.file.parent() == Some(home.as_path()))
        .filter(|d| d.kind != "Namespace")
        .map(|d| d.written_namespace.is_some())
        .collect();
    let names_namespace = match written.first() {
        // The repository's style: as the namespace's files already do.
        Some(_) => written.iter().filter(|w| **w).count() * 2 >= written.len(),
        // A kustomization or the reconciler sets it: leave it out, so the
        // files can be promoted to the next namespace as they are.
        None => target_namespace.is_none() && kustomization_namespace(root, kustomization.as_deref()).is_none(),
    };
    let baseline_component = kustomization
        .as_deref()
        .and_then(|k| components_root(root, k))
        .map(|dir| dir.join("tighten-baseline"));
    Ok(Placement {
        home,
        kustomization,
        names_namespace,
        baseline_component,
    })
}

/// The folder a kustomization's components live in (the parent of its
/// first local component), when it lists any: the repository's style for
/// what several namespaces share.
fn components_root(root: &Path, kustomization: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(root.join(kustomization)).ok()?;
    let value: serde_json::Value = serde_yaml::from_str(&text).ok()?;
    let first = value
        .get("components")?
        .as_array()?
        .iter()
        .filter_map(serde_json::Value::as_str)
        .find(|c| !c.contains("://"))?;
    let dir = kustomization.parent()?.join(first);
    let resolved = root.join(&dir).canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    Some(resolved.strip_prefix(&root).ok()?.parent()?.to_path_buf())
}

fn kustomization_namespace(root: &Path, kustomization: Option<&Path>) -> Option<String> {
    let text = std::fs::read_to_string(root.join(kustomization?)).ok()?;
    let value: serde_json::Value = serde_yaml::from_str(&text).ok()?;
    value.get("namespace")?.as_str().map(str::to_string)
}

/// The files as they are being edited: read once from the checkout.
struct Files<'a> {
    root: &'a Path,
    content: BTreeMap<PathBuf, (Option<String>, Option<String>)>,
}

impl Files<'_> {
    fn get(&mut self, path: &Path) -> Option<String> {
        let root = self.root;
        self.content
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                let now = std::fs::read_to_string(root.join(path)).ok();
                (now.clone(), now)
            })
            .1
            .clone()
    }

    fn set(&mut self, path: &Path, text: Option<String>) {
        self.get(path);
        if let Some(entry) = self.content.get_mut(path) {
            entry.1 = text;
        }
    }

    /// Rewrites a file's text (empty when it does not exist yet).
    fn edit(&mut self, path: &Path, change: impl FnOnce(&str) -> String) {
        let text = self.get(path).unwrap_or_default();
        self.set(path, Some(change(&text)));
    }

    /// Adds `patch` to the patches of the namespace's kustomization: how a
    /// policy from outside its folder (a shared base) is changed for it alone.
    fn patch(&mut self, placement: &Placement, from: &Path, patch: &str) -> Result<(), String> {
        let k = placement
            .kustomization
            .as_ref()
            .ok_or_else(|| no_kustomization(placement, from))?;
        self.edit(k, |text| add_list_item(text, "patches", patch));
        Ok(())
    }

    fn edits(self) -> Vec<FileEdit> {
        self.content
            .into_iter()
            .filter(|(_, (before, after))| before != after)
            .map(|(path, (before, after))| FileEdit { path, before, after })
            .collect()
    }
}

/// The file edits that make the folder hold what `changes` make of the
/// namespace's policies.
pub fn edits(
    root: &Path,
    placement: &Placement,
    documents: &[Document],
    namespace: &str,
    changes: &[Change],
    owner: &crate::rollout::gitops::Owner,
) -> Result<Vec<FileEdit>, String> {
    let mut files = Files {
        root,
        content: BTreeMap::new(),
    };
    let find = |policy: &PolicyObject| {
        documents.iter().find(|d| {
            d.kind == policy.kind.to_string() && d.name == policy.name && d.namespace.as_deref() == Some(namespace)
        })
    };
    let missing = |policy: &PolicyObject| {
        if crate::rollout::gitops::Owner::of(policy).as_ref() == Some(owner) {
            format!(
                "{} {namespace}/{} is in the cluster but not under the reconciler's folder: the cluster drifted from Git; reconcile it first",
                policy.kind, policy.name
            )
        } else {
            format!(
                "{} {namespace}/{} was not applied by {owner} and is not in its folder: move it into the repository first, or change it in the cluster with --direct",
                policy.kind, policy.name
            )
        }
    };
    let relative_to_kustomization = |file: &Path| -> Option<String> {
        let dir = placement.kustomization.as_ref()?.parent()?;
        Some(file.strip_prefix(dir).ok()?.display().to_string())
    };
    let relative_from = |from_dir: &Path, to: &Path| -> String {
        // `../../components/tighten-baseline` from the home's kustomization.
        let ups = from_dir.components().count();
        let mut path = PathBuf::new();
        for _ in 0..ups {
            path.push("..");
        }
        path.join(to).display().to_string()
    };
    for change in changes {
        // A baseline that names nothing of the namespace is shared as a
        // component where the repository shares things so.
        if let (Change::Create(policy), Some(component)) = (change, &placement.baseline_component)
            && matches!(
                crate::rollout::PolicyRole::of(policy),
                crate::rollout::PolicyRole::Baseline(_)
            )
            && !crate::rollout::export::names_namespace(policy, namespace)
            && let Some(k) = &placement.kustomization
        {
            let component_k = component.join("kustomization.yaml");
            let file = component.join(file_name(policy));
            if files.get(&file).is_none() {
                files.set(&file, Some(render(policy, namespace, false)));
                files.edit(&component_k, |text| {
                    let text = if text.is_empty() {
                        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: []\n"
                    } else {
                        text
                    };
                    add_list_item(text, "resources", &file_name(policy))
                });
            }
            let entry = relative_from(k.parent().unwrap_or(Path::new("")), component);
            files.edit(k, |text| {
                let listed = text
                    .lines()
                    .any(|l| l.trim_start().strip_prefix("- ").map(str::trim) == Some(entry.as_str()));
                if listed {
                    text.to_string()
                } else {
                    add_list_item(text, "components", &entry)
                }
            });
            continue;
        }
        match change {
            Change::Create(policy) => {
                let mut path = placement.home.join(file_name(policy));
                let mut n = 2;
                while files.get(&path).is_some() {
                    path = placement.home.join(format!("{}-{n}.yaml", policy.name));
                    n += 1;
                }
                files.set(&path, Some(render(policy, namespace, placement.names_namespace)));
                if let (Some(k), Some(entry)) = (&placement.kustomization, relative_to_kustomization(&path)) {
                    files.edit(k, |text| add_list_item(text, "resources", &entry));
                }
            }
            Change::Update { before, after } => {
                let doc = find(before).ok_or_else(|| missing(before))?;
                if doc.file.starts_with(&placement.home) {
                    let replaced = render(after, namespace, doc.written_namespace.is_some());
                    files.edit(&doc.file, |text| replace_document(text, doc.index, Some(&replaced)));
                } else {
                    files.patch(placement, &doc.file, &spec_patch(after))?;
                }
            }
            Change::Delete(policy) => {
                let doc = find(policy).ok_or_else(|| missing(policy))?;
                if doc.file.starts_with(&placement.home) {
                    let text = files.get(&doc.file).unwrap_or_default();
                    let left = replace_document(&text, doc.index, None);
                    if tree::split_documents(&left).is_empty() {
                        files.set(&doc.file, None);
                        if let (Some(k), Some(entry)) = (&placement.kustomization, relative_to_kustomization(&doc.file))
                        {
                            files.edit(k, |text| remove_list_item(text, "resources", &entry));
                        }
                    } else {
                        files.set(&doc.file, Some(left));
                    }
                } else {
                    files.patch(placement, &doc.file, &delete_patch(policy))?;
                }
            }
        }
    }
    Ok(files.edits())
}

fn no_kustomization(placement: &Placement, file: &Path) -> String {
    format!(
        "{} comes from outside the namespace's folder {} and there is no kustomization.yaml there to patch it in",
        file.display(),
        placement.home.display()
    )
}

/// A policy as it belongs in Git.
fn render(policy: &PolicyObject, namespace: &str, names_namespace: bool) -> String {
    let mut copy = portable(policy);
    if names_namespace {
        copy.namespace = Some(namespace.to_string());
    }
    copy.to_yaml()
}

/// A kustomize patch replacing a policy's spec, as a list item's text.
fn spec_patch(policy: &PolicyObject) -> String {
    let spec = policy.spec().cloned().unwrap_or_default();
    format!(
        "target:\n  kind: {}\n  name: {}\npatch: |-\n  - op: replace\n    path: /spec\n    value: {}",
        policy.kind, policy.name, spec
    )
}

/// A kustomize patch that leaves a policy out of the build.
fn delete_patch(policy: &PolicyObject) -> String {
    format!(
        "patch: |-\n  $patch: delete\n  apiVersion: {}\n  kind: {}\n  metadata:\n    name: {}",
        policy.kind.api_version(),
        policy.kind,
        policy.name
    )
}

/// Replaces (or with `None`, removes) document `index` of a YAML stream.
fn replace_document(text: &str, index: usize, with: Option<&str>) -> String {
    let spans = tree::document_spans(text);
    let Some(span) = spans.get(index) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..span.start]);
    match with {
        Some(new) => out.push_str(new),
        None => {
            // Drop the separator that followed (or preceded) the document too.
            let rest = &text[span.end..];
            let rest = rest
                .strip_prefix("---\n")
                .or_else(|| rest.strip_prefix("---"))
                .unwrap_or(rest);
            if rest.trim().is_empty() {
                let head = out.trim_end();
                let head = head.strip_suffix("---").unwrap_or(head);
                let mut head = head.trim_end().to_string();
                if !head.is_empty() {
                    head.push('\n');
                }
                return head;
            }
            out.push_str(rest);
            return out;
        }
    }
    out.push_str(&text[span.end..]);
    out
}

/// The top-level key's list in a kustomization's text: the line of the key
/// and the index after its last item.
fn list_bounds(lines: &[&str], key: &str) -> Option<(usize, usize)> {
    let start = lines.iter().position(|l| {
        l.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|rest| {
                let rest = rest.split('#').next().unwrap_or_default().trim();
                rest.is_empty() || rest == "[]"
            })
    })?;
    let mut end = start + 1;
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let top_level = !line.is_empty() && !line.starts_with(' ') && !line.starts_with('-') && !line.starts_with('#');
        if top_level {
            break;
        }
        if !line.trim().is_empty() {
            end = i + 1;
        }
    }
    Some((start, end))
}

/// Appends `item` (one or more lines) to the top-level list `key`, in the
/// indentation the list already uses; adds the key when absent.
pub fn add_list_item(text: &str, key: &str, item: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some((start, end)) = list_bounds(&lines, key) else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("{key}:\n"));
        out.push_str(&item_lines("", item));
        return out;
    };
    if end == start + 1 && lines[start].contains("[]") {
        inline_to_block(&lines, start, key, item)
    } else {
        append_item(&lines, start, end, item)
    }
}

/// `resources: []` written inline: the key rewritten as a block.
fn inline_to_block(lines: &[&str], start: usize, key: &str, item: &str) -> String {
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[start] = format!("{key}:");
    out.insert(start + 1, item_lines("", item).trim_end().to_string());
    out.join("\n") + "\n"
}

fn append_item(lines: &[&str], start: usize, end: usize, item: &str) -> String {
    let indent = lines[start + 1..end]
        .iter()
        .find_map(|l| {
            l.trim_start()
                .starts_with('-')
                .then(|| l[..l.len() - l.trim_start().len()].to_string())
        })
        .unwrap_or_default();
    let mut out: Vec<String> = lines[..end].iter().map(|l| l.to_string()).collect();
    out.push(item_lines(&indent, item).trim_end().to_string());
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    out.join("\n") + "\n"
}

fn item_lines(indent: &str, item: &str) -> String {
    let mut out = String::new();
    for (i, line) in item.lines().enumerate() {
        let lead = if i == 0 { "- " } else { "  " };
        out.push_str(&format!("{indent}{lead}{line}\n"));
    }
    out
}

/// Removes the item `- entry` from the top-level list `key`.
pub fn remove_list_item(text: &str, key: &str, entry: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some((start, end)) = list_bounds(&lines, key) else {
        return text.to_string();
    };
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            !(*i > start
                && *i < end
                && l.trim_start()
                    .strip_prefix('-')
                    .is_some_and(|rest| unquote(rest.split('#').next().unwrap_or(rest)) == entry))
        })
        .map(|(_, l)| *l)
        .collect();
    kept.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_joins_the_list_in_its_own_indentation() {
        let text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n# the shop's policies\nresources:\n  - allow-web.yaml  # from the team\n  - ../../base\nnamespace: shop\n";
        let added = add_list_item(text, "resources", "tighten-baseline-dns.yaml");
        assert_eq!(
            added,
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n# the shop's policies\nresources:\n  - allow-web.yaml  # from the team\n  - ../../base\n  - tighten-baseline-dns.yaml\nnamespace: shop\n"
        );
        assert_eq!(remove_list_item(&added, "resources", "tighten-baseline-dns.yaml"), text);
        assert_eq!(
            add_list_item("kind: Kustomization\n", "resources", "a.yaml"),
            "kind: Kustomization\nresources:\n- a.yaml\n"
        );
        assert_eq!(
            add_list_item("resources: []\n", "resources", "a.yaml"),
            "resources:\n- a.yaml\n"
        );
    }

    #[test]
    fn a_patch_is_a_multi_line_item() {
        let text = "resources:\n- ../../base\n";
        let added = add_list_item(text, "patches", "target:\n  kind: X\npatch: |-\n  - op: remove");
        assert_eq!(
            added,
            "resources:\n- ../../base\npatches:\n- target:\n    kind: X\n  patch: |-\n    - op: remove\n"
        );
    }

    #[test]
    fn documents_are_replaced_and_removed_with_their_separator() {
        let text = "a: 1\n---\nb: 2\n---\nc: 3\n";
        assert_eq!(
            replace_document(text, 1, Some("b: 20\n")),
            "a: 1\n---\nb: 20\n---\nc: 3\n"
        );
        assert_eq!(replace_document(text, 1, None), "a: 1\n---\nc: 3\n");
        assert_eq!(replace_document(text, 2, None), "a: 1\n---\nb: 2\n");
        assert_eq!(replace_document("a: 1\n", 0, None), "");
    }
}
