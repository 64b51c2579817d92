//! Themes: a [`Style`] per [`ThemeRole`], loaded from TOML.
//!
//! ```toml
//! name = "mine"
//! inherits = "dark"        # start from another theme
//! [palette]                # optional named colours
//! red = "#f7768e"
//! [styles]
//! danger = "red"
//! selection = { fg = "black", bg = "#7aa2f7", modifiers = ["bold"] }
//! ```
//!
//! Lookup for a name: `<config_dir>/themes/<name>.toml` first, then the themes
//! compiled into the binary. A user file may inherit the built-in theme of its
//! own name (`themes/dark.toml` with `inherits = "dark"`) to tweak one role.
//! Whatever the final theme leaves unset falls back to the built-in `dark`, so
//! a partial theme never renders unstyled holes.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use ratatui::style::Style;
use toml::de::DeTable;

use super::diagnostics::Diagnostic;
use super::style::{Palette, parse_color, parse_style};
use super::theme_role::ThemeRole;
use super::walk::{Value, Walker, entries, is_valid_name};

/// Themes compiled into the binary, so tighten looks right with no config at all.
const EMBEDDED: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
    ("production", include_str!("../../themes/production.toml")),
];

/// The theme used when nothing else is chosen, and for every role a theme leaves out.
pub const FALLBACK_THEME: &str = "dark";

/// Resolved styles for every role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// The name the theme was loaded under.
    pub name: String,
    pub styles: HashMap<ThemeRole, Style>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::load(FALLBACK_THEME, None, &mut Vec::new())
    }
}

impl Theme {
    /// The style for `role` (the terminal default when unset).
    pub fn style(&self, role: ThemeRole) -> Style {
        self.styles.get(&role).copied().unwrap_or_default()
    }

    /// Names of the themes compiled into the binary.
    pub fn embedded_names() -> Vec<&'static str> {
        EMBEDDED.iter().map(|(name, _)| *name).collect()
    }

    /// Built-in names plus `*.toml` files in `user_themes_dir`, sorted; for
    /// `:theme` completion.
    pub fn available_names(user_themes_dir: Option<&Path>) -> Vec<String> {
        let mut names: Vec<String> = EMBEDDED.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(Ok(dir)) = user_themes_dir.map(std::fs::read_dir) {
            for entry in dir.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml")
                    && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                    && is_valid_name(stem)
                {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Loads theme `name`. Problems are pushed to `diags`; a complete theme
    /// always results (unknown names give `dark`).
    pub fn load(name: &str, user_themes_dir: Option<&Path>, diags: &mut Vec<Diagnostic>) -> Theme {
        let mut resolver = Resolver {
            user_dir: user_themes_dir,
            diags,
            stack: Vec::new(),
        };
        let requested = if is_valid_name(name) {
            resolver.resolve(name)
        } else {
            resolver.diags.push(Diagnostic::new(
                theme_path(user_themes_dir, "<name>"),
                format!("invalid theme name {name:?}; using {FALLBACK_THEME:?}"),
            ));
            Lookup::Broken
        };
        let (name, layer) = match requested {
            Lookup::Found(layer) => (name, layer),
            Lookup::Missing => {
                let path = theme_path(user_themes_dir, name);
                resolver.diags.push(Diagnostic::new(
                    path,
                    format!("unknown theme {name:?}; using {FALLBACK_THEME:?}"),
                ));
                (FALLBACK_THEME, embedded_layer(FALLBACK_THEME))
            }
            // Already reported where it happened.
            Lookup::Broken | Lookup::Cycle => (FALLBACK_THEME, embedded_layer(FALLBACK_THEME)),
        };
        let mut styles = embedded_layer(FALLBACK_THEME).styles;
        styles.extend(layer.styles);
        Theme {
            name: name.to_string(),
            styles,
        }
    }
}

/// Palette and styles accumulated along an `inherits` chain.
#[derive(Debug, Default)]
struct Layer {
    palette: Palette,
    styles: HashMap<ThemeRole, Style>,
}

/// A theme file to read.
struct ThemeFile {
    path: PathBuf,
    text: String,
}

/// How looking up a theme by name went.
enum Lookup {
    Found(Layer),
    /// No such theme anywhere.
    Missing,
    /// It exists but could not be parsed (already reported).
    Broken,
    /// Following `inherits` came back to a file being loaded.
    Cycle,
}

struct Resolver<'a> {
    user_dir: Option<&'a Path>,
    diags: &'a mut Vec<Diagnostic>,
    /// Files currently being loaded, outermost first; for cycle detection.
    stack: Vec<PathBuf>,
}

impl Resolver<'_> {
    /// Finds and builds theme `name`.
    ///
    /// A file already being loaded cannot be its own ancestor, so it is skipped
    /// and the lookup continues with the built-in theme of that name. That is
    /// what lets a user `themes/dark.toml` say `inherits = "dark"` (and a user
    /// `dark.toml` inherit `production`, which inherits the built-in dark).
    /// Only when nothing else is left is it a cycle.
    fn resolve(&mut self, name: &str) -> Lookup {
        let candidates = self.candidates(name);
        if candidates.is_empty() {
            return Lookup::Missing;
        }
        let mut cycle = false;
        for file in candidates {
            if self.stack.contains(&file.path) {
                cycle = true;
                continue;
            }
            self.stack.push(file.path.clone());
            let built = self.build(&file);
            self.stack.pop();
            if let Some(layer) = built {
                return Lookup::Found(layer);
            }
            // A broken user file: fall through to the built-in theme of that name.
        }
        if cycle { Lookup::Cycle } else { Lookup::Broken }
    }

    /// The user file (if any) and the built-in theme (if any), in that order.
    fn candidates(&mut self, name: &str) -> Vec<ThemeFile> {
        let mut files = Vec::new();
        if let Some(dir) = self.user_dir {
            let path = dir.join(format!("{name}.toml"));
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push(ThemeFile { path, text }),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => self
                    .diags
                    .push(Diagnostic::new(path, format!("cannot read theme: {err}"))),
            }
        }
        if let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name) {
            files.push(ThemeFile {
                path: embedded_path(name),
                text: (*text).to_string(),
            });
        }
        files
    }

    /// Interprets one theme file; `None` when its TOML does not parse.
    fn build(&mut self, file: &ThemeFile) -> Option<Layer> {
        let doc = match Walker::parse(&file.path, &file.text) {
            Ok(doc) => doc,
            Err(diag) => {
                self.diags.push(Diagnostic {
                    message: format!("{}; theme file ignored", diag.message),
                    ..diag
                });
                return None;
            }
        };
        let mut layer = match doc.get("inherits") {
            Some(value) => self.parent_layer(file, value),
            None => Layer::default(),
        };
        let mut w = Walker::new(&file.path, &file.text, self.diags);
        check_top_level(&mut w, &doc);
        // The whole palette first, wherever `[palette]` is in the file.
        if let Some(value) = doc.get("palette") {
            read_palette(&mut w, value, &mut layer.palette);
        }
        if let Some(value) = doc.get("styles") {
            read_styles(&mut w, value, &mut layer);
        }
        Some(layer)
    }

    /// The layer named by `inherits = "<parent>"`; problems are reported at
    /// the `inherits` value and leave an empty parent.
    fn parent_layer(&mut self, file: &ThemeFile, value: &Value<'_>) -> Layer {
        let parent = Walker::new(&file.path, &file.text, self.diags)
            .string(value, "inherits")
            .map(str::to_string);
        let Some(parent) = parent else {
            return Layer::default();
        };
        let problem = match self.resolve(&parent) {
            Lookup::Found(layer) => return layer,
            Lookup::Broken => return Layer::default(),
            Lookup::Missing => format!("inherits unknown theme {parent:?}"),
            Lookup::Cycle => {
                format!("inherits {parent:?}, which leads back to this theme (inheritance cycle)")
            }
        };
        Walker::new(&file.path, &file.text, self.diags).report(value.span(), format!("{problem}; ignored"));
        Layer::default()
    }
}

