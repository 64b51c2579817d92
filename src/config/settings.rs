//! `config.toml`: defaults, soak windows, protected namespaces, per-context overrides.
//!
//! ```toml
//! theme = "dark"
//! keymap = "default"
//! protected_namespaces = ["kube-system", "flux-system"]
//!
//! [soak]          # per namespace `policy-tier` label
//! lab = "1h"
//! stage = "12h"
//! prod = "24h"
//! default = "24h" # tier label missing or unknown
//!
//! [contexts."prod-eu"]
//! theme = "production"
//! protected_namespaces = ["kube-system", "flux-system", "payments"]
//! ```
//!
//! Every field is optional. A bad field is reported and keeps its default; the
//! rest of the file still applies.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::de::DeTable;

use super::diagnostics::Diagnostic;
use super::duration::{format_duration, parse_duration};
use super::walk::{Value, Walker, entries};

/// Namespaces no rollout may touch unless the config says otherwise: breaking
/// the control plane or the GitOps controller takes the way back down with it.
pub const DEFAULT_PROTECTED_NAMESPACES: &[&str] = &["kube-system", "flux-system"];

/// Everything `config.toml` can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Theme used when neither the command line nor the context picks one.
    pub theme: String,
    /// Keymap used when the context does not pick one.
    pub keymap: String,
    /// Namespaces shown as protected (never changed by tighten).
    pub protected_namespaces: Vec<String>,
    /// How long each tier must stay clean before the gate allows enforcing.
    pub soak: SoakWindows,
    /// Overrides per kube context name.
    pub contexts: BTreeMap<String, ContextSettings>,
}

/// `[contexts."<name>"]`: anything left out falls back to the top level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextSettings {
    pub theme: Option<String>,
    pub keymap: Option<String>,
    /// Replaces (does not extend) the top-level list for this context, so a
    /// context can also protect fewer namespaces.
    pub protected_namespaces: Option<Vec<String>>,
}

/// Soak window per tier (the namespace's `policy-tier` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoakWindows {
    pub lab: Duration,
    pub stage: Duration,
    pub prod: Duration,
    /// For namespaces without a tier label or with an unknown tier. Defaults
    /// to the production window: an unlabelled namespace is not known to be safe.
    pub default: Duration,
}

/// The settings in effect for one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSettings {
    pub theme: String,
    pub keymap: String,
    pub protected_namespaces: Vec<String>,
    pub soak: SoakWindows,
}

const HOUR: Duration = Duration::from_secs(60 * 60);

impl Default for SoakWindows {
    fn default() -> Self {
        Self {
            lab: HOUR,
            stage: HOUR * 12,
            prod: HOUR * 24,
            default: HOUR * 24,
        }
    }
}

impl SoakWindows {
    /// The tier names `[soak]` accepts besides `default`.
    pub const TIERS: &'static [&'static str] = &["lab", "stage", "prod"];

    /// The window for a namespace's tier label (case-insensitive); missing or
    /// unknown tiers get the `default` window.
    pub fn for_tier(&self, tier: Option<&str>) -> Duration {
        match tier.map(str::trim) {
            Some(t) if t.eq_ignore_ascii_case("lab") => self.lab,
            Some(t) if t.eq_ignore_ascii_case("stage") => self.stage,
            Some(t) if t.eq_ignore_ascii_case("prod") => self.prod,
            _ => self.default,
        }
    }

    fn slot(&mut self, key: &str) -> Option<&mut Duration> {
        match key {
            "lab" => Some(&mut self.lab),
            "stage" => Some(&mut self.stage),
            "prod" => Some(&mut self.prod),
            "default" => Some(&mut self.default),
            _ => None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            theme: "dark".to_string(),
            keymap: "default".to_string(),
            protected_namespaces: DEFAULT_PROTECTED_NAMESPACES.iter().map(|ns| ns.to_string()).collect(),
            soak: SoakWindows::default(),
            contexts: BTreeMap::new(),
        }
    }
}

