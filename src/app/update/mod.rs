//! `update`: the only place state changes. Pure: no I/O, no clock, no awaiting;
//! anything that needs the outside world is returned as an [`Effect`].

mod actions;

pub use actions::{ConfirmNeeds, compute_plan, confirm_needs, denied, repo_step};
pub mod command;
mod keys;
mod view;

use std::time::Duration;

use jiff::SignedDuration;

use crate::cluster::ClusterEvent;
use crate::flows::{FlowEvent, FlowScope};

use super::effect::Effect;
use super::msg::Msg;
use super::state::{Notice, NoticeLevel, State};

/// How long a notice stays in the status bar.
const NOTICE_TTL: Duration = Duration::from_secs(6);

/// Applies one message to the state and returns the work it asks for.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut effects = handle(state, msg);
    effects.extend(check_access(state));
    effects.extend(scope_flows(state));
    effects.extend(ask_prometheus(state));
    effects
}

/// Asks Prometheus about the selected namespace, over its gate window, when
/// the evidence is missing or stale and no answer is on its way.
fn ask_prometheus(state: &mut State) -> Option<Effect> {
    if !matches!(state.prometheus.setup, crate::app::state::PromSetup::Url(_)) {
        return None;
    }
    let namespace = state.table.selected.clone()?;
    let fresh = state
        .prometheus
        .records
        .get(&namespace)
        .is_some_and(|r| state.now.duration_since(r.fetched).unsigned_abs() < state.prometheus.retry_after());
    if fresh || state.prometheus.pending.contains(&namespace) {
        return None;
    }
    let tier = state
        .rows
        .iter()
        .find(|r| r.name == namespace)
        .and_then(|r| r.tier.clone());
    let window = state.config.settings.soak.for_tier(tier.as_deref());
    state.prometheus.pending.push(namespace.clone());
    Some(Effect::FetchPrometheus { namespace, window })
}

/// A filtered view this short asks Hubble for its namespaces' flows only.
const SCOPED_VIEW: usize = 16;

