//! Table and detail navigation, sorting and filtering.

use crate::app::rows::{self, SortKey};
use crate::app::state::{Focus, State, Tab};
use crate::gate::Check;

/// The committed steps each namespace's reconciler has not applied yet, as
/// far as the applied revision (and Git, when it was asked) tells.
fn waiting(state: &State) -> std::collections::BTreeMap<String, String> {
    pending_applied(state)
        .into_iter()
        .filter(|(_, _, applied)| *applied != Some(true))
        .map(|(pending, _, _)| (pending.namespace.clone(), pending.describe()))
        .collect()
}

/// Each pending commit with the revision its reconciler applied and whether
/// that contains it (`None`: not known yet).
fn pending_applied(state: &State) -> Vec<(crate::repo::pending::Pending, String, Option<bool>)> {
    use crate::repo::pending;
    let snapshot = &state.snapshot;
    pending::from_audit(&state.audit)
        .into_values()
        .filter_map(|p| {
            let owner = crate::repo::namespace_owner(snapshot, &p.namespace).ok().flatten()?;
            let applied = snapshot.gitops().state(&owner)?.applied?;
            let sha = pending::revision_commit(&applied)?.to_string();
            let known = if pending::is_the_commit(&p, &applied) {
                Some(true)
            } else {
                state
                    .commit_checks
                    .get(&p.namespace)
                    .filter(|(checked, _)| *checked == sha)
                    .and_then(|(_, answer)| *answer)
            };
            Some((p, sha, known))
        })
        .collect()
}

/// Asks Git whether the reconcilers' newly applied commits contain the
/// steps' pending ones (a merge commit is not the step's own).
pub(super) fn check_pending(state: &mut State) -> Vec<crate::app::Effect> {
    let mut effects = Vec::new();
    for (pending, applied, known) in pending_applied(state) {
        let asked = state
            .commit_checks
            .get(&pending.namespace)
            .is_some_and(|(checked, _)| *checked == applied);
        if known.is_none() && !asked {
            state
                .commit_checks
                .insert(pending.namespace.clone(), (applied.clone(), None));
            effects.push(crate::app::Effect::CheckCommit { pending, applied });
        }
    }
    effects
}

/// Re-derives the rows and the visible order.
pub(super) fn refresh_rows(state: &mut State) {
    let waiting = waiting(state);
    let inputs = rows::RowInputs {
        traffic: &state.traffic,
        preview: &state.preview,
        settings: &state.config.settings,
        now: state.now,
        backups_writable: &state.backups_writable,
        prometheus: &state.prometheus,
        stream_lost: state.flow_health.lost,
        lint: &state.lint,
        statuses: &state.statuses,
        observed: state.observed.as_deref(),
        soak: state.soak.as_ref(),
        waiting: &waiting,
    };
    state.rows = rows::derive_rows(&state.snapshot, &inputs);
    refresh_visible(state);
    if let Some(namespace) = state.open_on.take()
        && !focus_namespace(state, &namespace)
    {
        // Not there yet (an empty first snapshot): keep waiting for it.
        state.open_on = Some(namespace);
    }
}

/// Rebuilds the would-drop preview for the namespaces now in Audit and judges
/// the flows already seen again, each once.
pub(super) fn rebuild_preview(state: &mut State) {
    let phases: Vec<(String, crate::rollout::Phase)> = state
        .statuses
        .iter()
        .map(|(name, status)| (name.clone(), status.phase))
        .collect();
    state.preview.rebuild(&state.snapshot, phases);
    let mut seen = std::collections::HashSet::new();
    let mut flows = Vec::new();
    for ns in state
        .snapshot
        .namespaces
        .iter()
        .filter(|ns| state.preview.is_audit(&ns.name))
    {
        if let Some(traffic) = state.traffic.namespace(&ns.name) {
            for flow in &traffic.tail {
                if seen.insert(std::sync::Arc::as_ptr(flow)) {
                    flows.push(std::sync::Arc::clone(flow));
                }
            }
        }
    }
    flows.sort_by_key(|f| f.time);
    state.preview.replay(flows.iter().map(|f| f.as_ref()));
}

/// The namespaces in Audit, each since it was staged (else over its soak
/// window), for the ledger's preview over the soak.
pub(super) fn judge_soak(state: &State) -> Option<crate::app::Effect> {
    // The demo keeps no ledger: it starts afresh each run.
    if state.identity.demo {
        return None;
    }
    let engine = state.preview.engine()?;
    let namespaces: Vec<(String, jiff::Timestamp)> = state
        .rows
        .iter()
        .filter(|row| state.preview.is_audit(&row.name))
        .map(|row| {
            let staged = row.status.intent.staged_at;
            let since = staged
                .or(row.status.observed.default_deny_created.as_ref().map(|(t, _)| *t))
                .unwrap_or_else(|| {
                    let soak = state.config.settings.soak.for_tier(row.tier.as_deref());
                    state.now - jiff::SignedDuration::try_from(soak).unwrap_or(jiff::SignedDuration::ZERO)
                });
            (row.name.clone(), since)
        })
        .collect();
    (!namespaces.is_empty()).then(|| crate::app::Effect::JudgeSoak {
        engine: crate::app::effect::Shared(engine),
        namespaces,
        snapshot: crate::app::effect::Shared(std::sync::Arc::clone(&state.snapshot)),
        senders: state.config.settings.senders.clone(),
    })
}