/// Reports top-level keys a theme file does not have. (`name` is informational:
/// a theme is known by its file name.)
fn check_top_level(w: &mut Walker<'_>, doc: &DeTable<'_>) {
    const KNOWN: &[&str] = &["name", "inherits", "palette", "styles"];
    for (key, value) in entries(doc) {
        match key.get_ref().as_ref() {
            "name" => {
                w.string(value, "name");
            }
            "inherits" | "palette" | "styles" => {}
            _ => w.unknown_key(key, "theme file", KNOWN),
        }
    }
}

/// `[palette]`: literal colours only, never other palette names, so an
/// entry's meaning does not depend on order or on the parent.
fn read_palette(w: &mut Walker<'_>, value: &Value<'_>, palette: &mut Palette) {
    let Some(table) = w.table(value, "[palette]") else {
        return;
    };
    for (name, value) in entries(table) {
        let what = format!("palette.{}", name.get_ref());
        let Some(text) = w.string(value, &what) else {
            continue;
        };
        match parse_color(text, &Palette::new()) {
            Ok(color) => {
                palette.insert(name.get_ref().to_string(), color);
            }
            Err(err) => w.report(value.span(), format!("{what}: {err}")),
        }
    }
}

/// `[styles]`: each valid entry replaces the parent's whole style for its role,
/// so a theme can also drop a parent's bold or background.
fn read_styles(w: &mut Walker<'_>, value: &Value<'_>, layer: &mut Layer) {
    let Some(table) = w.table(value, "[styles]") else {
        return;
    };
    for (key, value) in entries(table) {
        let role_name: &str = key.get_ref();
        let Ok(role) = role_name.parse::<ThemeRole>() else {
            w.report(key.span(), format!("unknown style role {role_name:?}; entry skipped"));
            continue;
        };
        if let Some(style) = parse_style(w, role_name, value, &layer.palette) {
            layer.styles.insert(role, style);
        }
    }
}

/// A built-in theme on its own; its diagnostics are impossible by test and
/// only logged.
fn embedded_layer(name: &str) -> Layer {
    let mut diags = Vec::new();
    let mut resolver = Resolver {
        user_dir: None,
        diags: &mut diags,
        stack: Vec::new(),
    };
    let layer = match resolver.resolve(name) {
        Lookup::Found(layer) => layer,
        _ => Layer::default(),
    };
    for diag in &diags {
        tracing::error!("built-in theme: {diag}");
    }
    layer
}

fn embedded_path(name: &str) -> PathBuf {
    PathBuf::from(format!("<built-in>/themes/{name}.toml"))
}

/// Where a user theme called `name` would live; for messages.
fn theme_path(user_dir: Option<&Path>, name: &str) -> PathBuf {
    user_dir
        .unwrap_or_else(|| Path::new("themes"))
        .join(format!("{name}.toml"))
}

#[cfg(test)]
#[path = "theme_tests.rs"]
mod tests;
