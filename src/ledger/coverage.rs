//! Which part of a window was observed: the ledger records the spans during
//! which it was running with Hubble connected, and the gaps are the rest.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// A span of time, start included, end excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Span {
    pub fn length(&self) -> SignedDuration {
        self.end.duration_since(self.start).max(SignedDuration::ZERO)
    }
}

/// What was observed of a window, and what was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub window: Span,
    pub observed: SignedDuration,
    /// The spans of the window nobody observed, in order.
    pub gaps: Vec<Span>,
}

impl Coverage {
    /// The observed share of the window, from 0 to 1.
    pub fn fraction(&self) -> f64 {
        let window = self.window.length().as_secs_f64();
        if window <= 0.0 {
            1.0
        } else {
            (self.observed.as_secs_f64() / window).clamp(0.0, 1.0)
        }
    }
}

/// The coverage of `window` by `observed` spans (in any order, overlapping).
pub fn coverage(window: Span, observed: &[Span]) -> Coverage {
    let mut spans: Vec<Span> = observed
        .iter()
        .map(|s| Span {
            start: s.start.max(window.start),
            end: s.end.min(window.end),
        })
        .filter(|s| s.start < s.end)
        .collect();
    spans.sort();
    let mut merged: Vec<Span> = Vec::new();
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    let observed = merged.iter().fold(SignedDuration::ZERO, |total, s| total + s.length());
    let mut gaps = Vec::new();
    let mut cursor = window.start;
    for span in &merged {
        if span.start > cursor {
            gaps.push(Span {
                start: cursor,
                end: span.start,
            });
        }
        cursor = cursor.max(span.end);
    }
    if cursor < window.end {
        gaps.push(Span {
            start: cursor,
            end: window.end,
        });
    }
    Coverage { window, observed, gaps }
}

/// "observed 21h40m of 24h; not observed 02:10–04:30".
pub fn describe(cover: &Coverage) -> String {
    let length = |d: SignedDuration| crate::config::format_duration(Duration::from_secs(d.as_secs().max(0) as u64));
    let mut text = format!(
        "observed {} of {}",
        length(cover.observed),
        length(cover.window.length())
    );
    // Gaps under a minute are the time since the last write, not blind spots.
    let gaps: Vec<&Span> = cover
        .gaps
        .iter()
        .filter(|g| g.length() >= SignedDuration::from_mins(1))
        .collect();
    if !gaps.is_empty() {
        let shown: Vec<String> = gaps
            .iter()
            .rev()
            .take(5)
            .map(|g| format!("{}–{}", g.start.strftime("%Y-%m-%d %H:%M"), g.end.strftime("%H:%M")))
            .collect();
        text.push_str(&format!("; not observed {}", shown.join(", ")));
        if gaps.len() > shown.len() {
            text.push_str(&format!(" and {} earlier gaps", gaps.len() - shown.len()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: f64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + (hours * 3600.0) as i64).expect("time")
    }

    fn span(a: f64, b: f64) -> Span {
        Span {
            start: at(a),
            end: at(b),
        }
    }

    #[test]
    fn gaps_are_what_no_span_covers() {
        // A 24 h window; the observer ran 0-2 h, 4.5-20 h and 19-24 h (overlap).
        let c = coverage(span(0.0, 24.0), &[span(19.0, 26.0), span(0.0, 2.0), span(4.5, 20.0)]);
        assert_eq!(c.gaps, vec![span(2.0, 4.5)]);
        assert_eq!(c.observed, SignedDuration::from_secs((21.5 * 3600.0) as i64));
        assert!((c.fraction() - 21.5 / 24.0).abs() < 1e-9);
        // Nothing observed: one gap, the window.
        let none = coverage(span(0.0, 1.0), &[]);
        assert_eq!(none.gaps, vec![span(0.0, 1.0)]);
        assert_eq!(none.fraction(), 0.0);
    }
}
