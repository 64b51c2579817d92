//! Layered keymaps, yazi/helix style.
//!
//! The shipped `keymaps/default.toml` is compiled in. A user file is laid over
//! it section by section (`[normal]`, `[confirm]`, `[input]`, `[help]`,
//! `[viewer]`):
//!
//! ```toml
//! [normal]
//! prepend_keymap = [
//!   { on = "b", run = "observe", desc = "my override" },  # wins over the default `b`
//!   { on = "E", run = "noop" },                          # unbinds E
//! ]
//! append_keymap = [ { on = "ctrl-x", run = "quit" } ]   # after the defaults
//! # keymap = [ ... ]                                    # replaces the whole layer
//! ```
//!
//! The first entry matching a key wins, which is what makes `prepend_keymap`
//! rebind and `noop` unbind without repeating the whole layer.
//!
//! Files: `<config_dir>/keymap.toml` adjusts the default keymap;
//! `<config_dir>/keymaps/<name>.toml` defines the keymap `<name>` (also on top
//! of the default, so it only has to say what differs).

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crossterm::event::KeyEvent;

use super::diagnostics::Diagnostic;
use super::key::KeyChord;
use super::walk::{Value, Walker, entries, is_valid_name};
use crate::app::action::Action;

const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");
const DEFAULT_KEYMAP_PATH: &str = "<built-in>/keymaps/default.toml";

/// Which layer of the keymap is active; each UI state reads one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// The namespace table and detail tabs.
    Normal,
    /// A confirmation dialog (every mutating action goes through one).
    Confirm,
    /// A text prompt: command line, filter, carve-out reason.
    Input,
    /// The help screen.
    Help,
    /// The YAML / diff viewer.
    Viewer,
}

impl Mode {
    /// Every mode, in file order.
    pub const ALL: [Mode; 5] = [Mode::Normal, Mode::Confirm, Mode::Input, Mode::Help, Mode::Viewer];

    /// The section name in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Confirm => "confirm",
            Mode::Input => "input",
            Mode::Help => "help",
            Mode::Viewer => "viewer",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown keymap section {s:?}"))
    }
}

/// One effective binding, for the help screen and hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub key: KeyChord,
    pub action: Action,
    /// The entry's `desc`, or the action's own description.
    pub desc: String,
}

/// One `{ on, run, desc }` entry as written (including `noop`s and entries
/// shadowed by earlier ones; lookups skip those).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: KeyChord,
    action: Action,
    desc: Option<String>,
}

/// Key bindings for every mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    name: String,
    layers: [Vec<Entry>; Mode::ALL.len()],
}

/// What a file says about one section.
#[derive(Default)]
struct SectionPatch {
    replace: Option<Vec<Entry>>,
    prepend: Vec<Entry>,
    append: Vec<Entry>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self::embedded_default()
    }
}

impl Keymap {
    /// The shipped default keymap. Cannot fail: a test guarantees the embedded
    /// file is clean, and should it ever not be, the broken entries are skipped.
    pub fn embedded_default() -> Keymap {
        let mut diags = Vec::new();
        let mut keymap = Keymap {
            name: "default".to_string(),
            layers: Default::default(),
        };
        keymap.apply_file(Path::new(DEFAULT_KEYMAP_PATH), DEFAULT_KEYMAP, &mut diags);
        for diag in &diags {
            tracing::error!("built-in keymap: {diag}");
        }
        keymap
    }

    /// The keymap `name`, with user files from `config_dir` laid over the
    /// default. Problems are pushed to `diags`; a usable keymap always results.
    pub fn load(name: &str, config_dir: Option<&Path>, diags: &mut Vec<Diagnostic>) -> Keymap {
        let mut keymap = Keymap::embedded_default();
        let path = keymap_file(name, config_dir.unwrap_or_else(|| Path::new("")));
        if !is_valid_name(name) {
            diags.push(Diagnostic::new(
                path,
                format!("invalid keymap name {name:?}; using the default keymap"),
            ));
            return keymap;
        }
        if config_dir.is_none() {
            if name != "default" {
                diags.push(Diagnostic::new(
                    path,
                    format!("unknown keymap {name:?} (no config directory); using the default keymap"),
                ));
            }
            return keymap;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                keymap.name = name.to_string();
                keymap.apply_file(&path, &text, diags);
            }
            // No keymap.toml simply means "no changes to the default".
            Err(err) if err.kind() == io::ErrorKind::NotFound && name == "default" => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => diags.push(Diagnostic::new(
                path,
                format!("unknown keymap {name:?} (no such file); using the default keymap"),
            )),
            Err(err) => diags.push(Diagnostic::new(
                path,
                format!("cannot read keymap: {err}; using the default keymap"),
            )),
        }
        keymap
    }

    /// The keymap's name as selected in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The action bound to `event` in `mode`; `None` when unbound or bound to `noop`.
    pub fn resolve(&self, mode: Mode, event: &KeyEvent) -> Option<Action> {
        let chord = KeyChord::from_event(event)?;
        self.layer(mode)
            .iter()
            .find(|entry| entry.key == chord)
            .map(|entry| entry.action)
            .filter(|action| *action != Action::Noop)
    }

    /// The bindings in effect in `mode`, in order; shadowed and `noop` entries
    /// are left out.
    pub fn bindings(&self, mode: Mode) -> Vec<Binding> {
        let mut seen: Vec<KeyChord> = Vec::new();
        let mut out = Vec::new();
        for entry in self.layer(mode) {
            if seen.contains(&entry.key) {
                continue;
            }
            seen.push(entry.key);
            if entry.action != Action::Noop {
                out.push(Binding {
                    key: entry.key,
                    action: entry.action,
                    desc: entry
                        .desc
                        .clone()
                        .unwrap_or_else(|| entry.action.description().to_string()),
                });
            }
        }
        out
    }

    /// Every key that triggers `action` in `mode`, in keymap order.
    pub fn keys_for(&self, mode: Mode, action: Action) -> Vec<KeyChord> {
        self.bindings(mode)
            .into_iter()
            .filter(|b| b.action == action)
            .map(|b| b.key)
            .collect()
    }

    /// The label of the first key for `action`, for on-screen hints
    /// (`"b apply baseline"`); `None` when the action is unbound.
    pub fn first_key_label(&self, mode: Mode, action: Action) -> Option<String> {
        self.keys_for(mode, action).first().map(ToString::to_string)
    }

    fn layer(&self, mode: Mode) -> &[Entry] {
        &self.layers[mode.index()]
    }

    /// Lays the file `text` (read from `path`) over this keymap.
    fn apply_file(&mut self, path: &Path, text: &str, diags: &mut Vec<Diagnostic>) {
        let doc = match Walker::parse(path, text) {
            Ok(doc) => doc,
            Err(diag) => {
                diags.push(Diagnostic {
                    message: format!("{}; keymap file ignored", diag.message),
                    ..diag
                });
                return;
            }
        };
        let mut w = Walker::new(path, text, diags);
        let sections: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
        for (key, value) in entries(&doc) {
            let Ok(mode) = key.get_ref().parse::<Mode>() else {
                w.unknown_key(key, "keymap file", &sections);
                continue;
            };
            let patch = parse_section(&mut w, mode, value);
            let layer = &mut self.layers[mode.index()];
            if let Some(replacement) = patch.replace {
                *layer = replacement;
            }
            layer.splice(0..0, patch.prepend);
            layer.extend(patch.append);
        }
    }
}

