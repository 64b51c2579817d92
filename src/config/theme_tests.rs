//! Tests for theme loading (a child module of `theme`, so it sees the internals).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use ratatui::style::{Color, Modifier};

use super::*;

fn user_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn every_embedded_theme_loads_cleanly() {
    for name in Theme::embedded_names() {
        let mut diags = Vec::new();
        let theme = Theme::load(name, None, &mut diags);
        assert!(diags.is_empty(), "{name}: {diags:?}");
        assert_eq!(theme.name, name);
        assert_eq!(theme.styles.len(), ThemeRole::ALL.len(), "{name}");
    }
}

#[test]
fn complete_themes_set_every_role_themselves() {
    for name in ["dark", "light", "mono"] {
        let layer = embedded_layer(name);
        let missing: Vec<_> = ThemeRole::ALL
            .iter()
            .filter(|role| !layer.styles.contains_key(role))
            .collect();
        assert!(missing.is_empty(), "{name} misses {missing:?}");
    }
}

#[test]
fn mono_uses_no_colours() {
    let theme = Theme::load("mono", None, &mut Vec::new());
    for role in ThemeRole::ALL {
        let style = theme.style(*role);
        assert_eq!((style.fg, style.bg), (None, None), "{role}");
    }
    assert!(
        theme
            .style(ThemeRole::Selection)
            .add_modifier
            .contains(Modifier::REVERSED)
    );
}

#[test]
fn production_is_dark_with_red_chrome() {
    let dark = Theme::load("dark", None, &mut Vec::new());
    let prod = Theme::load("production", None, &mut Vec::new());
    assert_eq!(prod.style(ThemeRole::Text), dark.style(ThemeRole::Text));
    assert_ne!(prod.style(ThemeRole::Border), dark.style(ThemeRole::Border));
    assert_eq!(
        prod.style(ThemeRole::ContextBadge).bg,
        Some(Color::Rgb(0xf7, 0x76, 0x8e))
    );
    assert_ne!(prod.style(ThemeRole::Selection), dark.style(ThemeRole::Selection));
}

