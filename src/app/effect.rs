//! Work `update` asks the runtime to do. Results come back as [`Msg`](super::Msg)s
//! carrying the same request id, so a late answer to a cancelled dialog is ignored.

use std::path::PathBuf;

use crate::rollout::RolloutPlan;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Server-side dry run of a plan → `Msg::DryRunDone`.
    DryRun { id: u64, plan: RolloutPlan },
    /// Perform a confirmed plan through the mutation guard → `Msg::Executed`.
    Execute { id: u64, plan: RolloutPlan },
    /// Read a backup file for restore → `Msg::BackupLoaded`.
    LoadBackup { id: u64, namespace: String, path: PathBuf },
    /// Check the backup directory accepts files → `Msg::BackupDirChecked`.
    CheckBackupDir,
    /// Load a theme by name → `Msg::ThemeLoaded`.
    LoadTheme(String),
}
