//! Human-friendly durations for soak windows: `"90s"`, `"30m"`, `"12h"`, `"1d"`,
//! `"1h30m"`.
//!
//! Small enough to hand-roll; a dependency (humantime) would buy month and year
//! units that make no sense for a soak window and whose length is ambiguous.

use std::time::Duration;

/// Units accepted after a number, with their length in seconds.
const UNITS: &[(&[&str], u64)] = &[
    (&["s", "sec", "secs", "second", "seconds"], 1),
    (&["m", "min", "mins", "minute", "minutes"], 60),
    (&["h", "hr", "hrs", "hour", "hours"], 60 * 60),
    (&["d", "day", "days"], 24 * 60 * 60),
    (&["w", "week", "weeks"], 7 * 24 * 60 * 60),
];

/// Parses `"12h"`, `"1h30m"`, `"1d 12h"`, `"90s"`, `"0s"`.
///
/// Every number needs a unit: a bare `"30"` is refused because minutes and
/// seconds are both plausible readings and guessing wrong shortens a soak.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("empty duration (write e.g. \"12h\")".to_string());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!(
                "invalid duration {input:?}: expected a number at {rest:?} (write e.g. \"12h\")"
            ));
        }
        let (number, after) = rest.split_at(digits);
        let after = after.trim_start();
        let unit_len = after.len() - after.trim_start_matches(char::is_alphabetic).len();
        let (unit, after) = after.split_at(unit_len);
        let seconds = unit_seconds(unit).ok_or_else(|| {
            if unit.is_empty() {
                format!("invalid duration {input:?}: {number} needs a unit (s, m, h, d or w)")
            } else {
                format!("invalid duration {input:?}: unknown unit {unit:?} (use s, m, h, d or w)")
            }
        })?;
        let too_long = || format!("invalid duration {input:?}: too long");
        let number: u64 = number.parse().map_err(|_| too_long())?;
        total = number
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(too_long)?;
        rest = after.trim_start();
    }
    Ok(Duration::from_secs(total))
}

/// The compact form used in the UI and in help: `"1d12h"`, `"30m"`, `"0s"`.
///
/// Sub-second parts are dropped; soak windows are never that precise.
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (suffix, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{suffix}", secs / len));
            secs %= len;
        }
    }
    out
}

fn unit_seconds(unit: &str) -> Option<u64> {
    let unit = unit.to_ascii_lowercase();
    UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit.as_str()))
        .map(|(_, seconds)| *seconds)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration(" 1d 12 hours ").unwrap(), Duration::from_secs(129_600));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_ambiguous_or_broken_durations() {
        for bad in ["", "30", "12x", "h", "1.5h", "-1h", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        let err = parse_duration("12x").unwrap_err();
        assert!(err.contains("unknown unit \"x\""), "{err}");
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(129_600)), "1d12h");
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
