//! What kustomize does to policy files without building them: the namespace a
//! kustomization gives the files it includes, and `kubectl kustomize` for `-k`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use serde::Deserialize;

/// The file names kustomize reads as a directory's kustomization, in its order.
const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether a file is a kustomization (not a manifest of its own).
pub fn is_kustomization(file: &Path) -> bool {
    file.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| FILE_NAMES.contains(&n))
}

/// A kustomization that cannot be read: the file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KustomizationError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// The fields of a kustomization that decide which files it includes and the
/// namespace it gives them.
#[derive(Debug, Default, Deserialize)]
struct Kustomization {
    namespace: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    /// The deprecated spelling of `resources` for directories.
    #[serde(default)]
    bases: Vec<String>,
    #[serde(default)]
    components: Vec<String>,
}

/// The files a kustomization includes, each with the namespace its build gives
/// the file (`None`: the file's own).
type Includes = HashMap<PathBuf, Option<String>>;

/// Kustomizations read so far, by directory (canonical paths), so that a
/// repository's files share the work.
#[derive(Debug, Default)]
pub struct Kustomizations {
    includes: HashMap<PathBuf, Rc<Includes>>,
}

impl Kustomizations {
    /// The namespace kustomize gives `file` (namespaced kinds only), if a
    /// kustomization above it sets one and includes the file.
    ///
    /// The nearest kustomization decides whether the file is included at all: one
    /// that does not list it (nor a directory whose kustomization does) places
    /// nothing. Each kustomization further up that still includes the file is a
    /// bigger build of it, and kustomize lets the outer `namespace:` win, as an
    /// overlay's does over its base; the search stops at the checkout root.
    pub fn namespace_of(&mut self, file: &Path) -> Result<Option<String>, KustomizationError> {
        let Ok(file) = file.canonicalize() else {
            return Ok(None);
        };
        let mut namespace = None;
        let mut included = false;
        for dir in file.ancestors().skip(1) {
            if kustomization_file(dir).is_some() {
                let includes = self.includes_of(dir, &mut HashSet::new())?;
                match includes.get(&file) {
                    Some(given) => {
                        included = true;
                        if given.is_some() {
                            namespace.clone_from(given);
                        }
                    }
                    None => break,
                }
            }
            if dir.join(".git").exists() {
                break;
            }
        }
        Ok(if included { namespace } else { None })
    }

    /// Every file the kustomization in `dir` includes, transitively (canonical
    /// paths), with the namespace that build gives it (`None`: the file's
    /// own): what building `dir` reads, wherever it is in the checkout.
    pub fn files_of(&mut self, dir: &Path) -> Result<Vec<(PathBuf, Option<String>)>, KustomizationError> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut files: Vec<(PathBuf, Option<String>)> = self
            .includes_of(&dir, &mut HashSet::new())?
            .iter()
            .map(|(file, namespace)| (file.clone(), namespace.clone()))
            .collect();
        files.sort();
        Ok(files)
    }

    /// What the kustomization in `dir` includes, transitively; `visiting` guards
    /// against a kustomization that includes itself.
    fn includes_of(&mut self, dir: &Path, visiting: &mut HashSet<PathBuf>) -> Result<Rc<Includes>, KustomizationError> {
        if let Some(known) = self.includes.get(dir) {
            return Ok(Rc::clone(known));
        }
        let Some(path) = kustomization_file(dir) else {
            return Ok(Rc::default());
        };
        if !visiting.insert(dir.to_path_buf()) {
            return Ok(Rc::default());
        }
        let kustomization = read(&path)?;
        let mut includes = Includes::new();
        let entries = kustomization
            .resources
            .iter()
            .chain(&kustomization.bases)
            .chain(&kustomization.components);
        // Remote bases (URLs) are not in the checkout; entries that do not exist
        // are kustomize's error to report, not a reason to refuse the files.
        for entry in entries.filter(|e| !e.contains("://")) {
            let Ok(target) = dir.join(entry).canonicalize() else {
                continue;
            };
            if target.is_dir() {
                for (file, given) in self.includes_of(&target, visiting)?.iter() {
                    includes.insert(file.clone(), kustomization.namespace.clone().or_else(|| given.clone()));
                }
            } else {
                includes.insert(target, kustomization.namespace.clone());
            }
        }
        visiting.remove(dir);
        let includes = Rc::new(includes);
        self.includes.insert(dir.to_path_buf(), Rc::clone(&includes));
        Ok(includes)
    }
}

pub fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

fn read(path: &Path) -> Result<Kustomization, KustomizationError> {
    let error = |line, message| KustomizationError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(None, e.to_string()))?;
    if text.trim().is_empty() {
        return Ok(Kustomization::default());
    }
    serde_yaml::from_str(&text).map_err(|e| error(e.location().map(|l| l.line()), e.to_string()))
}

