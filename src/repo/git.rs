//! The `git` command line, run in a checkout. tighten shells out rather than
//! linking a Git library so the operator's own configuration applies: their
//! identity, signing, hooks, credential helpers and SSH setup.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A `git` command that failed: what was run, and what git said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("git {args} (in {dir}): {message}")]
pub struct GitError {
    pub dir: String,
    pub args: String,
    pub message: String,
}

/// A checkout (or worktree) to run `git` in.
#[derive(Debug, Clone)]
pub struct Git {
    pub dir: PathBuf,
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>) -> Git {
        Git { dir: dir.into() }
    }

    /// Runs `git ARGS` and returns its standard output, trimmed.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let error = |message: String| GitError {
            dir: self.dir.display().to_string(),
            args: args.join(" "),
            message,
        };
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            // Never wait on a prompt nobody sees (the cockpit owns the terminal).
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| error(format!("cannot run git: {e}")))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_string())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = stderr.trim();
            Err(error(if message.is_empty() {
                format!("exited with {}", output.status)
            } else {
                message.to_string()
            }))
        }
    }

    /// The top of the checkout `dir` is in.
    pub fn toplevel(dir: &Path) -> Result<PathBuf, GitError> {
        Git::new(dir).run(&["rev-parse", "--show-toplevel"]).map(PathBuf::from)
    }

    /// `(name, fetch URL)` of each remote.
    pub fn remotes(&self) -> Result<Vec<(String, String)>, GitError> {
        let text = self.run(&["remote", "-v"])?;
        let mut remotes: Vec<(String, String)> = text
            .lines()
            .filter(|l| l.ends_with("(fetch)"))
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                Some((parts.next()?.to_string(), parts.next()?.to_string()))
            })
            .collect();
        remotes.dedup();
        Ok(remotes)
    }

    /// Whether `name` resolves to a commit.
    pub fn has_ref(&self, name: &str) -> bool {
        self.run(&["rev-parse", "--verify", "--quiet", &format!("{name}^{{commit}}")])
            .is_ok()
    }

    /// The commit `name` points at.
    pub fn rev(&self, name: &str) -> Result<String, GitError> {
        self.run(&["rev-parse", "--verify", &format!("{name}^{{commit}}")])
    }

    /// Whether commit `ancestor` is contained in `descendant`.
    pub fn contains(&self, descendant: &str, ancestor: &str) -> bool {
        self.run(&["merge-base", "--is-ancestor", ancestor, descendant]).is_ok()
    }
}

/// A URL reduced to what names the repository: host and path, without the
/// scheme, user, `.git` or trailing slash, so `git@github.com:org/repo.git`
/// and `https://github.com/org/repo` compare equal.
pub fn repository_key(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    let without_scheme = match url.split_once("://") {
        Some((_, rest)) => rest.to_string(),
        // scp-like: user@host:path
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') => format!("{host}/{path}"),
            _ => url.to_string(),
        },
    };
    let without_user = match without_scheme.split_once('@') {
        Some((user, rest)) if !user.contains('/') => rest.to_string(),
        _ => without_scheme,
    };
    // A port after the host (`host:8080/path`) names the same repository
    // only on that port; keep it.
    without_user.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_one_repository_compare_equal() {
        let key = repository_key("https://github.com/Acme/platform.git");
        assert_eq!(key, "github.com/acme/platform");
        assert_eq!(repository_key("git@github.com:acme/platform.git"), key);
        assert_eq!(repository_key("ssh://git@github.com/acme/platform"), key);
        assert_eq!(repository_key("https://github.com/acme/platform/"), key);
        assert_ne!(repository_key("https://github.com/acme/other"), key);
        assert_eq!(
            repository_key("http://127.0.0.1:8080/repos/fleet.git"),
            "127.0.0.1:8080/repos/fleet"
        );
    }

    #[test]
    fn git_reports_what_it_ran_and_why_it_failed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = Git::new(dir.path());
        let err = git.run(&["log"]).expect_err("not a repository");
        assert!(err.to_string().starts_with("git log (in "), "{err}");
        assert!(err.message.contains("not a git repository"), "{err}");
        git.run(&["init", "-q", "-b", "main"]).expect("init");
        assert!(!git.has_ref("main"), "no commit yet");
        assert!(git.remotes().expect("remotes").is_empty());
    }
}
