//! Small text formatters shared by the views.

use jiff::Timestamp;

use crate::config::format_duration;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of per-minute counts scaled to the largest; all zeros is a flat
/// dotted line so "nothing" reads differently from "a little".
pub fn sparkline(values: &[u32]) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| match (max, v) {
            (0, _) => '·',
            (_, 0) => ' ',
            _ => BARS[((u64::from(v) * 7) / u64::from(max)) as usize],
        })
        .collect()
}

/// A per-minute rate: "0", "0.4", "12", "1.2k".
pub fn rate(per_minute: f64) -> String {
    if per_minute < 0.05 {
        "0".into()
    } else if per_minute < 10.0 {
        format!("{per_minute:.1}")
    } else if per_minute < 1000.0 {
        format!("{per_minute:.0}")
    } else {
        format!("{:.1}k", per_minute / 1000.0)
    }
}

/// "3h ago", "in 5m", "just now".
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    let d = now.duration_since(then);
    if d.abs().as_secs() < 5 {
        return "just now".into();
    }
    let text = format_duration(std::time::Duration::from_secs(d.abs().as_secs() as u64));
    // One unit is enough at a glance: "30h" not "1d6h".
    let short = first_unit(&text);
    if d.is_negative() {
        format!("in {short}")
    } else {
        format!("{short} ago")
    }
}

fn first_unit(text: &str) -> &str {
    match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => &text[..=i],
        None => text,
    }
}

/// "HH:MM:SS" in UTC, for flow tails.
pub fn clock(t: Timestamp) -> String {
    t.strftime("%H:%M:%S").to_string()
}

/// Truncates to `width` display columns with an ellipsis.
pub fn fit(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_peak() {
        assert_eq!(sparkline(&[0, 0, 0]), "···");
        assert_eq!(sparkline(&[0, 1, 7, 14]), " ▁▄█");
    }

    #[test]
    fn rates_and_times_read_at_a_glance() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.44), "0.4");
        assert_eq!(rate(37.6), "38");
        assert_eq!(rate(1530.0), "1.5k");
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().expect("time");
        let then: Timestamp = "2026-11-22T06:00:00Z".parse().expect("time");
        assert_eq!(ago(then, now), "1d ago");
        assert_eq!(ago(now, now), "just now");
        assert_eq!(fit("kustomize-controller", 8), "kustomi…");
        assert_eq!(fit("auth", 8), "auth");
    }
}
