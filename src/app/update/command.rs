//! `:` commands, k9s style.

use crate::app::effect::Effect;
use crate::app::modal::Modal;
use crate::app::state::{Focus, NoticeLevel, State};

use super::{notify, view};

/// The commands `:` accepts, for help and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "ns NAME",
        "select a namespace and open its detail (:ns alone shows all)",
    ),
    ("ctx NAME", "switch to another kubeconfig context"),
    ("theme NAME", "switch the colour theme"),
    ("promote NAME", "copy the selected namespace's app allows to NAME"),
    (
        "adopt [--label-policies]",
        "adopt the selected namespace's rollout (also label the team's policies)",
    ),
    ("help", "show every key binding"),
    ("q", "quit (also :quit, :q!)"),
];

pub(super) fn run(state: &mut State, line: &str) -> Vec<Effect> {
    let mut words = line.split_whitespace();
    let Some(command) = words.next() else { return Vec::new() };
    let argument = words.next();
    match (command, argument) {
        ("q" | "q!" | "quit" | "qa", _) => state.running = false,
        ("help" | "h", _) => state.modals.push(Modal::Help { scroll: 0 }),
        ("ns" | "namespace" | "namespaces", None) => {
            state.table.filter = None;
            state.detail.focus = Focus::Table;
            view::refresh_visible(state);
        }
        ("ns" | "namespace" | "namespaces", Some(name)) => {
            if !view::focus_namespace(state, name) {
                notify(state, NoticeLevel::Error, format!("no namespace {name}"));
            }
        }
        ("ctx" | "context", None) => {
            let list = state.contexts.join(", ");
            notify(
                state,
                NoticeLevel::Info,
                format!("context {} (available: {list})", state.identity.context),
            );
        }
        ("ctx" | "context", Some(name)) => {
            if name == state.identity.context {
                notify(state, NoticeLevel::Info, format!("already on context {name}"));
            } else if state.contexts.iter().any(|c| c == name) {
                state.switching_to = Some(name.to_string());
                notify(state, NoticeLevel::Info, format!("connecting to context {name}…"));
                return vec![Effect::SwitchContext {
                    context: name.to_string(),
                }];
            } else {
                let list = state.contexts.join(", ");
                notify(
                    state,
                    NoticeLevel::Error,
                    format!("unknown context {name} (available: {list})"),
                );
            }
        }
        ("promote", Some(to)) => return super::actions::promote(state, to),
        ("promote", None) => notify(
            state,
            NoticeLevel::Info,
            ":promote NAMESPACE copies the selected namespace's app allows there",
        ),
        ("adopt", None) => return super::actions::start(state, crate::app::action::Action::Adopt),
        ("adopt", Some("--label-policies" | "-l")) => return super::actions::adopt_labelling(state),
        ("adopt", Some(other)) => notify(
            state,
            NoticeLevel::Error,
            format!(":adopt takes --label-policies, not {other}"),
        ),
        ("theme", Some(name)) => return vec![Effect::LoadTheme(name.to_string())],
        ("theme", None) => notify(state, NoticeLevel::Info, format!("theme {}", state.config.theme.name)),
        (other, _) => notify(
            state,
            NoticeLevel::Error,
            format!("unknown command :{other} (try :help)"),
        ),
    }
    Vec::new()
}