impl Settings {
    /// Interprets the text of a config file.
    ///
    /// `Err` is a TOML syntax error (nothing in the file can be trusted then);
    /// everything else is pushed to `diags` and the offending field keeps its
    /// default.
    pub fn parse(path: &Path, text: &str, diags: &mut Vec<Diagnostic>) -> Result<Settings, Diagnostic> {
        let doc = Walker::parse(path, text)?;
        let mut walker = Walker::new(path, text, diags);
        Ok(Settings::from_table(&mut walker, &doc))
    }

    /// The settings in effect for kube context `context`.
    pub fn for_context(&self, context: &str) -> ResolvedSettings {
        let ctx = self.contexts.get(context);
        let pick = |field: Option<&String>, fallback: &String| field.unwrap_or(fallback).clone();
        ResolvedSettings {
            theme: pick(ctx.and_then(|c| c.theme.as_ref()), &self.theme),
            keymap: pick(ctx.and_then(|c| c.keymap.as_ref()), &self.keymap),
            protected_namespaces: ctx
                .and_then(|c| c.protected_namespaces.clone())
                .unwrap_or_else(|| self.protected_namespaces.clone()),
            soak: self.soak,
        }
    }

    fn from_table(w: &mut Walker<'_>, doc: &DeTable<'_>) -> Settings {
        const KNOWN: &[&str] = &["theme", "keymap", "protected_namespaces", "soak", "contexts"];
        let mut settings = Settings::default();
        for (key, value) in entries(doc) {
            match key.get_ref().as_ref() {
                "theme" => set_name(w, value, "theme", &mut settings.theme),
                "keymap" => set_name(w, value, "keymap", &mut settings.keymap),
                "protected_namespaces" => {
                    if let Some(list) = w.string_list(value, "protected_namespaces") {
                        settings.protected_namespaces = list;
                    }
                }
                "soak" => parse_soak(w, value, &mut settings.soak),
                "contexts" => parse_contexts(w, value, &mut settings.contexts),
                _ => w.unknown_key(key, "config.toml", KNOWN),
            }
        }
        settings
    }
}

impl ResolvedSettings {
    /// Whether tighten must leave `namespace` alone in this context.
    pub fn is_protected(&self, namespace: &str) -> bool {
        self.protected_namespaces.iter().any(|ns| ns == namespace)
    }
}

fn set_name(w: &mut Walker<'_>, value: &Value<'_>, what: &str, slot: &mut String) {
    if let Some(name) = w.string(value, what) {
        *slot = name.to_string();
    }
}

fn parse_soak(w: &mut Walker<'_>, value: &Value<'_>, soak: &mut SoakWindows) {
    const KNOWN: &[&str] = &["lab", "stage", "prod", "default"];
    let Some(table) = w.table(value, "[soak]") else {
        return;
    };
    for (key, value) in entries(table) {
        let name: &str = key.get_ref();
        let Some(slot) = soak.slot(name) else {
            w.unknown_key(key, "[soak]", KNOWN);
            continue;
        };
        let what = format!("soak.{name}");
        let Some(text) = w.string(value, &what) else {
            continue;
        };
        match parse_duration(text) {
            Ok(duration) => *slot = duration,
            Err(err) => w.report(
                value.span(),
                format!("{what}: {err}; keeping {}", format_duration(*slot)),
            ),
        }
    }
}

