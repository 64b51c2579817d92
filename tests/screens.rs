//! Rendered screens, snapshotted as text at 120x40 and 80x24, plus assertions on
//! cell styles where colour carries meaning (text snapshots cannot see colour).

mod common;

use common::{Cockpit, Options};
use ratatui::style::Color;
use tighten::config::{Theme, ThemeRole};

/// Snapshot with the test's temp dir replaced, so paths are stable.
macro_rules! screen {
    ($name:expr, $cockpit:expr) => {{
        let cockpit: &Cockpit = &$cockpit;
        let dir = regex::escape(&cockpit.dir_path());
        insta::with_settings!({ filters => vec![(dir.as_str(), "[TMP]")], omit_expression => true }, {
            insta::assert_snapshot!($name, cockpit.render());
        });
    }};
}

fn small() -> Options {
    Options {
        size: (80, 24),
        ..Options::default()
    }
}

#[test]
fn main_screen() {
    screen!("main_120x40", Cockpit::new());
    screen!("main_80x24", Cockpit::with(small()));
}

#[test]
fn every_tab() {
    let mut cockpit = Cockpit::new();
    cockpit.select("stage");
    cockpit.key("2");
    screen!("policies_stage_120x40", cockpit);
    cockpit.select("cert-manager");
    cockpit.key("3");
    screen!("flows_cert_manager_120x40", cockpit);
    cockpit.key("v");
    screen!("flows_dropped_120x40", cockpit);
    cockpit.select("databases");
    cockpit.key("4");
    screen!("gate_databases_120x40", cockpit);
    cockpit.select("lab");
    cockpit.key("1");
    screen!("drift_lab_120x40", cockpit);
    cockpit.select("databases");
    screen!("preview_databases_120x40", cockpit);
}

#[test]
fn small_terminal_tabs() {
    let mut cockpit = Cockpit::with(small());
    cockpit.select("auth");
    screen!("drops_auth_80x24", cockpit);
    cockpit.key("2");
    screen!("policies_auth_80x24", cockpit);
}

#[tokio::test]
async fn dialogs() {
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    cockpit.press("E").await;
    screen!("confirm_enforce_120x40", cockpit);
    cockpit.key("esc");

    let mut small = Cockpit::with(small());
    small.select("cert-manager");
    small.press("r").await;
    small.type_text("cert");
    screen!("confirm_rollback_typed_80x24", small);
}

#[tokio::test]
async fn log_after_an_action() {
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    cockpit.press("E").await;
    // The soak has not passed: the gate is overridden with a reason.
    cockpit.type_text("incident 4711, CAB approved");
    cockpit.key("enter");
    cockpit.key("tab");
    cockpit.press("enter").await;
    cockpit.key("5");
    screen!("log_databases_120x40", cockpit);
}

#[test]
fn help_yaml_filter_and_readonly() {
    let mut cockpit = Cockpit::new();
    cockpit.key("?");
    screen!("help_120x40", cockpit);
    cockpit.key("esc");

    cockpit.key("2");
    cockpit.key("enter");
    cockpit.key("enter");
    screen!("yaml_120x40", cockpit);
    cockpit.key("esc");
    cockpit.key("esc");

    cockpit.key("/");
    cockpit.type_text("!prod");
    screen!("filter_inverted_120x40", cockpit);

    screen!(
        "readonly_80x24",
        Cockpit::with(Options {
            readonly: true,
            ..small()
        })
    );
}

/// Finds the first cell whose row text contains `row_text` and that starts `word`.
fn style_of(cockpit: &Cockpit, row_text: &str, word: &str) -> ratatui::style::Style {
    let buffer = cockpit.buffer();
    let text = cockpit.render();
    for (y, line) in text.lines().enumerate() {
        if line.contains(row_text)
            && let Some(byte) = line.find(word)
        {
            let x = line[..byte].chars().count() as u16;
            return buffer[(x, y as u16)].style();
        }
    }
    panic!("{word:?} not found on a line with {row_text:?}");
}

#[test]
fn phases_are_coloured_by_the_theme() {
    let cockpit = Cockpit::new();
    let dark = Theme::load("dark", None, &mut Vec::new());
    assert_eq!(
        style_of(&cockpit, "cert-manager", "Enforced").fg,
        dark.style(ThemeRole::PhaseEnforced).fg
    );
    assert_eq!(
        style_of(&cockpit, "databases", "Audit").fg,
        dark.style(ThemeRole::PhaseAudit).fg
    );
    assert_ne!(
        dark.style(ThemeRole::PhaseEnforced).fg,
        dark.style(ThemeRole::PhaseAudit).fg
    );
    assert_eq!(style_of(&cockpit, "lab", "⚠ drift").fg, dark.style(ThemeRole::Drift).fg);
}

#[test]
fn the_production_theme_paints_the_frame_red() {
    let prod = Cockpit::with(Options {
        theme: "production",
        ..Options::default()
    });
    let frame = prod.buffer()[(0, 1)].style();
    let Some(Color::Rgb(r, g, b)) = frame.fg else {
        panic!("expected an RGB border, got {frame:?}")
    };
    assert!(
        r >= 200 && r >= g.saturating_add(80) && r >= b.saturating_add(80),
        "production border is red: {r},{g},{b}"
    );
    let dark = Cockpit::new();
    assert_ne!(dark.buffer()[(0, 1)].style().fg, frame.fg);
}

