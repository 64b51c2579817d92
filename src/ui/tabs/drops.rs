//! Drops: top reasons and who-dropped-what, with the namespace's side kept apart.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::app::rows::NamespaceRow;
use crate::app::state::State;
use crate::config::ThemeRole;
use crate::flows::{Direction, Side};

use super::super::format::{fit, rate};
use super::super::style;
use super::section;

/// Peer rows the Drops tab lists.
pub const PEER_ROWS: usize = 50;
/// Minutes the counts cover.
const WINDOW: usize = 10;

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    // In Audit the first question is what enforcing would break: show that first.
    let area = if state.preview.is_audit(&row.name) {
        let peers = state
            .preview
            .namespace(&row.name)
            .map_or(0, |p| p.peers.top(state.now, WINDOW, PREVIEW_ROWS).len());
        let height = (peers.max(1) as u16 + 2).min(area.height / 2).max(3);
        let [preview_area, rest] = Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area);
        render_preview(frame, preview_area, state, row);
        rest
    } else {
        area
    };
    render_observed(frame, area, state, row);
}

/// Would-drop peers the Drops tab lists.
const PREVIEW_ROWS: usize = 8;

fn render_preview(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let border = style(state, ThemeRole::Border);
    let minute = crate::flows::window::minute_of(state.now);
    let Some(preview) = state.preview.namespace(&row.name) else {
        let block = section(
            " Would drop if enforced (preview) ".into(),
            border,
            style(state, ThemeRole::Title),
        );
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no flows of this namespace judged yet",
                style(state, ThemeRole::Muted),
            ))
            .block(block),
            area,
        );
        return;
    };
    let total = preview.series.sum(minute, WINDOW);
    let judged = preview.judged.sum(minute, WINDOW);
    let spark = super::super::format::sparkline(&preview.series.series(minute, WINDOW));
    let title_role = if total > 0 { ThemeRole::Danger } else { ThemeRole::Ok };
    let title = format!(" Would drop if enforced (preview): {total} of {judged} flows in {WINDOW}m {spark} ");
    let narrow = area.width < 100;
    let name_width = if narrow { 20 } else { 30 };
    let rows: Vec<Row> = preview
        .peers
        .top(state.now, WINDOW, PREVIEW_ROWS)
        .iter()
        .map(|p| {
            let k = &p.key;
            Row::new(vec![
                Cell::from(k.direction.name()),
                Cell::from(fit(&k.source, name_width)),
                Cell::from(fit(&k.destination, name_width)),
                Cell::from(format!("{}/{}", k.port, k.protocol.name())),
                Cell::from(Line::from(p.count.to_string()).right_aligned()),
                Cell::from(Line::from(rate(p.per_minute)).right_aligned()),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(name_width as u16),
            Constraint::Length(name_width as u16),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Length(5),
        ],
    )
    .header(Row::new(["DIR", "SOURCE", "DESTINATION", "PORT", "10m", "/min"]).style(style(state, ThemeRole::Header)))
    .block(section(title, border, style(state, title_role)));
    frame.render_widget(table, area);
    if empty {
        super::super::empty_note(
            frame,
            area,
            1,
            Line::styled("nothing would be dropped", style(state, ThemeRole::Ok)),
        );
    }
}

fn render_observed(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let Some(traffic) = state.traffic.namespace(&row.name) else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no flows seen for this namespace yet",
                style(state, ThemeRole::Muted),
            )),
            area,
        );
        return;
    };
    let wide = area.width >= 160;
    let [reasons_area, peers_area] = if wide {
        Layout::horizontal([Constraint::Length(44), Constraint::Min(0)]).areas(area)
    } else {
        let height = (traffic.reasons.len().min(4) as u16 + 2).max(3);
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area)
    };
    let border = style(state, ThemeRole::Border);
    let title = style(state, ThemeRole::Title);

    let reasons = traffic.reasons.top(state.now, WINDOW, if wide { 8 } else { 4 });
    let reason_rows: Vec<Row> = reasons
        .iter()
        .map(|r| {
            let role = if r.key.is_policy() {
                ThemeRole::VerdictDropped
            } else {
                ThemeRole::Warning
            };
            Row::new(vec![
                Cell::from(Line::styled(r.key.to_string(), style(state, role))),
                Cell::from(Line::from(r.count.to_string()).right_aligned()),
                Cell::from(Line::from(rate(r.per_minute)).right_aligned()),
            ])
        })
        .collect();
    let total = traffic.drops.sum(crate::flows::window::minute_of(state.now), WINDOW);
    let reason_table = Table::new(
        reason_rows,
        [Constraint::Min(20), Constraint::Length(6), Constraint::Length(6)],
    )
    .header(Row::new(["REASON", "10m", "/min"]).style(style(state, ThemeRole::Header)))
    .block(section(format!(" Drop reasons · {total} in {WINDOW}m "), border, title));
    frame.render_widget(reason_table, reasons_area);

    let peers = traffic.peers.top(state.now, WINDOW, PEER_ROWS);
    let narrow = area.width < 100;
    let name_width = if narrow { 16 } else { 28 };
    let reason_width = if narrow { 14 } else { 18 };
    let peer_rows: Vec<Row> = peers
        .iter()
        .map(|p| {
            let k = &p.key;
            let dir = match k.direction {
                Direction::Ingress => "in",
                Direction::Egress => "out",
                Direction::Unknown => "?",
            };
            let side = match (narrow, k.side) {
                (false, side) => side.label(),
                (true, Side::Source) => "from",
                (true, Side::Destination) => "into",
                (true, Side::Internal) => "self",
            };
            let side_role = match k.side {
                Side::Source => ThemeRole::Info,
                Side::Destination => ThemeRole::Warning,
                Side::Internal => ThemeRole::Muted,
            };
            Row::new(vec![
                Cell::from(Line::styled(side, style(state, side_role))),
                Cell::from(dir),
                Cell::from(fit(&k.source, name_width)),
                Cell::from(fit(&k.destination, name_width)),
                Cell::from(format!("{}/{}", k.port, k.protocol.name())),
                Cell::from(Line::styled(
                    fit(&k.reason.to_string(), reason_width),
                    style(state, ThemeRole::VerdictDropped),
                )),
                Cell::from(Line::from(p.count.to_string()).right_aligned()),
                Cell::from(Line::from(rate(p.per_minute)).right_aligned()),
            ])
        })
        .collect();
    let evicted = if traffic.peers.evicted > 0 {
        format!(" · {} quieter peers dropped from memory", traffic.peers.evicted)
    } else {
        String::new()
    };
    let peer_table = Table::new(
        peer_rows,
        [
            Constraint::Length(if narrow { 4 } else { 9 }),
            Constraint::Length(3),
            Constraint::Length(name_width as u16),
            Constraint::Length(name_width as u16),
            Constraint::Length(9),
            Constraint::Length(reason_width as u16),
            Constraint::Length(if narrow { 4 } else { 5 }),
            Constraint::Length(if narrow { 4 } else { 5 }),
        ],
    )
    .header(
        Row::new(["SIDE", "DIR", "SOURCE", "DESTINATION", "PORT", "REASON", "10m", "/min"])
            .style(style(state, ThemeRole::Header)),
    )
    .block(section(format!(" Dropped flows by peer{evicted} "), border, title))
    .row_highlight_style(style(state, ThemeRole::Selection));
    let mut table_state = TableState::default().with_offset(state.detail.cursor.min(peers.len().saturating_sub(1)));
    frame.render_stateful_widget(peer_table, peers_area, &mut table_state);
    if peers.is_empty() {
        let forwarded = traffic
            .forwarded
            .sum(crate::flows::window::minute_of(state.now), WINDOW);
        super::super::empty_note(
            frame,
            peers_area,
            1,
            Line::styled(
                format!("no drops in the last {WINDOW} min · {forwarded} flows forwarded"),
                style(state, ThemeRole::Ok),
            ),
        );
    }
}
