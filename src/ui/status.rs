//! The bottom line: the `/` or `:` input, else the newest notice, else key hints
//! generated from the loaded keymap (so they can never disagree with it).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::Action;
use crate::app::state::{InputKind, NoticeLevel, State};
use crate::config::{Mode, ThemeRole};

use super::style;

/// The hints shown on the main screen, with their short labels.
const HINTS: &[(Action, &str)] = &[
    (Action::Help, "help"),
    (Action::ApplyBaseline, "baseline"),
    (Action::StageDefaultDeny, "stage"),
    (Action::Enforce, "enforce"),
    (Action::RollbackDefaultDeny, "rollback-dd"),
    (Action::RollbackNamespace, "rollback-ns"),
    (Action::CarveOut, "carve-out"),
    (Action::Restore, "restore"),
    (Action::Filter, "filter"),
    (Action::Command, "cmd"),
];

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let line = if let Some(input) = &state.input {
        let prompt = match input.kind {
            InputKind::Filter => "/",
            InputKind::Command => ":",
        };
        let mut spans = vec![
            Span::styled(prompt, style(state, ThemeRole::HintKey)),
            Span::styled(input.input.text().to_string(), style(state, ThemeRole::Input)),
            Span::styled("█", style(state, ThemeRole::Input)),
        ];
        if let Some(error) = &input.error {
            spans.push(Span::styled(format!("  {error}"), style(state, ThemeRole::Danger)));
        } else if input.kind == InputKind::Filter {
            spans.push(Span::styled(
                "  regex; !regex inverts; enter keeps, esc clears",
                style(state, ThemeRole::Muted),
            ));
        }
        Line::from(spans)
    } else if let Some(notice) = state.notices.back() {
        let role = match notice.level {
            NoticeLevel::Info => ThemeRole::Info,
            NoticeLevel::Warning => ThemeRole::Warning,
            NoticeLevel::Error => ThemeRole::Danger,
        };
        Line::from(Span::styled(format!(" {}", notice.text), style(state, role)))
    } else {
        hints(state)
    };
    frame.render_widget(Paragraph::new(line).style(style(state, ThemeRole::StatusBar)), area);
}

fn hints(state: &State) -> Line<'static> {
    let keymap = &state.config.keymap;
    let mut spans = vec![Span::raw(" ")];
    // Problems first: hints may be cut off on a narrow terminal, these must not.
    if !state.diagnostics.is_empty() {
        spans.push(Span::styled(
            format!("⚠ {} config problem(s): see <?>  ", state.diagnostics.len()),
            style(state, ThemeRole::Warning),
        ));
    }
    if state.config.readonly {
        spans.push(Span::styled(
            "changes disabled (--readonly)  ",
            style(state, ThemeRole::Warning),
        ));
    }
    for (action, label) in HINTS {
        let Some(key) = keymap.first_key_label(Mode::Normal, *action) else {
            continue;
        };
        let forbidden = match (action.rollout(), state.table.selected.as_deref()) {
            (Some(step), Some(ns)) => crate::app::update::denied(state, ns, step).is_some(),
            _ => false,
        };
        let disabled = (state.config.readonly && action.is_mutating()) || forbidden;
        let (key_role, text_role) = if disabled {
            (ThemeRole::ButtonDisabled, ThemeRole::ButtonDisabled)
        } else {
            (ThemeRole::HintKey, ThemeRole::HintText)
        };
        spans.push(Span::styled(key, style(state, key_role)));
        spans.push(Span::styled(format!(" {label}  "), style(state, text_role)));
    }
    Line::from(spans)
}
