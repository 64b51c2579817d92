//! The audit trail: one JSON line per action, appended and synced.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "message", rename_all = "kebab-case")]
pub enum AuditOutcome {
    Succeeded,
    Failed(String),
    Refused(String),
}

/// One action, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time: Timestamp,
    pub context: String,
    pub user: String,
    pub namespace: String,
    pub action: String,
    pub outcome: AuditOutcome,
    /// One line per change, as the confirm dialog showed them.
    pub changes: Vec<String>,
    /// Each object touched, with the resourceVersion the plan was made against
    /// (`CiliumNetworkPolicy shop/x@123`; `@new` for creations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
    /// The dry-run diff the operator confirmed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl AuditRecord {
    /// `; backup PATH` when the action wrote one, for the lines that report it
    /// (the cockpit's notice, the command's output, the namespace's Event).
    pub fn backup_note(&self) -> String {
        self.backup
            .as_ref()
            .map(|b| format!("; backup {b}"))
            .unwrap_or_default()
    }
}

/// An append-only JSON-lines file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> AuditLog {
        AuditLog { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }

    /// Every readable record of one context; unreadable lines are counted, not fatal.
    pub fn load(&self, context: &str) -> (Vec<AuditRecord>, usize) {
        let Ok(text) = fs::read_to_string(&self.path) else {
            return (Vec::new(), 0);
        };
        let mut bad = 0;
        let records = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| match serde_json::from_str::<AuditRecord>(l) {
                Ok(r) => Some(r),
                Err(_) => {
                    bad += 1;
                    None
                }
            })
            .filter(|r| r.context == context)
            .collect();
        (records, bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_append_and_load_per_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("state/audit.jsonl"));
        let record = |context: &str| AuditRecord {
            time: Timestamp::UNIX_EPOCH,
            context: context.into(),
            user: "alice".into(),
            namespace: "shop".into(),
            action: "enforce".into(),
            outcome: AuditOutcome::Failed("conflict".into()),
            changes: vec!["update CiliumNetworkPolicy shop/tighten-default-deny".into()],
            objects: vec!["CiliumNetworkPolicy shop/tighten-default-deny@42".into()],
            diff: vec!["-     ingress: false".into(), "+     ingress: true".into()],
            backup: None,
            reason: Some("gate override: soak shortened for incident 42".into()),
        };
        log.append(&record("prod")).expect("append");
        log.append(&record("lab")).expect("append");
        fs::write(log.path(), fs::read_to_string(log.path()).expect("read") + "not json\n").expect("corrupt");
        let (records, bad) = log.load("prod");
        assert_eq!(records, vec![record("prod")]);
        assert_eq!(bad, 1);
    }
}
