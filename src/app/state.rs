//! The cockpit's whole state. Owned by the UI task; only `update` changes it.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

use crate::cluster::access::AccessReport;
use crate::cluster::{AuditRecord, ClusterIdentity, ClusterSnapshot, ConnectionState};
use crate::config::{Diagnostic, Keymap, ResolvedSettings, Theme};
use crate::flows::window::Window;
use crate::flows::{FlowScope, FlowStreamState, SharedFlowList, StreamHealth, Traffic, Verdict};
use crate::gate::PromGate;
use crate::policy::Templates;
use crate::policy::preview::Preview;
use crate::prometheus::PromEvidence;
use crate::rollout::RolloutPlan;

use super::modal::Modal;
use super::rows::{NamespaceFilter, NamespaceRow, SortKey};
use super::text_input::TextInput;

/// The detail pane's tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Drops,
    Policies,
    Flows,
    Gate,
    Log,
}

impl Tab {
    pub const ALL: [Tab; 5] = [Tab::Drops, Tab::Policies, Tab::Flows, Tab::Gate, Tab::Log];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Drops => "Drops",
            Tab::Policies => "Policies",
            Tab::Flows => "Flows",
            Tab::Gate => "Gate",
            Tab::Log => "Log",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Where the movement keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Detail,
}

/// The verdicts the Flows tab shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictFilter {
    All,
    Dropped,
    Forwarded,
    Audit,
}

impl VerdictFilter {
    pub fn next(self) -> VerdictFilter {
        match self {
            VerdictFilter::All => VerdictFilter::Dropped,
            VerdictFilter::Dropped => VerdictFilter::Forwarded,
            VerdictFilter::Forwarded => VerdictFilter::Audit,
            VerdictFilter::Audit => VerdictFilter::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VerdictFilter::All => "all",
            VerdictFilter::Dropped => "dropped",
            VerdictFilter::Forwarded => "forwarded",
            VerdictFilter::Audit => "audit",
        }
    }

    pub fn accepts(self, verdict: Verdict) -> bool {
        match self {
            VerdictFilter::All => true,
            VerdictFilter::Dropped => verdict == Verdict::Dropped,
            VerdictFilter::Forwarded => verdict == Verdict::Forwarded,
            VerdictFilter::Audit => verdict == Verdict::Audit,
        }
    }
}

/// The `/` or `:` line at the bottom of the screen.
#[derive(Debug, Clone)]
pub struct InputLine {
    pub kind: InputKind,
    pub input: TextInput,
    /// Why the current text is not accepted (bad regex, unknown command).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
}

/// A transient message in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: NoticeLevel,
    pub text: String,
    pub until: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warning,
    Error,
}

/// The configuration the cockpit runs with.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub keymap: Keymap,
    pub theme: Theme,
    pub settings: ResolvedSettings,
    pub templates: Templates,
    pub readonly: bool,
    /// Backups of this context go here.
    pub backup_dir: PathBuf,
}

/// The namespace table's view.
#[derive(Debug, Clone)]
pub struct TableView {
    pub sort: SortKey,
    pub descending: bool,
    pub filter: Option<NamespaceFilter>,
    /// Indices into `State::rows`, sorted and filtered.
    pub visible: Vec<usize>,
    /// The selected namespace, by name, so it survives re-sorting.
    pub selected: Option<String>,
}

/// The detail pane's view.
#[derive(Debug, Clone)]
pub struct DetailView {
    pub tab: Tab,
    pub focus: Focus,
    /// Cursor in the Policies list; scroll in the others.
    pub cursor: usize,
    pub verdicts: VerdictFilter,
    /// The window the Drops tab counts over.
    pub window: Window,
    /// The Gate tab lists the Prometheus queries behind its evidence.
    pub show_queries: bool,
    /// A frozen copy of the tail while paused.
    pub paused: Option<SharedFlowList>,
}