#[test]
fn read_only_hints_are_shown_disabled() {
    let cockpit = Cockpit::with(Options {
        readonly: true,
        ..Options::default()
    });
    let theme = Theme::load("dark", None, &mut Vec::new());
    let disabled = theme.style(ThemeRole::ButtonDisabled);
    assert_eq!(style_of(&cockpit, "baseline", "b baseline").fg, disabled.fg);
    assert!(cockpit.render().lines().next().is_some_and(|l| l.contains("READ-ONLY")));
}

#[tokio::test]
async fn tiny_and_odd_terminal_sizes_never_panic() {
    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    cockpit.press("E").await;
    let screens: Vec<Vec<&str>> = vec![
        vec![],
        vec!["esc", "?"],
        vec!["esc", "2", "enter", "enter"],
        vec!["esc", "esc", "/"],
    ];
    for keys in screens {
        for key in keys {
            cockpit.key(key);
        }
        for (w, h) in [(0, 0), (1, 1), (10, 3), (20, 5), (40, 10), (79, 23), (300, 100)] {
            cockpit.state.viewport = (w, h);
            let _ = cockpit.render();
        }
    }
}

#[test]
fn the_drops_tab_shows_what_enforcing_would_drop_over_the_whole_soak() {
    use std::collections::BTreeMap;
    use tighten::app::Msg;
    use tighten::flows::{Direction, Protocol};
    use tighten::ledger::SoakDrop;

    let mut cockpit = Cockpit::new();
    cockpit.select("databases");
    let nine_hours_ago = cockpit.state.now - jiff::SignedDuration::from_hours(9);
    let nightly = SoakDrop {
        source: "nightly/backup".into(),
        destination: "databases/postgres".into(),
        port: 5432,
        protocol: Protocol::Tcp,
        direction: Direction::Ingress,
        dns: String::new(),
        first: nine_hours_ago,
        last: nine_hours_ago,
        count: 1,
        coarse: false,
    };
    // And a webhook the API server calls, which nothing called during the soak.
    let hook = tighten::declared::DeclaredPath {
        origin: "ValidatingWebhookConfiguration schema-check → Service databases/schema-hook:443".into(),
        service: "databases/schema-hook:443".into(),
        sources: vec![tighten::flows::Endpoint {
            labels: vec!["reserved:kube-apiserver".into()],
            ..Default::default()
        }],
        destination: tighten::flows::Endpoint::of_pod(
            "databases",
            "schema-hook-0",
            "schema-hook",
            &BTreeMap::from([("app".to_string(), "schema-hook".to_string())]),
            &BTreeMap::new(),
        ),
        port: 9443,
        protocol: Protocol::Tcp,
    };
    let allow = tighten::policy::suggest::suggest("databases", [(&hook.flow(&hook.sources[0]), Direction::Ingress)])
        .into_iter()
        .next();
    let verdict = tighten::ledger::feed::SoakVerdict {
        drops: vec![nightly],
        declared: tighten::ledger::judge::DeclaredVerdict {
            judged: 1,
            unexercised: vec![tighten::ledger::judge::Unexercised {
                path: hook,
                direction: Direction::Ingress,
                allow,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let _ = tighten::app::update(
        &mut cockpit.state,
        Msg::LedgerSoak(BTreeMap::from([("databases".to_string(), verdict)])),
    );
    cockpit.state.viewport = (200, 50);
    cockpit.key("1");
    let screen = cockpit.render();
    assert!(
        screen.contains("Would drop if enforced, over the soak (ledger): 1 connection"),
        "{screen}"
    );
    let line = screen
        .lines()
        .find(|l| l.contains("nightly/backup"))
        .unwrap_or_else(|| panic!("{screen}"));
    let seen = nine_hours_ago.strftime("%m-%d %H:%M").to_string();
    assert!(line.contains("5432/TCP") && line.matches(&seen).count() == 2, "{line}");
    assert!(
        screen.contains("Declared paths never exercised during the soak, would be dropped: 1"),
        "{screen}"
    );
    let line = screen
        .lines()
        .find(|l| l.contains("kube-apiserver → databases/schema-hook:9443/TCP"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains("ValidatingWebhookConfiguration schema-check"), "{line}");
    assert!(
        line.contains("ingress to app=schema-hook from kube-apiserver on 9443/TCP"),
        "{line}"
    );
    cockpit.key("4");
    let gate = cockpit.render();
    assert!(gate.contains("Would-drop over the soak"), "{gate}");
    assert!(gate.contains("Declared paths"), "{gate}");
}

/// The table builds only the rows on screen, and the selection stays among
/// them however far down it is.
#[test]
fn a_selection_below_the_fold_is_on_screen() {
    let mut cockpit = Cockpit::new();
    let last = cockpit
        .state
        .table
        .visible
        .last()
        .map(|&i| cockpit.state.rows[i].name.clone())
        .expect("rows");
    let first = cockpit.state.rows[cockpit.state.table.visible[0]].name.clone();
    cockpit.select(&last);
    cockpit.state.viewport = (100, 18);
    let screen = cockpit.render();
    let table: Vec<&str> = screen
        .lines()
        .take_while(|l| !l.starts_with('┌') || l.contains("Namespaces"))
        .collect();
    assert!(table.iter().any(|l| l.contains(&last)), "{screen}");
    assert!(
        !table.iter().any(|l| l.contains(&format!("│{first} "))),
        "scrolled past the first: {screen}"
    );
}
