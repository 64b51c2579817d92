//! Fixed-size per-minute counters: the only shape drop statistics are kept in, so
//! memory stays bounded however long the cockpit runs.

use std::collections::HashMap;
use std::hash::Hash;

use jiff::Timestamp;

/// How many minutes a series remembers.
pub const MINUTES: usize = 60;

/// The sliding windows the Drops tab offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    OneMinute,
    #[default]
    FiveMinutes,
    OneHour,
}

impl Window {
    pub fn minutes(self) -> usize {
        match self {
            Window::OneMinute => 1,
            Window::FiveMinutes => 5,
            Window::OneHour => MINUTES,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::OneMinute => "1m",
            Window::FiveMinutes => "5m",
            Window::OneHour => "1h",
        }
    }

    pub fn next(self) -> Window {
        match self {
            Window::OneMinute => Window::FiveMinutes,
            Window::FiveMinutes => Window::OneHour,
            Window::OneHour => Window::OneMinute,
        }
    }
}

/// The minute index of a timestamp (minutes since the Unix epoch).
pub fn minute_of(t: Timestamp) -> i64 {
    t.as_second().div_euclid(60)
}

/// A ring of per-minute counts covering the last [`MINUTES`] minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteSeries {
    buckets: [u32; MINUTES],
    /// The newest minute written; slots older than `newest - MINUTES` are stale.
    newest: i64,
}

impl Default for MinuteSeries {
    fn default() -> Self {
        MinuteSeries {
            buckets: [0; MINUTES],
            newest: i64::MIN / 2,
        }
    }
}

impl MinuteSeries {
    fn slot(minute: i64) -> usize {
        // rem_euclid of a positive modulus is in 0..MINUTES.
        minute.rem_euclid(MINUTES as i64) as usize
    }

    pub fn add(&mut self, minute: i64, n: u32) {
        if minute > self.newest {
            let gap = (minute - self.newest).min(MINUTES as i64);
            for m in (minute - gap + 1)..=minute {
                self.buckets[Self::slot(m)] = 0;
            }
            self.newest = minute;
        } else if minute <= self.newest - MINUTES as i64 {
            return; // older than the window: nothing to count it in
        }
        let slot = &mut self.buckets[Self::slot(minute)];
        *slot = slot.saturating_add(n);
    }

    pub fn get(&self, minute: i64) -> u32 {
        if minute > self.newest || minute <= self.newest - MINUTES as i64 {
            0
        } else {
            self.buckets[Self::slot(minute)]
        }
    }

    /// The sum of the `minutes` minutes ending with (and including) `now`'s minute.
    pub fn sum(&self, now: i64, minutes: usize) -> u64 {
        (0..minutes.min(MINUTES) as i64)
            .map(|back| u64::from(self.get(now - back)))
            .sum()
    }

    /// Events over the `minutes` ending at `now`, sliding: whole minutes, plus
    /// the part of the oldest one still inside the window (when the ring
    /// holds it).
    pub fn window(&self, now: Timestamp, minutes: usize) -> u64 {
        let minutes = minutes.clamp(1, MINUTES);
        let minute = minute_of(now);
        // The current minute is partial; the window reaches back into the
        // minute before the oldest whole one by the part not yet elapsed.
        let whole = self.sum(minute, minutes);
        if minutes == MINUTES {
            return whole;
        }
        let into = now.as_second().rem_euclid(60) as f64 / 60.0;
        let oldest = f64::from(self.get(minute - minutes as i64));
        whole + (oldest * (1.0 - into)).round() as u64
    }

    /// Per-minute counts, oldest first, ending with `now`'s minute.
    pub fn series(&self, now: i64, minutes: usize) -> Vec<u32> {
        (0..minutes.min(MINUTES) as i64)
            .rev()
            .map(|back| self.get(now - back))
            .collect()
    }

    /// Events over the last 60 seconds, estimated by weighting the previous minute
    /// by the part of it that is still inside the window.
    pub fn rate_per_minute(&self, now: Timestamp) -> f64 {
        let minute = minute_of(now);
        let into = now.as_second().rem_euclid(60) as f64 / 60.0;
        f64::from(self.get(minute)) + f64::from(self.get(minute - 1)) * (1.0 - into)
    }
}

