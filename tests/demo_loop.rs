//! Drives the demo cluster from the keyboard through a whole rollout and back,
//! asserting every step went through the confirm dialog (and the typed name
//! where required), with effects run by the real runner and mutation guard.

mod common;

use common::Cockpit;
use tighten::app::Effect;
use tighten::app::modal::{Button, Modal};
use tighten::cluster::backup;
use tighten::rollout::Phase;

/// Presses an action key; asserts it only asked for a dry run and changed nothing.
async fn open_dialog(cockpit: &mut Cockpit, key: &str) {
    let before = cockpit.demo.snapshot();
    let effects = cockpit.key(key);
    assert!(
        effects
            .iter()
            .all(|e| matches!(e, Effect::DryRun { .. } | Effect::LoadBackup { .. })),
        "{key} asked for {effects:?}"
    );
    cockpit.settle(effects).await;
    match cockpit.top_modal() {
        Some(Modal::Confirm(dialog)) => assert_eq!(dialog.focus, Button::Cancel, "focus starts on Cancel"),
        other => panic!("{key}: expected the confirm dialog, got {other:?}"),
    }
    assert_eq!(
        cockpit.demo.snapshot().policies,
        before.policies,
        "nothing changes before confirming"
    );
    assert_eq!(cockpit.demo.snapshot().namespaces, before.namespaces);
}

/// Gives the reason a gate that is not go requires, if it does: refused while
/// too short, accepted with enter once long enough.
fn override_gate(cockpit: &mut Cockpit) -> bool {
    let needs = matches!(cockpit.top_modal(), Some(Modal::Confirm(d)) if d.override_reason.is_some());
    if needs {
        cockpit.type_text("drill");
        assert!(cockpit.key("enter").is_empty());
        assert!(
            matches!(cockpit.top_modal(), Some(Modal::Confirm(d)) if d.override_reason.as_ref().is_some_and(|r| !r.accepted)),
            "a five-letter reason is not enough"
        );
        cockpit.type_text(" with soak waived");
        cockpit.key("enter");
        assert!(matches!(cockpit.top_modal(), Some(Modal::Confirm(d)) if d.blocked().is_none() || d.typed.is_some()));
    }
    needs
}

/// Moves focus to the confirm button and activates it.
async fn confirm(cockpit: &mut Cockpit) {
    override_gate(cockpit);
    assert!(cockpit.key("tab").is_empty());
    let effects = cockpit.key("enter");
    assert!(matches!(effects.as_slice(), [Effect::Execute { .. }]), "{effects:?}");
    cockpit.settle(effects).await;
    assert!(cockpit.state.modals.is_empty(), "{:?}", cockpit.state.modals);
}

#[tokio::test]
async fn baseline_stage_enforce_partial_rollback_restore() {
    let mut cockpit = Cockpit::new();
    cockpit.select("network");
    assert_eq!(cockpit.phase("network"), Phase::Observe);

    open_dialog(&mut cockpit, "b").await;
    confirm(&mut cockpit).await;
    assert_eq!(cockpit.phase("network"), Phase::Baseline);

    open_dialog(&mut cockpit, "s").await;
    confirm(&mut cockpit).await;
    assert_eq!(cockpit.phase("network"), Phase::Audit);

    open_dialog(&mut cockpit, "E").await;
    // Just staged: the soak has not passed, so enforcing overrides the gate,
    // and the reason is on the record.
    assert!(matches!(cockpit.top_modal(), Some(Modal::Confirm(d)) if d.override_reason.is_some()));
    confirm(&mut cockpit).await;
    let record = cockpit.state.audit.last().expect("an audit record");
    let reason = record.reason.as_deref().unwrap_or_default();
    assert!(reason.starts_with("gate override (Soak window"), "{reason}");
    assert!(reason.ends_with("drill with soak waived"), "{reason}");
    assert_eq!(cockpit.phase("network"), Phase::Enforced);
    assert!(cockpit.row("network").status.drift.is_empty());

    // Partial rollback deletes: confirming needs the typed namespace name.
    open_dialog(&mut cockpit, "r").await;
    cockpit.key("tab");
    assert!(cockpit.key("enter").is_empty(), "no name typed: nothing happens");
    cockpit.type_text("netwrk");
    assert!(cockpit.key("enter").is_empty(), "wrong name: nothing happens");
    for _ in 0.."netwrk".len() {
        cockpit.key("backspace");
    }
    cockpit.type_text("network");
    let effects = cockpit.key("enter");
    assert!(matches!(effects.as_slice(), [Effect::Execute { .. }]), "{effects:?}");
    cockpit.settle(effects).await;
    assert_eq!(cockpit.phase("network"), Phase::Baseline);

    // The backup was written before the delete and is recorded on the namespace.
    let row = cockpit.row("network");
    let backup_path = row.status.intent.backup.clone().expect("backup recorded");
    let saved = backup::read(std::path::Path::new(&backup_path)).expect("backup readable");
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].name, "tighten-default-deny");

    open_dialog(&mut cockpit, "u").await;
    confirm(&mut cockpit).await;
    assert_eq!(cockpit.phase("network"), Phase::Enforced);

    // Five actions, five audit records, all visible in the Log tab.
    let actions: Vec<_> = cockpit.state.audit_for("network").map(|r| r.action.clone()).collect();
    assert_eq!(
        actions,
        [
            "restore",
            "rollback-default-deny",
            "enforce",
            "stage-default-deny",
            "apply-baseline"
        ]
    );
    let audit = std::fs::read_to_string(cockpit.dir.path().join("audit.jsonl")).expect("audit file");
    assert_eq!(audit.lines().count(), 5);
}

