//! Gate: the checklist for the namespace's next step.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::rows::NamespaceRow;
use crate::app::state::State;
use crate::config::ThemeRole;
use crate::gate::{Check, Gate};

use super::super::style;
use super::section;

/// The checklist as lines, shared by the tab and the confirm dialog.
pub fn checklist(state: &State, gate: &Gate) -> Vec<Line<'static>> {
    gate.items
        .iter()
        .map(|item| {
            let (mark, role) = match item.check {
                Check::Pass => ("✓", ThemeRole::GatePass),
                Check::Fail => ("✗", ThemeRole::GateFail),
                Check::Waiting => ("…", ThemeRole::GatePending),
                Check::Info => ("·", ThemeRole::Muted),
            };
            Line::from(vec![
                Span::styled(format!(" {mark} "), style(state, role)),
                Span::styled(format!("{:<30}", item.name), style(state, ThemeRole::Text)),
                Span::styled(item.evidence.clone(), style(state, ThemeRole::Muted)),
            ])
        })
        .collect()
}

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let gate = &row.gate;
    let (verdict, role) = super::super::table::gate_cell(&gate.summary());
    let title = format!(" {} · {verdict} ", gate.title);
    let block = section(title, style(state, ThemeRole::Border), style(state, role));
    let paragraph = Paragraph::new(checklist(state, gate))
        .block(block)
        .scroll((state.detail.cursor as u16, 0));
    frame.render_widget(paragraph, area);
}
