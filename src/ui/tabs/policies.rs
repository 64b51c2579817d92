//! Policies: every policy that selects pods of the namespace, with its role.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, TableState};

use crate::app::rows::NamespaceRow;
use crate::app::state::{Focus, State};
use crate::config::ThemeRole;
use crate::gate::rejection;
use crate::policy::lint::Severity;
use crate::rollout::PolicyRole;
use crate::rollout::phase::default_deny_flags;

use super::super::format::fit;
use super::super::style;
use super::section;

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let policies = state.snapshot.policies_for(&row.name);
    let pods = state.snapshot.pods_in(&row.name).count();
    let name_width = (area.width / 3).clamp(20, 36) as usize;
    let rows: Vec<Row> = policies
        .iter()
        .map(|selected| {
            let p = selected.policy;
            let role = PolicyRole::of(p);
            let role_style = style(
                state,
                match role {
                    PolicyRole::DefaultDeny => ThemeRole::PhaseEnforced,
                    PolicyRole::Baseline(_) => ThemeRole::PhaseBaseline,
                    PolicyRole::AppAllow => ThemeRole::Info,
                    PolicyRole::Foreign => ThemeRole::Muted,
                    PolicyRole::Unrecognized(_) => ThemeRole::Drift,
                },
            );
            let enforcement = if role == PolicyRole::DefaultDeny {
                match default_deny_flags(p) {
                    (false, false) => "staged".to_string(),
                    (true, true) => "enforced".to_string(),
                    (i, e) => format!("in:{} out:{}", on_off(i), on_off(e)),
                }
            } else {
                String::new()
            };
            // Cilium's own verdict first, then the worst lint finding.
            let reference = p.object_ref().to_string();
            let policy_name = reference.split_once(' ').map_or("", |(_, n)| n);
            let finding = state.lint.iter().find(|f| f.policy.as_deref() == Some(policy_name));
            let (status, status_role) = match (rejection(p), finding) {
                (Some(message), _) => (format!("rejected: {message}"), ThemeRole::Danger),
                (None, Some(f)) => (
                    format!("{}: {}", f.severity, f.message),
                    match f.severity {
                        Severity::Error => ThemeRole::Danger,
                        Severity::Warning => ThemeRole::Warning,
                        Severity::Info => ThemeRole::Info,
                    },
                ),
                (None, None) => ("ok".to_string(), ThemeRole::Ok),
            };
            Row::new(vec![
                Cell::from(p.kind.short()),
                Cell::from(fit(&p.name, name_width)),
                Cell::from(Line::styled(role.label(), role_style)),
                Cell::from(format!("{}/{pods}", selected.pods_selected)),
                Cell::from(Line::styled(enforcement, style(state, ThemeRole::PhaseAudit))),
                Cell::from(
                    state
                        .snapshot
                        .gitops()
                        .owner_of(p)
                        .map_or(String::new(), |o| o.short().to_string()),
                ),
                Cell::from(Line::styled(status, style(state, status_role))),
            ])
        })
        .collect();
    let hint = if state.detail.focus == Focus::Detail {
        " · enter: YAML"
    } else {
        " · enter, then j/k and enter: YAML"
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(name_width as u16),
            Constraint::Length(26),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(["KIND", "NAME", "ROLE", "PODS", "DENY", "OWNER", "STATUS"]).style(style(state, ThemeRole::Header)),
    )
    .block(section(
        format!(" {} policies select pods here{hint} ", policies.len()),
        style(state, ThemeRole::Border),
        style(state, ThemeRole::Title),
    ))
    .row_highlight_style(style(state, ThemeRole::Selection));
    let selected = (state.detail.focus == Focus::Detail && !policies.is_empty())
        .then(|| state.detail.cursor.min(policies.len() - 1));
    let mut table_state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut table_state);
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
