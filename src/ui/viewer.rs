//! A scrollable YAML view with keys and values told apart.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use crate::app::state::State;
use crate::config::ThemeRole;

use super::{centered, style};

pub fn render(frame: &mut Frame, area: Rect, state: &State, title: &str, text: &str, scroll: u16) {
    let rect = centered(area, 90, 90, 60, 12);
    frame.render_widget(Clear, rect);
    let lines: Vec<Line> = text
        .lines()
        .map(|raw| {
            let indent = raw.len() - raw.trim_start().len();
            let body = &raw[indent..];
            let (dash, body) = match body.strip_prefix("- ") {
                Some(rest) => ("- ", rest),
                None => ("", body),
            };
            match body.split_once(':') {
                Some((key, value)) if !key.contains(' ') || key.starts_with('\'') => Line::from(vec![
                    Span::raw(" ".repeat(indent)),
                    Span::styled(dash, style(state, ThemeRole::Muted)),
                    Span::styled(format!("{key}:"), style(state, ThemeRole::Info)),
                    Span::styled(value.to_string(), style(state, ThemeRole::Text)),
                ]),
                _ => Line::styled(raw.to_string(), style(state, ThemeRole::Text)),
            }
        })
        .collect();
    let max = (lines.len() as u16).saturating_sub(rect.height.saturating_sub(2));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(style(state, ThemeRole::DialogBorder))
        .title(Span::styled(
            format!(" {title} · esc closes "),
            style(state, ThemeRole::Title),
        ));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll.min(max), 0)), rect);
}
