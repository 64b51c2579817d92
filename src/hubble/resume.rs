//! Resuming a stream without counting a flow twice.
//!
//! After a reconnect (or a change of scope) the client asks Hubble for flows
//! from a little before the newest one it has, because Relay merges nodes'
//! streams and a flow can arrive after a newer one. The flows of that overlap
//! that were already counted are recognised by their bytes (a flow's encoding
//! is deterministic, and Hubble gives each its own uuid) and skipped.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use jiff::{SignedDuration, Timestamp};

/// How far before the newest flow a resumed stream starts.
pub const OVERLAP: SignedDuration = SignedDuration::from_secs(5);
/// How long a flow is remembered after the newest one.
const HORIZON: SignedDuration = SignedDuration::from_secs(10);
/// The most flows remembered, whatever the rate.
const CAPACITY: usize = 262_144;

/// The identity of a received message.
pub fn key(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The flows received recently.
#[derive(Debug, Default)]
pub struct Resume {
    newest: Option<Timestamp>,
    recent: VecDeque<(Timestamp, u64)>,
    keys: HashSet<u64>,
}

impl Resume {
    /// Where a resumed stream starts: [`OVERLAP`] before the newest flow, but
    /// never before the oldest one still remembered (earlier ones could not be
    /// recognised). `None` before any flow was received.
    pub fn since(&self) -> Option<Timestamp> {
        let newest = self.newest?;
        Some(match self.recent.front() {
            Some((oldest, _)) => (newest - OVERLAP).max(*oldest),
            None => newest,
        })
    }

    /// Whether the flow is new; remembers it.
    pub fn admit(&mut self, time: Timestamp, key: u64) -> bool {
        if !self.keys.insert(key) {
            return false;
        }
        let newest = self.newest.map_or(time, |n| n.max(time));
        self.newest = Some(newest);
        self.recent.push_back((time, key));
        while let Some(&(oldest, old_key)) = self.recent.front() {
            if self.recent.len() <= CAPACITY && oldest >= newest - HORIZON {
                break;
            }
            self.recent.pop_front();
            self.keys.remove(&old_key);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_700_000_000_000 + ms).expect("valid")
    }

    #[test]
    fn a_resumed_stream_skips_what_was_counted() {
        let mut resume = Resume::default();
        assert_eq!(resume.since(), None);
        for ms in 0..100 {
            assert!(resume.admit(at(ms * 100), ms as u64));
        }
        // Newest 9.9 s; resume 5 s before it.
        assert_eq!(resume.since(), Some(at(4_900)));
        // The overlap comes again: all of it is known.
        for ms in 49..100 {
            assert!(!resume.admit(at(ms * 100), ms as u64));
        }
        // A late flow from another node, not seen before, counts.
        assert!(resume.admit(at(9_000), 1_000));
    }

    #[test]
    fn memory_is_bounded_by_time_and_count() {
        let mut resume = Resume::default();
        for i in 0..1_000u64 {
            resume.admit(at(i as i64 * 1_000), i);
        }
        // Only the last ten seconds are remembered, and resuming never starts
        // before them.
        assert!(resume.recent.len() <= 11);
        assert_eq!(resume.since(), Some(at(994_000)));
        assert!(resume.admit(at(1_000), 1));
    }

    #[test]
    fn keys_are_the_bytes() {
        assert_eq!(key(b"flow"), key(b"flow"));
        assert_ne!(key(b"flow"), key(b"flow2"));
    }
}
