//! Reconnect delays: short, because an operator mid-incident needs the view
//! back within seconds, and one cockpit is not a fleet of controllers. Used by
//! the Kubernetes watches and the Hubble client alike.

use std::time::Duration;

/// Doubling delays from `first` up to `max`, each with up to a fifth of jitter
/// so many streams do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// Starts over at the first delay (after a success).
    pub fn restart(&mut self) {
        self.next = self.first;
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let current = self.next;
        self.next = (self.next * 2).min(self.max);
        Some(current.mul_f64(1.0 - fastrand::f64() * 0.2))
    }
}

impl kube::runtime::utils::Backoff for Backoff {
    fn reset(&mut self) {
        self.restart();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_restart() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        let delays: Vec<Duration> = backoff.by_ref().take(6).collect();
        let upper = [500, 1000, 2000, 4000, 5000, 5000];
        for (delay, upper) in delays.iter().zip(upper) {
            let upper = Duration::from_millis(upper);
            assert!(
                *delay <= upper && *delay >= upper.mul_f64(0.8),
                "{delay:?} vs {upper:?}"
            );
        }
        backoff.restart();
        assert!(backoff.next().is_some_and(|d| d <= Duration::from_millis(500)));
    }
}
