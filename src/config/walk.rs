//! Tolerant walking of a parsed TOML document.
//!
//! Why not plain serde derives: `deny_unknown_fields` and type errors abort the
//! whole file at the first problem, but a config file with one typo should still
//! apply everything else. `toml::de::DeTable` keeps a span on every key and
//! value, so the loaders validate entry by entry, skip only what is broken and
//! point the operator at the exact line.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::diagnostics::{Diagnostic, line_col};

/// A key of a parsed table, with its position.
pub(crate) type Key<'i> = Spanned<DeString<'i>>;
/// A value of a parsed document, with its position.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Reports problems in one file while its document is being interpreted.
pub(crate) struct Walker<'a> {
    path: &'a Path,
    text: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str, diags: &'a mut Vec<Diagnostic>) -> Self {
        Self { path, text, diags }
    }

    /// Parses the whole file. A syntax error is returned, not recorded, so the
    /// caller decides whether it is fatal (an explicit `--config`) or not.
    pub(crate) fn parse(path: &Path, text: &'a str) -> Result<DeTable<'a>, Diagnostic> {
        DeTable::parse(text)
            .map(Spanned::into_inner)
            .map_err(|err| Diagnostic::from_toml_error(path, text, &err))
    }

    /// Records a problem at `span` of this file.
    pub(crate) fn report(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::at_span(self.path, self.text, span, message));
    }

    /// The 1-based line of byte `offset` in this file.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        line_col(self.text, offset).0
    }

    /// The string in `value`, or a diagnostic naming `what` was expected.
    pub(crate) fn string<'v>(&mut self, value: &'v Value<'_>, what: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.report(
                    value.span(),
                    format!("{what}: expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// The boolean in `value`, or a diagnostic.
    pub(crate) fn boolean(&mut self, value: &Value<'_>, what: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.report(
                    value.span(),
                    format!("{what}: expected true or false, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// The table in `value`, or a diagnostic.
    pub(crate) fn table<'v, 'i>(&mut self, value: &'v Value<'i>, what: &str) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.report(
                    value.span(),
                    format!("{what}: expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// The elements of the array in `value`, or a diagnostic.
    pub(crate) fn array<'v, 'i>(&mut self, value: &'v Value<'i>, what: &str) -> Option<&'v [Value<'i>]> {
        match value.get_ref() {
            DeValue::Array(a) => Some(&a[..]),
            other => {
                self.report(
                    value.span(),
                    format!("{what}: expected an array, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An array of strings; elements that are not strings are reported and
    /// skipped so the rest of the list still applies.
    pub(crate) fn string_list(&mut self, value: &Value<'_>, what: &str) -> Option<Vec<String>> {
        let items = self.array(value, what)?;
        Some(
            items
                .iter()
                .filter_map(|item| self.string(item, what).map(str::to_string))
                .collect(),
        )
    }

    /// Reports a key this part of the file does not understand.
    pub(crate) fn unknown_key(&mut self, key: &Key<'_>, section: &str, known: &[&str]) {
        self.report(
            key.span(),
            format!(
                "unknown key {:?} in {section} (expected one of: {}); ignored",
                key.get_ref(),
                known.join(", ")
            ),
        );
    }
}

/// The entries of `table` in the order they appear in the file.
///
/// `DeTable` orders keys alphabetically unless some crate in the build enables
/// toml's `preserve_order`; sorting by position makes diagnostics come out in
/// file order either way.
pub(crate) fn entries<'t, 'i>(table: &'t DeTable<'i>) -> Vec<(&'t Key<'i>, &'t Value<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// Whether `name` may be used to build a file name (`themes/<name>.toml`).
///
/// Names arrive from the command line and from `:theme NAME`, so anything that
/// could escape the directory (`..`, `/`) is refused.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_in_file_order() {
        let doc = Walker::parse(Path::new("f"), "zeta = 1\nalpha = 2\nmid = 3\n").unwrap();
        let keys: Vec<&str> = entries(&doc).iter().map(|(k, _)| k.get_ref().as_ref()).collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn wrong_types_are_reported_with_position() {
        let text = "a = 1\nlist = [\"x\", 2, \"y\"]\n";
        let doc = Walker::parse(Path::new("f.toml"), text).unwrap();
        let mut diags = Vec::new();
        let mut w = Walker::new(Path::new("f.toml"), text, &mut diags);
        assert_eq!(w.string(&doc["a"], "a"), None);
        assert_eq!(w.string_list(&doc["list"], "list").unwrap(), ["x", "y"]);
        assert_eq!(diags.len(), 2);
        assert_eq!(diags[0].line, Some(1));
        assert_eq!(diags[1].line, Some(2));
        assert!(diags[1].message.contains("expected a string, found integer"));
    }

    #[test]
    fn names_cannot_escape_their_directory() {
        assert!(is_valid_name("dark"));
        assert!(is_valid_name("my_theme-2.v1"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("../etc/passwd"));
        assert!(!is_valid_name("a/b"));
        assert!(!is_valid_name(".hidden"));
    }
}