/// Builds `dir` with `kubectl kustomize`: its output, or why not.
pub fn build(dir: &Path) -> Result<String, String> {
    if !dir.is_dir() {
        return Err("no such directory".into());
    }
    let output = match Command::new("kubectl").arg("kustomize").arg(dir).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "kubectl is not on the PATH, and -k builds the directory with `kubectl kustomize`: \
                 install kubectl, or read the directory's files with --policies"
                    .into(),
            );
        }
        Err(e) => return Err(format!("cannot run kubectl: {e}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "kubectl kustomize failed ({}): {}",
            output.status,
            stderr.trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("kubectl kustomize printed something that is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::policy::load::tests::checkout;

    fn namespace(root: &Path, file: &str) -> Option<String> {
        Kustomizations::default()
            .namespace_of(&root.join(file))
            .expect("kustomizations read")
    }

    #[test]
    fn the_nearest_kustomization_that_includes_the_file_sets_its_namespace() {
        let repo = checkout(&[
            (
                "apps/shop/kustomization.yaml",
                "namespace: shop\nresources: [policies/allow-dns.yaml, deployment.yaml]\n",
            ),
            ("apps/shop/policies/allow-dns.yaml", ""),
            ("apps/shop/policies/forgotten.yaml", ""),
        ]);
        assert_eq!(
            namespace(repo.path(), "apps/shop/policies/allow-dns.yaml").as_deref(),
            Some("shop")
        );
        assert_eq!(
            namespace(repo.path(), "apps/shop/policies/forgotten.yaml"),
            None,
            "not listed"
        );
        assert_eq!(namespace(repo.path(), "elsewhere.yaml"), None, "no such file");
    }

    #[test]
    fn a_nearer_kustomization_that_does_not_include_the_file_places_nothing() {
        let repo = checkout(&[
            (
                "apps/kustomization.yaml",
                "namespace: apps\nresources: [shop/policy.yaml]\n",
            ),
            ("apps/shop/kustomization.yml", "resources: [other.yaml]\n"),
            ("apps/shop/policy.yaml", ""),
        ]);
        assert_eq!(namespace(repo.path(), "apps/shop/policy.yaml"), None);
    }

    #[test]
    fn nested_overlays_give_the_outer_namespace() {
        let repo = checkout(&[
            ("apps/kustomization.yaml", "resources: [shop]\n"),
            (
                "apps/shop/kustomization.yaml",
                "namespace: shop\nresources: [policies]\n",
            ),
            ("apps/shop/policies/kustomization.yaml", "resources: [a.yaml, b.yaml]\n"),
            ("apps/shop/policies/a.yaml", ""),
            ("apps/shop/policies/b.yaml", ""),
            (
                "apps/web/kustomization.yaml",
                "namespace: web\nresources: [../web-base]\n",
            ),
            (
                "apps/web-base/kustomization.yaml",
                "namespace: base\nresources: [p.yaml]\n",
            ),
            ("apps/web-base/p.yaml", ""),
        ]);
        assert_eq!(
            namespace(repo.path(), "apps/shop/policies/a.yaml").as_deref(),
            Some("shop")
        );
        // The base's own kustomization is the nearest; the overlay in a sibling
        // directory is not above it, so the base's namespace is the one seen.
        assert_eq!(namespace(repo.path(), "apps/web-base/p.yaml").as_deref(), Some("base"));
    }

    #[test]
    fn an_outer_namespace_overrides_an_inner_one_and_the_search_stops_at_the_checkout() {
        let outer = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            outer.path().join("kustomization.yaml"),
            "namespace: outside\nresources: [repo]\n",
        )
        .expect("write");
        let repo = outer.path().join("repo");
        for (path, text) in [
            ("kustomization.yaml", "namespace: prod\nresources: [team]\n"),
            ("team/kustomization.yaml", "namespace: team\nresources: [p.yaml]\n"),
            ("team/p.yaml", ""),
        ] {
            std::fs::create_dir_all(repo.join(path).parent().expect("parent")).expect("dirs");
            std::fs::write(repo.join(path), text).expect("write");
        }
        assert_eq!(namespace(&repo, "team/p.yaml").as_deref(), Some("outside"));
        std::fs::create_dir(repo.join(".git")).expect(".git");
        assert_eq!(namespace(&repo, "team/p.yaml").as_deref(), Some("prod"));
    }

    #[test]
    fn cycles_and_broken_kustomizations() {
        let repo = checkout(&[
            ("a/kustomization.yaml", "namespace: a\nresources: [../b, p.yaml]\n"),
            ("b/kustomization.yaml", "resources: [../a]\n"),
            ("a/p.yaml", ""),
            ("c/kustomization.yaml", "resources: [\n"),
            ("c/p.yaml", ""),
        ]);
        assert_eq!(namespace(repo.path(), "a/p.yaml").as_deref(), Some("a"));
        let err = Kustomizations::default()
            .namespace_of(&repo.path().join("c/p.yaml"))
            .expect_err("broken");
        assert!(err.file.ends_with("c/kustomization.yaml"), "{err:?}");
    }

    #[test]
    fn kustomization_files_are_known_by_name() {
        assert!(is_kustomization(Path::new("apps/kustomization.yaml")));
        assert!(is_kustomization(Path::new("Kustomization")));
        assert!(!is_kustomization(Path::new("apps/flux-kustomization.yaml")));
    }
}
