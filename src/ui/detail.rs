//! The detail pane of the selected namespace: who it is, what disagrees, and the
//! tabs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Tabs};

use crate::app::rows::NamespaceRow;
use crate::app::state::{Focus, State, Tab};
use crate::config::ThemeRole;
use crate::rollout::{Phase, SideState};

use super::format::ago;
use super::table::phase_role;
use super::{style, tabs};

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let focused = state.detail.focus == Focus::Detail && state.modals.is_empty();
    let border = style(
        state,
        if focused {
            ThemeRole::BorderFocused
        } else {
            ThemeRole::Border
        },
    );
    let Some(row) = state.selected_row() else {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(border)
            .title(" Detail ");
        frame.render_widget(
            Paragraph::new(Line::styled("select a namespace", style(state, ThemeRole::Muted))).block(block),
            area,
        );
        return;
    };
    let mut title = vec![
        Span::styled(format!(" {} ", row.name), style(state, ThemeRole::Title)),
        Span::styled(
            format!("{} ", row.status.phase.label()),
            style(state, phase_role(row.status.phase)),
        ),
    ];
    if let Some(tier) = &row.tier {
        title.push(Span::styled(format!("· {tier} "), style(state, ThemeRole::Muted)));
    }
    if row.protected {
        title.push(Span::styled("· protected ", style(state, ThemeRole::Protected)));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let summary = summary_lines(state, row);
    let [summary_area, tabs_area, content] = Layout::vertical([
        Constraint::Length(summary.len() as u16),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(summary), summary_area);

    let titles: Vec<Line> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| Line::from(format!("{} {}", i + 1, t.title())))
        .collect();
    let tab_bar = Tabs::new(titles)
        .select(state.detail.tab.index())
        .style(style(state, ThemeRole::TabInactive))
        .highlight_style(style(state, ThemeRole::TabActive))
        .divider("│");
    frame.render_widget(tab_bar, tabs_area);

    match state.detail.tab {
        Tab::Drops => tabs::drops::render(frame, content, state, row),
        Tab::Policies => tabs::policies::render(frame, content, state, row),
        Tab::Flows => tabs::flows::render(frame, content, state, row),
        Tab::Gate => tabs::gate::render(frame, content, state, row),
        Tab::Log => tabs::log::render(frame, content, state, row),
    }
}

/// One line of intent, then every drift: drift is never hidden.
fn summary_lines(state: &State, row: &NamespaceRow) -> Vec<Line<'static>> {
    let intent = &row.status.intent;
    let mut spans = Vec::new();
    match intent.phase {
        Some(phase) => {
            let when = intent.at.map(|t| format!(" {}", ago(t, state.now))).unwrap_or_default();
            let by = intent.by.as_ref().map(|b| format!(" by {b}")).unwrap_or_default();
            spans.push(Span::styled(
                format!("intent {}{by}{when}", phase.label()),
                style(state, ThemeRole::Text),
            ));
        }
        None => spans.push(Span::styled("no recorded intent", style(state, ThemeRole::Muted))),
    }
    if let Some(staged) = intent
        .staged_at
        .filter(|_| matches!(row.status.phase, Phase::Audit | Phase::Enforced))
    {
        spans.push(Span::styled(
            format!(" · staged {}", ago(staged, state.now)),
            style(state, ThemeRole::Muted),
        ));
    }
    if let Some(reason) = &intent.carve_out_reason {
        spans.push(Span::styled(
            format!(" · carved out: {reason}"),
            style(state, ThemeRole::PhaseCarvedOut),
        ));
    }
    if let Some(backup) = &intent.backup {
        spans.push(Span::styled(
            format!(" · backup {backup}"),
            style(state, ThemeRole::Muted),
        ));
    }
    if let Some(owner) = &row.owner {
        spans.push(Span::styled(
            format!(" · applied by {}", owner.describe()),
            style(state, ThemeRole::Info),
        ));
    }
    let mut lines = vec![Line::from(spans)];
    if let Some(reconciler) = &row.reconciler {
        let role = if reconciler.contains("not ready") {
            ThemeRole::Warning
        } else {
            ThemeRole::Info
        };
        lines.push(Line::styled(format!("⟳ {reconciler}"), style(state, role)));
    }
    for paused in &row.paused_owners {
        let who = match (&paused.by, &paused.at) {
            (Some(by), Some(at)) => format!(" by {by} at {at}"),
            (Some(by), None) => format!(" by {by}"),
            _ => String::new(),
        };
        let text = if paused.paused {
            format!(
                "⏸ {} paused{who} by a rollback: resume it when the incident is over",
                paused.owner
            )
        } else {
            format!(
                "⏸ {} was paused by a rollback and is no longer paused (resumed outside tighten?)",
                paused.owner
            )
        };
        lines.push(Line::styled(text, style(state, ThemeRole::Warning)));
    }
    if let Some(Ok(report)) = state.access.get(&row.name)
        && !report.denied.is_empty()
    {
        // Grouped by resource, so the line stays short enough to read whole.
        let mut by_resource: std::collections::BTreeMap<String, Vec<&str>> = std::collections::BTreeMap::new();
        for p in report.denied.values().flatten() {
            let verbs = by_resource.entry(p.resource.to_string()).or_default();
            if !verbs.contains(&p.verb) {
                verbs.push(p.verb);
            }
        }
        let missing: Vec<_> = by_resource
            .iter()
            .map(|(r, v)| format!("{} {r}", v.join("/")))
            .collect();
        let actions = if report.denied.len() == crate::cluster::access::ACTIONS.len() {
            "any rollout action".to_string()
        } else {
            report.denied.keys().map(|a| a.slug()).collect::<Vec<_>>().join(", ")
        };
        lines.push(Line::styled(
            format!(
                "⛔ RBAC: you may not take {actions} here; missing {}",
                missing.join(", ")
            ),
            style(state, ThemeRole::Warning),
        ));
    }
    if !state.snapshot.cilium.crds_installed && !state.identity.demo {
        lines.push(Line::styled(
            "Cilium's CRDs are not installed: only NetworkPolicies are shown, and no CiliumNetworkPolicy can be applied",
            style(state, ThemeRole::Warning),
        ));
    }
    let status = &row.status;
    let posture = &status.observed.posture;
    let partial = [posture.ingress_state(), posture.egress_state()].contains(&SideState::Partial);
    if status.intent.phase.is_none() && status.phase != Phase::Unmanaged {
        lines.push(Line::styled(
            format!(
                "not adopted: its policies read {} (a: adopt, to record intent and start the gate)",
                status.phase
            ),
            style(state, ThemeRole::Info),
        ));
    }
    if (status.intent.phase.is_none() && status.phase != Phase::Unmanaged)
        || partial
        || !posture.clusterwide_denies().is_empty()
    {
        for line in posture.summary() {
            lines.push(Line::styled(line, style(state, ThemeRole::Muted)));
        }
    }
    for drift in &status.drift {
        lines.push(Line::styled(format!("⚠ {drift}"), style(state, ThemeRole::Drift)));
    }
    lines
}