#[tokio::test]
async fn cancel_and_escape_change_nothing() {
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    open_dialog(&mut cockpit, "E").await;
    // Enter with focus on Cancel closes the dialog.
    assert!(cockpit.key("enter").is_empty());
    assert!(cockpit.state.modals.is_empty());
    open_dialog(&mut cockpit, "E").await;
    assert!(cockpit.key("esc").is_empty());
    assert!(cockpit.state.modals.is_empty());
    assert_eq!(cockpit.phase("databases"), Phase::Audit);
    assert_eq!(cockpit.state.audit.len(), 0);
}

#[tokio::test]
async fn ctrl_d_never_deletes_without_the_dialog_and_the_name() {
    let mut cockpit = Cockpit::new();
    cockpit.select("media");
    open_dialog(&mut cockpit, "ctrl-d").await;
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("dialog")
    };
    assert_eq!(dialog.plan.action, tighten::rollout::RolloutAction::RollbackNamespace);
    assert!(dialog.typed.is_some());
    cockpit.key("tab");
    assert!(cockpit.key("enter").is_empty());
    cockpit.type_text("media");
    let effects = cockpit.key("enter");
    cockpit.settle(effects).await;
    assert_eq!(cockpit.phase("media"), Phase::RolledBack);
    assert_eq!(cockpit.demo.snapshot().namespaced_policies("media").count(), 0);
}

#[tokio::test]
async fn protected_namespaces_need_the_typed_name_for_any_action() {
    let mut cockpit = Cockpit::new();
    cockpit.select("flux-system");
    open_dialog(&mut cockpit, "b").await;
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("dialog")
    };
    assert_eq!(dialog.typed_reason, Some("this namespace is protected"));
    cockpit.key("tab");
    assert!(cockpit.key("enter").is_empty());
    cockpit.type_text("flux-system"); // 'l', 'u', 's' are bound keys: they must be text here
    let effects = cockpit.key("enter");
    cockpit.settle(effects).await;
    assert_eq!(cockpit.phase("flux-system"), Phase::Baseline);
}

#[tokio::test]
async fn carve_out_asks_for_a_reason_first() {
    let mut cockpit = Cockpit::new();
    cockpit.select("legacy-batch");
    assert!(cockpit.key("x").is_empty());
    assert!(matches!(cockpit.top_modal(), Some(Modal::Prompt { .. })));
    cockpit.type_text("batch jobs move off the cluster in Q1");
    let effects = cockpit.key("enter");
    assert!(matches!(effects.as_slice(), [Effect::DryRun { .. }]));
    cockpit.settle(effects).await;
    confirm(&mut cockpit).await;
    assert_eq!(cockpit.phase("legacy-batch"), Phase::CarvedOut);
    let row = cockpit.row("legacy-batch");
    assert_eq!(
        row.status.intent.carve_out_reason.as_deref(),
        Some("batch jobs move off the cluster in Q1")
    );
}

#[tokio::test]
async fn read_only_disables_every_mutating_key() {
    let mut cockpit = Cockpit::with(common::Options {
        readonly: true,
        ..Default::default()
    });
    cockpit.select("databases");
    for key in ["o", "b", "s", "E", "r", "R", "ctrl-d", "x", "u"] {
        assert!(cockpit.key(key).is_empty(), "{key}");
        assert!(cockpit.state.modals.is_empty(), "{key} opened a dialog");
    }
    assert!(
        cockpit
            .state
            .notices
            .back()
            .is_some_and(|n| n.text.contains("read-only"))
    );
    assert_eq!(cockpit.phase("databases"), Phase::Audit);
}

