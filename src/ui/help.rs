//! Help: every binding as loaded, per mode, plus commands and config problems.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use crate::app::state::State;
use crate::app::update::command::COMMANDS;
use crate::config::{Mode, ThemeRole};

use super::{centered, style};

pub fn render(frame: &mut Frame, area: Rect, state: &State, scroll: u16) {
    let rect = centered(area, 90, 90, 70, 20);
    frame.render_widget(Clear, rect);
    let mut lines: Vec<Line> = Vec::new();
    let heading = |text: String| Line::styled(text, style(state, ThemeRole::Title));
    if !state.diagnostics.is_empty() {
        lines.push(heading(
            "Configuration problems (defaults used for these entries)".into(),
        ));
        for d in &state.diagnostics {
            lines.push(Line::styled(format!("  {d}"), style(state, ThemeRole::Warning)));
        }
        lines.push(Line::raw(""));
    }
    for mode in Mode::ALL {
        let bindings = state.config.keymap.bindings(mode);
        if bindings.is_empty() {
            continue;
        }
        lines.push(heading(format!("{} keys", mode.name())));
        for binding in bindings {
            let disabled = state.config.readonly && binding.action.is_mutating();
            let mut spans = vec![
                Span::styled(
                    format!("  {:<12}", binding.key.to_string()),
                    style(
                        state,
                        if disabled {
                            ThemeRole::ButtonDisabled
                        } else {
                            ThemeRole::HintKey
                        },
                    ),
                ),
                Span::styled(format!("{:<24}", binding.action.name()), style(state, ThemeRole::Muted)),
                Span::styled(
                    binding.desc.clone(),
                    style(
                        state,
                        if disabled {
                            ThemeRole::ButtonDisabled
                        } else {
                            ThemeRole::Text
                        },
                    ),
                ),
            ];
            if disabled {
                spans.push(Span::styled(
                    "  (disabled: --readonly)",
                    style(state, ThemeRole::Warning),
                ));
            }
            lines.push(Line::from(spans));
        }
        lines.push(Line::raw(""));
    }
    lines.push(heading("commands (:)".into()));
    for (command, desc) in COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  :{command:<12}"), style(state, ThemeRole::HintKey)),
            Span::styled(desc.to_string(), style(state, ThemeRole::Text)),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "keymap {} · theme {} · protected namespaces: {}",
            state.config.keymap.name(),
            state.config.theme.name,
            state.config.settings.protected_namespaces.join(", ")
        ),
        style(state, ThemeRole::Muted),
    ));
    let max = (lines.len() as u16).saturating_sub(rect.height.saturating_sub(2));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(style(state, ThemeRole::DialogBorder))
        .title(Span::styled(
            " Help · every binding as loaded · esc closes ",
            style(state, ThemeRole::Title),
        ));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll.min(max), 0)), rect);
}
