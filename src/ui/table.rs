//! The namespace table: the main screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use crate::app::rows::NamespaceRow;
use crate::app::state::{Focus, State};
use crate::config::ThemeRole;
use crate::gate::GateSummary;
use crate::rollout::Phase;

use super::format::{fit, rate, sparkline};
use super::style;

pub fn phase_role(phase: Phase) -> ThemeRole {
    match phase {
        Phase::Unmanaged => ThemeRole::PhaseUnmanaged,
        Phase::Observe => ThemeRole::PhaseObserve,
        Phase::Baseline => ThemeRole::PhaseBaseline,
        Phase::Audit => ThemeRole::PhaseAudit,
        Phase::Enforced => ThemeRole::PhaseEnforced,
        Phase::CarvedOut => ThemeRole::PhaseCarvedOut,
        Phase::RolledBack => ThemeRole::PhaseRolledBack,
    }
}

pub fn gate_cell(summary: &GateSummary) -> (String, ThemeRole) {
    let role = match summary {
        GateSummary::Go | GateSummary::Done => ThemeRole::GatePass,
        GateSummary::Blocked(_) => ThemeRole::GateFail,
        GateSummary::Waiting(_) => ThemeRole::GatePending,
        GateSummary::NotApplicable => ThemeRole::Muted,
    };
    (summary.to_string(), role)
}

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let narrow = area.width < 100;
    let name_width = if narrow { 14 } else { 18 };
    let header_cells: Vec<&str> = vec![
        "NAMESPACE",
        "TIER",
        "PHASE",
        "POL",
        "DROP/m",
        "LAST 10m",
        "GATE",
        "OWNER",
        "DRIFT",
    ];
    let header = Row::new(header_cells.into_iter().map(Cell::from)).style(style(state, ThemeRole::Header));

    // Only the rows on screen are built: with ten thousand namespaces the
    // rest would cost every frame. The window keeps the selection in view
    // (at the bottom edge when it moves past it).
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    let selected = state.selected_position();
    let first = selected.map_or(0, |s| s.saturating_sub(height - 1));
    let rows: Vec<Row> = state
        .visible_rows()
        .skip(first)
        .take(height)
        .map(|row| table_row(state, row, name_width, narrow))
        .collect();
    let widths = [
        Constraint::Length(name_width as u16),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(10),
        Constraint::Length(if narrow { 10 } else { 11 }),
        Constraint::Length(6),
        Constraint::Min(4),
    ];
    let focused = state.detail.focus == Focus::Table && state.modals.is_empty();
    let sort = format!(
        " sort {}{} ",
        state.table.sort.label(),
        if state.table.descending { "↓" } else { "↑" }
    );
    let mut title = vec![
        Span::styled(" Namespaces ", style(state, ThemeRole::Title)),
        Span::styled(
            format!("{}/{} ", state.table.visible.len(), state.rows.len()),
            style(state, ThemeRole::Muted),
        ),
        Span::styled(sort, style(state, ThemeRole::Muted)),
        Span::styled(
            format!(" {} ", crate::app::rows::RolloutProgress::of(&state.rows)),
            style(state, ThemeRole::Info),
        ),
    ];
    if let Some(filter) = &state.table.filter {
        title.push(Span::styled(
            format!(" /{} ", filter.text),
            style(state, ThemeRole::Info),
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(style(
            state,
            if focused {
                ThemeRole::BorderFocused
            } else {
                ThemeRole::Border
            },
        ))
        .title(Line::from(title));
    let empty = state.table.visible.is_empty();
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(style(state, ThemeRole::Selection));
    let mut table_state = TableState::default().with_selected(selected.map(|s| s - first));
    frame.render_stateful_widget(table, area, &mut table_state);
    if empty {
        let message = if state.rows.is_empty() {
            "waiting for the cluster…"
        } else {
            "no namespace matches the filter (esc clears it)"
        };
        super::empty_note(frame, area, 2, Line::styled(message, style(state, ThemeRole::Muted)));
    }
}

fn table_row<'a>(state: &State, row: &'a NamespaceRow, name_width: usize, narrow: bool) -> Row<'a> {
    let mut name_style = style(state, ThemeRole::Text);
    if row.protected {
        name_style = style(state, ThemeRole::Protected);
    }
    let name = if row.protected {
        format!("{}◆", fit(&row.name, name_width - 1))
    } else {
        fit(&row.name, name_width)
    };
    let (gate_text, gate_role) = gate_cell(&row.gate.summary());
    let drift = match row.status.drift.len() {
        0 => Span::raw(""),
        n if narrow => Span::styled(format!("⚠ {n}"), style(state, ThemeRole::Drift)),
        1 => Span::styled("⚠ drift", style(state, ThemeRole::Drift)),
        n => Span::styled(format!("⚠ drift ×{n}"), style(state, ThemeRole::Drift)),
    };
    let drops_role = if row.drops_per_minute >= 0.05 {
        ThemeRole::VerdictDropped
    } else {
        ThemeRole::Muted
    };
    Row::new(vec![
        Cell::from(Span::styled(name, name_style)),
        Cell::from(Span::styled(
            row.tier.clone().unwrap_or_else(|| "—".into()),
            style(state, ThemeRole::Muted),
        )),
        Cell::from(Span::styled(
            row.status.phase.label(),
            style(state, phase_role(row.status.phase)).add_modifier(Modifier::BOLD),
        )),
        Cell::from(Line::from(row.policies.to_string()).right_aligned()),
        Cell::from(Line::styled(rate(row.drops_per_minute), style(state, drops_role)).right_aligned()),
        Cell::from(Span::styled(
            sparkline(&row.sparkline),
            style(state, ThemeRole::Sparkline),
        )),
        Cell::from(Span::styled(gate_text, style(state, gate_role))),
        Cell::from(match row.paused_owners.first() {
            // Paused by a rollback: flagged until resumed.
            Some(paused) => Span::styled(
                format!("{} ⏸", paused.owner.short()),
                style(state, ThemeRole::Warning).add_modifier(Modifier::BOLD),
            ),
            // A step committed and not yet applied by the reconciler.
            None if row.waiting => Span::styled(
                format!("{} ⟳", row.owner.as_ref().map_or("git", |o| o.short())),
                style(state, ThemeRole::Warning),
            ),
            None => Span::styled(
                row.owner.as_ref().map_or("", |o| o.short()),
                style(state, ThemeRole::Info),
            ),
        }),
        Cell::from(drift),
    ])
}