#[tokio::test]
async fn the_preview_predicts_exactly_what_enforcing_then_drops() {
    let mut cockpit = Cockpit::new();
    let peers = |list: Vec<tighten::flows::window::Ranked<tighten::flows::DropPeer>>| {
        let mut keys: Vec<(String, String, u16)> = list
            .into_iter()
            .map(|r| (r.key.source, r.key.destination, r.key.port))
            .collect();
        keys.sort();
        keys
    };
    let predicted = peers(
        cockpit
            .state
            .preview
            .namespace("databases")
            .expect("previewed")
            .peers
            .top(common::now(), 10, 50),
    );
    assert_eq!(
        predicted,
        vec![
            (
                "legacy-batch/report-cron".to_string(),
                "databases/postgres".to_string(),
                5432
            ),
            ("monitoring/grafana".to_string(), "databases/postgres".to_string(), 5432),
            ("stage/shop-api".to_string(), "databases/redis".to_string(), 6379),
        ]
    );
    // Enforce, then let the demo's traffic run a minute under the new policy.
    cockpit.select("databases");
    open_dialog(&mut cockpit, "E").await;
    confirm(&mut cockpit).await;
    let later = common::now() + jiff::SignedDuration::from_mins(1);
    let flows = cockpit.demo.flows_between(common::now(), later, 9);
    tighten::app::update(
        &mut cockpit.state,
        tighten::app::Msg::Flows(tighten::flows::FlowEvent::Batch(flows)),
    );
    tighten::app::update(&mut cockpit.state, tighten::app::Msg::Tick(later));
    let dropped = cockpit
        .state
        .traffic
        .namespace("databases")
        .expect("traffic")
        .peers
        .top(later, 2, 50);
    assert_eq!(
        peers(dropped),
        predicted,
        "what the preview said would drop is what drops"
    );
}

#[tokio::test]
async fn suggestions_clear_the_preview_so_enforcing_drops_nothing() {
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    let would_drop = |c: &Cockpit| c.state.preview.window("databases", common::now(), 10).map(|(d, _)| d);
    assert!(would_drop(&cockpit).is_some_and(|n| n > 0));

    open_dialog(&mut cockpit, "S").await;
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("dialog")
    };
    let created: Vec<_> = dialog.plan.changes.iter().map(|c| c.target().name).collect();
    assert_eq!(created, ["tighten-allow-postgres", "tighten-allow-redis"]);
    assert!(dialog.typed.is_none(), "creating allows deletes nothing");
    confirm(&mut cockpit).await;
    assert_eq!(
        cockpit.phase("databases"),
        Phase::Audit,
        "suggestions do not change the phase"
    );
    assert_eq!(would_drop(&cockpit), Some(0), "the preview is clear");

    open_dialog(&mut cockpit, "E").await;
    confirm(&mut cockpit).await;
    let later = common::now() + jiff::SignedDuration::from_mins(1);
    let flows = cockpit.demo.flows_between(common::now(), later, 11);
    tighten::app::update(
        &mut cockpit.state,
        tighten::app::Msg::Flows(tighten::flows::FlowEvent::Batch(flows)),
    );
    let drops = cockpit
        .state
        .traffic
        .namespace("databases")
        .expect("traffic")
        .policy_drops
        .sum(tighten::flows::window::minute_of(later), 2);
    assert_eq!(
        drops, 0,
        "enforced with the suggested allows: nothing the demo sends is dropped"
    );
}