#[test]
fn phases_are_distinguishable_in_every_theme() {
    let phases = [
        ThemeRole::PhaseUnmanaged,
        ThemeRole::PhaseObserve,
        ThemeRole::PhaseBaseline,
        ThemeRole::PhaseAudit,
        ThemeRole::PhaseEnforced,
        ThemeRole::PhaseCarvedOut,
        ThemeRole::PhaseRolledBack,
    ];
    for name in Theme::embedded_names() {
        let theme = Theme::load(name, None, &mut Vec::new());
        for (i, a) in phases.iter().enumerate() {
            for b in &phases[i + 1..] {
                assert_ne!(theme.style(*a), theme.style(*b), "{name}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn user_theme_inherits_and_overrides_one_role() {
    let dir = user_dir(&[(
        "mine.toml",
        "name = \"mine\"\ninherits = \"light\"\n[styles]\ndanger = \"#010203\"\n",
    )]);
    let mut diags = Vec::new();
    let mine = Theme::load("mine", Some(dir.path()), &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    let light = Theme::load("light", None, &mut Vec::new());
    assert_eq!(mine.name, "mine");
    assert_eq!(mine.style(ThemeRole::Danger), Style::new().fg(Color::Rgb(1, 2, 3)));
    assert_eq!(mine.style(ThemeRole::Text), light.style(ThemeRole::Text));
}

#[test]
fn user_file_overrides_builtin_of_same_name() {
    // Inheriting its own name means the built-in dark, not itself.
    let dir = user_dir(&[(
        "dark.toml",
        "inherits = \"dark\"\n[palette]\nhot = \"lightred\"\n[styles]\ntitle = { fg = \"hot\", modifiers = [\"underlined\"] }\n",
    )]);
    let mut diags = Vec::new();
    let dark = Theme::load("dark", Some(dir.path()), &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        dark.style(ThemeRole::Title),
        Style::new().fg(Color::LightRed).add_modifier(Modifier::UNDERLINED)
    );
    // Built-in palette entries are inherited too.
    assert_eq!(dark.style(ThemeRole::Ok).fg, Some(Color::Rgb(0x9e, 0xce, 0x6a)));

    // And a built-in child of dark sees the user's dark.
    let prod = Theme::load("production", Some(dir.path()), &mut diags);
    assert_eq!(prod.style(ThemeRole::Header), dark.style(ThemeRole::Header));
}

#[test]
fn user_dark_may_inherit_a_builtin_child_of_dark() {
    // user dark -> built-in production -> (user dark is being loaded) built-in dark
    let dir = user_dir(&[("dark.toml", "inherits = \"production\"\n")]);
    let mut diags = Vec::new();
    let dark = Theme::load("dark", Some(dir.path()), &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    let prod = Theme::load("production", None, &mut Vec::new());
    assert_eq!(dark.styles, prod.styles);
}

#[test]
fn partial_theme_without_inherits_falls_back_to_dark() {
    let dir = user_dir(&[("bare.toml", "[styles]\ntext = \"white\"\n")]);
    let mut diags = Vec::new();
    let bare = Theme::load("bare", Some(dir.path()), &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    let dark = Theme::load("dark", None, &mut Vec::new());
    assert_eq!(bare.style(ThemeRole::Text), Style::new().fg(Color::White));
    assert_eq!(bare.style(ThemeRole::Selection), dark.style(ThemeRole::Selection));
}

#[test]
fn broken_entries_are_reported_at_their_line_and_skipped() {
    let text = "inherits = \"dark\"\n\
                [styles]\n\
                text = \"white\"\n\
                title = \"purpel\"\n\
                selectoin = \"red\"\n\
                header = { fg = \"red\", modifiers = [\"blink\"] }\n\
                border = { fg = \"red\", colour = \"x\" }\n";
    let dir = user_dir(&[("broken.toml", text)]);
    let mut diags = Vec::new();
    let theme = Theme::load("broken", Some(dir.path()), &mut diags);
    let dark = Theme::load("dark", None, &mut Vec::new());

    let path = dir.path().join("broken.toml");
    assert!(diags.iter().all(|d| d.file == path), "{diags:?}");
    let lines: Vec<_> = diags.iter().map(|d| d.line.unwrap()).collect();
    assert_eq!(lines, [4, 5, 6, 7], "{diags:?}");
    assert!(diags[0].message.contains("unknown colour \"purpel\""), "{}", diags[0]);
    assert_eq!(diags[0].column, Some(9));
    assert!(diags[1].message.contains("unknown style role \"selectoin\""));
    assert!(diags[2].message.contains("unknown modifier \"blink\""));
    assert!(diags[3].message.contains("unknown key \"colour\""));
    assert!(diags[0].to_string().starts_with(&format!("{}:4:9: ", path.display())));

    // Good entries apply, broken ones keep the inherited style.
    assert_eq!(theme.style(ThemeRole::Text), Style::new().fg(Color::White));
    for role in [ThemeRole::Title, ThemeRole::Header, ThemeRole::Border] {
        assert_eq!(theme.style(role), dark.style(role), "{role}");
    }
}

#[test]
fn syntax_error_falls_back_to_builtin_of_same_name() {
    let dir = user_dir(&[("light.toml", "[styles]\ntext = \n")]);
    let mut diags = Vec::new();
    let theme = Theme::load("light", Some(dir.path()), &mut diags);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].file, dir.path().join("light.toml"));
    assert_eq!(diags[0].line, Some(2));
    assert_eq!(theme, Theme::load("light", None, &mut Vec::new()));
}

#[test]
fn unknown_theme_gives_dark_with_a_diagnostic() {
    let mut diags = Vec::new();
    let theme = Theme::load("nope", None, &mut diags);
    assert_eq!(theme.name, "dark");
    assert_eq!(diags.len(), 1);
    assert!(diags[0].message.contains("unknown theme \"nope\""));

    let mut diags = Vec::new();
    let theme = Theme::load("../../etc/passwd", None, &mut diags);
    assert_eq!(theme.name, "dark");
    assert!(diags[0].message.contains("invalid theme name"), "{diags:?}");
}

#[test]
fn inheritance_cycles_and_unknown_parents_are_reported() {
    let dir = user_dir(&[
        ("a.toml", "inherits = \"b\"\n[styles]\ntext = \"red\"\n"),
        ("b.toml", "\ninherits = \"a\"\n"),
        ("orphan.toml", "inherits = \"ghost\"\n"),
    ]);
    let mut diags = Vec::new();
    let a = Theme::load("a", Some(dir.path()), &mut diags);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].file, dir.path().join("b.toml"));
    assert_eq!(diags[0].line, Some(2));
    assert!(diags[0].message.contains("cycle"));
    assert_eq!(a.style(ThemeRole::Text), Style::new().fg(Color::Red));

    let mut diags = Vec::new();
    Theme::load("orphan", Some(dir.path()), &mut diags);
    assert!(diags[0].message.contains("unknown theme \"ghost\""), "{diags:?}");
}

#[test]
fn available_names_include_user_themes() {
    let dir = user_dir(&[("zzz.toml", ""), ("notes.txt", "")]);
    let names = Theme::available_names(Some(dir.path()));
    assert_eq!(names, ["dark", "light", "mono", "production", "zzz"]);
}
