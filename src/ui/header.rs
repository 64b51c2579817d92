//! The top line: where the operator is connected, and whether it is healthy.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::State;
use crate::cluster::ConnectionState;
use crate::config::ThemeRole;
use crate::flows::FlowStreamState;

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
        FlowStreamState::Connected { source } => (format!("● flows: {source}"), ThemeRole::Ok),
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
