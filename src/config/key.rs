//! Key chords as written in keymap files: `"b"`, `"E"`, `"ctrl-d"`, `"shift-tab"`.
//!
//! Terminals disagree on how they report shifted keys: `E` arrives as
//! `Char('E')` with or without `SHIFT`, sometimes as `Char('e')` + `SHIFT`
//! (kitty protocol), and shift-tab as `BackTab` (+ `SHIFT`). Chords and events
//! are both normalised to one form before comparing, so a binding written the
//! obvious way works everywhere:
//!
//! * for characters, the case carries the shift: `SHIFT` is dropped and a
//!   shifted lowercase letter becomes uppercase;
//! * `shift-tab` is `BackTab` without modifiers.

use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// One key plus modifiers, e.g. `ctrl-d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

/// A key string that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    #[error("empty key")]
    Empty,
    #[error("unknown key name {0:?}")]
    UnknownName(String),
    #[error(
        "{0:?}: shift only combines with letters and named keys; write the shifted character itself (e.g. \"?\" or \"!\")"
    )]
    ShiftedSymbol(String),
}

/// Modifier prefixes, in the order `Display` writes them.
const MODIFIERS: &[(&str, KeyModifiers)] = &[
    ("ctrl-", KeyModifiers::CONTROL),
    ("alt-", KeyModifiers::ALT),
    ("shift-", KeyModifiers::SHIFT),
    ("super-", KeyModifiers::SUPER),
    ("hyper-", KeyModifiers::HYPER),
    ("meta-", KeyModifiers::META),
];

/// Named keys; the first spelling of each is the canonical one.
const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("return", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("escape", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("space", KeyCode::Char(' ')),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pgup", KeyCode::PageUp),
    ("pageup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("pagedown", KeyCode::PageDown),
    ("delete", KeyCode::Delete),
    ("del", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("ins", KeyCode::Insert),
];

impl KeyChord {
    /// A chord, normalised (see the module docs).
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> Self {
        let mut modifiers = modifiers;
        let code = match code {
            KeyCode::Char(c) => {
                let shifted = modifiers.contains(KeyModifiers::SHIFT);
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::Char(if shifted { c.to_ascii_uppercase() } else { c })
            }
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Self { code, modifiers }
    }

    /// A chord without modifiers.
    pub fn plain(code: KeyCode) -> Self {
        Self::new(code, KeyModifiers::NONE)
    }

    /// The chord a terminal event represents; `None` for key releases, which
    /// must not trigger bindings a second time (Windows reports them always).
    pub fn from_event(event: &KeyEvent) -> Option<Self> {
        match event.kind {
            KeyEventKind::Press | KeyEventKind::Repeat => Some(Self::new(event.code, event.modifiers)),
            KeyEventKind::Release => None,
        }
    }

    /// Whether `event` is this chord being pressed.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        Self::from_event(event) == Some(self.normalized())
    }

    /// This chord normalised, in case it was built from raw fields.
    fn normalized(self) -> Self {
        Self::new(self.code, self.modifiers)
    }
}

impl FromStr for KeyChord {
    type Err = KeyParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        if text.is_empty() {
            return Err(KeyParseError::Empty);
        }
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        // Strip prefixes only while something follows them, so "ctrl--" is
        // ctrl plus '-' and a lone "-" is the minus key.
        'prefixes: loop {
            for (prefix, modifier) in MODIFIERS {
                if let Some(after) = strip_prefix_ignore_case(rest, prefix) {
                    modifiers |= *modifier;
                    rest = after;
                    continue 'prefixes;
                }
            }
            break;
        }
        let code = parse_code(rest).ok_or_else(|| KeyParseError::UnknownName(text.to_string()))?;
        if let KeyCode::Char(c) = code {
            // Shift on a symbol or digit depends on the keyboard layout
            // (shift-1 is '!' only on some), so it cannot be matched reliably.
            if modifiers.contains(KeyModifiers::SHIFT) && !c.is_alphabetic() {
                return Err(KeyParseError::ShiftedSymbol(text.to_string()));
            }
        }
        Ok(KeyChord::new(code, modifiers))
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    let rest = &text[prefix.len()..];
    (head.eq_ignore_ascii_case(prefix) && !rest.is_empty()).then_some(rest)
}

fn parse_code(name: &str) -> Option<KeyCode> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return (!c.is_whitespace()).then_some(KeyCode::Char(c));
    }
    let lower = name.to_ascii_lowercase();
    if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == lower) {
        return Some(*code);
    }
    let n: u8 = lower.strip_prefix('f')?.parse().ok()?;
    (1..=24).contains(&n).then_some(KeyCode::F(n))
}

