//! Log: the actions taken on this namespace, from the audit trail.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, TableState};

use crate::app::rows::NamespaceRow;
use crate::app::state::State;
use crate::cluster::AuditOutcome;
use crate::config::ThemeRole;

use super::super::format::ago;
use super::super::style;
use super::section;

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let records: Vec<_> = state.audit_for(&row.name).collect();
    let rows: Vec<Row> = records
        .iter()
        .map(|r| {
            let (outcome, role) = match &r.outcome {
                AuditOutcome::Succeeded => ("succeeded".to_string(), ThemeRole::Ok),
                AuditOutcome::Failed(why) => (format!("failed: {why}"), ThemeRole::Danger),
                AuditOutcome::Refused(why) => (format!("refused: {why}"), ThemeRole::Warning),
            };
            let note = match (&r.backup, &r.reason) {
                (Some(b), _) => format!("backup {b}"),
                (None, Some(reason)) => reason.clone(),
                (None, None) => format!("{} changes", r.changes.len()),
            };
            Row::new(vec![
                Cell::from(ago(r.time, state.now)),
                Cell::from(r.user.clone()),
                Cell::from(r.action.clone()),
                Cell::from(Line::styled(outcome, style(state, role))),
                Cell::from(Line::styled(note, style(state, ThemeRole::Muted))),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(14),
            Constraint::Length(22),
            Constraint::Length(24),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["WHEN", "USER", "ACTION", "OUTCOME", "BACKUP / REASON"]).style(style(state, ThemeRole::Header)))
    .block(section(
        format!(" {} actions recorded on {} ", records.len(), row.name),
        style(state, ThemeRole::Border),
        style(state, ThemeRole::Title),
    ));
    let mut table_state = TableState::default().with_offset(state.detail.cursor);
    frame.render_stateful_widget(table, area, &mut table_state);
    if empty {
        super::super::empty_note(
            frame,
            area,
            1,
            Line::styled("no actions recorded for this namespace", style(state, ThemeRole::Muted)),
        );
    }
}
