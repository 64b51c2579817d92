//! Keys: the top modal gets them first, then the input line, then the main screen.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use crate::app::action::Action;
use crate::app::effect::Effect;
use crate::app::modal::{Button, Modal};
use crate::app::rows::{NamespaceFilter, SortKey};
use crate::app::state::{Focus, InputKind, InputLine, NoticeLevel, State, Tab};
use crate::app::text_input::TextInput;
use crate::config::Mode;

use super::{actions, command, notify, view};

pub(super) fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if !state.modals.is_empty() {
        return on_modal_key(state, key);
    }
    if state.input.is_some() {
        return on_input_key(state, key);
    }
    match state.config.keymap.resolve(Mode::Normal, &key) {
        Some(action) => on_normal_action(state, action),
        None => Vec::new(),
    }
}

fn on_normal_action(state: &mut State, action: Action) -> Vec<Effect> {
    let page = view::page(state);
    let in_detail = state.detail.focus == Focus::Detail;
    match action {
        Action::Quit => state.running = false,
        Action::Help => state.modals.push(Modal::Help { scroll: 0 }),
        Action::Command => open_input(state, InputKind::Command, ""),
        Action::Filter => {
            let current = state.table.filter.as_ref().map(|f| f.text.clone()).unwrap_or_default();
            open_input(state, InputKind::Filter, &current);
        }
        Action::Back => {
            if in_detail {
                state.detail.focus = Focus::Table;
            } else if state.table.filter.is_some() {
                state.table.filter = None;
                view::refresh_visible(state);
            }
        }
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            let delta = match action {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -page,
                Action::PageDown => page,
                Action::Top => isize::MIN / 2,
                _ => isize::MAX / 2,
            };
            if in_detail {
                view::move_cursor(state, delta);
            } else {
                view::move_selection(state, delta);
            }
        }
        Action::Open => {
            if !in_detail {
                if state.table.selected.is_some() {
                    state.detail.focus = Focus::Detail;
                }
            } else if state.detail.tab == Tab::Policies {
                open_policy_yaml(state);
            }
        }
        Action::NextTab => view::cycle_tab(state, true),
        Action::PrevTab => view::cycle_tab(state, false),
        Action::TabDrops => view::select_tab(state, Tab::Drops),
        Action::TabPolicies => view::select_tab(state, Tab::Policies),
        Action::TabFlows => view::select_tab(state, Tab::Flows),
        Action::TabGate => view::select_tab(state, Tab::Gate),
        Action::TabLog => view::select_tab(state, Tab::Log),
        Action::SortName => view::sort_by(state, SortKey::Name),
        Action::SortTier => view::sort_by(state, SortKey::Tier),
        Action::SortPhase => view::sort_by(state, SortKey::Phase),
        Action::SortPolicies => view::sort_by(state, SortKey::Policies),
        Action::SortDrops => view::sort_by(state, SortKey::Drops),
        Action::SortGate => view::sort_by(state, SortKey::Gate),
        Action::CycleVerdict => {
            state.detail.verdicts = state.detail.verdicts.next();
            state.detail.cursor = 0;
            view::select_tab(state, Tab::Flows);
        }
        Action::ToggleQueries => {
            state.detail.show_queries = !state.detail.show_queries;
            view::select_tab(state, Tab::Gate);
        }
        Action::CycleWindow => {
            state.detail.window = state.detail.window.next();
            view::select_tab(state, Tab::Drops);
        }
        Action::TogglePause => {
            view::toggle_pause(state);
            view::select_tab(state, Tab::Flows);
        }
        Action::Observe
        | Action::ApplyBaseline
        | Action::StageDefaultDeny
        | Action::Enforce
        | Action::RollbackDefaultDeny
        | Action::RollbackNamespace
        | Action::CarveOut
        | Action::Restore
        | Action::ApplySuggestions
        | Action::ResumeGitOps
        | Action::Adopt => return actions::start(state, action),
        Action::Noop
        | Action::FocusNext
        | Action::FocusPrev
        | Action::Submit
        | Action::Cancel
        | Action::ToggleOwnerPause => {}
    }
    Vec::new()
}

fn open_input(state: &mut State, kind: InputKind, text: &str) {
    state.input = Some(InputLine {
        kind,
        input: TextInput::with_text(text),
        error: None,
    });
}

fn open_policy_yaml(state: &mut State) {
    let Some(name) = state.table.selected.clone() else {
        return;
    };
    let policies = state.snapshot.policies_for(&name);
    if let Some(selected) = policies.get(state.detail.cursor) {
        let policy = selected.policy;
        let title = format!(
            "{} {}",
            policy.kind,
            policy.object_ref().to_string().split_once(' ').map_or("", |(_, n)| n)
        );
        state.modals.push(Modal::Yaml {
            title,
            text: policy.to_yaml(),
            scroll: 0,
        });
    }
}

fn on_input_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let Some(line) = state.input.as_mut() else {
        return Vec::new();
    };
    match state.config.keymap.resolve(Mode::Input, &key) {
        Some(Action::Submit) => {
            let kind = line.kind;
            let text = line.input.text().to_string();
            if kind == InputKind::Filter && line.error.is_some() {
                return Vec::new(); // keep the line open until the regex is fixed
            }
            state.input = None;
            return match kind {
                InputKind::Filter => Vec::new(),
                InputKind::Command => command::run(state, &text),
            };
        }
        Some(Action::Cancel) => {
            if line.kind == InputKind::Filter {
                // Esc on a filter clears it, as in k9s.
                state.table.filter = None;
                view::refresh_visible(state);
            }
            state.input = None;
            return Vec::new();
        }
        _ => {}
    }
    if line.input.edit(&key) && line.kind == InputKind::Filter {
        match NamespaceFilter::parse(line.input.text()) {
            Ok(filter) => {
                line.error = None;
                state.table.filter = filter;
                view::refresh_visible(state);
            }
            Err(why) => line.error = Some(why),
        }
    } else if line.kind == InputKind::Command {
        line.error = None;
    }
    Vec::new()
}