/// Narrows the flow stream to the namespaces in view when a filter shows only a
/// few; the whole view is one unfiltered stream.
fn scope_flows(state: &mut State) -> Option<Effect> {
    let visible = &state.table.visible;
    let wanted = if state.table.filter.is_none() || visible.is_empty() || visible.len() > SCOPED_VIEW {
        FlowScope::All
    } else {
        let mut names: Vec<String> = visible
            .iter()
            .filter_map(|&i| state.rows.get(i).map(|r| r.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        FlowScope::Namespaces(names)
    };
    if wanted == state.flow_scope {
        return None;
    }
    state.flow_scope = wanted.clone();
    Some(Effect::ScopeFlows(wanted))
}

/// Asks which actions are allowed in the selected namespace, once per namespace.
fn check_access(state: &mut State) -> Option<Effect> {
    let namespace = state.table.selected.clone()?;
    if state.identity.demo || state.access.contains_key(&namespace) || state.access_pending.contains(&namespace) {
        return None;
    }
    state.access_pending.push(namespace.clone());
    Some(Effect::CheckAccess { namespace })
}

fn handle(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => keys::on_key(state, key),
        Msg::Resize(width, height) => {
            state.viewport = (width, height);
            Vec::new()
        }
        Msg::Tick(now) => {
            state.now = now;
            state.notices.retain(|n| n.until > now);
            view::refresh_rows(state);
            Vec::new()
        }
        Msg::Cluster(ClusterEvent::Snapshot(snapshot)) => {
            state.snapshot = snapshot;
            state.statuses = crate::rollout::statuses(&state.snapshot);
            // The preview and lint first: the rows' gates read them.
            view::rebuild_preview(state);
            state.lint = crate::policy::lint::lint(&crate::policy::lint::LintInput::from_snapshot(&state.snapshot));
            view::refresh_rows(state);
            let mut effects: Vec<Effect> = view::judge_soak(state).into_iter().collect();
            effects.extend(view::check_pending(state));
            effects
        }
        Msg::Cluster(ClusterEvent::Connection(connection)) => {
            state.connection = connection;
            Vec::new()
        }
        Msg::Flows(FlowEvent::Batch(flows)) => {
            for flow in flows {
                state.preview.record(&flow);
                state.traffic.record(flow);
            }
            Vec::new()
        }
        Msg::Flows(FlowEvent::State(stream)) => {
            state.flow_stream = stream;
            Vec::new()
        }
        Msg::Flows(FlowEvent::Health(health)) => {
            state.flow_health = health;
            Vec::new()
        }
        Msg::DryRunDone { id, result, commit } => actions::on_dry_run(state, id, result, commit),
        Msg::Executed { id, result, record } => actions::on_executed(state, id, result, record),
        Msg::BackupLoaded {
            id,
            namespace,
            path,
            result,
        } => actions::on_backup_loaded(state, id, namespace, path, result),
        Msg::CommitChecked {
            namespace,
            applied,
            contained,
        } => {
            state.commit_checks.insert(namespace, (applied, contained));
            view::refresh_rows(state);
            Vec::new()
        }
        Msg::Reverted(Ok(line)) => {
            notify(state, NoticeLevel::Info, line);
            Vec::new()
        }
        Msg::Reverted(Err(why)) => {
            notify(state, NoticeLevel::Warning, why);
            Vec::new()
        }
        Msg::BackupDirChecked(result) => {
            state.backups_writable = Some(result);
            view::refresh_rows(state);
            Vec::new()
        }
        Msg::ThemeLoaded { theme, diagnostics } => {
            let name = theme.name.clone();
            state.config.theme = theme;
            if diagnostics.is_empty() {
                notify(state, NoticeLevel::Info, format!("theme {name}"));
            } else {
                notify(state, NoticeLevel::Warning, diagnostics[0].to_string());
                state.diagnostics.extend(diagnostics);
            }
            Vec::new()
        }
        Msg::AuditLoaded(records) => {
            state.audit = records;
            view::refresh_rows(state);
            view::check_pending(state)
        }
        Msg::AccessChecked { namespace, result } => {
            state.access_pending.retain(|n| *n != namespace);
            if let Err(err) = &result {
                notify(
                    state,
                    NoticeLevel::Warning,
                    format!("could not check permissions in {namespace}: {err}"),
                );
            }
            state.access.insert(namespace, result);
            Vec::new()
        }
        Msg::ContextSwitched(switch) => {
            let switch = *switch;
            let name = switch.identity.context.clone();
            let viewport = state.viewport;
            *state = State {
                viewport,
                ..State::from_switch(switch, state.now)
            };
            notify(state, NoticeLevel::Info, format!("switched to context {name}"));
            vec![Effect::CheckBackupDir]
        }
        Msg::LedgerObserved(spans) => {
            state.observed = Some(spans);
            view::refresh_rows(state);
            Vec::new()
        }
        Msg::LedgerSoak(verdicts) => {
            state.soak = Some(verdicts);
            view::refresh_rows(state);
            Vec::new()
        }
        Msg::PrometheusFetched {
            namespace,
            at,
            evidence,
        } => {
            state.prometheus.pending.retain(|n| *n != namespace);
            match evidence.unreachable() {
                Some(why) => {
                    state.prometheus.failures += 1;
                    tracing::warn!(%why, attempt = state.prometheus.failures, "Prometheus unreachable");
                }
                None => state.prometheus.failures = 0,
            }
            state.prometheus.records.insert(
                namespace,
                crate::app::state::PromRecord {
                    fetched: at,
                    evidence: *evidence,
                },
            );
            view::refresh_rows(state);
            Vec::new()
        }
        Msg::ContextFailed { context, error } => {
            state.switching_to = None;
            state.modals.push(crate::app::modal::Modal::Message {
                title: format!("Could not switch to {context}"),
                lines: vec![error, format!("Still on context {}.", state.identity.context)],
                danger: true,
            });
            Vec::new()
        }
    }
}

/// Shows a message in the status bar for a while.
/// The request to judge the namespaces in Audit over the soak, for a
/// one-shot command that reads the ledger itself; `None` for the demo or
/// when nothing is in Audit.
pub fn judge_soak_effect(state: &State) -> Option<Effect> {
    view::judge_soak(state)
}

pub fn notify(state: &mut State, level: NoticeLevel, text: impl Into<String>) {
    let ttl = SignedDuration::try_from(NOTICE_TTL).unwrap_or(SignedDuration::from_secs(6));
    state.notices.push_back(Notice {
        level,
        text: text.into(),
        until: state.now + ttl,
    });
    while state.notices.len() > 3 {
        state.notices.pop_front();
    }
}
