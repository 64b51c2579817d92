//! `tighten status`: each namespace's phase and go/no-go gate, read once from
//! the cluster, Hubble's recent history and Prometheus. The gate is the
//! cockpit's own: the same messages go through the same `update`, so the
//! command and the Gate tab cannot disagree.

use std::io::{self, Write};
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::app::rows::NamespaceRow;
use crate::app::state::PromSetup;
use crate::app::{Msg, State, update};
use crate::cluster::{ClusterEvent, ConnectionState};
use crate::flows::{FlowEvent, FlowStreamState, StreamHealth};
use crate::gate::{Check, EVIDENCE_MINUTES, GateSummary};
use crate::runtime::backend::{Backend, Backends};

use super::exit;

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// Only these namespaces, each with its whole checklist; empty: all.
    pub namespaces: Vec<String>,
    pub output: Format,
}

/// The cluster could not be read at all.
pub const UNREACHABLE: u8 = 3;

/// How long the first complete view of the cluster may take.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(30);
/// How long events already on their way are waited for after the snapshot.
const SETTLE: Duration = Duration::from_millis(100);
/// How many namespaces Prometheus is asked about at once.
const PROMETHEUS_AT_ONCE: usize = 8;

/// Everything `status` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    pub context: String,
    /// Where the flows came from, or why there are none.
    pub flows: String,
    pub prometheus: String,
    pub namespaces: Vec<NamespaceReport>,
}

#[derive(Debug, Serialize)]
pub struct NamespaceReport {
    pub namespace: String,
    pub tier: Option<String>,
    pub phase: String,
    pub protected: bool,
    /// The GitOps tool that applied its policies, if any.
    pub owner: Option<String>,
    pub policies: usize,
    pub drift: Vec<String>,
    pub gate: GateReport,
}

#[derive(Debug, Serialize)]
pub struct GateReport {
    /// The step the gate decides (`enforce`, …); none once enforced.
    pub step: Option<&'static str>,
    pub title: String,
    /// `go`, `open`, `waiting`, `done` or `n/a`.
    pub verdict: &'static str,
    pub summary: String,
    pub items: Vec<ItemReport>,
}

#[derive(Debug, Serialize)]
pub struct ItemReport {
    pub name: &'static str,
    /// `pass`, `fail`, `waiting` or `info`.
    pub check: &'static str,
    pub evidence: String,
}

fn check_name(check: Check) -> &'static str {
    match check {
        Check::Pass => "pass",
        Check::Fail => "fail",
        Check::Waiting => "waiting",
        Check::Info => "info",
    }
}

fn verdict(summary: &GateSummary) -> &'static str {
    match summary {
        GateSummary::Go => "go",
        GateSummary::Blocked(_) => "open",
        GateSummary::Waiting(_) => "waiting",
        GateSummary::Done => "done",
        GateSummary::NotApplicable => "n/a",
    }
}

impl NamespaceReport {
    fn of(row: &NamespaceRow) -> NamespaceReport {
        let summary = row.gate.summary();
        NamespaceReport {
            namespace: row.name.clone(),
            tier: row.tier.clone(),
            phase: row.status.phase.to_string(),
            protected: row.protected,
            owner: row.owner.as_ref().map(|o| o.describe()),
            policies: row.policies,
            drift: row.status.drift.iter().map(ToString::to_string).collect(),
            gate: GateReport {
                step: row.gate.step.map(|s| s.slug()),
                title: row.gate.title.clone(),
                verdict: verdict(&summary),
                summary: summary.to_string(),
                items: row
                    .gate
                    .items
                    .iter()
                    .map(|i| ItemReport {
                        name: i.name,
                        check: check_name(i.check),
                        evidence: i.evidence.clone(),
                    })
                    .collect(),
            },
        }
    }

    /// Whether the gate lets the rollout on (or there is nothing to gate).
    fn clear(&self) -> bool {
        matches!(self.gate.verdict, "go" | "done" | "n/a")
    }
}

