//! The forward path through Git: for a namespace whose policies a Flux
//! Kustomization or an Argo CD Application applies, a rollout step is a
//! commit on a branch of the team's checkout, for a pull request, not a
//! write into the cluster that the reconciler would revert or leave as drift.
//!
//! [`route`] decides, per namespace, between the direct path (no reconciler
//! owns it), Git (the checkout is the owner's repository) and export (it is
//! not, or the owner cannot be told). [`Draft`] prepares a step in a
//! worktree of its own, so the operator's checkout and branch are never
//! touched: the files and their diff, and `kubectl kustomize` of the folder
//! before and after; [`Draft::commit`] makes the branch and the commit.

pub mod edit;
pub mod git;
pub mod pending;
pub mod step;
pub mod tree;

use std::path::{Path, PathBuf};

use crate::cluster::{ClusterSnapshot, PolicyObject};
use crate::rollout::gitops::Owner;
use crate::rollout::{RolloutAction, RolloutPlan};

pub use edit::{FileEdit, Placement};
pub use git::{Git, GitError, repository_key};

/// What a forward step needs to become a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoStep {
    /// The context's checkout (`None`: none configured).
    pub checkout: Option<PathBuf>,
    pub branch_template: String,
    pub message: String,
    pub push: bool,
    pub snapshot: crate::shared::Shared<crate::cluster::ClusterSnapshot>,
}

/// Where the reconciler that owns a namespace reads it from, in the checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The checkout's top folder.
    pub checkout: PathBuf,
    pub owner: Owner,
    /// The reconciler's folder, relative to the checkout (`clusters/prod`).
    pub folder: PathBuf,
    pub target_namespace: Option<String>,
    /// The checkout's remote that is the reconciler's repository.
    pub remote: Option<String>,
    /// The branch the reconciler follows.
    pub branch: String,
}

impl Target {
    /// The ref a step branches from: the remote's branch when fetched, else
    /// the local one.
    pub fn base(&self) -> String {
        let git = Git::new(&self.checkout);
        match &self.remote {
            Some(remote) if git.has_ref(&format!("{remote}/{}", self.branch)) => format!("{remote}/{}", self.branch),
            _ => self.branch.clone(),
        }
    }
}

/// How a namespace's forward steps are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// No reconciler owns its policies: into the cluster, as ever.
    Direct,
    /// As a commit in the checkout.
    Git(Target),
    /// A reconciler owns them but the checkout cannot take the step (none
    /// configured, another repository, no folder): say why; `tighten
    /// export` writes the files for the team's repository.
    Export { owner: Owner, why: String },
}

/// The reconciler that owns `namespace`: the owner of its policies (one of
/// them), else the one that applied the Namespace object, else the one
/// Kustomization whose `targetNamespace` it is. `Err` when they disagree.
pub fn namespace_owner(snapshot: &ClusterSnapshot, namespace: &str) -> Result<Option<Owner>, String> {
    owner_of_namespace(
        snapshot,
        namespace,
        snapshot.namespace(namespace),
        snapshot.namespaced_policies(namespace),
    )
}

/// As [`namespace_owner`], given the namespace and its own policies (the
/// rows have them indexed: scanning the snapshot per namespace would cost
/// every namespace times every policy on each refresh).
pub fn owner_of_namespace<'a>(
    snapshot: &ClusterSnapshot,
    namespace: &str,
    info: Option<&crate::cluster::NamespaceInfo>,
    policies: impl Iterator<Item = &'a PolicyObject>,
) -> Result<Option<Owner>, String> {
    let gitops = snapshot.gitops();
    let mut owners: Vec<Owner> = policies
        .filter_map(|p| gitops.owner_of(p))
        .filter(Owner::reconciles)
        .collect();
    owners.sort();
    owners.dedup();
    if owners.is_empty()
        && let Some(ns) = info
        && let Some(owner) = Owner::from_metadata(&ns.labels, &ns.annotations).filter(Owner::reconciles)
    {
        owners.push(owner);
    }
    if owners.is_empty() {
        owners.extend(
            snapshot
                .kustomizations
                .iter()
                .flatten()
                .filter(|k| k.git.target_namespace.as_deref() == Some(namespace))
                .map(|k| Owner::Flux {
                    namespace: k.namespace.clone(),
                    name: k.name.clone(),
                }),
        );
    }
    match owners.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(format!(
            "{namespace}'s policies come from {}: tighten cannot tell which one to change",
            many.iter().map(Owner::describe).collect::<Vec<_>>().join(" and ")
        )),
    }
}

