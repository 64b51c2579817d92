//! Dialogs: confirm, progress, messages and prompts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::Action;
use crate::app::modal::{Button, ConfirmDialog, Modal};
use crate::app::review::LineKind;
use crate::app::state::State;
use crate::config::{Mode, ThemeRole};

use super::{centered, style};

pub fn render(frame: &mut Frame, area: Rect, state: &State, modal: &Modal) {
    match modal {
        Modal::Confirm(dialog) => confirm(frame, area, state, dialog),
        Modal::DryRunPending { title, .. } | Modal::LoadingBackup { title, .. } => {
            let esc = key(state, Mode::Confirm, Action::Cancel);
            small(
                frame,
                area,
                state,
                "Please wait",
                vec![
                    title.clone(),
                    String::new(),
                    format!("{esc} abandons (nothing has been changed)"),
                ],
                false,
            );
        }
        Modal::Applying { title, .. } => {
            small(
                frame,
                area,
                state,
                "Applying",
                vec![
                    title.clone(),
                    String::new(),
                    "the change cannot be abandoned half-way".into(),
                ],
                true,
            );
        }
        Modal::Message { title, lines, danger } => {
            let mut text = lines.clone();
            text.push(String::new());
            text.push(format!("{} closes", key(state, Mode::Confirm, Action::Submit)));
            small(frame, area, state, title, text, *danger);
        }
        Modal::Prompt { title, input, .. } => {
            let rect = centered(area, 60, 20, 50, 7);
            frame.render_widget(Clear, rect);
            let block = dialog_block(state, title, false);
            let lines = vec![
                Line::from(vec![
                    Span::styled("> ", style(state, ThemeRole::HintKey)),
                    Span::styled(input.text().to_string(), style(state, ThemeRole::Input)),
                    Span::styled("█", style(state, ThemeRole::Input)),
                ]),
                Line::raw(""),
                Line::styled(
                    format!(
                        "{} continues to the dry run · {} cancels",
                        key(state, Mode::Input, Action::Submit),
                        key(state, Mode::Input, Action::Cancel)
                    ),
                    style(state, ThemeRole::Muted),
                ),
            ];
            frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
        }
        Modal::Help { .. } | Modal::Yaml { .. } => {}
    }
}

fn key(state: &State, mode: Mode, action: Action) -> String {
    state
        .config
        .keymap
        .first_key_label(mode, action)
        .unwrap_or_else(|| format!("({action} is unbound)"))
}

fn dialog_block(state: &State, title: &str, danger: bool) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(style(
            state,
            if danger {
                ThemeRole::Danger
            } else {
                ThemeRole::DialogBorder
            },
        ))
        .title(Span::styled(
            format!(" {title} "),
            style(state, if danger { ThemeRole::Danger } else { ThemeRole::Title }),
        ))
}

