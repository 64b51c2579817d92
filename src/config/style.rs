//! Colours, modifiers and styles as written in theme files.
//!
//! ```toml
//! danger = "red"                                                  # fg only
//! selection = { fg = "black", bg = "#7aa2f7", modifiers = ["bold"] }
//! ```
//!
//! A colour is a palette name, an ANSI name or `#rrggbb`. Palette names are
//! looked up first so a theme can redefine `red` as a softer red.

use std::collections::HashMap;

use ratatui::style::{Color, Modifier, Style};
use toml::de::DeValue;

use super::walk::{Value, Walker, entries};

/// Named colours a theme defines in `[palette]`.
pub(crate) type Palette = HashMap<String, Color>;

/// ANSI colour names; these follow the terminal's own palette, which is what
/// users of 16-colour themes expect.
const ANSI: &[(&str, Color)] = &[
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("grey", Color::Gray),
    ("darkgray", Color::DarkGray),
    ("darkgrey", Color::DarkGray),
    ("lightred", Color::LightRed),
    ("lightgreen", Color::LightGreen),
    ("lightyellow", Color::LightYellow),
    ("lightblue", Color::LightBlue),
    ("lightmagenta", Color::LightMagenta),
    ("lightcyan", Color::LightCyan),
    ("white", Color::White),
    ("reset", Color::Reset),
];

const MODIFIERS: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("reversed", Modifier::REVERSED),
    ("crossed_out", Modifier::CROSSED_OUT),
];

/// Parses a colour: palette entry, ANSI name (case-insensitive) or `#rrggbb`.
pub(crate) fn parse_color(text: &str, palette: &Palette) -> Result<Color, String> {
    if let Some(color) = palette.get(text) {
        return Ok(*color);
    }
    if let Some(hex) = text.strip_prefix('#') {
        return parse_hex(hex).ok_or_else(|| format!("invalid colour {text:?} (expected #rrggbb)"));
    }
    let name = text.to_ascii_lowercase().replace(['_', '-', ' '], "");
    ANSI.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, color)| *color)
        .ok_or_else(|| {
            format!(
                "unknown colour {text:?} (use a [palette] name, an ANSI name like \"red\" or \"darkgray\", or \"#rrggbb\")"
            )
        })
}

fn parse_hex(hex: &str) -> Option<Color> {
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some(Color::Rgb(channel(0)?, channel(2)?, channel(4)?))
}

fn parse_modifier(text: &str) -> Result<Modifier, String> {
    MODIFIERS
        .iter()
        .find(|(n, _)| *n == text)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            let known: Vec<_> = MODIFIERS.iter().map(|(n, _)| *n).collect();
            format!("unknown modifier {text:?} (expected one of: {})", known.join(", "))
        })
}

/// Parses one `[styles]` entry. Every problem is reported; any problem makes
/// the whole entry invalid (`None`) so a half-applied style never shows up.
pub(crate) fn parse_style(w: &mut Walker<'_>, role: &str, value: &Value<'_>, palette: &Palette) -> Option<Style> {
    if let DeValue::String(text) = value.get_ref() {
        return match parse_color(text, palette) {
            Ok(color) => Some(Style::new().fg(color)),
            Err(err) => {
                w.report(value.span(), format!("{role}: {err}; entry skipped"));
                None
            }
        };
    }
    let table = w.table(value, role)?;
    let mut style = Style::new();
    let mut ok = true;
    for (key, value) in entries(table) {
        match key.get_ref().as_ref() {
            field @ ("fg" | "bg") => {
                let Some(text) = w.string(value, &format!("{role}.{field}")) else {
                    ok = false;
                    continue;
                };
                match parse_color(text, palette) {
                    Ok(color) if field == "fg" => style = style.fg(color),
                    Ok(color) => style = style.bg(color),
                    Err(err) => {
                        w.report(value.span(), format!("{role}.{field}: {err}; entry skipped"));
                        ok = false;
                    }
                }
            }
            "modifiers" => {
                let what = format!("{role}.modifiers");
                let Some(items) = w.array(value, &what) else {
                    ok = false;
                    continue;
                };
                for item in items {
                    let Some(text) = w.string(item, &what) else {
                        ok = false;
                        continue;
                    };
                    match parse_modifier(text) {
                        Ok(modifier) => style = style.add_modifier(modifier),
                        Err(err) => {
                            w.report(item.span(), format!("{what}: {err}; entry skipped"));
                            ok = false;
                        }
                    }
                }
            }
            _ => {
                w.unknown_key(key, &format!("style {role:?}"), &["fg", "bg", "modifiers"]);
                ok = false;
            }
        }
    }
    ok.then_some(style)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn colours_from_palette_ansi_and_hex() {
        let mut palette = Palette::new();
        palette.insert("red".into(), Color::Rgb(1, 2, 3));
        assert_eq!(parse_color("red", &palette), Ok(Color::Rgb(1, 2, 3)));
        assert_eq!(parse_color("red", &Palette::new()), Ok(Color::Red));
        assert_eq!(parse_color("DarkGray", &palette), Ok(Color::DarkGray));
        assert_eq!(parse_color("light_red", &palette), Ok(Color::LightRed));
        assert_eq!(parse_color("#7aa2f7", &palette), Ok(Color::Rgb(0x7a, 0xa2, 0xf7)));
        assert!(parse_color("#7aa2f", &palette).is_err());
        assert!(parse_color("#7aa2fg", &palette).is_err());
        assert!(parse_color("purpel", &palette).unwrap_err().contains("unknown colour"));
    }

    #[test]
    fn modifiers_by_name() {
        assert_eq!(parse_modifier("crossed_out"), Ok(Modifier::CROSSED_OUT));
        assert!(parse_modifier("blink").unwrap_err().contains("unknown modifier"));
    }
}