/// How `namespace`'s forward steps are made, given the checkout configured
/// for the context (`None`: none).
pub fn route(snapshot: &ClusterSnapshot, namespace: &str, checkout: Option<&Path>) -> Route {
    let owner = match namespace_owner(snapshot, namespace) {
        Ok(None) => return Route::Direct,
        Ok(Some(owner)) => owner,
        Err(why) => {
            return Route::Export {
                owner: Owner::Helm { release: String::new() },
                why,
            };
        }
    };
    let export = |why: String| Route::Export {
        owner: owner.clone(),
        why,
    };
    let Some(checkout) = checkout else {
        return export(format!(
            "{} applies {namespace}'s policies and no repository is configured (repo = \"…\" in [contexts.\"…\"], or --repo)",
            owner.describe()
        ));
    };
    let (spec, url, branch) = match &owner {
        Owner::Flux { namespace: ns, name } => {
            let Some(k) = snapshot
                .kustomizations
                .iter()
                .flatten()
                .find(|k| k.namespace == *ns && k.name == *name)
            else {
                return export(format!("{} is not in the cluster", owner.describe()));
            };
            let source = k.git.source.as_ref();
            let repository = source.and_then(|(kind, source_ns, source_name)| {
                (kind == "GitRepository").then_some(())?;
                snapshot
                    .git_repositories
                    .iter()
                    .flatten()
                    .find(|r| r.namespace == *source_ns && r.name == *source_name)
            });
            let Some(repository) = repository else {
                return export(format!(
                    "{} reads from {}, not a GitRepository tighten can read",
                    owner.describe(),
                    source.map_or("no source".into(), |(kind, ns, name)| format!("{kind} {ns}/{name}"))
                ));
            };
            (&k.git, repository.url.clone(), repository.branch.clone())
        }
        Owner::Argo { namespace: ns, name } => {
            let Some(app) = snapshot
                .applications
                .iter()
                .flatten()
                .find(|a| a.namespace == *ns && a.name == *name)
            else {
                return export(format!("{} is not in the cluster", owner.describe()));
            };
            let Some(url) = app.git.repo_url.clone() else {
                return export(format!("{} names no repoURL", owner.describe()));
            };
            (&app.git, url, None)
        }
        Owner::Helm { .. } => return Route::Direct,
    };
    let top = match Git::toplevel(checkout) {
        Ok(top) => top,
        Err(e) => return export(format!("{} is not a Git checkout: {}", checkout.display(), e.message)),
    };
    let git = Git::new(&top);
    let remotes = git.remotes().unwrap_or_default();
    let wanted = repository_key(&url);
    let Some((remote, _)) = remotes.iter().find(|(_, u)| repository_key(u) == wanted) else {
        let known: Vec<String> = remotes.iter().map(|(n, u)| format!("{n} {u}")).collect();
        return export(format!(
            "the checkout {} is not the repository {} reads ({url}); its remotes: {}",
            top.display(),
            owner.describe(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ));
    };
    let branch = branch.unwrap_or_else(|| {
        git.run(&["symbolic-ref", "--short", &format!("refs/remotes/{remote}/HEAD")])
            .ok()
            .and_then(|r| r.split_once('/').map(|(_, b)| b.to_string()))
            .unwrap_or_else(|| "main".into())
    });
    let folder = normalize(spec.path.as_deref().unwrap_or("."));
    if !top.join(&folder).is_dir() {
        return export(format!(
            "{} reads {}, which is not a folder of the checkout {}",
            owner.describe(),
            folder.display(),
            top.display()
        ));
    }
    Route::Git(Target {
        checkout: top,
        owner,
        folder,
        target_namespace: spec.target_namespace.clone(),
        remote: Some(remote.clone()),
        branch,
    })
}

/// `./clusters/prod/` → `clusters/prod`; `.` or `./` → the root.
fn normalize(path: &str) -> PathBuf {
    let trimmed = path.trim().trim_start_matches("./").trim_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        PathBuf::new()
    } else {
        PathBuf::from(trimmed)
    }
}