fn parse_section(w: &mut Walker<'_>, mode: Mode, value: &Value<'_>) -> SectionPatch {
    const KNOWN: &[&str] = &["keymap", "prepend_keymap", "append_keymap"];
    let mut patch = SectionPatch::default();
    let section = format!("[{mode}]");
    let Some(table) = w.table(value, &section) else {
        return patch;
    };
    for (key, value) in entries(table) {
        let list_name: &str = key.get_ref();
        let slot = match list_name {
            "keymap" => patch.replace.insert(Vec::new()),
            "prepend_keymap" => &mut patch.prepend,
            "append_keymap" => &mut patch.append,
            _ => {
                w.unknown_key(key, &section, KNOWN);
                continue;
            }
        };
        *slot = parse_list(w, &format!("{mode}.{list_name}"), value);
    }
    patch
}

/// Parses one `[...]` of entries, skipping broken ones and reporting entries
/// that can never fire because an earlier entry of the same list has their key.
fn parse_list(w: &mut Walker<'_>, what: &str, value: &Value<'_>) -> Vec<Entry> {
    let Some(items) = w.array(value, what) else {
        return Vec::new();
    };
    let mut parsed: Vec<(Entry, Range<usize>)> = Vec::new();
    for item in items {
        let Some(entry) = parse_entry(w, what, item) else {
            continue;
        };
        // A later `noop` for an already bound key is harmless, hence exempt.
        if let Some((earlier, earlier_span)) = parsed.iter().find(|(e, _)| e.key == entry.key)
            && entry.action != Action::Noop
        {
            let message = format!(
                "{what}: key \"{}\" is already bound to {:?} on line {}, so this binding to {:?} never fires",
                entry.key,
                earlier.action.name(),
                w.line_of(earlier_span.start),
                entry.action.name()
            );
            w.report(item.span(), message);
        }
        parsed.push((entry, item.span()));
    }
    parsed.into_iter().map(|(entry, _)| entry).collect()
}

fn parse_entry(w: &mut Walker<'_>, what: &str, item: &Value<'_>) -> Option<Entry> {
    const KNOWN: &[&str] = &["on", "run", "desc"];
    let table = w.table(item, what)?;
    let (mut key, mut action, mut desc, mut ok) = (None, None, None, true);
    for (field, value) in entries(table) {
        match field.get_ref().as_ref() {
            "on" => match w.string(value, "on").map(KeyChord::from_str) {
                Some(Ok(chord)) => key = Some(chord),
                Some(Err(err)) => {
                    w.report(value.span(), format!("{what}: {err}; entry skipped"));
                    ok = false;
                }
                None => ok = false,
            },
            "run" => match w.string(value, "run").map(Action::from_str) {
                Some(Ok(a)) => action = Some(a),
                Some(Err(err)) => {
                    w.report(value.span(), format!("{what}: {err}; entry skipped"));
                    ok = false;
                }
                None => ok = false,
            },
            "desc" => desc = w.string(value, "desc").map(str::to_string),
            _ => w.unknown_key(field, "a keymap entry", KNOWN),
        }
    }
    if !ok {
        return None;
    }
    match (key, action) {
        (Some(key), Some(action)) => Some(Entry { key, action, desc }),
        (key, _) => {
            let missing = if key.is_none() { "on" } else { "run" };
            w.report(item.span(), format!("{what}: entry without {missing:?}; entry skipped"));
            None
        }
    }
}

/// Where a user keymap would be read from; for messages and `:keymap` help.
pub fn keymap_file(name: &str, config_dir: &Path) -> PathBuf {
    if name == "default" {
        config_dir.join("keymap.toml")
    } else {
        config_dir.join("keymaps").join(format!("{name}.toml"))
    }
}

#[cfg(test)]
#[path = "keymap_tests.rs"]
mod tests;