/// Where the gate's Prometheus is, and what it said per namespace.
#[derive(Debug, Default)]
pub struct PromState {
    pub setup: PromSetup,
    pub records: HashMap<String, PromRecord>,
    /// Namespaces whose evidence is being fetched.
    pub pending: Vec<String>,
    /// Answers in a row that found Prometheus unreachable: the next ask backs off.
    pub failures: u32,
}

/// How often healthy evidence is asked for again.
pub const PROMETHEUS_REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

impl PromState {
    /// How long after an answer the namespace is asked again: the refresh
    /// interval, or while Prometheus is unreachable 5 s doubling up to a minute.
    pub fn retry_after(&self) -> std::time::Duration {
        match self.failures {
            0 => PROMETHEUS_REFRESH,
            n => std::time::Duration::from_secs((5u64 << (n - 1).min(4)).min(60)),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PromSetup {
    #[default]
    NotConfigured,
    /// A configured URL that cannot be used, and why.
    Invalid(String),
    /// Nothing configured and none found in the cluster, and how the search went.
    NotFound(String),
    /// The URL, or the Service found (`service NS/NAME:PORT (through the API server)`).
    Url(String),
}

#[derive(Debug, Clone)]
pub struct PromRecord {
    pub fetched: Timestamp,
    pub evidence: PromEvidence,
}

impl PromSetup {
    /// A configured URL, checked once.
    pub fn from_setting(url: Option<&str>) -> PromSetup {
        match url {
            None => PromSetup::NotConfigured,
            Some(url) => match crate::prometheus::client::check_url(url) {
                Ok(()) => PromSetup::Url(url.to_string()),
                Err(why) => PromSetup::Invalid(why),
            },
        }
    }
}

impl PromState {
    /// The gate's view of one namespace's evidence.
    pub fn gate(&self, namespace: &str) -> PromGate<'_> {
        match &self.setup {
            PromSetup::NotConfigured => PromGate::NotConfigured,
            PromSetup::Invalid(why) => PromGate::Invalid(why),
            PromSetup::NotFound(why) => PromGate::NotFound(why),
            PromSetup::Url(url) => match self.records.get(namespace) {
                Some(record) => PromGate::Fetched(&record.evidence),
                None => PromGate::Pending(url),
            },
        }
    }
}

/// Everything the cockpit knows.
#[derive(Debug)]
pub struct State {
    pub config: AppConfig,
    pub identity: ClusterIdentity,
    pub connection: ConnectionState,
    pub flow_stream: FlowStreamState,
    pub flow_health: StreamHealth,
    pub prometheus: PromState,
    /// The flows the stream was last asked for.
    pub flow_scope: FlowScope,
    pub snapshot: Arc<ClusterSnapshot>,
    pub rows: Vec<NamespaceRow>,
    pub table: TableView,
    pub detail: DetailView,
    pub traffic: Traffic,
    /// What enforcing each namespace in Audit would drop.
    pub preview: Preview,
    /// The spans the connection ledger observed (soak coverage); `None`
    /// until it reports, and always for the demo.
    pub observed: Option<Vec<crate::ledger::Span>>,
    /// The would-drop preview over the soak, per namespace in Audit, from the
    /// ledger; `None` without a ledger.
    pub soak: Option<std::collections::BTreeMap<String, crate::ledger::feed::SoakVerdict>>,
    /// Lint findings over the whole snapshot.
    /// Each namespace's status (phase, posture, drift), derived once per snapshot.
    pub statuses: crate::rollout::Statuses,
    pub lint: Vec<crate::policy::lint::Finding>,
    pub audit: Vec<AuditRecord>,
    /// Per namespace, whether the reconciler's applied commit contains the
    /// step's pending one, as Git answered: `(applied commit, answer)`.
    pub commit_checks: std::collections::BTreeMap<String, (String, Option<bool>)>,
    pub modals: Vec<Modal>,
    /// Plans whose dry run is in flight, by request id.
    pub pending_plans: HashMap<u64, RolloutPlan>,
    /// Contexts `:ctx` can switch to.
    pub contexts: Vec<String>,
    /// What the user may do per namespace; `Err` when the check itself failed.
    pub access: HashMap<String, Result<AccessReport, String>>,
    /// Namespaces whose access check is in flight.
    pub access_pending: Vec<String>,
    /// The context being connected to, while `:ctx` runs.
    pub switching_to: Option<String>,
    pub input: Option<InputLine>,
    pub notices: VecDeque<Notice>,
    pub diagnostics: Vec<Diagnostic>,
    pub backups_writable: Option<Result<(), String>>,
    pub now: Timestamp,
    /// Terminal size, for paging.
    pub viewport: (u16, u16),
    pub next_id: u64,
    pub running: bool,
    /// A namespace to open once the first snapshot lists it (`-n NAME`).
    pub open_on: Option<String>,
}

impl State {
    /// The state for a freshly connected context.
    pub fn from_switch(switch: super::ContextSwitch, now: Timestamp) -> State {
        let mut state = State::new(switch.config, switch.identity, switch.diagnostics, now);
        state.contexts = switch.contexts;
        state.audit = switch.audit;
        state.prometheus.setup = switch.prometheus;
        state
    }

    pub fn new(config: AppConfig, identity: ClusterIdentity, diagnostics: Vec<Diagnostic>, now: Timestamp) -> State {
        let prometheus = PromSetup::from_setting(config.settings.prometheus.as_deref());
        State {
            contexts: vec![identity.context.clone()],
            config,
            identity,
            connection: ConnectionState::Connecting,
            flow_stream: FlowStreamState::Connecting,
            flow_health: StreamHealth::default(),
            prometheus: PromState {
                setup: prometheus,
                ..PromState::default()
            },
            flow_scope: FlowScope::All,
            snapshot: Arc::new(ClusterSnapshot::default()),
            rows: Vec::new(),
            table: TableView {
                sort: SortKey::Name,
                descending: false,
                filter: None,
                visible: Vec::new(),
                selected: None,
            },
            detail: DetailView {
                tab: Tab::Drops,
                focus: Focus::Table,
                cursor: 0,
                verdicts: VerdictFilter::All,
                window: Window::default(),
                show_queries: false,
                paused: None,
            },
            traffic: Traffic::default(),
            preview: Preview::default(),
            observed: None,
            soak: None,
            lint: Vec::new(),
            statuses: Default::default(),
            audit: Vec::new(),
            commit_checks: Default::default(),
            modals: Vec::new(),
            pending_plans: HashMap::new(),
            access: HashMap::new(),
            access_pending: Vec::new(),
            switching_to: None,
            input: None,
            notices: VecDeque::new(),
            diagnostics,
            backups_writable: None,
            now,
            viewport: (120, 40),
            next_id: 1,
            running: true,
            open_on: None,
        }
    }

    /// The row of `namespace`.
    pub fn row(&self, namespace: &str) -> Option<&NamespaceRow> {
        self.rows.iter().find(|r| r.name == namespace)
    }

    /// The row of the selected namespace.
    pub fn selected_row(&self) -> Option<&NamespaceRow> {
        self.row(self.table.selected.as_deref()?)
    }

    /// The selected row's position among the visible rows.
    pub fn selected_position(&self) -> Option<usize> {
        let name = self.table.selected.as_deref()?;
        self.table.visible.iter().position(|&i| self.rows[i].name == name)
    }

    pub fn visible_rows(&self) -> impl Iterator<Item = &NamespaceRow> {
        self.table.visible.iter().map(|&i| &self.rows[i])
    }

    /// Audit records of one namespace, newest first.
    pub fn audit_for<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a AuditRecord> + 'a {
        self.audit.iter().rev().filter(move |r| r.namespace == namespace)
    }
}

#[cfg(test)]
mod prometheus_tests {
    use super::*;

    #[test]
    fn retries_back_off_from_five_seconds_to_a_minute() {
        let waits: Vec<u64> = (0..8)
            .map(|failures| {
                PromState {
                    failures,
                    ..PromState::default()
                }
                .retry_after()
                .as_secs()
            })
            .collect();
        assert_eq!(waits, [30, 5, 10, 20, 40, 60, 60, 60]);
    }
}
