//! Drops: top reasons and who-dropped-what, with the namespace's side kept apart.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::app::rows::NamespaceRow;
use crate::app::state::State;
use crate::config::ThemeRole;
use crate::flows::aggregate::NO_MATCHING_ALLOW;
use crate::flows::window::{Ranked, Window};
use crate::flows::{Direction, NamespaceTraffic, Side};

use super::super::format::{fit, rate};
use super::super::style;
use super::section;

/// Peer rows the Drops tab lists.
pub const PEER_ROWS: usize = 50;

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    // In Audit the first question is what enforcing would break: show that first.
    let area = if state.preview.is_audit(&row.name) {
        let peers = state.preview.namespace(&row.name).map_or(0, |p| {
            p.peers
                .top(state.now, state.detail.window.minutes(), PREVIEW_ROWS)
                .len()
        });
        let height = (peers.max(1) as u16 + 2).min(area.height / 2).max(3);
        let [preview_area, rest] = Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area);
        render_preview(frame, preview_area, state, row);
        // Over the whole soak, from the ledger: what the window above missed.
        match state.soak.as_ref().and_then(|m| m.get(&row.name)) {
            Some(soak) => {
                let drops = &soak.drops;
                let height = (drops.len().max(1) as u16 + 3).min(rest.height / 2).max(3);
                let [soak_area, rest] = Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(rest);
                render_soak(frame, soak_area, state, drops);
                let declared = &soak.declared;
                let listed = declared.unexercised.len() + declared.unjudged.len();
                if listed == 0 {
                    rest
                } else {
                    let height = (listed as u16 + 3).min(rest.height / 2).max(3);
                    let [declared_area, rest] =
                        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(rest);
                    render_declared(frame, declared_area, state, declared);
                    rest
                }
            }
            None => rest,
        }
    } else {
        area
    };
    render_observed(frame, area, state, row);
}

