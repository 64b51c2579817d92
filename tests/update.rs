//! `update` in isolation: given this state and this message, expect this state
//! and these effects. No terminal, no runner unless a test settles effects.

mod common;

use common::Cockpit;
use tighten::app::modal::Modal;
use tighten::app::rows::SortKey;
use tighten::app::state::{Focus, InputKind, NoticeLevel, Tab, VerdictFilter};
use tighten::app::{Effect, Msg, update};
use tighten::cluster::{AuditOutcome, AuditRecord, DryRunReport};

fn visible(cockpit: &Cockpit) -> Vec<String> {
    cockpit.state.visible_rows().map(|r| r.name.clone()).collect()
}

#[test]
fn rows_start_sorted_by_name_with_the_first_selected() {
    let cockpit = Cockpit::new();
    let names = visible(&cockpit);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 14);
    assert_eq!(cockpit.state.table.selected.as_deref(), Some("auth"));
}

#[test]
fn movement_is_clamped_and_keeps_the_selection_by_name() {
    let mut cockpit = Cockpit::new();
    cockpit.key("k");
    assert_eq!(cockpit.state.table.selected.as_deref(), Some("auth"));
    cockpit.key("j");
    cockpit.key("j");
    assert_eq!(cockpit.state.table.selected.as_deref(), Some("databases"));
    cockpit.key("G");
    assert_eq!(cockpit.state.table.selected.as_deref(), Some("stage"));
    cockpit.key("g");
    assert_eq!(cockpit.state.table.selected.as_deref(), Some("auth"));
    cockpit.key("pgdn");
    assert!(cockpit.state.selected_position().is_some_and(|p| p > 1));
    // Re-sorting keeps the same namespace selected.
    cockpit.key("j");
    let selected = cockpit.state.table.selected.clone();
    cockpit.key("D");
    assert_eq!(cockpit.state.table.selected, selected);
}