impl fmt::Display for KeyChord {
    /// The canonical spelling, which parses back to the same chord.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chord = self.normalized();
        for (prefix, modifier) in MODIFIERS {
            if chord.modifiers.contains(*modifier) {
                f.write_str(prefix)?;
            }
        }
        match chord.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => match NAMED.iter().find(|(_, c)| *c == code) {
                Some((name, _)) => f.write_str(name),
                // Keys a keymap cannot name (media keys, ...) still need a label.
                None => write!(f, "{}", format!("{code:?}").to_lowercase()),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn key(s: &str) -> KeyChord {
        s.parse().unwrap()
    }

    fn ev(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn parses_plain_named_and_modified_keys() {
        assert_eq!(key("b"), KeyChord::plain(KeyCode::Char('b')));
        assert_eq!(key("E"), KeyChord::plain(KeyCode::Char('E')));
        assert_eq!(key("shift-e"), key("E"));
        assert_eq!(key("ctrl-d"), KeyChord::new(KeyCode::Char('d'), KeyModifiers::CONTROL));
        assert_eq!(key("Alt-x"), KeyChord::new(KeyCode::Char('x'), KeyModifiers::ALT));
        assert_eq!(key("shift-tab"), KeyChord::plain(KeyCode::BackTab));
        assert_eq!(key("space"), KeyChord::plain(KeyCode::Char(' ')));
        assert_eq!(key("PgDn"), KeyChord::plain(KeyCode::PageDown));
        assert_eq!(key("f12"), KeyChord::plain(KeyCode::F(12)));
        assert_eq!(key("?"), KeyChord::plain(KeyCode::Char('?')));
        assert_eq!(key("1"), KeyChord::plain(KeyCode::Char('1')));
        assert_eq!(key("-"), KeyChord::plain(KeyCode::Char('-')));
        assert_eq!(key("ctrl--"), KeyChord::new(KeyCode::Char('-'), KeyModifiers::CONTROL));
    }

    #[test]
    fn errors_are_descriptive() {
        assert_eq!(
            "ctrl-foo".parse::<KeyChord>().unwrap_err().to_string(),
            "unknown key name \"ctrl-foo\""
        );
        assert_eq!("".parse::<KeyChord>(), Err(KeyParseError::Empty));
        assert!("f13x".parse::<KeyChord>().is_err());
        assert!("f0".parse::<KeyChord>().is_err());
        assert!("ctrl-".parse::<KeyChord>().is_err());
        assert!(matches!(
            "shift-1".parse::<KeyChord>(),
            Err(KeyParseError::ShiftedSymbol(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "b",
            "E",
            "ctrl-d",
            "alt-x",
            "shift-tab",
            "enter",
            "esc",
            "tab",
            "backspace",
            "space",
            "up",
            "pgup",
            "pgdn",
            "delete",
            "insert",
            "f1",
            "f12",
            "?",
            "/",
            ":",
            "1",
            "ctrl-alt-delete",
            "shift-up",
        ] {
            assert_eq!(key(s).to_string(), s);
            assert_eq!(key(&key(s).to_string()), key(s));
        }
        assert_eq!(key("shift-e").to_string(), "E");
        assert_eq!(key("Escape").to_string(), "esc");
    }

    #[test]
    fn events_match_however_the_terminal_reports_shift() {
        let upper_e = key("E");
        assert!(upper_e.matches(&ev(KeyCode::Char('E'), KeyModifiers::SHIFT)));
        assert!(upper_e.matches(&ev(KeyCode::Char('E'), KeyModifiers::NONE)));
        assert!(upper_e.matches(&ev(KeyCode::Char('e'), KeyModifiers::SHIFT)));
        assert!(!upper_e.matches(&ev(KeyCode::Char('e'), KeyModifiers::NONE)));

        let back = key("shift-tab");
        assert!(back.matches(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)));
        assert!(back.matches(&ev(KeyCode::BackTab, KeyModifiers::NONE)));
        assert!(back.matches(&ev(KeyCode::Tab, KeyModifiers::SHIFT)));
        assert!(!key("tab").matches(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)));

        assert!(key("?").matches(&ev(KeyCode::Char('?'), KeyModifiers::SHIFT)));
    }

    #[test]
    fn control_is_significant() {
        let ctrl_d = key("ctrl-d");
        assert!(ctrl_d.matches(&ev(KeyCode::Char('d'), KeyModifiers::CONTROL)));
        assert!(!ctrl_d.matches(&ev(KeyCode::Char('d'), KeyModifiers::NONE)));
        assert!(!key("d").matches(&ev(KeyCode::Char('d'), KeyModifiers::CONTROL)));
        assert!(!key("c").matches(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(key("ctrl-c").matches(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        // ctrl-shift-d is a different chord from ctrl-d.
        assert!(!ctrl_d.matches(&ev(KeyCode::Char('D'), KeyModifiers::CONTROL | KeyModifiers::SHIFT)));
    }

    #[test]
    fn releases_never_match() {
        let release = KeyEvent::new_with_kind(KeyCode::Char('b'), KeyModifiers::NONE, KeyEventKind::Release);
        assert!(!key("b").matches(&release));
    }
}
