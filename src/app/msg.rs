//! Everything that can happen to the cockpit.

use std::path::PathBuf;

use crossterm::event::KeyEvent;
use jiff::Timestamp;

use crate::cluster::access::AccessReport;
use crate::cluster::{AuditRecord, ClusterEvent, ClusterIdentity, DryRunReport, PolicyObject};
use crate::config::{Diagnostic, Theme};

use super::state::AppConfig;
use crate::flows::FlowEvent;

/// Input to [`update()`](fn@super::update).
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal's size changed (columns, rows).
    Resize(u16, u16),
    /// The clock moved on; drives rates, soak timers and notice expiry.
    Tick(Timestamp),
    Cluster(ClusterEvent),
    Flows(FlowEvent),
    DryRunDone {
        id: u64,
        result: Result<DryRunReport, String>,
        /// Set when the step was prepared as a commit.
        commit: Option<Box<crate::app::effect::CommitPreview>>,
    },
    Executed {
        id: u64,
        result: Result<(), String>,
        record: AuditRecord,
    },
    BackupLoaded {
        id: u64,
        namespace: String,
        path: PathBuf,
        result: Result<Vec<PolicyObject>, String>,
    },
    BackupDirChecked(Result<(), String>),
    /// A break-glass's revert commit: what to tell the operator, or why it
    /// was not written.
    Reverted(Result<String, String>),
    /// Whether `applied` (the reconciler's commit) contains the namespace's
    /// pending step; `None` when Git could not tell.
    CommitChecked {
        namespace: String,
        applied: String,
        contained: Option<bool>,
    },
    ThemeLoaded {
        theme: Theme,
        diagnostics: Vec<Diagnostic>,
    },
    AuditLoaded(Vec<AuditRecord>),
    AccessChecked {
        namespace: String,
        result: Result<AccessReport, String>,
    },
    /// The runtime connected to another context; everything shown starts over.
    ContextSwitched(Box<ContextSwitch>),
    ContextFailed {
        context: String,
        error: String,
    },
    /// The spans the connection ledger has observed (after each of its writes).
    LedgerObserved(Vec<crate::ledger::Span>),
    /// Per namespace in Audit, the connections the ledger saw since staging
    /// that enforcing would drop.
    LedgerSoak(std::collections::BTreeMap<String, crate::ledger::feed::SoakVerdict>),
    /// Prometheus answered about a namespace (each part may have failed).
    PrometheusFetched {
        namespace: String,
        at: Timestamp,
        evidence: Box<crate::prometheus::PromEvidence>,
    },
}

/// What a new context brings: who we are there, its configuration and history.
#[derive(Debug)]
pub struct ContextSwitch {
    pub identity: ClusterIdentity,
    pub contexts: Vec<String>,
    pub config: AppConfig,
    pub diagnostics: Vec<Diagnostic>,
    pub audit: Vec<AuditRecord>,
    /// The gate's Prometheus as the connection found it (configured,
    /// discovered, or why neither).
    pub prometheus: super::state::PromSetup,
}
