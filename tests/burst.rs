//! A burst of a million flows through the real event loop: Hubble server →
//! client → bounded channel → update → render. The loop must keep drawing
//! while the burst lasts, and every flow must be either counted once or
//! reported as dropped by the overflow counter.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use tokio::sync::{mpsc, watch};

use tighten::cluster::Cluster;
use tighten::flows::{Direction, Endpoint, Flow, FlowEvent, FlowScope, FlowSource, Protocol, StreamHealth, Verdict};
use tighten::hubble::client::{HubbleClient, Target};
use tighten::hubble::server::FlowRing;
use tighten::runtime::backend::Backend as CockpitBackend;
use tighten::runtime::{SessionSettings, run_on};

const BURST: u64 = 1_000_000;

/// A test backend that notes when each frame reaches the terminal.
struct Timed {
    inner: TestBackend,
    frames: Arc<Mutex<Vec<Instant>>>,
}

impl Backend for Timed {
    type Error = std::convert::Infallible;

    fn draw<'a, I: Iterator<Item = (u16, u16, &'a Cell)>>(&mut self, content: I) -> Result<(), Self::Error> {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.frames.lock().expect("frames").push(Instant::now());
        self.inner.flush()
    }
}

/// Passes the client's events on, counting the flows that reach the cockpit.
struct Counting {
    inner: HubbleClient,
    delivered: Arc<AtomicU64>,
    health: Arc<Mutex<StreamHealth>>,
    /// When the first batch was handed on: the burst's start.
    first: Arc<Mutex<Option<Instant>>>,
}

#[async_trait::async_trait]
impl FlowSource for Counting {
    async fn history(&self, since: jiff::Timestamp) -> Result<tighten::flows::History, String> {
        self.inner.history(since).await
    }

    fn subscribe(&self, scope: watch::Receiver<FlowScope>) -> mpsc::Receiver<FlowEvent> {
        let mut events = self.inner.subscribe(scope);
        let (tx, rx) = mpsc::channel(1);
        let (delivered, health) = (Arc::clone(&self.delivered), Arc::clone(&self.health));
        let first = Arc::clone(&self.first);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match &event {
                    FlowEvent::Batch(batch) => {
                        first.lock().expect("first").get_or_insert_with(Instant::now);
                        delivered.fetch_add(batch.len() as u64, Ordering::SeqCst);
                    }
                    FlowEvent::Health(h) => *health.lock().expect("health") = h.clone(),
                    FlowEvent::State(_) => {}
                }
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        rx
    }
}

/// Small flows across the demo's namespaces, a microsecond apart.
fn burst(end: Timestamp) -> impl Iterator<Item = Flow> {
    const NAMESPACES: [&str; 6] = ["auth", "databases", "media", "monitoring", "payments", "stage"];
    let start = end - SignedDuration::from_micros(BURST as i64);
    (0..BURST).map(move |i| {
        let endpoint = |n: u64, workload: &str| Endpoint {
            namespace: NAMESPACES[(n % 6) as usize].to_string(),
            workload: workload.to_string(),
            ..Endpoint::default()
        };
        Flow {
            time: start + SignedDuration::from_micros(i as i64),
            verdict: if i % 10 == 0 {
                Verdict::Dropped
            } else {
                Verdict::Forwarded
            },
            drop_reason: None,
            direction: Direction::Ingress,
            source: endpoint(i, "client"),
            destination: endpoint(i / 6, "server"),
            protocol: Protocol::Tcp,
            source_port: 40_000,
            destination_port: 8080,
            is_reply: false,
            node: "node-1".to_string(),
            destination_names: Vec::new(),
            denied_by: Vec::new(),
            icmp: None,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_flows_keep_the_frames_coming_and_are_all_accounted_for() {
    let ring = FlowRing::new(BURST as usize);
    ring.push(burst(Timestamp::now()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    tokio::spawn(ring.serve(listener, None));

    let cockpit = common::Cockpit::new();
    let before = cockpit.state.traffic.flows_total;
    let delivered = Arc::new(AtomicU64::new(0));
    let health = Arc::new(Mutex::new(StreamHealth::default()));
    let first = Arc::new(Mutex::new(None));
    let source = Counting {
        inner: HubbleClient::new(Target::Address(address), None),
        delivered: Arc::clone(&delivered),
        health: Arc::clone(&health),
        first: Arc::clone(&first),
    };
    let demo: Arc<dyn Cluster> = Arc::new(cockpit.demo.clone());
    let backend = CockpitBackend {
        cluster: demo,
        flows: Arc::new(source),
        backup_dir: cockpit.dir.path().join("backups"),
        ledger: None,
        services: Vec::new(),
        prometheus: None,
    };
    let settings = SessionSettings {
        readonly: false,
        audit_file: cockpit.dir.path().join("audit.jsonl"),
        themes_dir: None,
        backends: None,
    };
    let frames = Arc::new(Mutex::new(Vec::new()));
    let mut terminal = Terminal::new(Timed {
        inner: TestBackend::new(120, 40),
        frames: Arc::clone(&frames),
    })
    .expect("terminal");
    let (keys, key_rx) = mpsc::channel::<std::io::Result<Event>>(4);
    let keys_stream = tokio_stream::wrappers::ReceiverStream::new(key_rx);

    let started = Instant::now();
    let watcher = {
        let (delivered, health, frames) = (Arc::clone(&delivered), Arc::clone(&health), Arc::clone(&frames));
        tokio::spawn(async move {
            // Every flow is delivered or counted as overflow.
            let accounted = || delivered.load(Ordering::SeqCst) + health.lock().expect("health").overflow;
            while accounted() < BURST {
                assert!(
                    started.elapsed() < Duration::from_secs(600),
                    "stalled at {}",
                    accounted()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let burst_over = Instant::now();
            // Then wait for the loop to go quiet (it redraws only for news and
            // the one-second tick), so every delivered batch has been handled.
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let last = *frames.lock().expect("frames").last().expect("a frame");
                if last.elapsed() > Duration::from_millis(250) {
                    break;
                }
            }
            let quit = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
            keys.send(Ok(Event::Key(quit))).await.expect("loop running");
            // Kept open: the loop must end on the key, not on the stream's end.
            (burst_over, keys)
        })
    };
    let state = run_on(&mut terminal, keys_stream, cockpit.state, backend, settings)
        .await
        .expect("runs");
    let (burst_over, _keys) = watcher.await.expect("watcher");

    let delivered = delivered.load(Ordering::SeqCst);
    let overflow = health.lock().expect("health").overflow;
    assert_eq!(
        delivered + overflow,
        BURST,
        "delivered {delivered}, overflow {overflow}"
    );
    assert_eq!(
        state.traffic.flows_total - before,
        delivered,
        "each delivered flow counted once"
    );
    assert_eq!(state.flow_health.overflow, overflow, "the overflow is on screen");

    let frames = frames.lock().expect("frames").clone();
    // Frames while flows were arriving: before that the loop has no reason to draw.
    let first = first.lock().expect("first").expect("a batch arrived");
    let during: Vec<&Instant> = frames.iter().filter(|t| **t >= first && **t <= burst_over).collect();
    let longest = during
        .windows(2)
        .map(|w| w[1].duration_since(*w[0]))
        .max()
        .unwrap_or_default();
    println!(
        "burst of {BURST}: {:.1} s from the first batch, {} frames, longest gap {} ms, delivered {delivered}, overflow {overflow}",
        burst_over.duration_since(first).as_secs_f64(),
        during.len(),
        longest.as_millis()
    );
    assert!(
        during.len() > 10,
        "the screen was redrawn during the burst ({} frames)",
        during.len()
    );
}