fn parse_contexts(w: &mut Walker<'_>, value: &Value<'_>, contexts: &mut BTreeMap<String, ContextSettings>) {
    const KNOWN: &[&str] = &["theme", "keymap", "protected_namespaces"];
    let Some(table) = w.table(value, "[contexts]") else {
        return;
    };
    for (name, value) in entries(table) {
        let section = format!("[contexts.{:?}]", name.get_ref());
        let Some(fields) = w.table(value, &section) else {
            continue;
        };
        let mut ctx = ContextSettings::default();
        for (key, value) in entries(fields) {
            match key.get_ref().as_ref() {
                "theme" => ctx.theme = w.string(value, "theme").map(str::to_string),
                "keymap" => ctx.keymap = w.string(value, "keymap").map(str::to_string),
                "protected_namespaces" => {
                    ctx.protected_namespaces = w.string_list(value, "protected_namespaces");
                }
                _ => w.unknown_key(key, &section, KNOWN),
            }
        }
        contexts.insert(name.get_ref().to_string(), ctx);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Settings, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let settings = Settings::parse(Path::new("config.toml"), text, &mut diags).unwrap();
        (settings, diags)
    }

    const EXAMPLE: &str = r#"
theme = "dark"
keymap = "default"

[soak]
lab = "1h"
stage = "6h"
prod = "2d"
default = "3d"

[contexts."prod-eu"]
theme = "production"
protected_namespaces = ["kube-system", "flux-system", "payments"]

[contexts.lab]
keymap = "vim"
"#;

    #[test]
    fn empty_file_gives_defaults() {
        let (settings, diags) = parse("");
        assert!(diags.is_empty());
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.protected_namespaces, ["kube-system", "flux-system"]);
    }

    #[test]
    fn soak_per_tier() {
        let (settings, diags) = parse(EXAMPLE);
        assert!(diags.is_empty(), "{diags:?}");
        let soak = settings.soak;
        assert_eq!(soak.for_tier(Some("lab")), HOUR);
        assert_eq!(soak.for_tier(Some("stage")), HOUR * 6);
        assert_eq!(soak.for_tier(Some("PROD")), HOUR * 48);
        assert_eq!(soak.for_tier(Some("qa")), HOUR * 72);
        assert_eq!(soak.for_tier(None), HOUR * 72);
    }

    #[test]
    fn default_soak_windows() {
        let soak = SoakWindows::default();
        assert_eq!(soak.for_tier(Some("lab")), HOUR);
        assert_eq!(soak.for_tier(Some("stage")), HOUR * 12);
        assert_eq!(soak.for_tier(Some("prod")), HOUR * 24);
        assert_eq!(soak.for_tier(None), HOUR * 24);
    }

    #[test]
    fn contexts_override_theme_keymap_and_protected_namespaces() {
        let (settings, _) = parse(EXAMPLE);
        let prod = settings.for_context("prod-eu");
        assert_eq!(prod.theme, "production");
        assert_eq!(prod.keymap, "default");
        assert_eq!(prod.protected_namespaces, ["kube-system", "flux-system", "payments"]);
        assert!(prod.is_protected("payments"));

        let lab = settings.for_context("lab");
        assert_eq!(lab.theme, "dark");
        assert_eq!(lab.keymap, "vim");
        assert_eq!(lab.protected_namespaces, ["kube-system", "flux-system"]);
        assert!(!lab.is_protected("payments"));

        let other = settings.for_context("kind-kind");
        assert_eq!(other.theme, "dark");
        assert!(other.is_protected("kube-system"));
    }

    #[test]
    fn bad_duration_keeps_default_and_the_rest() {
        let text = "[soak]\nlab = \"2h\"\nstage = \"12x\"\nprod = 5\n";
        let (settings, diags) = parse(text);
        assert_eq!(settings.soak.lab, HOUR * 2);
        assert_eq!(settings.soak.stage, HOUR * 12);
        assert_eq!(settings.soak.prod, HOUR * 24);
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert_eq!(diags[0].line, Some(3));
        assert!(diags[0].message.contains("soak.stage"), "{}", diags[0]);
        assert!(diags[0].message.contains("keeping 12h"), "{}", diags[0]);
        assert_eq!(diags[1].line, Some(4));
    }

    #[test]
    fn unknown_keys_are_reported_with_line() {
        let text = "theme = \"light\"\nthemes = \"x\"\n[soak]\nqa = \"1h\"\n[contexts.a]\ncolour = 1\n";
        let (settings, diags) = parse(text);
        assert_eq!(settings.theme, "light");
        let lines: Vec<_> = diags.iter().map(|d| d.line).collect();
        assert_eq!(lines, [Some(2), Some(4), Some(6)], "{diags:?}");
        assert!(diags[0].message.contains("unknown key \"themes\""));
        assert!(diags[2].message.contains("[contexts.\"a\"]"), "{}", diags[2]);
    }

    #[test]
    fn syntax_error_is_returned() {
        let mut diags = Vec::new();
        let err = Settings::parse(Path::new("c.toml"), "a = 1\n[soak\n", &mut diags).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(diags.is_empty());
    }
}