/// The branch a step is committed on: `template` with `{namespace}` and
/// `{step}` filled in, and `-2`, `-3`… when taken.
pub fn branch_name(git: &Git, template: &str, namespace: &str, action: RolloutAction) -> String {
    let name = template
        .replace("{namespace}", namespace)
        .replace("{step}", action.slug());
    let mut candidate = name.clone();
    let mut n = 2;
    while git.has_ref(&format!("refs/heads/{candidate}")) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    candidate
}

/// The default branch template.
pub const BRANCH_TEMPLATE: &str = "tighten/{namespace}-{step}";

/// A step prepared in a worktree of its own: nothing is committed yet.
#[derive(Debug)]
pub struct Draft {
    pub target: Target,
    pub namespace: String,
    /// The worktree, detached at the base.
    pub worktree: PathBuf,
    pub placement: Placement,
    pub edits: Vec<FileEdit>,
    pub branch: String,
    pub message: String,
    /// `kubectl kustomize` of the folder before and after the edits, or why not.
    pub built_before: Result<String, String>,
    pub built_after: Result<String, String>,
}

/// A step committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub branch: String,
    pub commit: String,
    pub pushed: bool,
    /// How to open the pull request.
    pub next: String,
}

impl Draft {
    /// Prepares `plan` as edits of `target`'s folder in a fresh worktree
    /// under `work_dir`, with `message` and a branch from `template`.
    pub fn prepare(
        target: &Target,
        plan: &RolloutPlan,
        message: String,
        template: &str,
        work_dir: &Path,
    ) -> Result<Draft, String> {
        let git = Git::new(&target.checkout);
        // Branch from what the reconciler reads now, not from whenever the
        // checkout last fetched; offline, the last fetch will do.
        if let Some(remote) = &target.remote
            && let Err(e) = git.run(&["fetch", "-q", remote, &target.branch])
        {
            tracing::warn!(%e, "fetch before a step");
        }
        let base = target.base();
        std::fs::create_dir_all(work_dir).map_err(|e| format!("{}: {e}", work_dir.display()))?;
        let worktree = work_dir.join(format!(
            "{}-{}-{}",
            plan.namespace,
            plan.action.slug(),
            jiff::Timestamp::now().as_millisecond()
        ));
        let worktree_arg = worktree.display().to_string();
        git.run(&["worktree", "add", "--detach", &worktree_arg, &base])
            .map_err(|e| e.to_string())?;
        let mut draft = Draft {
            target: target.clone(),
            namespace: plan.namespace.clone(),
            worktree,
            placement: Placement {
                home: PathBuf::new(),
                kustomization: None,
                names_namespace: false,
                baseline_component: None,
            },
            edits: Vec::new(),
            branch: branch_name(&git, template, &plan.namespace, plan.action),
            message,
            built_before: Err(String::new()),
            built_after: Err(String::new()),
        };
        // On an error the draft is dropped, and its worktree with it.
        draft.fill(plan)?;
        Ok(draft)
    }

