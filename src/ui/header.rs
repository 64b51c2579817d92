//! The top line: where the operator is connected, and whether it is healthy.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::State;
use crate::cluster::ConnectionState;
use crate::config::ThemeRole;
use crate::flows::{FlowStreamState, StreamHealth};

use super::style;

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let id = &state.identity;
    let sep = Span::styled(" │ ", style(state, ThemeRole::Muted));
    let mut spans = vec![
        Span::styled(" tighten ", style(state, ThemeRole::Title)),
        Span::styled(format!(" {} ", id.context), style(state, ThemeRole::ContextBadge)),
    ];
    // First, so no terminal width can hide it.
    if state.config.readonly {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(" READ-ONLY ", style(state, ThemeRole::ReadonlyBadge)));
    }
    spans.extend([
        sep.clone(),
        Span::styled(format!("cluster {}", id.cluster), style(state, ThemeRole::Text)),
        sep.clone(),
        Span::styled(format!("user {}", id.user), style(state, ThemeRole::Text)),
    ]);
    let cilium = match (&state.snapshot.cilium.version, state.snapshot.cilium.crds_installed) {
        (Some(v), _) => format!("Cilium {v}"),
        (None, true) => "Cilium CRDs".to_string(),
        (None, false) => "no Cilium CRDs".to_string(),
    };
    spans.push(sep.clone());
    spans.push(Span::styled(cilium, style(state, ThemeRole::Text)));
    spans.push(sep.clone());
    let (text, role) = match &state.connection {
        ConnectionState::Connected => ("● api".to_string(), ThemeRole::Ok),
        ConnectionState::Connecting => ("◌ api connecting".to_string(), ThemeRole::Warning),
        ConnectionState::Reconnecting { attempt, reason } => (
            format!("◌ api reconnecting (attempt {attempt}): {reason}"),
            ThemeRole::Danger,
        ),
    };
    spans.push(Span::styled(text, style(state, role)));
    spans.push(sep.clone());
    let (text, role) = match &state.flow_stream {
        FlowStreamState::Connected { source } => {
            // The caveats first: a long source name must not push them off screen.
            spans.push(Span::styled("● flows", style(state, ThemeRole::Ok)));
            for caveat in caveats(&state.flow_health) {
                spans.push(Span::styled(format!(" ⚠ {caveat}"), style(state, ThemeRole::Warning)));
            }
            let nodes = state.flow_health.nodes_connected.map_or(String::new(), |n| {
                format!(" · {n} node{}", if n == 1 { "" } else { "s" })
            });
            (format!(": {source}{nodes}"), ThemeRole::Muted)
        }
        FlowStreamState::Connecting => ("◌ flows connecting".to_string(), ThemeRole::Warning),
        FlowStreamState::Reconnecting { attempt, reason } => (
            format!("◌ flows reconnecting (attempt {attempt}): {reason}"),
            ThemeRole::Danger,
        ),
        FlowStreamState::Unavailable(reason) => (format!("○ flows: {reason}"), ThemeRole::Warning),
    };
    spans.push(Span::styled(text, style(state, role)));
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(style(state, ThemeRole::StatusBar)),
        area,
    );
}

/// What the stream has missed, worded for the status line.
fn caveats(health: &StreamHealth) -> Vec<String> {
    let mut out = Vec::new();
    match health.nodes_unavailable.as_slice() {
        [] => {}
        [one] => out.push(format!("node {one} unavailable")),
        many => out.push(format!("{} nodes unavailable", many.len())),
    }
    if health.lost > 0 {
        out.push(format!("{} lost by Hubble", health.lost));
    }
    if health.overflow > 0 {
        out.push(format!("{} dropped (cockpit behind)", health.overflow));
    }
    if health.malformed > 0 {
        out.push(format!("{} unreadable", health.malformed));
    }
    if health.unknown_values > 0 {
        out.push(format!("{} with unknown values", health.unknown_values));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caveats_name_what_was_missed() {
        assert!(caveats(&StreamHealth::default()).is_empty());
        let health = StreamHealth {
            nodes_unavailable: vec!["kind-worker2".into()],
            lost: 12,
            overflow: 4_096,
            malformed: 1,
            ..StreamHealth::default()
        };
        assert_eq!(
            caveats(&health),
            [
                "node kind-worker2 unavailable",
                "12 lost by Hubble",
                "4096 dropped (cockpit behind)",
                "1 unreadable"
            ]
        );
    }
}
