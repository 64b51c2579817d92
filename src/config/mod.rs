//! Configuration: `config.toml`, themes and keymaps.
//!
//! Everything is optional and nothing in here stops tighten from starting:
//! problems become [`Diagnostic`]s (file, line, column, message) that the UI
//! shows, and the affected setting keeps its default. The one exception is a
//! file named explicitly with `--config`: if the operator pointed at a file
//! that is missing or is not TOML, silently running with defaults (say, with
//! the wrong protected namespaces) would be worse than refusing to start.
//!
//! Layout of the config directory (see [`Paths`]):
//!
//! ```text
//! config.toml          settings, per-context overrides
//! keymap.toml          changes to the default keymap
//! keymaps/<name>.toml  other keymaps, selected with `keymap = "<name>"`
//! themes/<name>.toml   user themes, selected with `theme = "<name>"`
//! ```

mod diagnostics;
mod duration;
mod key;
mod keymap;
mod paths;
mod settings;
mod style;
mod theme;
mod theme_role;
mod walk;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use diagnostics::{Diagnostic, line_col};
pub use duration::{format_duration, parse_duration};
pub use key::{KeyChord, KeyParseError};
pub use keymap::{Binding, Keymap, Mode, keymap_file};
pub use paths::Paths;
pub use settings::{
    BaselineSettings, ContextSettings, DEFAULT_PROTECTED_NAMESPACES, MONITORING_APP_LABEL, ResolvedSettings,
    SenderPods, Settings, SoakWindows,
};
pub use theme::{FALLBACK_THEME, Theme};
pub use theme_role::ThemeRole;

/// Where to look for configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSources {
    /// The config directory (`config.toml`, `themes/`, `keymaps/`); `None`
    /// when the platform has none, leaving only built-in defaults.
    pub config_dir: Option<PathBuf>,
    /// `--config FILE`: used instead of `<config_dir>/config.toml`, and must
    /// exist and parse.
    pub explicit_config: Option<PathBuf>,
    /// `--theme NAME`: beats the config file and the context.
    pub theme_override: Option<String>,
}

impl ConfigSources {
    /// Sources for a discovered (or test) directory layout.
    pub fn from_paths(paths: &Paths) -> Self {
        Self {
            config_dir: Some(paths.config_dir.clone()),
            ..Self::default()
        }
    }
}

/// Everything loaded, plus what went wrong on the way.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub settings: Settings,
    pub theme: Theme,
    pub keymap: Keymap,
    /// Problems found, in the order found; empty when all files are clean.
    pub diagnostics: Vec<Diagnostic>,
}

/// Loading failed outright; only for an explicit `--config` file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The message is `file:line:col: what`.
    #[error("invalid config file {0}")]
    Parse(Diagnostic),
}

/// Loads settings, theme and keymap for kube context `context`.
///
/// The theme is the first of: `sources.theme_override`,
/// `[contexts."<context>"].theme`, top-level `theme`, `"dark"`; the keymap
/// likewise without the override. Fails only for a missing or syntactically
/// broken `explicit_config`.
pub fn load(sources: &ConfigSources, context: &str) -> Result<LoadedConfig, ConfigError> {
    let mut diagnostics = Vec::new();
    let settings = load_settings(sources, &mut diagnostics)?;
    let resolved = settings.for_context(context);
    let theme_name = sources.theme_override.as_deref().unwrap_or(&resolved.theme);
    let themes_dir = sources.config_dir.as_ref().map(|dir| dir.join("themes"));
    let theme = Theme::load(theme_name, themes_dir.as_deref(), &mut diagnostics);
    let keymap = Keymap::load(&resolved.keymap, sources.config_dir.as_deref(), &mut diagnostics);
    Ok(LoadedConfig {
        settings,
        theme,
        keymap,
        diagnostics,
    })
}

fn load_settings(sources: &ConfigSources, diags: &mut Vec<Diagnostic>) -> Result<Settings, ConfigError> {
    if let Some(path) = &sources.explicit_config {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        return Settings::parse(path, &text, diags).map_err(ConfigError::Parse);
    }
    let Some(dir) = &sources.config_dir else {
        return Ok(Settings::default());
    };
    let path = dir.join("config.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        // Not having a config file is the normal first-run state.
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(err) => {
            diags.push(Diagnostic::new(
                &path,
                format!("cannot read config file: {err}; using defaults"),
            ));
            return Ok(Settings::default());
        }
    };
    Ok(Settings::parse(&path, &text, diags).unwrap_or_else(|diag| {
        diags.push(Diagnostic {
            message: format!("{}; using default settings", diag.message),
            ..diag
        });
        Settings::default()
    }))
}