/// Counters per key, capped: when full, the key with the least recent activity
/// makes room, and the eviction is counted.
#[derive(Debug, Clone)]
pub struct TopCounts<K> {
    entries: HashMap<K, MinuteSeries>,
    capacity: usize,
    pub evicted: u64,
}

impl<K: Hash + Eq + Clone> TopCounts<K> {
    pub fn new(capacity: usize) -> Self {
        TopCounts {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    pub fn add(&mut self, key: K, minute: i64) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            let quietest = self
                .entries
                .iter()
                .min_by_key(|(_, s)| s.sum(minute, 10))
                .map(|(k, _)| k.clone());
            if let Some(k) = quietest {
                self.entries.remove(&k);
                self.evicted += 1;
            }
        }
        self.entries.entry(key).or_default().add(minute, 1);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The busiest keys over the last `minutes`, with their count and rate.
    pub fn top(&self, now: Timestamp, minutes: usize, n: usize) -> Vec<Ranked<K>> {
        let mut ranked: Vec<Ranked<K>> = self
            .entries
            .iter()
            .map(|(key, s)| Ranked {
                key: key.clone(),
                count: s.window(now, minutes),
                per_minute: s.rate_per_minute(now),
            })
            .filter(|r| r.count > 0)
            .collect();
        ranked.sort_by(|a, b| b.count.cmp(&a.count).then(b.per_minute.total_cmp(&a.per_minute)));
        ranked.truncate(n);
        ranked
    }
}

/// One key of a [`TopCounts`] ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked<K> {
    pub key: K,
    pub count: u64,
    pub per_minute: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid")
    }

    #[test]
    fn series_keep_the_last_hour_only() {
        let mut s = MinuteSeries::default();
        s.add(100, 3);
        s.add(100, 2);
        s.add(101, 1);
        assert_eq!(s.get(100), 5);
        assert_eq!(s.series(102, 3), vec![5, 1, 0]);
        assert_eq!(s.sum(101, 2), 6);
        // Moving 60 minutes on forgets everything older.
        s.add(161, 7);
        assert_eq!(s.get(100), 0);
        assert_eq!(s.get(101), 0);
        assert_eq!(s.get(161), 7);
        // Too old to count.
        s.add(90, 9);
        assert_eq!(s.sum(161, 60), 7);
        // A late event inside the window still counts.
        s.add(150, 1);
        assert_eq!(s.get(150), 1);
    }

    #[test]
    fn rate_weights_the_previous_minute() {
        let mut s = MinuteSeries::default();
        s.add(10, 60);
        s.add(11, 30);
        // 15 s into minute 11: all of 11 plus 3/4 of 10.
        let rate = s.rate_per_minute(at(11 * 60 + 15));
        assert!((rate - 75.0).abs() < 1e-9, "{rate}");
        assert_eq!(s.rate_per_minute(at(20 * 60)), 0.0);
    }

    #[test]
    fn windows_slide_over_the_minute_buckets() {
        let mut s = MinuteSeries::default();
        s.add(9, 60);
        s.add(10, 12);
        // 15 s into minute 10: the last minute is 3/4 of minute 9 plus minute 10.
        assert_eq!(s.window(at(10 * 60 + 15), 1), 57);
        assert_eq!(s.window(at(10 * 60 + 15), 5), 72);
        assert_eq!(s.window(at(10 * 60 + 59), 1), 13);
        // An hour is the whole ring.
        assert_eq!(s.window(at(10 * 60 + 15), 60), 72);
        assert_eq!(Window::OneMinute.next().next().next(), Window::OneMinute);
        assert_eq!(Window::OneHour.minutes(), 60);
    }

    #[test]
    fn top_counts_evict_the_quietest_key() {
        let mut top = TopCounts::new(2);
        for _ in 0..5 {
            top.add("busy", 10);
        }
        top.add("quiet", 10);
        top.add("new", 10);
        assert_eq!(top.len(), 2);
        assert_eq!(top.evicted, 1);
        let ranked = top.top(at(10 * 60 + 30), 10, 5);
        let keys: Vec<_> = ranked.iter().map(|r| r.key).collect();
        assert_eq!(keys, vec!["busy", "new"]);
        assert_eq!(ranked[0].count, 5);
    }
}