/// The would-drop preview over the soak: each connection the ledger saw since
/// staging that enforcing would drop, with when it was seen.
fn render_soak(frame: &mut Frame, area: Rect, state: &State, drops: &[crate::ledger::SoakDrop]) {
    let border = style(state, ThemeRole::Border);
    let role = if drops.is_empty() {
        ThemeRole::Ok
    } else {
        ThemeRole::Danger
    };
    let title = format!(
        " Would drop if enforced, over the soak (ledger): {} connection{} ",
        drops.len(),
        if drops.len() == 1 { "" } else { "s" }
    );
    let block = section(title, border, style(state, role));
    if drops.is_empty() {
        muted(
            frame,
            area,
            state,
            "nothing the ledger saw since staging would be dropped",
            Some(block),
        );
        return;
    }
    let narrow = area.width < 110;
    let name_width = if narrow { 20 } else { 28 };
    let when = |t: jiff::Timestamp| t.strftime("%m-%d %H:%M").to_string();
    let rows: Vec<Row> = drops
        .iter()
        .map(|d| {
            Row::new(vec![
                Cell::from(d.direction.name()),
                Cell::from(fit(&d.source, name_width)),
                Cell::from(fit(&d.destination, name_width)),
                Cell::from(format!("{}/{}", d.port, d.protocol.name())),
                Cell::from(Line::from(d.count.to_string()).right_aligned()),
                Cell::from(when(d.first)),
                Cell::from(when(d.last)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(name_width as u16),
            Constraint::Length(name_width as u16),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
    )
    .header(
        Row::new(["DIR", "SOURCE", "DESTINATION", "PORT", "SEEN", "FIRST", "LAST"])
            .style(style(state, ThemeRole::Header)),
    )
    .block(block);
    frame.render_widget(table, area);
}

/// The declared paths enforcing would drop that the soak never exercised,
/// each with the allow to add, then those that could not be judged.
fn render_declared(frame: &mut Frame, area: Rect, state: &State, declared: &crate::ledger::judge::DeclaredVerdict) {
    let title = format!(
        " Declared paths never exercised during the soak, would be dropped: {} ",
        declared.unexercised.len()
    );
    let role = if declared.unexercised.is_empty() {
        ThemeRole::Warning
    } else {
        ThemeRole::Danger
    };
    let block = section(title, style(state, ThemeRole::Border), style(state, role));
    let longest = declared
        .unexercised
        .iter()
        .map(|u| u.path.describe().chars().count())
        .max();
    let path_width = longest.unwrap_or(24).clamp(24, (area.width as usize / 3).max(24));
    let origin_width = (area.width as usize / 4).clamp(20, 60);
    let mut rows: Vec<Row> = declared
        .unexercised
        .iter()
        .map(|u| {
            Row::new(vec![
                Cell::from(fit(&u.path.describe(), path_width)),
                Cell::from(fit(&u.path.origin, origin_width)),
                Cell::from(u.allow_summary()),
            ])
        })
        .collect();
    rows.extend(declared.unjudged.iter().map(|u| {
        Row::new(vec![
            Cell::from("not judged"),
            Cell::from(fit(&u.origin, origin_width)),
            Cell::from(u.why.clone()),
        ])
        .style(style(state, ThemeRole::Muted))
    }));
    let table = Table::new(
        rows,
        [
            Constraint::Length(path_width as u16),
            Constraint::Length(origin_width as u16),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(["PATH", "DECLARED BY", "ALLOW TO ADD"]).style(style(state, ThemeRole::Header)))
    .block(block);
    frame.render_widget(table, area);
}

/// A line saying why a section is empty, in the section's frame when given.
fn muted(frame: &mut Frame, area: Rect, state: &State, text: &str, block: Option<ratatui::widgets::Block<'_>>) {
    let mut paragraph = Paragraph::new(Line::styled(text, style(state, ThemeRole::Muted)));
    if let Some(block) = block {
        paragraph = paragraph.block(block);
    }
    frame.render_widget(paragraph, area);
}

/// Minutes the preview's sparkline shows.
const SPARK_MINUTES: usize = 10;

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
        muted(frame, area, state, "no flows of this namespace judged yet", Some(block));
        return;
    };
    let window = state.detail.window;
    let total = preview.series.window(state.now, window.minutes());
    let judged = preview.judged.window(state.now, window.minutes());
    let spark = super::super::format::sparkline(&preview.series.series(minute, SPARK_MINUTES));
    let title_role = if total > 0 { ThemeRole::Danger } else { ThemeRole::Ok };
    // A policy the cluster would refuse is not applied here either: say so.
    let refused = state.preview.refused_for(&row.name).count();
    let refused = match refused {
        0 => String::new(),
        1 => "· 1 refused policy not applied ".into(),
        n => format!("· {n} refused policies not applied "),
    };
    let title = format!(
        " Would drop if enforced (preview): {total} of {judged} flows in {} {spark} {refused}",
        window.label()
    );
    let narrow = area.width < 100;
    let name_width = if narrow { 20 } else { 30 };
    let rows: Vec<Row> = preview
        .peers
        .top(state.now, window.minutes(), PREVIEW_ROWS)
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
    .header(
        Row::new(["DIR", "SOURCE", "DESTINATION", "PORT", window.label(), "/min"])
            .style(style(state, ThemeRole::Header)),
    )
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
        muted(frame, area, state, "no flows seen for this namespace yet", None);
        return;
    };
    let window = state.detail.window;
    let minutes = window.minutes();
    let [summary_area, area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    render_summary(frame, summary_area, state, traffic);

    let wide = area.width >= 160;
    let reasons = traffic.reasons.top(state.now, minutes, if wide { 8 } else { 4 });
    let policies = traffic.policies.top(state.now, minutes, if wide { 8 } else { 3 });
    let height = |rows: usize| (rows.max(1) as u16) + 2;
    // The peers say what to fix: on a short screen they keep at least three
    // rows, and the denied-by section gives way.
    let peer_rows = traffic.peers.top(state.now, minutes, 3).len().max(1) as u16 + 2;
    let stacked = height(reasons.len()) + height(policies.len()) + peer_rows;
    let (reasons_area, policies_area, peers_area) = if wide {
        let [left, peers] = Layout::horizontal([Constraint::Length(52), Constraint::Min(0)]).areas(area);
        let [r, p] = Layout::vertical([Constraint::Length(height(reasons.len())), Constraint::Min(0)]).areas(left);
        (r, Some(p), peers)
    } else if area.height >= stacked {
        let [r, p, peers] = Layout::vertical([
            Constraint::Length(height(reasons.len())),
            Constraint::Length(height(policies.len())),
            Constraint::Min(0),
        ])
        .areas(area);
        (r, Some(p), peers)
    } else {
        let [r, peers] = Layout::vertical([Constraint::Length(height(reasons.len())), Constraint::Min(0)]).areas(area);
        (r, None, peers)
    };
    let border = style(state, ThemeRole::Border);
    let title = style(state, ThemeRole::Title);
    let header = |name: &'static str| Row::new([name, window.label(), "/min"]).style(style(state, ThemeRole::Header));

    let reason_rows: Vec<Row> = reasons
        .iter()
        .map(|r| {
            let role = if r.key.is_policy() {
                ThemeRole::VerdictDropped
            } else {
                ThemeRole::Warning
            };
            counted_row(
                Line::styled(r.key.to_string(), style(state, role)),
                r.count,
                r.per_minute,
            )
        })
        .collect();
    let total = traffic.drops.window(state.now, minutes);
    let reason_table = Table::new(reason_rows, COUNTED).header(header("REASON")).block(section(
        format!(" Drop reasons · {total} in {} ", window.label()),
        border,
        title,
    ));
    frame.render_widget(reason_table, reasons_area);

    if let Some(policies_area) = policies_area {
        render_policies(frame, policies_area, state, &policies);
    }
    render_peers(frame, peers_area, state, traffic);
}

fn render_policies(frame: &mut Frame, area: Rect, state: &State, policies: &[Ranked<String>]) {
    let window = state.detail.window;
    let policy_rows: Vec<Row> = policies
        .iter()
        .map(|p| {
            let role = if p.key == NO_MATCHING_ALLOW {
                ThemeRole::Muted
            } else {
                ThemeRole::Text
            };
            counted_row(Line::styled(p.key.clone(), style(state, role)), p.count, p.per_minute)
        })
        .collect();
    let empty = policy_rows.is_empty();
    let policy_table = Table::new(policy_rows, COUNTED)
        .header(
            Row::new(["DENIED BY (drops and audit)", window.label(), "/min"]).style(style(state, ThemeRole::Header)),
        )
        .block(section(
            " Denied by policy ".into(),
            style(state, ThemeRole::Border),
            style(state, ThemeRole::Title),
        ));
    frame.render_widget(policy_table, area);
    if empty {
        super::super::empty_note(
            frame,
            area,
            1,
            Line::styled("no policy denied a flow", style(state, ThemeRole::Muted)),
        );
    }
}

/// Name, count and rate columns.
const COUNTED: [Constraint; 3] = [Constraint::Min(20), Constraint::Length(6), Constraint::Length(6)];

fn counted_row(name: Line<'static>, count: u64, per_minute: f64) -> Row<'static> {
    Row::new(vec![
        Cell::from(name),
        Cell::from(Line::from(count.to_string()).right_aligned()),
        Cell::from(Line::from(rate(per_minute)).right_aligned()),
    ])
}

/// One line: the window's totals by direction and verdict, and the key to change it.
fn render_summary(frame: &mut Frame, area: Rect, state: &State, traffic: &NamespaceTraffic) {
    let window = state.detail.window;
    let minutes = window.minutes();
    let direction = |d: Direction| {
        traffic
            .directions
            .top(state.now, minutes, 3)
            .into_iter()
            .find(|r| r.key == d)
            .map_or(0, |r| r.count)
    };
    let drops = traffic.drops.window(state.now, minutes);
    let muted = style(state, ThemeRole::Muted);
    let (ingress, egress, forwarded) = if area.width < 100 {
        ("in", "out", "fwd")
    } else {
        ("ingress", "egress", "forwarded")
    };
    let mut spans = vec![
        Span::styled(
            format!("{drops} dropped"),
            style(
                state,
                if drops > 0 {
                    ThemeRole::VerdictDropped
                } else {
                    ThemeRole::Ok
                },
            ),
        ),
        Span::styled(
            format!(
                " ({ingress} {} · {egress} {})",
                direction(Direction::Ingress),
                direction(Direction::Egress)
            ),
            muted,
        ),
        Span::styled(
            format!(" · {} audit", traffic.audit.window(state.now, minutes)),
            style(state, ThemeRole::Warning),
        ),
        Span::styled(
            format!(" · {} {forwarded}", traffic.forwarded.window(state.now, minutes)),
            style(state, ThemeRole::Text),
        ),
        Span::styled(" · ", muted),
    ];
    for choice in [Window::OneMinute, Window::FiveMinutes, Window::OneHour] {
        let role = if choice == window {
            ThemeRole::Title
        } else {
            ThemeRole::Muted
        };
        let text = if choice == window {
            format!("[{}]", choice.label())
        } else {
            format!(" {} ", choice.label())
        };
        spans.push(Span::styled(text, style(state, role)));
    }
    spans.push(Span::styled(" (w)", muted));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_peers(frame: &mut Frame, area: Rect, state: &State, traffic: &NamespaceTraffic) {
    let window = state.detail.window;
    let border = style(state, ThemeRole::Border);
    let title = style(state, ThemeRole::Title);
    let peers = traffic.peers.top(state.now, window.minutes(), PEER_ROWS);
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
        Row::new([
            "SIDE",
            "DIR",
            "SOURCE",
            "DESTINATION",
            "PORT",
            "REASON",
            window.label(),
            "/min",
        ])
        .style(style(state, ThemeRole::Header)),
    )
    .block(section(format!(" Dropped flows by peer{evicted} "), border, title))
    .row_highlight_style(style(state, ThemeRole::Selection));
    let mut table_state = TableState::default().with_offset(state.detail.cursor.min(peers.len().saturating_sub(1)));
    frame.render_stateful_widget(peer_table, area, &mut table_state);
    if peers.is_empty() {
        let forwarded = traffic.forwarded.window(state.now, window.minutes());
        super::super::empty_note(
            frame,
            area,
            1,
            Line::styled(
                format!("no drops in the last {} · {forwarded} flows forwarded", window.label()),
                style(state, ThemeRole::Ok),
            ),
        );
    }
}
