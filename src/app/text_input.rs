//! A one-line text field: filter, command, prompts and typed confirmations.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
}

impl TextInput {
    pub fn with_text(text: &str) -> TextInput {
        TextInput { text: text.to_string() }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Applies an editing key; returns whether the key was an edit.
    pub fn edit(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => self.text.clear(),
            KeyCode::Char('w') if ctrl => {
                let trimmed = self.text.trim_end();
                let cut = trimmed.rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
                self.text.truncate(cut);
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => self.text.push(c),
            KeyCode::Backspace => {
                self.text.pop();
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn edits_like_a_shell_line() {
        let mut input = TextInput::default();
        for c in "ns kube-system".chars() {
            assert!(input.edit(&key(KeyCode::Char(c), KeyModifiers::NONE)));
        }
        assert_eq!(input.text(), "ns kube-system");
        input.edit(&key(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(input.text(), "ns ");
        input.edit(&key(KeyCode::Backspace, KeyModifiers::NONE));
        assert_eq!(input.text(), "ns");
        input.edit(&key(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(input.text(), "");
        assert!(!input.edit(&key(KeyCode::Enter, KeyModifiers::NONE)));
        assert!(!input.edit(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
    }
}