pub async fn run(
    backends: &Backends,
    context: &str,
    options: &StatusOptions,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let report = match collect(backends, context, &options.namespaces).await {
        Ok(report) => report,
        Err(Failure::Unreachable(why)) => {
            tracing::warn!(context, %why, "status: cluster unreadable");
            writeln!(err, "tighten: {why}")?;
            return Ok(UNREACHABLE);
        }
        Err(Failure::BadInput(why)) => {
            writeln!(err, "tighten: {why}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    tracing::info!(
        context,
        namespaces = report.namespaces.len(),
        flows = %report.flows,
        prometheus = %report.prometheus,
        "status read"
    );
    match options.output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).map_err(io::Error::other)?;
            writeln!(out)?;
        }
        Format::Yaml => {
            out.write_all(serde_yaml::to_string(&report).map_err(io::Error::other)?.as_bytes())?;
        }
        Format::Table => table(&report, !options.namespaces.is_empty(), out)?,
    }
    Ok(if report.namespaces.iter().all(NamespaceReport::clear) {
        exit::OK
    } else {
        exit::FOUND
    })
}

/// Why there is no report.
#[derive(Debug)]
pub enum Failure {
    Unreachable(String),
    BadInput(String),
}

/// Connects, waits for a complete view of the cluster, reads the evidence
/// and derives every gate through the cockpit's `update`.
pub async fn collect(backends: &Backends, context: &str, only: &[String]) -> Result<Report, Failure> {
    let (backend, switch) = backends.connect(context).await.map_err(Failure::Unreachable)?;
    let mut state = State::from_switch(switch, Timestamp::now());
    wait_for_snapshot(&backend, &mut state).await?;
    if let Some(unknown) = only.iter().find(|n| state.snapshot.namespace(n).is_none()) {
        return Err(Failure::BadInput(format!(
            "no namespace {unknown} in context {context}"
        )));
    }
    read_flows(&backend, &mut state).await;
    let mut wanted: Vec<String> = state
        .rows
        .iter()
        .filter(|r| only.is_empty() || only.contains(&r.name))
        .map(|r| r.name.clone())
        .collect();
    wanted.sort();
    ask_prometheus(&backend, &mut state, &wanted).await;
    let backups = crate::runtime::effects::check_writable(&backend.backup_dir);
    update(&mut state, Msg::BackupDirChecked(backups));
    update(&mut state, Msg::Tick(Timestamp::now()));

    let flows = match &state.flow_stream {
        FlowStreamState::Connected { source } => source.clone(),
        FlowStreamState::Unavailable(why) => format!("unavailable: {why}"),
        other => format!("{other:?}"),
    };
    let prometheus = match &state.prometheus.setup {
        PromSetup::NotConfigured => "not configured".to_string(),
        PromSetup::Invalid(why) | PromSetup::NotFound(why) => why.clone(),
        PromSetup::Url(url) => url.clone(),
    };
    Ok(Report {
        context: state.identity.context.clone(),
        flows,
        prometheus,
        namespaces: wanted
            .iter()
            .filter_map(|name| state.rows.iter().find(|r| r.name == *name))
            .map(NamespaceReport::of)
            .collect(),
    })
}

