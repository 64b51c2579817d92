//! Flows: the live tail of the namespace, newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, TableState};

use crate::app::rows::NamespaceRow;
use crate::app::state::State;
use crate::config::ThemeRole;
use crate::flows::{SharedFlow, Verdict};

use super::super::format::{clock, fit};
use super::super::style;
use super::section;

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let visible = area.height.saturating_sub(2) as usize;
    let filter = state.detail.verdicts;
    let source: Box<dyn Iterator<Item = &SharedFlow>> = match &state.detail.paused {
        Some(frozen) => Box::new(frozen.iter().rev()),
        None => match state.traffic.namespace(&row.name) {
            Some(t) => Box::new(t.tail.iter().rev()),
            None => Box::new(std::iter::empty()),
        },
    };
    let live: Vec<&SharedFlow> = source
        .filter(|f| filter.accepts(f.verdict))
        .skip(state.detail.cursor)
        .take(visible)
        .collect();
    let name_width = if area.width >= 110 { 30 } else { 20 };
    let rows: Vec<Row> = live
        .iter()
        .map(|f| {
            let role = match f.verdict {
                Verdict::Forwarded => ThemeRole::VerdictForwarded,
                Verdict::Dropped => ThemeRole::VerdictDropped,
                Verdict::Audit => ThemeRole::VerdictAudit,
                _ => ThemeRole::VerdictOther,
            };
            // The DNS name says more than "world" when a drop goes outside.
            let detail = match (f.drop_reason, f.destination_names.first()) {
                (Some(reason), Some(name)) => format!("{reason} {name}"),
                (Some(reason), None) => reason.to_string(),
                (None, Some(name)) => name.clone(),
                (None, None) => f.node.clone(),
            };
            Row::new(vec![
                Cell::from(clock(f.time)),
                Cell::from(Line::styled(f.verdict.name(), style(state, role))),
                Cell::from(f.direction.name()),
                Cell::from(fit(&f.source.qualified_name(), name_width)),
                Cell::from(fit(&f.destination.qualified_name(), name_width)),
                Cell::from(format!("{}/{}", f.destination_port, f.protocol.name())),
                Cell::from(Line::styled(detail, style(state, ThemeRole::Muted))),
            ])
        })
        .collect();
    let mode = if state.detail.paused.is_some() {
        "PAUSED (space resumes)"
    } else {
        "live (space pauses)"
    };
    let title = format!(" Flows · verdict {} (v cycles) · {mode} ", filter.label());
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(name_width as u16),
            Constraint::Length(name_width as u16),
            Constraint::Length(9),
            Constraint::Min(8),
        ],
    )
    .header(
        Row::new([
            "TIME",
            "VERDICT",
            "DIR",
            "SOURCE",
            "DESTINATION",
            "PORT",
            "REASON / NAME",
        ])
        .style(style(state, ThemeRole::Header)),
    )
    .block(section(
        title,
        style(state, ThemeRole::Border),
        style(state, ThemeRole::Title),
    ));
    frame.render_stateful_widget(table, area, &mut TableState::default());
}