/// `S` in Audit writes allows for the whole soak, not the ten-minute window
/// alone: the nightly job the ledger saw once and the webhook nobody called.
#[tokio::test]
async fn suggestions_cover_the_soak_and_the_declared_paths_nobody_exercised() {
    use std::collections::BTreeMap;
    use tighten::flows::{Direction, Endpoint, Flow, Protocol, Verdict};
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    let pod = |ns: &str, app: &str| {
        Endpoint::of_pod(
            ns,
            &format!("{app}-0"),
            app,
            &BTreeMap::from([("app".to_string(), app.to_string())]),
            &BTreeMap::new(),
        )
    };
    let flow = |source: Endpoint, destination: Endpoint, port: u16| Flow {
        time: common::now() - jiff::SignedDuration::from_hours(9),
        verdict: Verdict::Forwarded,
        drop_reason: None,
        direction: Direction::Ingress,
        source,
        destination,
        protocol: Protocol::Tcp,
        source_port: 40_000,
        destination_port: port,
        is_reply: false,
        node: String::new(),
        destination_names: Vec::new(),
        denied_by: Vec::new(),
        icmp: None,
    };
    let apiserver = Endpoint {
        labels: vec!["reserved:kube-apiserver".into()],
        ..Endpoint::default()
    };
    let verdict = tighten::ledger::feed::SoakVerdict {
        flows: vec![
            (
                flow(pod("batch", "report"), pod("databases", "postgres"), 5432),
                Direction::Ingress,
            ),
            (
                flow(apiserver, pod("databases", "schema-hook"), 9443),
                Direction::Ingress,
            ),
        ],
        ..Default::default()
    };
    tighten::app::update(
        &mut cockpit.state,
        tighten::app::Msg::LedgerSoak(BTreeMap::from([("databases".to_string(), verdict)])),
    );
    open_dialog(&mut cockpit, "S").await;
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("dialog")
    };
    let created: Vec<_> = dialog.plan.changes.iter().map(|c| c.target().name).collect();
    assert_eq!(
        created,
        [
            "tighten-allow-postgres",
            "tighten-allow-redis",
            "tighten-allow-schema-hook"
        ]
    );
    let yaml: String = dialog.plan.changes.iter().map(|c| format!("{c:?}")).collect();
    assert!(
        yaml.contains("report") && yaml.contains("batch"),
        "the nightly job is let in"
    );
    assert!(
        yaml.contains("kube-apiserver") && yaml.contains("9443"),
        "the webhook is let in"
    );
}

#[tokio::test]
async fn a_rollback_of_flux_owned_policies_pauses_flux_until_resumed() {
    use tighten::rollout::gitops::Owner;
    let mut cockpit = Cockpit::new();
    cockpit.select("auth");
    let owner = Owner::Flux {
        namespace: "flux-system".into(),
        name: "auth-policies".into(),
    };
    let suspended = |cockpit: &Cockpit| {
        cockpit
            .demo
            .snapshot()
            .kustomizations
            .clone()
            .unwrap_or_default()
            .iter()
            .find(|k| k.name == "auth-policies")
            .is_some_and(|k| k.suspended)
    };

    open_dialog(&mut cockpit, "R").await;
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("no dialog")
    };
    // Offered, ticked, dry-run checked, and the root Kustomization is named.
    assert_eq!(dialog.plan.owners.len(), 1);
    assert_eq!(dialog.plan.owners[0].owner, owner);
    assert_eq!(dialog.plan.pauses_owners(), Some(true));
    let text: Vec<&str> = dialog.review.iter().map(|l| l.text.as_str()).collect();
    assert!(
        text.contains(&"  ✓ [x] suspend Flux Kustomization flux-system/auth-policies"),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("applied by Flux Kustomization flux-system/flux-system, which will undo the pause")),
        "{text:#?}"
    );
    // ctrl-s leaves it out, and says what that means; again puts it back.
    cockpit.key("ctrl-s");
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("no dialog")
    };
    assert_eq!(dialog.plan.pauses_owners(), Some(false));
    assert!(!dialog.plan.annotations.set.contains_key("tighten.dev/paused-owners"));
    assert!(
        dialog
            .review
            .iter()
            .any(|l| l.text.contains("[ ] suspend") && l.text.contains("left out"))
    );
    cockpit.key("ctrl-s");
    cockpit.type_text("auth");
    confirm(&mut cockpit).await;
    assert!(suspended(&cockpit), "suspended with the rollback");
    let kustomization = cockpit.demo.snapshot().kustomizations.clone().unwrap_or_default();
    let k = kustomization.iter().find(|k| k.name == "auth-policies").expect("k");
    assert_eq!(
        k.annotations["tighten.dev/suspended-reason"],
        "tighten rollback-namespace of auth"
    );
    assert_eq!(
        cockpit.state.audit.last().map(|r| r.changes[0].clone()).as_deref(),
        Some("suspend Flux Kustomization flux-system/auth-policies")
    );

    // Flagged on the row until resumed.
    let row = cockpit.row("auth");
    assert_eq!(row.paused_owners.len(), 1);
    assert!(row.paused_owners[0].paused);
    assert!(cockpit.render().contains("flux ⏸"));

    open_dialog(&mut cockpit, "U").await;
    confirm(&mut cockpit).await;
    assert!(!suspended(&cockpit), "resumed");
    let row = cockpit.row("auth");
    assert!(row.paused_owners.is_empty());
    assert!(!cockpit.render().contains("flux ⏸"));
}