fn small(frame: &mut Frame, area: Rect, state: &State, title: &str, lines: Vec<String>, danger: bool) {
    let height = lines.len() as u16 + 4;
    let rect = centered(area, 60, 10, 50, height);
    frame.render_widget(Clear, rect);
    let text: Vec<Line> = lines
        .into_iter()
        .map(|l| Line::styled(l, style(state, ThemeRole::Text)))
        .collect();
    frame.render_widget(
        Paragraph::new(text)
            .block(dialog_block(state, title, danger))
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn confirm(frame: &mut Frame, area: Rect, state: &State, dialog: &ConfirmDialog) {
    let rect = centered(area, 84, 86, 76, 20);
    frame.render_widget(Clear, rect);
    let plan = &dialog.plan;
    let danger = plan.action.is_destructive();
    let title = format!("{} — {}", plan.action.title(), plan.namespace);
    let block = dialog_block(state, &title, danger);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);

    let typed_height = if dialog.typed.is_some() { 2 } else { 0 };
    let override_height = if dialog.override_reason.is_some() { 2 } else { 0 };
    let [body, override_area, typed_area, buttons_area] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(override_height),
        Constraint::Length(typed_height),
        Constraint::Length(2),
    ])
    .areas(inner);

    let lines: Vec<Line> = dialog
        .review
        .iter()
        .map(|l| {
            let role = match l.kind {
                LineKind::Heading => ThemeRole::Title,
                LineKind::Ok | LineKind::Pass => ThemeRole::Ok,
                LineKind::Error | LineKind::Fail => ThemeRole::Danger,
                LineKind::Warning | LineKind::Waiting => ThemeRole::Warning,
                LineKind::Added => ThemeRole::VerdictForwarded,
                LineKind::Removed => ThemeRole::VerdictDropped,
                LineKind::Context => ThemeRole::Muted,
                LineKind::Plain => ThemeRole::Text,
            };
            Line::styled(l.text.clone(), style(state, role))
        })
        .collect();
    let max_scroll = (lines.len() as u16).saturating_sub(body.height);
    // Wrapped, so long paths (the backup file) are read in full.
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((dialog.scroll.min(max_scroll), 0)),
        body,
    );

    if let Some(reason) = &dialog.override_reason {
        let [prompt, field] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(override_area);
        let text = if reason.accepted {
            "Gate overridden, for the audit record:".to_string()
        } else {
            format!(
                "The gate is not go. Type why you proceed (at least {} characters), then enter:",
                crate::app::modal::OVERRIDE_MIN_CHARS
            )
        };
        frame.render_widget(Line::styled(text, style(state, ThemeRole::Danger)), prompt);
        let role = if reason.accepted {
            ThemeRole::Ok
        } else {
            ThemeRole::Input
        };
        let mut spans = vec![
            Span::styled("> ", style(state, ThemeRole::HintKey)),
            Span::styled(reason.input.text().to_string(), style(state, role)),
        ];
        if !reason.accepted {
            spans.push(Span::styled("█", style(state, ThemeRole::Input)));
        }
        frame.render_widget(Line::from(spans), field);
    }

    if let (Some(typed), Some(reason)) = (&dialog.typed, dialog.typed_reason) {
        let matches = typed.text() == plan.namespace;
        let [prompt, field] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(typed_area);
        frame.render_widget(
            Line::styled(
                format!("Type the namespace name to confirm ({reason}):"),
                style(state, ThemeRole::Warning),
            ),
            prompt,
        );
        frame.render_widget(
            Line::from(vec![
                Span::styled("> ", style(state, ThemeRole::HintKey)),
                Span::styled(
                    typed.text().to_string(),
                    style(state, if matches { ThemeRole::Ok } else { ThemeRole::Input }),
                ),
                Span::styled("█", style(state, ThemeRole::Input)),
            ]),
            field,
        );
    }

    let blocked = dialog.blocked();
    let button = |label: &str, which: Button, enabled: bool| {
        let role = match (dialog.focus == which, enabled) {
            (_, false) => ThemeRole::ButtonDisabled,
            (true, true) => ThemeRole::ButtonFocused,
            (false, true) => ThemeRole::Button,
        };
        let marker = if dialog.focus == which { "▶" } else { " " };
        Span::styled(format!("{marker}[ {label} ]"), style(state, role))
    };
    let confirm_label = if danger { "Delete" } else { "Confirm" };
    let mut spans = vec![
        button("Cancel", Button::Cancel, true),
        Span::raw("   "),
        button(confirm_label, Button::Confirm, blocked.is_none()),
        Span::raw("   "),
    ];
    let hint = match &blocked {
        Some(why) => Span::styled(why.clone(), style(state, ThemeRole::Warning)),
        None => Span::styled(
            format!(
                "{} switches · {} activates · {} cancels · ↑↓ scroll",
                key(state, Mode::Confirm, Action::FocusNext),
                key(state, Mode::Confirm, Action::Submit),
                key(state, Mode::Confirm, Action::Cancel)
            ),
            style(state, ThemeRole::Muted),
        ),
    };
    spans.push(hint);
    let [_, buttons_line] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(buttons_area);
    frame.render_widget(Line::from(spans), buttons_line);
}
