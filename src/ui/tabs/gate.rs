//! Gate: the checklist for the namespace's next step.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::rows::NamespaceRow;
use crate::app::state::State;
use crate::config::ThemeRole;
use std::collections::BTreeMap;

use crate::gate::{Check, Gate};
use crate::prometheus::{PromError, PromEvidence};

use super::super::style;
use super::section;

/// The checklist as lines, shared by the tab and the confirm dialog. An item
/// backed by dropped flows gets a second line naming the worst peer and where
/// the rest are.
pub fn checklist(state: &State, gate: &Gate) -> Vec<Line<'static>> {
    let muted = style(state, ThemeRole::Muted);
    let mut lines = Vec::with_capacity(gate.items.len());
    for item in &gate.items {
        let (mark, role) = match item.check {
            Check::Pass => ("✓", ThemeRole::GatePass),
            Check::Fail => ("✗", ThemeRole::GateFail),
            Check::Waiting => ("…", ThemeRole::GatePending),
            Check::Info => ("·", ThemeRole::Muted),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark} "), style(state, role)),
            Span::styled(format!("{:<30}", item.name), style(state, ThemeRole::Text)),
            Span::styled(item.evidence.clone(), muted),
        ]));
        if item.see_drops {
            let lead = match &item.worst_peer {
                Some(peer) => format!("most: {peer} · see the Drops tab"),
                None => "see the Drops tab".to_string(),
            };
            lines.push(Line::from(vec![Span::raw(" ".repeat(33)), Span::styled(lead, muted)]));
        }
        const DETAILS: usize = 5;
        for detail in item.details.iter().take(DETAILS) {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(33)),
                Span::styled(format!("- {detail}"), muted),
            ]));
        }
        if item.details.len() > DETAILS {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(33)),
                Span::styled(format!("… {} more", item.details.len() - DETAILS), muted),
            ]));
        }
    }
    lines
}

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let gate = &row.gate;
    let (verdict, role) = super::super::table::gate_cell(&gate.summary());
    let title = format!(" {} · {verdict} ", gate.title);
    let block = section(title, style(state, ThemeRole::Border), style(state, role));
    let mut lines = checklist(state, gate);
    lines.extend(queries(state, &row.name));
    let paragraph = Paragraph::new(lines)
        .block(block)
        .scroll((state.detail.cursor as u16, 0));
    frame.render_widget(paragraph, area);
}

/// What Prometheus answered, as increases over the gate window with the
/// average rate beside them, then the PromQL behind it (`Q`) to paste into
/// Grafana, or the hint that it can be shown.
fn queries(state: &State, namespace: &str) -> Vec<Line<'static>> {
    let muted = style(state, ThemeRole::Muted);
    let text = style(state, ThemeRole::Text);
    let crate::app::state::PromSetup::Url(url) = &state.prometheus.setup else {
        return Vec::new();
    };
    let Some(record) = state.prometheus.records.get(namespace) else {
        return Vec::new();
    };
    let evidence = &record.evidence;
    let age = state.now.duration_since(record.fetched).unsigned_abs();
    let asked = if age.as_secs() < 60 {
        format!("{}s", age.as_secs())
    } else {
        crate::gate::human(age)
    };
    let hint = if state.detail.show_queries {
        String::new()
    } else {
        " · Q shows the queries".to_string()
    };
    // Unreachable: say that it is retried, and when.
    let hint = match evidence.unreachable() {
        Some(_) => {
            let next = state.prometheus.retry_after().saturating_sub(age).as_secs();
            format!(
                " · unreachable, attempt {}, asking again in {next}s{hint}",
                state.prometheus.failures
            )
        }
        None => hint,
    };
    let mut lines = vec![
        Line::default(),
        Line::styled(
            format!(
                " Prometheus {url}, asked {asked} ago, over {}{hint}:",
                crate::gate::human(evidence.window)
            ),
            style(state, ThemeRole::Header),
        ),
    ];
    for (name, answer) in evidence_rows(evidence) {
        lines.push(Line::from(vec![
            Span::styled(format!("   {name:<26}"), muted),
            Span::styled(answer, text),
        ]));
    }
    if state.detail.show_queries {
        lines.push(Line::styled(
            "   queries (rates: the same with rate() for increase()):",
            muted,
        ));
        for (name, query) in evidence.queries.all() {
            lines.push(Line::from(vec![
                Span::styled(format!("   {name:<26}"), muted),
                Span::styled(query.to_string(), text),
            ]));
        }
    }
    lines
}

/// How many counts one line shows before "and N more".
const SHOWN: usize = 4;

/// One line per answer: the biggest counts first, each with its rate.
fn evidence_rows(evidence: &PromEvidence) -> Vec<(&'static str, String)> {
    let counts = |answer: &Result<BTreeMap<String, f64>, PromError>| -> String {
        match answer {
            Err(e) => e.to_string(),
            Ok(map) => listed(
                map.iter()
                    .filter(|(_, n)| **n >= 0.5)
                    .map(|(k, n)| {
                        (
                            k.clone(),
                            *n,
                            format!("{n:.0} ({})", crate::gate::per(evidence.rate(*n))),
                        )
                    })
                    .collect(),
            ),
        }
    };
    let nodes = match &evidence.node_drops {
        Err(e) => e.to_string(),
        Ok(map) => listed(
            map.iter()
                .filter(|(_, d)| d.policy + d.other >= 0.5)
                .map(|(node, d)| {
                    (
                        node.clone(),
                        d.policy + d.other,
                        format!("{:.0} policy, {:.0} other", d.policy, d.other),
                    )
                })
                .collect(),
        ),
    };
    let mut rows = Vec::new();
    if let Some(caveat) = evidence.namespace_caveat() {
        rows.push(("namespace labels", caveat));
    }
    rows.extend([
        ("drops into the namespace", counts(&evidence.drops_into)),
        ("drops from the namespace", counts(&evidence.drops_from)),
        ("policy verdicts", counts(&evidence.policy_verdicts)),
        ("drops in the cluster", counts(&evidence.cluster_drops)),
        ("drops per node", nodes),
    ]);
    rows
}

/// `key value · key value`, biggest first, at most [`SHOWN`]; "none" when empty.
fn listed(mut entries: Vec<(String, f64, String)>) -> String {
    if entries.is_empty() {
        return "none".into();
    }
    entries.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let more = entries.len().saturating_sub(SHOWN);
    let mut out: Vec<String> = entries
        .into_iter()
        .take(SHOWN)
        .map(|(key, _, shown)| format!("{key} {shown}"))
        .collect();
    if more > 0 {
        out.push(format!("and {more} more"));
    }
    out.join(" · ")
}