fn on_modal_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let keymap = state.config.keymap.clone();
    let viewer_mode = match state.modals.last() {
        Some(Modal::Help { .. }) => Mode::Help,
        _ => Mode::Viewer,
    };
    let page = (state.viewport.1 / 2).max(1);
    let Some(top) = state.modals.last_mut() else {
        return Vec::new();
    };
    match top {
        Modal::Help { scroll } | Modal::Yaml { scroll, .. } => {
            match keymap.resolve(viewer_mode, &key) {
                Some(Action::Back | Action::Cancel | Action::Quit | Action::Help) => {
                    state.modals.pop();
                }
                Some(Action::Up) => *scroll = scroll.saturating_sub(1),
                Some(Action::Down) => *scroll = scroll.saturating_add(1),
                Some(Action::PageUp) => *scroll = scroll.saturating_sub(page),
                Some(Action::PageDown) => *scroll = scroll.saturating_add(page),
                Some(Action::Top) => *scroll = 0,
                Some(Action::Bottom) => *scroll = u16::MAX / 2,
                _ => {}
            }
            Vec::new()
        }
        Modal::Prompt { input, .. } => match keymap.resolve(Mode::Input, &key) {
            Some(Action::Submit) => {
                let text = input.text().to_string();
                match state.modals.pop() {
                    Some(Modal::Prompt { purpose, .. }) => actions::on_prompt(state, purpose, text),
                    _ => Vec::new(),
                }
            }
            Some(Action::Cancel) => {
                state.modals.pop();
                Vec::new()
            }
            _ => {
                input.edit(&key);
                Vec::new()
            }
        },
        Modal::Confirm(dialog) => {
            // The override reason comes first: printable keys are its text, and
            // enter accepts it once it is long enough.
            if let Some(reason) = dialog.override_reason.as_mut()
                && !reason.accepted
            {
                match key.code {
                    KeyCode::Enter if reason.long_enough() => {
                        reason.accepted = true;
                        return Vec::new();
                    }
                    // With a reason begun, enter must not fall through to the
                    // buttons (focus is on Cancel); with none, it is the button's.
                    KeyCode::Enter if !reason.input.text().is_empty() => {
                        let hint = format!(
                            "a reason of at least {} characters, please",
                            crate::app::modal::OVERRIDE_MIN_CHARS
                        );
                        notify(state, NoticeLevel::Warning, hint);
                        return Vec::new();
                    }
                    KeyCode::Char(_) | KeyCode::Backspace if reason.input.edit(&key) => return Vec::new(),
                    _ => {}
                }
            }
            // While a name must be typed, printable keys are text, never bindings:
            // a namespace name may contain any letter the keymap uses.
            if let Some(typed) = dialog.typed.as_mut()
                && matches!(key.code, KeyCode::Char(_) | KeyCode::Backspace)
                && typed.edit(&key)
            {
                return Vec::new();
            }
            match keymap.resolve(Mode::Confirm, &key) {
                Some(Action::FocusNext | Action::FocusPrev) => {
                    dialog.focus = match dialog.focus {
                        Button::Cancel => Button::Confirm,
                        Button::Confirm => Button::Cancel,
                    };
                }
                Some(Action::ToggleOwnerPause) => {
                    if let Some(now) = dialog.plan.pauses_owners() {
                        let already = state.snapshot.paused_owners(&dialog.plan.namespace);
                        dialog.plan.set_pause_owners(!now, &already);
                        dialog.review = crate::app::review::review(&dialog.plan, &dialog.dry_run, dialog.gate.as_ref());
                    }
                }
                Some(Action::Up) => dialog.scroll = dialog.scroll.saturating_sub(1),
                Some(Action::Down) => dialog.scroll = dialog.scroll.saturating_add(1),
                Some(Action::PageUp) => dialog.scroll = dialog.scroll.saturating_sub(10),
                Some(Action::PageDown) => dialog.scroll = dialog.scroll.saturating_add(10),
                Some(Action::Cancel) => {
                    let (id, committing) = (dialog.id, dialog.committing);
                    state.modals.pop();
                    return actions::discard(id, committing);
                }
                Some(Action::Submit) => return actions::on_confirm_submit(state),
                _ => {}
            }
            Vec::new()
        }
        Modal::DryRunPending { .. } | Modal::LoadingBackup { .. } => {
            if matches!(keymap.resolve(Mode::Confirm, &key), Some(Action::Cancel)) {
                // The answer, when it comes, finds no dialog and is dropped.
                if let Some(Modal::DryRunPending { id, .. }) = state.modals.pop() {
                    state.pending_plans.remove(&id);
                }
            }
            Vec::new()
        }
        Modal::Applying { .. } => {
            notify(
                state,
                NoticeLevel::Warning,
                "the change is being applied; wait for the result",
            );
            Vec::new()
        }
        Modal::Message { .. } => {
            if matches!(
                keymap.resolve(Mode::Confirm, &key),
                Some(Action::Submit | Action::Cancel)
            ) {
                state.modals.pop();
            }
            Vec::new()
        }
    }
}
