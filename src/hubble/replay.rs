//! Plays a recording into a [`FlowRing`]: `tighten replay` and the tests serve
//! recordings with it, and anything that speaks Hubble's observer API (the
//! hubble CLI, tighten's own client) reads them as it would read Hubble Relay.
//!
//! The recording plays on the server's clock: a flow "happens" once its offset
//! from the first flow, divided by `speed`, has passed since playing began.
//! With `looping`, the recording starts over, its times shifted by its length.

use std::time::Duration;

use jiff::SignedDuration;
use tokio::time::Instant;

use crate::flows::Flow;

use super::server::FlowRing;

/// The smallest ring a replay server keeps, like a small Hubble agent's.
const MIN_CAPACITY: usize = 4_096;
/// Flows pushed per ring update while catching up.
const CHUNK: usize = 1_024;

/// A recording and how to play it.
#[derive(Clone)]
pub struct Replay {
    flows: Vec<Flow>,
    speed: f64,
    looping: bool,
    /// Each flow carries the moment it is played instead of its recorded time.
    played_times: bool,
}

impl Replay {
    /// `flows` in any order; `speed` 2.0 plays twice as fast.
    pub fn new(mut flows: Vec<Flow>, speed: f64, looping: bool) -> Replay {
        flows.sort_by_key(|f| f.time);
        Replay {
            flows,
            speed: if speed > 0.0 && speed.is_finite() { speed } else { 1.0 },
            looping,
            played_times: false,
        }
    }

    /// Each flow gets the wall-clock time it is played at (`tighten replay
    /// --rebase`): an old incident, at any speed, then fills the cockpit's
    /// windows, which end at the wall clock.
    pub fn with_played_times(mut self) -> Replay {
        self.played_times = true;
        self
    }

    /// The recording moved in time so that it begins at `start` (the gaps
    /// between flows kept): an old incident then fills the cockpit's windows,
    /// which end at the wall clock.
    pub fn rebased(mut self, start: jiff::Timestamp) -> Replay {
        if let Some(first) = self.flows.first().map(|f| f.time) {
            let shift = start.duration_since(first);
            for flow in &mut self.flows {
                flow.time = flow.time.checked_add(shift).unwrap_or(flow.time);
            }
        }
        self
    }

    /// A ring large enough to hold one pass of the recording.
    pub fn ring(&self) -> FlowRing {
        FlowRing::new(self.flows.len().max(MIN_CAPACITY))
    }

    /// Serves the recording on `listener` until the task is dropped.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> Result<(), tonic::transport::Error> {
        let ring = self.ring();
        let player = tokio::spawn(self.play(ring.clone()));
        let served = ring.serve(listener, tls).await;
        player.abort();
        served
    }

    /// Pushes each flow into `ring` when it is due; returns at the end of a
    /// recording that does not loop.
    pub async fn play(self, ring: FlowRing) {
        let (Some(first), Some(last)) = (self.flows.first(), self.flows.last()) else {
            return;
        };
        let origin = first.time;
        // A loop's length: at least a millisecond, so a recording of one
        // instant still advances.
        let span = last.time.duration_since(origin).max(SignedDuration::from_millis(1));
        let started = Instant::now();
        let wall_start = jiff::Timestamp::now();
        let mut shift = SignedDuration::ZERO;
        loop {
            let mut batch = Vec::with_capacity(CHUNK);
            for flow in &self.flows {
                let offset = flow.time.duration_since(origin) + shift;
                let wait = Duration::try_from(offset).unwrap_or_default().div_f64(self.speed);
                let due = started + wait;
                if due > Instant::now() || batch.len() == CHUNK {
                    ring.push(std::mem::take(&mut batch));
                    tokio::time::sleep_until(due).await;
                }
                let time = if self.played_times {
                    wall_start + SignedDuration::try_from(wait).unwrap_or_default()
                } else {
                    flow.time + shift
                };
                batch.push(Flow { time, ..flow.clone() });
            }
            ring.push(batch);
            if !self.looping {
                return;
            }
            shift += span;
        }
    }
}
