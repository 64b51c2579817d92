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
    let mut lines = checklist(state, gate);
    lines.extend(queries(state, &row.name));
    let paragraph = Paragraph::new(lines)
        .block(block)
        .scroll((state.detail.cursor as u16, 0));
    frame.render_widget(paragraph, area);
}

/// The PromQL behind the evidence, to paste into Grafana (`Q`), or the hint
/// that it can be shown.
fn queries(state: &State, namespace: &str) -> Vec<Line<'static>> {
    let muted = style(state, ThemeRole::Muted);
    let crate::app::state::PromSetup::Url(url) = &state.prometheus.setup else {
        return Vec::new();
    };
    let Some(record) = state.prometheus.records.get(namespace) else {
        return Vec::new();
    };
    let age = state.now.duration_since(record.fetched).unsigned_abs();
    let asked = if age.as_secs() < 60 {
        format!("{}s", age.as_secs())
    } else {
        crate::gate::human(age)
    };
    if !state.detail.show_queries {
        return vec![
            Line::default(),
            Line::styled(
                format!(" Prometheus {url}, asked {asked} ago · Q shows the queries"),
                muted,
            ),
        ];
    }
    let mut lines = vec![
        Line::default(),
        Line::styled(
            format!(
                " Prometheus {url}, asked {asked} ago, over {}:",
                crate::gate::human(record.evidence.window)
            ),
            style(state, ThemeRole::Header),
        ),
    ];
    for (name, query) in record.evidence.queries.all() {
        lines.push(Line::from(vec![
            Span::styled(format!("   {name:<26}"), muted),
            Span::styled(query.to_string(), style(state, ThemeRole::Text)),
        ]));
    }
    lines
}