#[test]
fn sort_keys_order_and_reverse() {
    let mut cockpit = Cockpit::new();
    cockpit.key("T");
    assert_eq!(cockpit.state.table.sort, SortKey::Tier);
    let tiers: Vec<_> = cockpit.state.visible_rows().map(|r| r.tier.clone()).collect();
    assert_eq!(tiers.first().cloned().flatten().as_deref(), Some("lab"));
    assert_eq!(tiers.last().cloned().flatten(), None);
    cockpit.key("T");
    assert!(cockpit.state.table.descending);
    assert_eq!(visible(&cockpit).last().map(String::as_str), Some("lab"));

    cockpit.key("D");
    let rates: Vec<f64> = cockpit.state.visible_rows().map(|r| r.drops_per_minute).collect();
    assert!(rates.windows(2).all(|w| w[0] >= w[1]), "busiest first: {rates:?}");

    cockpit.key("P");
    let phases: Vec<_> = cockpit.state.visible_rows().map(|r| r.status.phase).collect();
    assert!(phases.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn filters_match_by_regex_and_invert_with_bang() {
    let mut cockpit = Cockpit::new();
    cockpit.key("/");
    assert!(matches!(
        cockpit.state.input.as_ref().map(|i| i.kind),
        Some(InputKind::Filter)
    ));
    cockpit.type_text("^(auth|data)");
    assert_eq!(visible(&cockpit), ["auth", "databases"]);
    cockpit.key("enter");
    assert!(cockpit.state.input.is_none());
    assert_eq!(visible(&cockpit), ["auth", "databases"], "enter keeps the filter");

    cockpit.key("/");
    cockpit.key("ctrl-u");
    cockpit.type_text("!prod");
    assert!(
        visible(&cockpit)
            .iter()
            .all(|n| !["auth", "databases", "payments", "monitoring"].contains(&n.as_str()))
    );
    assert!(visible(&cockpit).contains(&"lab".to_string()));

    // Matches tier and phase text too.
    cockpit.key("ctrl-u");
    cockpit.type_text("enforced");
    assert_eq!(visible(&cockpit), ["auth", "cert-manager", "orders"]);

    cockpit.key("esc");
    assert_eq!(visible(&cockpit).len(), 14, "esc clears the filter");
}

#[test]
fn a_broken_regex_keeps_the_last_good_filter_and_says_why() {
    let mut cockpit = Cockpit::new();
    cockpit.key("/");
    cockpit.type_text("lab");
    assert_eq!(visible(&cockpit), ["lab"]);
    cockpit.type_text("(");
    let error = cockpit.state.input.as_ref().and_then(|i| i.error.clone());
    assert!(
        error.is_some_and(|e| e.contains("unclosed")),
        "{:?}",
        cockpit.state.input
    );
    assert_eq!(visible(&cockpit), ["lab"]);
    cockpit.key("enter");
    assert!(cockpit.state.input.is_some(), "an invalid filter cannot be accepted");
}

#[test]
fn command_mode_selects_namespaces_and_quits() {
    let mut cockpit = Cockpit::new();
    assert!(cockpit.type_command("ns payments").is_empty());
    assert_eq!(cockpit.state.table.selected.as_deref(), Some("payments"));
    assert_eq!(cockpit.state.detail.focus, Focus::Detail);

    cockpit.type_command("ns nope");
    let notice = cockpit.state.notices.back().expect("notice");
    assert_eq!(notice.level, NoticeLevel::Error);
    assert!(notice.text.contains("nope"));

    cockpit.type_command("ctx prod-eu");
    assert!(
        cockpit
            .state
            .notices
            .back()
            .is_some_and(|n| n.text.contains("unknown context prod-eu"))
    );

    cockpit.type_command("bogus");
    assert!(cockpit.state.notices.back().is_some_and(|n| n.text.contains(":bogus")));

    assert_eq!(
        cockpit.type_command("theme light"),
        vec![Effect::LoadTheme("light".into())]
    );

    cockpit.type_command("q");
    assert!(!cockpit.state.running);
}

#[test]
fn ns_reveals_a_namespace_hidden_by_the_filter() {
    let mut cockpit = Cockpit::new();
    cockpit.key("/");
    cockpit.type_text("lab");
    cockpit.key("enter");
    cockpit.type_command("ns auth");
    assert_eq!(cockpit.state.table.selected.as_deref(), Some("auth"));
    assert!(cockpit.state.table.filter.is_none());
}

#[test]
fn help_lists_and_closes() {
    let mut cockpit = Cockpit::new();
    cockpit.key("?");
    assert!(matches!(cockpit.top_modal(), Some(Modal::Help { .. })));
    cockpit.key("j");
    assert!(matches!(cockpit.top_modal(), Some(Modal::Help { scroll: 1 })));
    cockpit.key("esc");
    assert!(cockpit.state.modals.is_empty());
}

#[test]
fn tabs_by_digit_tab_and_shift_tab() {
    let mut cockpit = Cockpit::new();
    assert_eq!(cockpit.state.detail.tab, Tab::Drops);
    cockpit.key("2");
    assert_eq!(cockpit.state.detail.tab, Tab::Policies);
    cockpit.key("tab");
    assert_eq!(cockpit.state.detail.tab, Tab::Flows);
    cockpit.key("shift-tab");
    cockpit.key("shift-tab");
    cockpit.key("shift-tab");
    assert_eq!(cockpit.state.detail.tab, Tab::Log, "wraps around");
    cockpit.key("4");
    assert_eq!(cockpit.state.detail.tab, Tab::Gate);
}

#[test]
fn enter_focuses_the_detail_and_opens_policy_yaml() {
    let mut cockpit = Cockpit::new();
    cockpit.key("2");
    cockpit.key("enter");
    assert_eq!(cockpit.state.detail.focus, Focus::Detail);
    cockpit.key("j");
    assert_eq!(cockpit.state.detail.cursor, 1);
    cockpit.key("enter");
    match cockpit.top_modal() {
        Some(Modal::Yaml { text, .. }) => assert!(text.contains("kind: CiliumNetworkPolicy"), "{text}"),
        other => panic!("expected YAML, got {other:?}"),
    }
    cockpit.key("esc");
    cockpit.key("esc");
    assert_eq!(cockpit.state.detail.focus, Focus::Table);
}

#[test]
fn flows_filter_by_verdict_and_pause_freezes_the_tail() {
    let mut cockpit = Cockpit::new();
    cockpit.key("v");
    assert_eq!(cockpit.state.detail.tab, Tab::Flows);
    assert_eq!(cockpit.state.detail.verdicts, VerdictFilter::Dropped);
    cockpit.key("space");
    let frozen = cockpit.state.detail.paused.clone().expect("paused");
    let more = cockpit
        .demo
        .flows_between(common::now(), common::now() + jiff::SignedDuration::from_mins(1), 1);
    update(&mut cockpit.state, Msg::Flows(tighten::flows::FlowEvent::Batch(more)));
    assert_eq!(
        cockpit.state.detail.paused.as_ref().map(|f| f.len()),
        Some(frozen.len())
    );
    cockpit.key("space");
    assert!(cockpit.state.detail.paused.is_none());
}

#[test]
fn an_abandoned_dry_run_answer_is_ignored() {
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    let effects = cockpit.key("E");
    let Some(Effect::DryRun { id, .. }) = effects.first().cloned() else {
        panic!("{effects:?}")
    };
    assert!(matches!(cockpit.top_modal(), Some(Modal::DryRunPending { .. })));
    cockpit.key("esc");
    assert!(cockpit.state.modals.is_empty());
    let effects = update(
        &mut cockpit.state,
        Msg::DryRunDone {
            id,
            result: Ok(DryRunReport::default()),
            commit: None,
        },
    );
    assert!(effects.is_empty());
    assert!(
        cockpit.state.modals.is_empty(),
        "no dialog appears for an abandoned request"
    );
}

#[test]
fn a_refused_dry_run_blocks_confirmation() {
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    let effects = cockpit.key("E");
    let Some(Effect::DryRun { id, .. }) = effects.first().cloned() else {
        panic!("{effects:?}")
    };
    update(
        &mut cockpit.state,
        Msg::DryRunDone {
            id,
            result: Err("the server is unreachable".into()),
            commit: None,
        },
    );
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("dialog")
    };
    assert!(dialog.blocked().is_some_and(|b| b.contains("unreachable")));
    cockpit.key("tab");
    assert!(cockpit.key("enter").is_empty());
}

#[test]
fn a_failed_action_is_shown_and_recorded() {
    let mut cockpit = Cockpit::new();
    let record = AuditRecord {
        time: common::now(),
        context: "demo".into(),
        user: "operator".into(),
        namespace: "auth".into(),
        action: "enforce".into(),
        outcome: AuditOutcome::Failed("conflict".into()),
        changes: vec![],
        objects: vec![],
        diff: vec![],
        backup: None,
        reason: None,
    };
    let effects = update(
        &mut cockpit.state,
        Msg::Executed {
            id: 99,
            result: Err("conflict".into()),
            record,
        },
    );
    assert_eq!(effects, vec![Effect::CheckBackupDir]);
    assert!(matches!(cockpit.top_modal(), Some(Modal::Message { danger: true, .. })));
    assert_eq!(cockpit.state.audit_for("auth").count(), 1);
}

#[test]
fn refusals_explain_themselves() {
    let mut cockpit = Cockpit::new();
    cockpit.select("network");
    let effects = cockpit.key("E");
    assert!(effects.is_empty());
    match cockpit.top_modal() {
        Some(Modal::Message { lines, .. }) => assert!(lines[0].contains("stage the default-deny"), "{lines:?}"),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn notices_expire_with_the_clock() {
    let mut cockpit = Cockpit::new();
    cockpit.type_command("ns nope");
    assert_eq!(cockpit.state.notices.len(), 1);
    update(
        &mut cockpit.state,
        Msg::Tick(common::now() + jiff::SignedDuration::from_secs(30)),
    );
    assert!(cockpit.state.notices.is_empty());
}

#[test]
fn rollout_progress_leaves_carved_out_namespaces_out() {
    let cockpit = Cockpit::new();
    let progress = tighten::app::rows::RolloutProgress::of(&cockpit.state.rows);
    // kube-system is carved out: thirteen namespaces are in the rollout, orders
    // enforced by its team's own policies.
    assert_eq!(progress.carved_out, 1);
    assert_eq!(progress.in_scope, 13);
    assert_eq!((progress.enforced, progress.audit, progress.baseline), (3, 4, 1));
    assert_eq!(progress.drifting, 1, "lab");
    assert_eq!(
        progress.to_string(),
        "rollout 3/13 enforced · 4 audit · 1 baseline · 1 drifting · 1 carved out"
    );
}

#[test]
fn a_narrow_filter_asks_hubble_for_its_namespaces_only() {
    use tighten::app::Effect;
    use tighten::flows::FlowScope;
    let mut cockpit = Cockpit::new();
    cockpit.key("/");
    let effects = cockpit.type_text("^(auth|data)");
    let scoped = FlowScope::Namespaces(vec!["auth".into(), "databases".into()]);
    assert_eq!(effects.last(), Some(&Effect::ScopeFlows(scoped.clone())));
    // Confirming the same filter asks nothing new.
    assert!(!cockpit.key("enter").iter().any(|e| matches!(e, Effect::ScopeFlows(_))));
    assert_eq!(cockpit.state.flow_scope, scoped);
    cockpit.key("/");
    cockpit.key("ctrl-u");
    let effects = cockpit.type_text("lab");
    assert_eq!(
        effects.last(),
        Some(&Effect::ScopeFlows(FlowScope::Namespaces(vec!["lab".into()])))
    );
    // Without a filter, the whole view is one unfiltered stream again.
    let effects = cockpit.key("esc");
    assert_eq!(effects, [Effect::ScopeFlows(FlowScope::All)]);
    assert_eq!(cockpit.state.flow_scope, FlowScope::All);
}

#[test]
fn w_cycles_the_drops_window_and_the_counts_follow() {
    use tighten::app::state::Tab;
    use tighten::flows::window::Window;
    let mut cockpit = Cockpit::new();
    cockpit.key("3");
    assert_eq!(cockpit.state.detail.window, Window::FiveMinutes);
    cockpit.key("w");
    assert_eq!(cockpit.state.detail.window, Window::OneHour);
    assert_eq!(cockpit.state.detail.tab, Tab::Drops, "w shows what it changed");
    let auth = cockpit.state.traffic.namespace("auth").expect("auth has traffic");
    let hour = auth.drops.window(cockpit.state.now, Window::OneHour.minutes());
    let five = auth.drops.window(cockpit.state.now, Window::FiveMinutes.minutes());
    // The harness holds ten minutes of traffic: the hour sees all of it.
    assert!(hour > five && five > 0, "hour {hour}, five minutes {five}");
    let screen = cockpit.render();
    assert!(screen.contains(&format!("Drop reasons · {hour} in 1h")), "{screen}");
    cockpit.key("w");
    assert_eq!(cockpit.state.detail.window, Window::OneMinute);
}

#[test]
fn the_gate_asks_prometheus_about_the_selected_namespace_and_shows_its_queries() {
    use std::time::Duration;
    use tighten::app::state::PromSetup;
    use tighten::app::{Effect, Msg, update};
    use tighten::prometheus::{PromEvidence, Queries};
    let mut cockpit = Cockpit::new();
    cockpit.state.prometheus.setup = PromSetup::Url("http://127.0.0.1:9".into());
    // The first key already asks about the namespace selected at start.
    let effects = cockpit.type_command("ns databases");
    let asked = effects.iter().rev().find_map(|e| match e {
        Effect::FetchPrometheus { namespace, window } => Some((namespace.clone(), *window)),
        _ => None,
    });
    // Over the namespace's soak window (prod: a day by default).
    assert_eq!(asked, Some(("databases".into(), Duration::from_secs(24 * 3600))));
    // Asked once: no second request while the first is on its way.
    assert!(
        !cockpit
            .key("4")
            .iter()
            .any(|e| matches!(e, Effect::FetchPrometheus { .. }))
    );

    let window = Duration::from_secs(24 * 3600);
    let evidence = PromEvidence {
        window,
        queries: Queries::new("databases", window),
        namespace_labels: Ok(Some(true)),
        drops_into: Ok([
            ("POLICY_DENIED".to_string(), 864.0),
            ("STALE_OR_UNROUTABLE_IP".to_string(), 2.0),
        ]
        .into()),
        drops_from: Ok(Default::default()),
        policy_verdicts: Ok([("forwarded".to_string(), 86400.0), ("dropped".to_string(), 864.0)].into()),
        cluster_drops: Ok(Default::default()),
        node_drops: Ok([(
            "node-a".to_string(),
            tighten::prometheus::NodeDrops {
                policy: 864.0,
                other: 2.0,
            },
        )]
        .into()),
        lost_events: Ok(Some(12.0)),
        map_pressure: Ok(Some(("policy_00123".into(), 0.42))),
    };
    update(
        &mut cockpit.state,
        Msg::PrometheusFetched {
            namespace: "databases".into(),
            at: common::now(),
            evidence: Box::new(evidence),
        },
    );
    let row = cockpit.row("databases");
    let telemetry = row
        .gate
        .items
        .iter()
        .find(|i| i.name == "Telemetry healthy")
        .expect("item");
    assert!(
        telemetry.evidence.starts_with("Hubble lost 12 events in 24h"),
        "{telemetry:?}"
    );
    // A taller terminal shows the whole Gate tab.
    update(&mut cockpit.state, Msg::Resize(120, 60));
    let screen = cockpit.render();
    assert!(screen.contains("Q shows the queries"), "{screen}");
    assert!(
        screen.contains("864 into and 0 from the namespace in 24h, 36.00/h"),
        "{screen}"
    );
    // The answers, biggest first, each increase with its rate over the window.
    assert!(
        screen.contains("POLICY_DENIED 864 (36.00/h) · STALE_OR_UNROUTABLE_IP 2 (0.08/h)"),
        "{screen}"
    );
    assert!(
        screen.contains("forwarded 86400 (1.0/s) · dropped 864 (36.00/h)"),
        "{screen}"
    );
    assert!(screen.contains("node-a 864 policy, 2 other"), "{screen}");
    assert!(screen.contains("Policy drops (Prometheus)"), "{screen}");
    cockpit.key("Q");
    let screen = cockpit.render();
    assert!(
        screen.contains(r#"increase(hubble_drop_total{destination_namespace="databases"}[86400s])"#),
        "{screen}"
    );
}

#[test]
fn an_unreachable_prometheus_is_asked_again_with_backoff_and_said_so() {
    use std::time::Duration;
    use tighten::app::state::PromSetup;
    use tighten::app::{Effect, Msg, update};
    use tighten::prometheus::{PromError, PromEvidence, Queries};
    let mut cockpit = Cockpit::new();
    cockpit.state.prometheus.setup = PromSetup::Url("http://127.0.0.1:9".into());
    cockpit.type_command("ns databases");
    cockpit.key("4");
    let down = || {
        let window = Duration::from_secs(24 * 3600);
        let unreachable = PromError::Unreachable {
            url: "http://127.0.0.1:9".into(),
            message: "Connection refused (os error 111)".into(),
        };
        PromEvidence {
            window,
            queries: Queries::new("databases", window),
            namespace_labels: Err(unreachable.clone()),
            drops_into: Err(unreachable.clone()),
            drops_from: Err(unreachable.clone()),
            policy_verdicts: Err(unreachable.clone()),
            cluster_drops: Err(unreachable.clone()),
            node_drops: Err(unreachable.clone()),
            lost_events: Err(unreachable.clone()),
            map_pressure: Err(unreachable),
        }
    };
    let asks = |effects: Vec<Effect>| effects.iter().any(|e| matches!(e, Effect::FetchPrometheus { .. }));
    let mut now = common::now();
    // Each failed answer doubles the wait: 5 s, then 10 s.
    for (attempt, wait) in [(1, 5), (2, 10)] {
        update(
            &mut cockpit.state,
            Msg::PrometheusFetched {
                namespace: "databases".into(),
                at: now,
                evidence: Box::new(down()),
            },
        );
        assert_eq!(cockpit.state.prometheus.failures, attempt);
        assert!(!asks(update(
            &mut cockpit.state,
            Msg::Tick(now + jiff::SignedDuration::from_secs(wait - 1))
        )));
        update(&mut cockpit.state, Msg::Resize(120, 60));
        let screen = cockpit.render();
        assert!(
            screen.contains(&format!("unreachable, attempt {attempt}, asking again in 1s")),
            "{screen}"
        );
        now += jiff::SignedDuration::from_secs(wait);
        assert!(
            asks(update(&mut cockpit.state, Msg::Tick(now))),
            "asked again after {wait}s"
        );
    }
    // An answer resets the backoff.
    let mut healthy = down();
    healthy.lost_events = Ok(Some(0.0));
    update(
        &mut cockpit.state,
        Msg::PrometheusFetched {
            namespace: "databases".into(),
            at: now,
            evidence: Box::new(healthy),
        },
    );
    assert_eq!(cockpit.state.prometheus.failures, 0);
    assert_eq!(cockpit.state.prometheus.retry_after(), Duration::from_secs(30));
}

#[test]
fn a_one_sided_allow_blocks_the_gate_of_both_namespaces_it_joins() {
    let mut cockpit = Cockpit::new();
    let gate_item = |cockpit: &Cockpit, namespace: &str| {
        cockpit
            .row(namespace)
            .gate
            .items
            .iter()
            .find(|i| i.name == "Allows on both sides")
            .map(|i| (i.check, i.evidence.clone()))
            .expect("the item")
    };
    assert_eq!(gate_item(&cockpit, "databases").0, tighten::gate::Check::Pass);
    // media lets jellyfin reach postgres; databases' staged default-deny has no
    // ingress allow for it, so enforcing databases would drop it.
    let mut snapshot = (*cockpit.demo.snapshot()).clone();
    let allow = serde_json::json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "jellyfin-to-postgres", "namespace": "media"},
        "spec": {"endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "jellyfin"}},
                 "enableDefaultDeny": {"ingress": false, "egress": false},
                 "egress": [{"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "databases", "app": "postgres"}}],
                             "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]}]}
    });
    snapshot
        .policies
        .push(tighten::cluster::PolicyObject::from_manifest(&allow).expect("policy"));
    update(
        &mut cockpit.state,
        Msg::Cluster(tighten::cluster::ClusterEvent::Snapshot(std::sync::Arc::new(snapshot))),
    );
    for namespace in ["databases", "media"] {
        let (check, evidence) = gate_item(&cockpit, namespace);
        assert_eq!(check, tighten::gate::Check::Fail, "{namespace}: {evidence}");
        assert!(
            evidence.starts_with("media/jellyfin-to-postgres: spec.egress[0] allows media/jellyfin-"),
            "{evidence}"
        );
        assert!(evidence.contains("once that default-deny is enforced"), "{evidence}");
    }
}
