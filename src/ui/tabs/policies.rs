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
use crate::rollout::posture::PolicyReading;
use crate::rollout::{Function, PolicyRole, Posture};

use super::super::format::fit;
use super::super::style;
use super::section;

pub fn render(frame: &mut Frame, area: Rect, state: &State, row: &NamespaceRow) {
    let policies = state.snapshot.policies_for(&row.name);
    let pods = state.snapshot.pods_in(&row.name).count();
    let name_width = (area.width / 3).clamp(20, 36) as usize;
    // Who wrote each policy (tighten or the team) when there is room for it.
    let wide = area.width >= 100;
    let rows: Vec<Row> =
        policies
            .iter()
            .map(|selected| {
                let p = selected.policy;
                // The role by function (whatever the policy is called), and who wrote it.
                let reading =
                    row.status.observed.posture.readings.iter().find(|r| {
                        r.policy.kind == p.kind && r.policy.name == p.name && r.policy.namespace == p.namespace
                    });
                let (role, author, deny) = match reading {
                    Some(r) => (
                        r.function.label(),
                        r.author(),
                        deny_column(r, &row.status.observed.posture),
                    ),
                    None => ("no effect".to_string(), "", String::new()),
                };
                let role_style = style(
                    state,
                    match reading.map(|r| &r.function) {
                        Some(Function::DefaultDeny { .. }) => ThemeRole::PhaseEnforced,
                        Some(Function::Baseline { .. }) => ThemeRole::PhaseBaseline,
                        Some(Function::AppAllow) => ThemeRole::Info,
                        Some(Function::Unreadable(_)) => ThemeRole::Danger,
                        _ if matches!(
                            reading.and_then(|r| r.labelled.as_ref()),
                            Some(PolicyRole::Unrecognized(_))
                        ) =>
                        {
                            ThemeRole::Drift
                        }
                        _ => ThemeRole::Muted,
                    },
                );
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
                    Cell::from(Line::styled(fit(&role, 26), role_style)),
                    Cell::from(if wide { author } else { "" }),
                    Cell::from(format!("{}/{pods}", selected.pods_selected)),
                    Cell::from(Line::styled(deny, style(state, ThemeRole::PhaseAudit))),
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
            Constraint::Length(if wide { 7 } else { 0 }),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new([
            "KIND",
            "NAME",
            "ROLE",
            if wide { "BY" } else { "" },
            "PODS",
            "DENY",
            "OWNER",
            "STATUS",
        ])
        .style(style(state, ThemeRole::Header)),
    )
    .block(section(
        format!(" {} policies apply here{hint} ", policies.len()),
        style(state, ThemeRole::Border),
        style(state, ThemeRole::Title),
    ))
    .row_highlight_style(style(state, ThemeRole::Selection));
    let selected = (state.detail.focus == Focus::Detail && !policies.is_empty())
        .then(|| state.detail.cursor.min(policies.len() - 1));
    let mut table_state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut table_state);
}

/// Whether the policy puts the pods it selects into default-deny: a
/// default-deny `staged` or `enforced`, or an allow that denies the rest
/// (`by allows`: the "first policy selecting a pod" trap).
fn deny_column(reading: &PolicyReading, posture: &Posture) -> String {
    match reading.function {
        Function::DefaultDeny { staged: true } => "staged".into(),
        Function::DefaultDeny { staged: false } => "enforced".into(),
        _ if [&posture.ingress, &posture.egress]
            .into_iter()
            .flat_map(|side| side.enforced.iter().chain(&side.partial))
            .any(|d| d.policy == reading.policy) =>
        {
            "by allows".into()
        }
        _ => String::new(),
    }
}
