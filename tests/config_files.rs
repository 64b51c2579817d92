//! Broken configuration files on disk: the cockpit still starts, on defaults for
//! the bad entries, and says which file and line are wrong.

mod common;

use common::{Cockpit, Options};
use tighten::config::{self, ConfigSources};

#[test]
fn broken_files_are_reported_and_the_cockpit_still_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config_dir = dir.path().join("tighten");
    std::fs::create_dir_all(config_dir.join("themes")).expect("dirs");
    std::fs::write(
        config_dir.join("config.toml"),
        "theme = \"mine\"\nprotected_namespaces = [\"kube-system\", \"payments\"]\n[soak]\nprod = \"a fortnight\"\n",
    )
    .expect("config");
    std::fs::write(
        config_dir.join("themes/mine.toml"),
        "inherits = \"dark\"\n[styles]\nphase_enforced = \"not-a-colour\"\nphase_audit = \"#ffcc00\"\n",
    )
    .expect("theme");
    std::fs::write(config_dir.join("keymap.toml"), "[normal]\nprepend_keymap = [\n  { on = \"F\", run = \"enforce-now\" },\n  { on = \"e\", run = \"enforce\" },\n]\n")
        .expect("keymap");

    let sources = ConfigSources {
        config_dir: Some(config_dir.clone()),
        ..ConfigSources::default()
    };
    let loaded = config::load(&sources, "demo").expect("only an explicit --config can fail");
    let shown: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(loaded.diagnostics.len(), 3, "{shown:#?}");
    assert!(shown.iter().any(|d| d.contains("config.toml:4")), "{shown:#?}");
    assert!(shown.iter().any(|d| d.contains("mine.toml:3")), "{shown:#?}");
    assert!(
        shown
            .iter()
            .any(|d| d.contains("keymap.toml:3") && d.contains("enforce-now")),
        "{shown:#?}"
    );

    // The good entries of the same files still apply.
    assert!(loaded.settings.for_context("demo").is_protected("payments"));
    let audit = loaded.theme.style(config::ThemeRole::PhaseAudit).fg;
    assert_eq!(audit, Some(ratatui::style::Color::Rgb(0xff, 0xcc, 0x00)));

    let mut cockpit = Cockpit::with(Options {
        loaded: Some(loaded),
        ..Options::default()
    });
    let screen = cockpit.render();
    assert!(
        screen.lines().last().is_some_and(|l| l.contains("3 config problem(s)")),
        "{screen}"
    );
    // The user's binding works; the broken one was skipped.
    cockpit.select("databases");
    assert!(!cockpit.key("e").is_empty(), "e enforces");
    cockpit.key("esc");
    cockpit.key("?");
    let help = cockpit.render();
    assert!(help.contains("mine.toml:3"), "{help}");
}
