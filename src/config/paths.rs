//! Where tighten keeps its files.
//!
//! Follows the platform conventions through `directories` (XDG on Linux,
//! `~/Library/Application Support` on macOS, `%APPDATA%` on Windows) so
//! operators find config, backups and logs where their other tools keep them.
//! Nothing here creates directories: writers create what they need lazily.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

/// The three directories tighten uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `config.toml`, `keymap.toml`, `themes/`, `keymaps/`.
    pub config_dir: PathBuf,
    /// Durable data: namespace backups.
    pub data_dir: PathBuf,
    /// Logs and the audit trail.
    pub state_dir: PathBuf,
}

impl Paths {
    /// The platform's directories for tighten, or `None` when no home
    /// directory can be determined (e.g. a bare container without `$HOME`).
    pub fn discover() -> Option<Paths> {
        let dirs = ProjectDirs::from("", "", "tighten")?;
        // Only Linux has a separate state directory; elsewhere local data is the
        // closest equivalent (not roamed between machines, unlike data_dir on Windows).
        let state_dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).to_path_buf();
        Some(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
            state_dir,
        })
    }

    /// Everything under one root (`root/config`, `root/data`, `root/state`);
    /// for tests and for `--home`-style overrides.
    pub fn under(root: &Path) -> Paths {
        Paths {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
            state_dir: root.join("state"),
        }
    }

    /// The main configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// User themes, `<name>.toml`.
    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }

    /// Named user keymaps, `<name>.toml`.
    pub fn keymaps_dir(&self) -> PathBuf {
        self.config_dir.join("keymaps")
    }

    /// The diagnostic log (tracing output; the terminal belongs to the UI).
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("tighten.log")
    }

    /// The append-only record of every change made to a cluster.
    pub fn audit_file(&self) -> PathBuf {
        self.state_dir.join("audit.jsonl")
    }

    /// Where a step for a GitOps repository is prepared, a worktree each.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.state_dir.join("worktrees")
    }

    /// Where namespace backups are written before anything is changed.
    pub fn backup_dir(&self) -> PathBuf {
        self.data_dir.join("backups")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_root_lays_out_all_files() {
        let p = Paths::under(Path::new("/r"));
        assert_eq!(p.config_file(), Path::new("/r/config/config.toml"));
        assert_eq!(p.themes_dir(), Path::new("/r/config/themes"));
        assert_eq!(p.keymaps_dir(), Path::new("/r/config/keymaps"));
        assert_eq!(p.log_file(), Path::new("/r/state/tighten.log"));
        assert_eq!(p.audit_file(), Path::new("/r/state/audit.jsonl"));
        assert_eq!(p.backup_dir(), Path::new("/r/data/backups"));
    }
}