    fn fill(&mut self, plan: &RolloutPlan) -> Result<(), String> {
        let root = self.worktree.clone();
        let folder = &self.target.folder;
        let documents = tree::scan(&root, folder, self.target.target_namespace.as_deref())?;
        self.placement = edit::placement(
            &root,
            folder,
            &documents,
            &plan.namespace,
            self.target.target_namespace.as_deref(),
        )?;
        self.edits = edit::edits(
            &root,
            &self.placement,
            &documents,
            &plan.namespace,
            &plan.changes,
            &self.target.owner,
        )?;
        if self.edits.is_empty() {
            return Err(format!("nothing to change in {}", folder.display()));
        }
        self.built_before = crate::policy::load::kustomize::build(&root.join(folder));
        for edit in &self.edits {
            let path = root.join(&edit.path);
            match &edit.after {
                Some(text) => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
                    }
                    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                }
                None => std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            }
        }
        self.built_after = crate::policy::load::kustomize::build(&root.join(folder));
        Ok(())
    }

    /// The namespace's policies in the folder's build after the edits: what
    /// the reconciler will apply, for the server-side dry run.
    pub fn rendered(&self) -> Result<Vec<PolicyObject>, String> {
        let built = self.built_after.as_ref().map_err(Clone::clone)?;
        let mut policies = Vec::new();
        for document in tree::split_documents(built) {
            let Ok(value) = serde_yaml::from_str::<serde_json::Value>(document) else {
                continue;
            };
            let Ok(mut policy) = PolicyObject::from_manifest(&value) else {
                continue;
            };
            if let Some(target) = &self.target.target_namespace
                && policy.kind.is_namespaced()
            {
                policy.namespace = Some(target.clone());
            }
            if policy.namespace.as_deref() == Some(self.namespace.as_str()) {
                policies.push(policy);
            }
        }
        Ok(policies)
    }

    /// Makes the branch and the commit (and pushes it when asked). Read-only
    /// refuses here, where the repository is written.
    pub fn commit(&self, push: bool, readonly: bool) -> Result<Committed, String> {
        if readonly {
            return Err("read-only: nothing is committed (started with --readonly)".into());
        }
        let git = Git::new(&self.worktree);
        let fail = |e: GitError| e.to_string();
        git.run(&["switch", "-q", "-c", &self.branch]).map_err(fail)?;
        git.run(&["add", "-A", "--", "."]).map_err(fail)?;
        git.run(&["commit", "-q", "-m", &self.message]).map_err(fail)?;
        let commit = git.rev("HEAD").map_err(fail)?;
        let remote = self.target.remote.clone().unwrap_or_else(|| "origin".into());
        if push {
            git.run(&[
                "push",
                "-q",
                &remote,
                &format!("{}:refs/heads/{}", self.branch, self.branch),
            ])
            .map_err(fail)?;
        }
        Ok(Committed {
            branch: self.branch.clone(),
            commit,
            pushed: push,
            next: self.next_step(push, &remote),
        })
    }

    /// How to open the pull request from here.
    fn next_step(&self, pushed: bool, remote: &str) -> String {
        let push = if pushed {
            String::new()
        } else {
            format!(
                "git -C {} push {remote} {}; ",
                self.target.checkout.display(),
                self.branch
            )
        };
        let title = self.message.lines().next().unwrap_or_default();
        if which("gh") {
            format!(
                "{push}gh pr create --head {} --base {} --title {:?} --fill",
                self.branch, self.target.branch, title
            )
        } else {
            let url = Git::new(&self.target.checkout)
                .run(&["remote", "get-url", remote])
                .unwrap_or_default();
            format!(
                "{push}then open a pull request from {} into {} at {}",
                self.branch, self.target.branch, url
            )
        }
    }

    /// One line per file: `+ apps/shop/x.yaml` (added), `~` changed, `-` removed.
    pub fn file_summary(&self) -> Vec<String> {
        self.edits
            .iter()
            .map(|e| {
                let mark = match (&e.before, &e.after) {
                    (None, _) => '+',
                    (_, None) => '-',
                    _ => '~',
                };
                format!("{mark} {}", e.path.display())
            })
            .collect()
    }
}

impl Drop for Draft {
    /// The worktree goes with the draft, committed or not (the branch, once
    /// made, stays in the checkout).
    fn drop(&mut self) {
        let worktree = self.worktree.display().to_string();
        if let Err(e) = Git::new(&self.target.checkout).run(&["worktree", "remove", "--force", &worktree]) {
            tracing::warn!(%e, "worktree not removed");
        }
    }
}

/// Whether `program` is on the PATH.
fn which(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests;