#[tokio::test]
async fn promote_copies_the_selected_namespaces_app_allows_through_the_dialog() {
    let mut cockpit = Cockpit::new();
    cockpit.select("auth");
    let effects = cockpit.type_command("promote databases");
    assert!(matches!(effects.as_slice(), [Effect::DryRun { .. }]), "{effects:?}");
    cockpit.settle(effects).await;
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("expected the confirm dialog, got {:?}", cockpit.top_modal())
    };
    assert_eq!(dialog.plan.namespace, "databases");
    assert_eq!(dialog.focus, Button::Cancel);
    assert_eq!(
        dialog.plan.summary(),
        [
            "create CiliumNetworkPolicy databases/allow-keycloak-from-ingress",
            "create CiliumNetworkPolicy databases/allow-keycloak-to-postgres"
        ]
    );
    confirm(&mut cockpit).await;
    let copies: Vec<_> = cockpit
        .demo
        .snapshot()
        .namespaced_policies("databases")
        .filter(|p| p.annotations.contains_key("tighten.dev/promoted-from"))
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(copies.len(), 2, "{copies:?}");
    let record = cockpit.state.audit.last().expect("record");
    assert_eq!(record.action, "promote");
    assert_eq!(record.reason.as_deref(), Some("promoted from auth"));
    // An unknown target is said, and nothing is asked.
    assert!(cockpit.type_command("promote nowhere").is_empty());
}

#[tokio::test]
async fn a_teams_rollout_is_adopted_then_stepped_back_by_flipping_its_own_default_deny() {
    let mut cockpit = Cockpit::new();
    cockpit.select("orders");
    assert_eq!(cockpit.phase("orders"), Phase::Enforced);
    assert_eq!(cockpit.row("orders").status.intent.phase, None);

    open_dialog(&mut cockpit, "a").await;
    match cockpit.top_modal() {
        Some(Modal::Confirm(dialog)) => {
            let text: Vec<&str> = dialog.review.iter().map(|l| l.text.as_str()).collect();
            assert!(text.contains(&"What tighten read"), "{text:?}");
            assert!(
                text.iter().any(|l| l.contains("egressDeny: [{}]")),
                "the form tighten recognised: {text:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    confirm(&mut cockpit).await;
    let status = &cockpit.row("orders").status;
    assert_eq!(status.intent.phase, Some(Phase::Enforced));
    assert!(status.drift.is_empty(), "{:?}", status.drift);

    // Back to Audit: the team's default-deny is switched off, no second one
    // created. Flux applies orders' policies, so the step is a commit in its
    // repository (refused here, where the demo has none): the plan is what
    // the commit would carry.
    let plan = tighten::app::update::compute_plan(
        &cockpit.state,
        "orders",
        tighten::rollout::Request::Simple(tighten::rollout::RolloutAction::StageDefaultDeny),
    )
    .expect("a plan");
    let [tighten::rollout::Change::Update { before, after }] = plan.changes.as_slice() else {
        panic!("one update: {:?}", plan.changes)
    };
    assert_eq!(before.name, "default-deny", "the team's own");
    assert_eq!(tighten::rollout::phase::default_deny_flags(after), (false, false));
    open_dialog(&mut cockpit, "s").await;
    assert!(
        matches!(cockpit.top_modal(), Some(Modal::Confirm(d)) if d.blocked().is_some_and(|b| b.contains("no repository is configured")))
    );
}

/// A forward step on a namespace Flux applies is not written into the
/// cluster when no checkout of Flux's repository is configured: the dialog
/// says why and what to do instead, and cannot be confirmed.
#[tokio::test]
async fn a_forward_step_on_a_flux_owned_namespace_needs_its_repository() {
    let mut cockpit = Cockpit::new();
    cockpit.select("auth");
    open_dialog(&mut cockpit, "s").await;
    let Some(Modal::Confirm(dialog)) = cockpit.top_modal() else {
        panic!("dialog")
    };
    let blocked = dialog.blocked().unwrap_or_default();
    assert!(blocked.contains("no repository is configured"), "{blocked}");
    assert!(
        blocked.contains("Flux Kustomization flux-system/auth-policies would put back"),
        "{blocked}"
    );
    assert!(blocked.contains("tighten export auth"), "{blocked}");
    cockpit.key("tab");
    assert!(cockpit.key("enter").is_empty(), "nothing to confirm");
}
