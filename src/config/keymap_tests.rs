//! Tests for keymap layering (a child module of `keymap`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use crossterm::event::{KeyCode, KeyModifiers};

use super::*;

fn ev(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

fn ch(c: char) -> KeyEvent {
    ev(KeyCode::Char(c), KeyModifiers::NONE)
}

/// Loads keymap `name` with `keymap.toml` (or `keymaps/<name>.toml`) = `text`.
fn load_user(name: &str, text: &str) -> (Keymap, Vec<Diagnostic>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = keymap_file(name, dir.path());
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    let mut diags = Vec::new();
    let keymap = Keymap::load(name, Some(dir.path()), &mut diags);
    (keymap, diags, dir)
}

#[test]
fn shipped_default_parses_cleanly() {
    let mut diags = Vec::new();
    let mut keymap = Keymap {
        name: "default".into(),
        layers: Default::default(),
    };
    keymap.apply_file(Path::new(DEFAULT_KEYMAP_PATH), DEFAULT_KEYMAP, &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(keymap, Keymap::embedded_default());
    for mode in Mode::ALL {
        assert!(!keymap.bindings(mode).is_empty(), "{mode} is empty");
    }
}

#[test]
fn default_bindings_resolve() {
    let km = Keymap::embedded_default();
    let n = Mode::Normal;
    assert_eq!(
        km.resolve(n, &ev(KeyCode::Char('E'), KeyModifiers::SHIFT)),
        Some(Action::Enforce)
    );
    assert_eq!(km.resolve(n, &ch('E')), Some(Action::Enforce));
    assert_eq!(km.resolve(n, &ch('e')), None);
    assert_eq!(
        km.resolve(n, &ev(KeyCode::Char('d'), KeyModifiers::CONTROL)),
        Some(Action::RollbackNamespace)
    );
    assert_eq!(km.resolve(n, &ch('d')), None);
    assert_eq!(
        km.resolve(n, &ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
        Some(Action::PrevTab)
    );
    assert_eq!(
        km.resolve(n, &ev(KeyCode::Char('?'), KeyModifiers::SHIFT)),
        Some(Action::Help)
    );
    assert_eq!(
        km.resolve(n, &ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Action::Quit)
    );
    assert_eq!(km.resolve(n, &ch('c')), None);
    assert_eq!(km.resolve(n, &ch(' ')), Some(Action::TogglePause));
    assert_eq!(km.resolve(Mode::Viewer, &ch(' ')), Some(Action::PageDown));
    assert_eq!(km.resolve(Mode::Help, &ch('q')), Some(Action::Back));
    assert_eq!(km.resolve(Mode::Confirm, &ch('l')), Some(Action::FocusNext));
    assert_eq!(km.resolve(Mode::Input, &ch('q')), None);
}

#[test]
fn hints_and_descriptions() {
    let km = Keymap::embedded_default();
    assert_eq!(
        km.keys_for(Mode::Normal, Action::RollbackNamespace),
        ["R".parse::<KeyChord>().unwrap(), "ctrl-d".parse().unwrap()]
    );
    assert_eq!(km.first_key_label(Mode::Normal, Action::Enforce).as_deref(), Some("E"));
    assert_eq!(
        km.first_key_label(Mode::Normal, Action::PrevTab).as_deref(),
        Some("shift-tab")
    );
    assert_eq!(km.first_key_label(Mode::Input, Action::Enforce), None);
    let ctrl_d = km
        .bindings(Mode::Normal)
        .into_iter()
        .find(|b| b.key.to_string() == "ctrl-d")
        .unwrap();
    assert!(ctrl_d.desc.contains("k9s delete"));
    let b = km
        .bindings(Mode::Normal)
        .into_iter()
        .find(|b| b.key.to_string() == "b")
        .unwrap();
    assert_eq!(b.desc, Action::ApplyBaseline.description());
}

#[test]
fn prepend_rebinds_and_noop_unbinds() {
    let (km, diags, _dir) = load_user(
        "default",
        r#"
[normal]
prepend_keymap = [
  { on = "b", run = "observe", desc = "mine" },
  { on = "E", run = "noop" },
]
append_keymap = [ { on = "q", run = "quit" } ]
"#,
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(km.name(), "default");
    assert_eq!(km.resolve(Mode::Normal, &ch('b')), Some(Action::Observe));
    assert_eq!(km.resolve(Mode::Normal, &ch('E')), None);
    assert_eq!(km.resolve(Mode::Normal, &ch('q')), Some(Action::Quit));
    // Untouched defaults and other modes still work.
    assert_eq!(km.resolve(Mode::Normal, &ch('s')), Some(Action::StageDefaultDeny));
    assert_eq!(km.resolve(Mode::Help, &ch('q')), Some(Action::Back));

    let normal = km.bindings(Mode::Normal);
    assert_eq!(normal[0].desc, "mine");
    assert!(normal.iter().all(|b| b.action != Action::Enforce));
    assert!(normal.iter().all(|b| b.action != Action::Noop));
    assert_eq!(normal.iter().filter(|b| b.key.to_string() == "b").count(), 1);
    assert_eq!(km.keys_for(Mode::Normal, Action::ApplyBaseline), []);
}

#[test]
fn keymap_replaces_the_layer() {
    let (km, diags, _dir) = load_user("vim", "[help]\nkeymap = [ { on = \"x\", run = \"back\" } ]\n");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(km.name(), "vim");
    assert_eq!(km.resolve(Mode::Help, &ch('x')), Some(Action::Back));
    assert_eq!(km.resolve(Mode::Help, &ch('q')), None);
    assert_eq!(km.bindings(Mode::Help).len(), 1);
    // Other layers keep the defaults.
    assert_eq!(km.resolve(Mode::Normal, &ch('b')), Some(Action::ApplyBaseline));
}

#[test]
fn bad_entries_are_reported_with_line_and_skipped() {
    let (km, diags, dir) = load_user(
        "default",
        r#"[normal]
prepend_keymap = [
  { on = "z", run = "delete-everything" },
  { on = "ctrl-foo", run = "quit" },
  { on = "y", run = "observe" },
  { run = "quit" },
  { on = "w", run = "quit", colour = "red" },
]
"#,
    );
    let path = dir.path().join("keymap.toml");
    assert!(diags.iter().all(|d| d.file == path));
    let lines: Vec<_> = diags.iter().map(|d| d.line.unwrap()).collect();
    assert_eq!(lines, [3, 4, 6, 7], "{diags:?}");
    assert!(
        diags[0].message.contains("unknown action \"delete-everything\""),
        "{}",
        diags[0]
    );
    assert!(
        diags[1].message.contains("unknown key name \"ctrl-foo\""),
        "{}",
        diags[1]
    );
    assert!(diags[2].message.contains("without \"on\""), "{}", diags[2]);
    assert!(diags[3].message.contains("unknown key \"colour\""), "{}", diags[3]);
    assert_eq!(km.resolve(Mode::Normal, &ch('y')), Some(Action::Observe));
    assert_eq!(km.resolve(Mode::Normal, &ch('z')), None);
    // An unknown field is reported but the entry itself is fine.
    assert_eq!(km.resolve(Mode::Normal, &ch('w')), Some(Action::Quit));
}

#[test]
fn shadowed_bindings_are_reported() {
    let (km, diags, _dir) = load_user(
        "default",
        r#"[viewer]
keymap = [
  { on = "q", run = "back" },
  { on = "x", run = "top" },
  { on = "q", run = "bottom" },
  { on = "x", run = "noop" },
]
"#,
    );
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].line, Some(5));
    assert!(diags[0].message.contains("line 3"), "{}", diags[0]);
    assert!(diags[0].message.contains("never fires"));
    assert_eq!(km.resolve(Mode::Viewer, &ch('q')), Some(Action::Back));
    assert_eq!(km.resolve(Mode::Viewer, &ch('x')), Some(Action::Top));
    assert_eq!(km.bindings(Mode::Viewer).len(), 2);
}

#[test]
fn unknown_sections_and_syntax_errors() {
    let (km, diags, _dir) = load_user("default", "[nromal]\nkeymap = []\n");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].line, Some(1));
    assert_eq!(km, Keymap::embedded_default());

    let (km, diags, _dir) = load_user("default", "[normal]\nkeymap = [\n");
    assert_eq!(diags.len(), 1);
    assert!(diags[0].line.is_some());
    assert!(diags[0].message.contains("keymap file ignored"));
    assert_eq!(km, Keymap::embedded_default());
}

#[test]
fn unknown_keymap_name_falls_back_to_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut diags = Vec::new();
    let km = Keymap::load("emacs", Some(dir.path()), &mut diags);
    assert_eq!(diags.len(), 1);
    assert!(diags[0].message.contains("unknown keymap \"emacs\""));
    assert_eq!(km, Keymap::embedded_default());

    // A missing keymap.toml is not a problem.
    let mut diags = Vec::new();
    Keymap::load("default", Some(dir.path()), &mut diags);
    assert!(diags.is_empty());
}
