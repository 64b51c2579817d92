//! Problems found while loading configuration, pointing at file, line and column.
//!
//! Configuration mistakes must never stop the cockpit from starting (an operator
//! pulling the brake cannot wait for a typo fix), so loaders collect
//! [`Diagnostic`]s instead of failing and the UI shows them. Each one carries a
//! position in the familiar `file:line:col: message` form so editors and
//! terminals can jump straight to it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in (or the file that was looked for).
    pub file: PathBuf,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// 1-based column in characters (not bytes), when known.
    pub column: Option<usize>,
    /// What is wrong, and usually what was done about it.
    pub message: String,
}

impl Diagnostic {
    /// A problem with a whole file (unreadable, missing, unknown name).
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A problem at byte `offset` of `source`, the text of `file`.
    pub fn at(file: impl Into<PathBuf>, source: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(source, offset);
        Self {
            file: file.into(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    /// A problem covering the byte range `span` of `source`; positioned at its start.
    pub fn at_span(file: impl Into<PathBuf>, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self::at(file, source, span.start, message)
    }

    /// Converts a TOML syntax or deserialisation error of `source` (read from `file`).
    pub fn from_toml_error(file: &Path, source: &str, error: &toml::de::Error) -> Self {
        // The parser's message may span several lines (expected-token lists);
        // a diagnostic is shown on one line in the UI.
        let message = error
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let message = if message.is_empty() {
            "invalid TOML".to_string()
        } else {
            message
        };
        match error.span() {
            Some(span) => Self::at_span(file, source, span, message),
            None => Self::new(file, message),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// 1-based `(line, column)` of byte `offset` in `source`.
///
/// The column counts characters, not bytes, so it matches what an editor shows
/// for non-ASCII text. Offsets past the end (or inside a multi-byte character)
/// are clamped to the nearest preceding character boundary, because spans come
/// from a parser we do not control and a diagnostic must never panic.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_characters() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 4), (1, 5));
        assert_eq!(line_col(src, 6), (2, 1));
        // "bé" is 3 bytes; the '=' after "bé " is the 4th character.
        assert_eq!(line_col(src, 10), (2, 4));
    }

    #[test]
    fn line_col_clamps_out_of_range_offsets() {
        assert_eq!(line_col("ab\ncd", 999), (2, 3));
        // Offset 2 is inside 'é' (bytes 1..3): clamp back to its start.
        assert_eq!(line_col("aé", 2), (1, 2));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn display_omits_missing_parts() {
        let mut d = Diagnostic::new("/x/config.toml", "boom");
        assert_eq!(d.to_string(), "/x/config.toml: boom");
        d.line = Some(3);
        assert_eq!(d.to_string(), "/x/config.toml:3: boom");
        d.column = Some(7);
        assert_eq!(d.to_string(), "/x/config.toml:3:7: boom");
    }

    #[test]
    fn toml_errors_keep_their_position() {
        let src = "a = 1\nb = = 2\n";
        let err = toml::from_str::<toml::Table>(src).unwrap_err();
        let d = Diagnostic::from_toml_error(Path::new("f.toml"), src, &err);
        assert_eq!(d.line, Some(2));
        assert!(d.column.is_some());
        assert!(!d.message.contains('\n'));
    }
}
