//! Steps committed and not yet applied: the audit log records each commit
//! (`commit SHA on branch B in CHECKOUT`); the reconciler's applied revision
//! says when it arrived. A fast-forward merge applies the commit itself; a
//! merge commit or a squash contains it, which only Git can tell.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cluster::{AuditOutcome, AuditRecord};

use super::git::Git;

/// The newest commit a step made for a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub namespace: String,
    pub action: String,
    pub commit: String,
    pub branch: String,
    pub checkout: PathBuf,
}

impl Pending {
    /// `commit 3f9c2a71d04b (tighten/shop-apply-baseline)`.
    pub fn describe(&self) -> String {
        format!("commit {} ({})", &self.commit[..self.commit.len().min(12)], self.branch)
    }
}

/// Reads `commit SHA on branch B in CHECKOUT[, pushed]`.
fn parse(line: &str) -> Option<(String, String, PathBuf)> {
    let rest = line.strip_prefix("commit ")?;
    let (commit, rest) = rest.split_once(" on branch ")?;
    let (branch, checkout) = rest.split_once(" in ")?;
    let checkout = checkout.strip_suffix(", pushed").unwrap_or(checkout);
    Some((commit.to_string(), branch.to_string(), PathBuf::from(checkout)))
}

/// The newest successful commit per namespace, from the audit records (in
/// the order they were written). A later action in the cluster on the
/// namespace (a rollback) ends the wait: what it waited for is moot.
pub fn from_audit(records: &[AuditRecord]) -> BTreeMap<String, Pending> {
    let mut pending = BTreeMap::new();
    for record in records {
        if record.outcome != AuditOutcome::Succeeded {
            continue;
        }
        match record.changes.first().and_then(|line| parse(line)) {
            Some((commit, branch, checkout)) => {
                pending.insert(
                    record.namespace.clone(),
                    Pending {
                        namespace: record.namespace.clone(),
                        action: record.action.clone(),
                        commit,
                        branch,
                        checkout,
                    },
                );
            }
            None => {
                pending.remove(&record.namespace);
            }
        }
    }
    pending
}

/// The commit of a reconciler's revision: `main@sha1:0123…` → `0123…`.
pub fn revision_commit(revision: &str) -> Option<&str> {
    revision
        .rsplit_once(':')
        .map(|(_, sha)| sha)
        .filter(|sha| !sha.is_empty())
}

/// Whether the applied `revision` is the pending commit itself.
pub fn is_the_commit(pending: &Pending, revision: &str) -> bool {
    revision_commit(revision).is_some_and(|sha| sha == pending.commit)
}

/// Whether the applied commit contains the pending one (a merge of it),
/// after fetching what the checkout lacks; `None` when Git cannot tell
/// (the applied commit is not reachable from the checkout).
pub fn contains(pending: &Pending, applied: &str) -> Option<bool> {
    let git = Git::new(&pending.checkout);
    if !git.has_ref(applied)
        && let Err(e) = git.run(&["fetch", "-q", "--all"])
    {
        tracing::warn!(%e, "fetch to follow a merge");
    }
    if !git.has_ref(applied) {
        return None;
    }
    Some(git.contains(applied, &pending.commit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(namespace: &str, first: &str, outcome: AuditOutcome) -> AuditRecord {
        AuditRecord {
            time: jiff::Timestamp::UNIX_EPOCH,
            context: "prod".into(),
            user: "ops".into(),
            namespace: namespace.into(),
            action: "apply-baseline".into(),
            outcome,
            changes: vec![first.into()],
            objects: Vec::new(),
            diff: Vec::new(),
            backup: None,
            reason: None,
        }
    }

    #[test]
    fn the_newest_commit_per_namespace_waits_until_a_cluster_action_ends_it() {
        let records = [
            record(
                "shop",
                "commit aaa111 on branch tighten/shop-apply-baseline in /src/fleet",
                AuditOutcome::Succeeded,
            ),
            record(
                "shop",
                "commit bbb222 on branch tighten/shop-stage-default-deny in /src/fleet, pushed",
                AuditOutcome::Succeeded,
            ),
            record(
                "shop",
                "commit ccc333 on branch x in /src/fleet",
                AuditOutcome::Failed("no".into()),
            ),
            record(
                "media",
                "commit ddd444 on branch tighten/media-enforce in /src/fleet",
                AuditOutcome::Succeeded,
            ),
            record(
                "media",
                "delete CiliumNetworkPolicy media/tighten-default-deny",
                AuditOutcome::Succeeded,
            ),
        ];
        let pending = from_audit(&records);
        assert_eq!(pending.len(), 1, "{pending:?}");
        let shop = &pending["shop"];
        assert_eq!(shop.commit, "bbb222");
        assert_eq!(shop.branch, "tighten/shop-stage-default-deny");
        assert_eq!(shop.checkout, PathBuf::from("/src/fleet"));
        assert!(is_the_commit(shop, "main@sha1:bbb222"));
        assert!(!is_the_commit(shop, "main@sha1:aaa111"));
        assert_eq!(revision_commit("main@sha1:"), None);
    }
}