/// The first complete snapshot. The live watches publish a first snapshot
/// once every kind has listed or failed; one that failed makes the view
/// incomplete, and a gate read from it would be wrong, so that is an error
/// with the connection's reason.
async fn wait_for_snapshot(backend: &Backend, state: &mut State) -> Result<(), Failure> {
    let mut events = backend.cluster.subscribe();
    let mut last = ConnectionState::Connecting;
    let context = state.identity.context.clone();
    let snapshot = tokio::time::timeout(SNAPSHOT_WAIT, async {
        while let Some(event) = events.recv().await {
            match event {
                ClusterEvent::Snapshot(snapshot) => return Some(snapshot),
                ClusterEvent::Connection(connection) => last = connection,
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let Some(snapshot) = snapshot else {
        return Err(Failure::Unreachable(format!(
            "no complete view of context {context} within {} s (connection: {last:?})",
            SNAPSHOT_WAIT.as_secs()
        )));
    };
    // The connection state is published just before the snapshot, on its own
    // channel: take what is already waiting.
    while let Ok(Some(event)) = tokio::time::timeout(SETTLE, events.recv()).await {
        if let ClusterEvent::Connection(connection) = event {
            last = connection;
        }
    }
    if let ConnectionState::Reconnecting { reason, .. } = &last {
        return Err(Failure::Unreachable(format!("context {context}: {reason}")));
    }
    update(state, Msg::Cluster(ClusterEvent::Snapshot(snapshot)));
    Ok(())
}

/// Hubble's flows over the gate's evidence window, as the stream would have
/// delivered them; when there are none the gate says so (no evidence is not
/// a pass).
async fn read_flows(backend: &Backend, state: &mut State) {
    let since = Timestamp::now() - SignedDuration::from_mins(EVIDENCE_MINUTES as i64);
    match backend.flows.history(since).await {
        Ok(history) => {
            let health = StreamHealth {
                lost: history.lost,
                malformed: history.malformed,
                ..StreamHealth::default()
            };
            let seen = history.flows.len();
            for msg in [
                FlowEvent::State(FlowStreamState::Connected {
                    source: format!("{}, {seen} flows in the last {EVIDENCE_MINUTES} min", history.source),
                }),
                FlowEvent::Batch(history.flows),
                FlowEvent::Health(health),
            ] {
                update(state, Msg::Flows(msg));
            }
        }
        Err(why) => {
            update(state, Msg::Flows(FlowEvent::State(FlowStreamState::Unavailable(why))));
        }
    }
}

/// Asks Prometheus about each namespace over its tier's soak window, a few at
/// a time.
async fn ask_prometheus(backend: &Backend, state: &mut State, namespaces: &[String]) {
    let Some(prometheus) = &backend.prometheus else {
        return;
    };
    let asks: Vec<(String, Duration)> = namespaces
        .iter()
        .map(|name| {
            let tier = state.rows.iter().find(|r| r.name == *name).and_then(|r| r.tier.clone());
            (name.clone(), state.config.settings.soak.for_tier(tier.as_deref()))
        })
        .collect();
    let answers: Vec<_> = futures::stream::iter(asks)
        .map(|(namespace, window)| async move {
            let evidence = crate::prometheus::PromEvidence::fetch(prometheus, &namespace, window).await;
            (namespace, evidence)
        })
        .buffer_unordered(PROMETHEUS_AT_ONCE)
        .collect()
        .await;
    for (namespace, evidence) in answers {
        update(
            state,
            Msg::PrometheusFetched {
                namespace,
                at: Timestamp::now(),
                evidence: Box::new(evidence),
            },
        );
    }
}

/// One line per namespace; below it, the items that hold its gate (or, for
/// the namespaces asked for by name, every item).
fn table(report: &Report, every_item: bool, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{:<11} {}", "context", report.context)?;
    writeln!(out, "{:<11} {}", "flows", report.flows)?;
    writeln!(out, "{:<11} {}", "prometheus", report.prometheus)?;
    writeln!(out)?;
    let width = report
        .namespaces
        .iter()
        .map(|n| n.namespace.len())
        .max()
        .unwrap_or(0)
        .max("NAMESPACE".len());
    writeln!(
        out,
        "{:<width$}  {:<6} {:<12} {:<20} GATE",
        "NAMESPACE", "TIER", "PHASE", "NEXT STEP"
    )?;
    for ns in &report.namespaces {
        writeln!(
            out,
            "{:<width$}  {:<6} {:<12} {:<20} {}",
            ns.namespace,
            ns.tier.as_deref().unwrap_or("—"),
            ns.phase,
            ns.gate.step.unwrap_or("—"),
            ns.gate.summary
        )?;
        for item in &ns.gate.items {
            let shown = every_item || matches!(item.check, "fail" | "waiting");
            if !shown {
                continue;
            }
            let mark = match item.check {
                "pass" => "✓",
                "fail" => "✗",
                "waiting" => "…",
                _ => "·",
            };
            writeln!(out, "    {mark} {:<30} {}", item.name, item.evidence)?;
        }
    }
    Ok(())
}