/// Re-applies filter and sort; keeps the selection if it is still visible.
pub(super) fn refresh_visible(state: &mut State) {
    let filter = state.table.filter.clone();
    let mut visible: Vec<usize> = (0..state.rows.len())
        .filter(|&i| filter.as_ref().is_none_or(|f| f.matches(&state.rows[i])))
        .collect();
    let key = state.table.sort;
    visible.sort_by(|&a, &b| {
        let order = rows::compare(&state.rows[a], &state.rows[b], key);
        if state.table.descending { order.reverse() } else { order }
    });
    state.table.visible = visible;
    let still_visible = state.selected_position().is_some();
    if !still_visible {
        state.table.selected = state.table.visible.first().map(|&i| state.rows[i].name.clone());
        state.detail.cursor = 0;
    }
}

pub(super) fn sort_by(state: &mut State, key: SortKey) {
    if state.table.sort == key {
        state.table.descending = !state.table.descending;
    } else {
        state.table.sort = key;
        // Busy and blocked namespaces first is what an operator looks for.
        state.table.descending = matches!(key, SortKey::Drops | SortKey::Policies);
    }
    refresh_visible(state);
}

/// Moves the table selection by `delta` rows, clamped.
pub(super) fn move_selection(state: &mut State, delta: isize) {
    let len = state.table.visible.len();
    if len == 0 {
        return;
    }
    let current = state.selected_position().unwrap_or(0) as isize;
    let next = (current + delta).clamp(0, len as isize - 1) as usize;
    let name = state.rows[state.table.visible[next]].name.clone();
    if state.table.selected.as_deref() != Some(name.as_str()) {
        state.table.selected = Some(name);
        state.detail.cursor = 0;
        state.detail.paused = None;
    }
}

/// Moves the detail cursor by `delta`, clamped to the current tab's list.
pub(super) fn move_cursor(state: &mut State, delta: isize) {
    let len = detail_len(state);
    let next = (state.detail.cursor as isize + delta).clamp(0, len.saturating_sub(1) as isize);
    state.detail.cursor = next as usize;
}

/// Rows of a page, from the terminal height.
pub(super) fn page(state: &State) -> isize {
    (state.viewport.1 / 3).max(1) as isize
}

pub(super) fn select_tab(state: &mut State, tab: Tab) {
    if state.detail.tab != tab {
        state.detail.tab = tab;
        state.detail.cursor = 0;
    }
}

pub(super) fn cycle_tab(state: &mut State, forward: bool) {
    let i = state.detail.tab.index() as isize + if forward { 1 } else { -1 };
    let n = Tab::ALL.len() as isize;
    select_tab(state, Tab::ALL[i.rem_euclid(n) as usize]);
}

pub(super) fn toggle_pause(state: &mut State) {
    if state.detail.paused.take().is_some() {
        return;
    }
    let Some(name) = state.table.selected.clone() else {
        return;
    };
    let tail = state
        .traffic
        .namespace(&name)
        .map(|t| t.tail.iter().cloned().collect())
        .unwrap_or_default();
    state.detail.paused = Some(std::sync::Arc::new(tail));
}

/// How many entries the current tab lists for the selected namespace.
pub(crate) fn detail_len(state: &State) -> usize {
    let Some(name) = state.table.selected.as_deref() else {
        return 0;
    };
    match state.detail.tab {
        Tab::Policies => state.snapshot.policies_for(name).len(),
        Tab::Flows => match &state.detail.paused {
            Some(frozen) => frozen
                .iter()
                .filter(|f| state.detail.verdicts.accepts(f.verdict))
                .count(),
            None => state.traffic.namespace(name).map_or(0, |t| {
                t.tail
                    .iter()
                    .filter(|f| state.detail.verdicts.accepts(f.verdict))
                    .count()
            }),
        },
        Tab::Drops => state
            .traffic
            .namespace(name)
            .map_or(0, |t| t.peers.len().min(crate::ui::tabs::drops::PEER_ROWS)),
        Tab::Gate => state.selected_row().map_or(0, |r| {
            r.gate
                .items
                .iter()
                .filter(|i| i.check != Check::Info)
                .count()
                .max(r.gate.items.len())
        }),
        Tab::Log => state.audit_for(name).count(),
    }
}

/// Focus on the detail pane of `namespace`, revealing it if the filter hides it.
pub(super) fn focus_namespace(state: &mut State, namespace: &str) -> bool {
    if !state.rows.iter().any(|r| r.name == namespace) {
        return false;
    }
    if !state.table.visible.iter().any(|&i| state.rows[i].name == namespace) {
        state.table.filter = None;
    }
    state.table.selected = Some(namespace.to_string());
    refresh_visible(state);
    state.detail.focus = Focus::Detail;
    state.detail.cursor = 0;
    true
}
