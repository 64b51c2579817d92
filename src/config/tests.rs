//! End-to-end tests of [`load`]: files on disk to a ready configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::action::Action;

const CONFIG: &str = r#"
theme = "light"
keymap = "default"

[soak]
stage = "6h"

[contexts."prod-eu"]
theme = "production"
protected_namespaces = ["kube-system", "flux-system", "payments"]
"#;

fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn sources(dir: &Path) -> ConfigSources {
    ConfigSources {
        config_dir: Some(dir.to_path_buf()),
        ..ConfigSources::default()
    }
}

#[test]
fn no_files_at_all_gives_defaults() {
    let loaded = load(&ConfigSources::default(), "kind-kind").unwrap();
    assert!(loaded.diagnostics.is_empty());
    assert_eq!(loaded.settings, Settings::default());
    assert_eq!(loaded.theme.name, "dark");
    assert_eq!(loaded.keymap, Keymap::embedded_default());

    let empty = tempfile::tempdir().unwrap();
    let loaded = load(&sources(empty.path()), "kind-kind").unwrap();
    assert!(loaded.diagnostics.is_empty());
    assert_eq!(loaded.settings, Settings::default());
}

#[test]
fn theme_is_picked_per_context_and_overridable() {
    let dir = config_dir(&[("config.toml", CONFIG)]);
    let loaded = load(&sources(dir.path()), "prod-eu").unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.theme.name, "production");

    let loaded = load(&sources(dir.path()), "kind-kind").unwrap();
    assert_eq!(loaded.theme.name, "light");

    let mut src = sources(dir.path());
    src.theme_override = Some("mono".into());
    assert_eq!(load(&src, "prod-eu").unwrap().theme.name, "mono");
}

#[test]
fn settings_apply_per_context() {
    let dir = config_dir(&[("config.toml", CONFIG)]);
    let loaded = load(&sources(dir.path()), "prod-eu").unwrap();
    let soak = loaded.settings.soak;
    assert_eq!(soak.for_tier(Some("stage")), Duration::from_secs(6 * 3600));
    assert_eq!(soak.for_tier(Some("prod")), Duration::from_secs(24 * 3600));
    let prod = loaded.settings.for_context("prod-eu");
    assert!(prod.is_protected("payments"));
    let lab = loaded.settings.for_context("lab");
    assert_eq!(lab.protected_namespaces, DEFAULT_PROTECTED_NAMESPACES);
}

#[test]
fn broken_config_toml_is_a_diagnostic_and_defaults_apply() {
    let dir = config_dir(&[("config.toml", "theme = \"light\"\n[soak\nlab = \"1h\"\n")]);
    let loaded = load(&sources(dir.path()), "kind-kind").unwrap();
    assert_eq!(loaded.diagnostics.len(), 1, "{:?}", loaded.diagnostics);
    let diag = &loaded.diagnostics[0];
    assert_eq!(diag.file, dir.path().join("config.toml"));
    assert_eq!(diag.line, Some(2));
    assert!(diag.message.contains("using default settings"));
    assert_eq!(loaded.settings, Settings::default());
    assert_eq!(loaded.theme.name, "dark");
}

#[test]
fn explicit_config_must_exist_and_parse() {
    let dir = config_dir(&[("broken.toml", "a = 1\nb = = 2\n"), ("good.toml", CONFIG)]);

    let mut src = sources(dir.path());
    src.explicit_config = Some(dir.path().join("broken.toml"));
    let err = load(&src, "kind-kind").unwrap_err();
    let message = err.to_string();
    let expected = format!("{}:2:", dir.path().join("broken.toml").display());
    assert!(message.contains(&expected), "{message}");

    src.explicit_config = Some(dir.path().join("missing.toml"));
    let err = load(&src, "kind-kind").unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("missing.toml"), "{err}");

    src.explicit_config = Some(dir.path().join("good.toml"));
    assert_eq!(load(&src, "prod-eu").unwrap().theme.name, "production");
}

#[test]
fn explicit_config_with_bad_fields_still_loads() {
    let dir = config_dir(&[("c.toml", "[soak]\nlab = \"soon\"\n")]);
    let mut src = sources(dir.path());
    src.explicit_config = Some(dir.path().join("c.toml"));
    let loaded = load(&src, "x").unwrap();
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(loaded.diagnostics[0].line, Some(2));
}

#[test]
fn user_theme_and_keymap_files_are_used() {
    let dir = config_dir(&[
        ("config.toml", "theme = \"mine\"\nkeymap = \"vim\"\n"),
        ("themes/mine.toml", "inherits = \"mono\"\n[styles]\ndanger = \"red\"\n"),
        (
            "keymaps/vim.toml",
            "[normal]\nprepend_keymap = [ { on = \"ctrl-q\", run = \"quit\" } ]\n",
        ),
    ]);
    let loaded = load(&sources(dir.path()), "any").unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.theme.name, "mine");
    assert_eq!(
        loaded.theme.style(ThemeRole::Danger),
        ratatui::style::Style::new().fg(ratatui::style::Color::Red)
    );
    assert_eq!(loaded.theme.style(ThemeRole::Selection).bg, None);
    let ctrl_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
    assert_eq!(loaded.keymap.resolve(Mode::Normal, &ctrl_q), Some(Action::Quit));
}

#[test]
fn all_problems_are_collected() {
    let dir = config_dir(&[("config.toml", "theme = \"nope\"\nkeymap = \"nope\"\ncolour = 1\n")]);
    let loaded = load(&sources(dir.path()), "any").unwrap();
    let messages: Vec<_> = loaded.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].contains("unknown key \"colour\""));
    assert!(messages[1].contains("unknown theme \"nope\""));
    assert!(messages[2].contains("unknown keymap \"nope\""));
    assert_eq!(loaded.theme.name, "dark");
}
