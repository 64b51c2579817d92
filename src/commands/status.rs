//! `tighten status`: each namespace's phase and go/no-go gate, read once from
//! the cluster, Hubble's recent history and Prometheus. The gate is the
//! cockpit's own: the same messages go through the same `update`, so the
//! command and the Gate tab cannot disagree.

use std::io::{self, Write};

use serde::Serialize;

use crate::app::rows::NamespaceRow;
use crate::gate::{Check, GateSummary};
use crate::runtime::backend::Backends;

use super::exit;
use super::session::{Failure, Headless};

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
    /// The reconciler that owns the namespace, and what it last applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciler: Option<String>,
    pub policies: usize,
    /// GitOps owners a rollback paused, until resumed.
    pub paused_owners: Vec<String>,
    pub drift: Vec<String>,
    /// tighten records intent for it (it started the rollout, or adopted it).
    pub adopted: bool,
    /// Per direction, what puts its endpoints into default-deny and how.
    pub posture: Vec<String>,
    /// Each policy that applies here, with its role read from its rules.
    pub roles: Vec<RoleReport>,
    pub gate: GateReport,
}

#[derive(Debug, Serialize)]
pub struct RoleReport {
    pub kind: String,
    pub policy: String,
    pub role: String,
    /// `tighten` or `team`.
    pub by: &'static str,
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
    /// The peer that dropped most, for items about dropped flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_peer: Option<String>,
    /// One line per path, flow or object the evidence counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
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
            reconciler: row.reconciler.clone(),
            policies: row.policies,
            paused_owners: row
                .paused_owners
                .iter()
                .map(|p| {
                    let state = if p.paused { "paused" } else { "no longer paused" };
                    match &p.by {
                        Some(by) => format!("{} ({state}, by {by})", p.owner),
                        None => format!("{} ({state})", p.owner),
                    }
                })
                .collect(),
            drift: row.status.drift.iter().map(ToString::to_string).collect(),
            adopted: row.status.intent.phase.is_some(),
            posture: row.status.observed.posture.summary(),
            roles: row
                .status
                .observed
                .posture
                .readings
                .iter()
                .map(|r| RoleReport {
                    kind: r.policy.kind.to_string(),
                    policy: r.policy.to_string(),
                    role: r.function.label(),
                    by: r.author(),
                })
                .collect(),
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
                        worst_peer: i.worst_peer.clone(),
                        details: i.details.clone(),
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
    let report = match report(backends, context, &options.namespaces).await {
        Ok(report) => report,
        Err(failure) => return failure.report(err),
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

/// Connects, reads the evidence once, and reports every gate.
pub async fn report(backends: &Backends, context: &str, only: &[String]) -> Result<Report, Failure> {
    let mut session = Headless::open(backends, context, only).await?;
    let mut wanted: Vec<String> = session
        .state
        .rows
        .iter()
        .filter(|r| only.is_empty() || only.contains(&r.name))
        .map(|r| r.name.clone())
        .collect();
    wanted.sort();
    session.gather_evidence(&wanted).await;
    let state = &session.state;
    Ok(Report {
        context: state.identity.context.clone(),
        flows: session.flows(),
        prometheus: session.prometheus(),
        namespaces: wanted
            .iter()
            .filter_map(|name| state.row(name))
            .map(NamespaceReport::of)
            .collect(),
    })
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
        if let Some(reconciler) = &ns.reconciler {
            writeln!(out, "    ⟳ {reconciler}")?;
        }
        for paused in &ns.paused_owners {
            writeln!(
                out,
                "    ⏸ GitOps paused: {paused}; `tighten resume {}` when done",
                ns.namespace
            )?;
        }
        if !ns.adopted && ns.phase != "Unmanaged" {
            writeln!(
                out,
                "    not adopted: its policies read {}; `tighten adopt {}` records intent",
                ns.phase, ns.namespace
            )?;
        }
        if every_item {
            for line in &ns.posture {
                writeln!(out, "    {line}")?;
            }
            for role in &ns.roles {
                writeln!(out, "    {:<7} {} {}: {}", role.by, role.kind, role.policy, role.role)?;
            }
        }
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
            if let Some(peer) = &item.worst_peer {
                writeln!(out, "      {:<30} most: {peer}", "")?;
            }
            for detail in &item.details {
                writeln!(out, "      - {detail}")?;
            }
        }
    }
    Ok(())
}
