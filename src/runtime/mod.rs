//! The event loop: terminal events, backend streams and timers become messages;
//! `update` runs on each; effects go to the runner; the screen is redrawn at most
//! about sixty times a second, and only when something changed.

pub mod effects;
pub mod terminal;

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::app::{Effect, Msg, State, update};
use crate::cluster::Cluster;
use crate::flows::FlowSource;

use effects::EffectRunner;
use terminal::Tui;

/// Minimum time between frames.
const FRAME: Duration = Duration::from_millis(16);
/// Messages handled before a frame is drawn, so a burst cannot starve the screen.
const BATCH: usize = 512;

/// Starts the background streams that feed `tx`.
pub fn spawn_sources(cluster: Arc<dyn Cluster>, flows: Arc<dyn FlowSource>, tx: mpsc::Sender<Msg>) {
    let cluster_tx = tx.clone();
    let mut cluster_events = cluster.subscribe();
    tokio::spawn(async move {
        while let Some(event) = cluster_events.recv().await {
            if cluster_tx.send(Msg::Cluster(event)).await.is_err() {
                return;
            }
        }
    });
    let flow_tx = tx.clone();
    let mut flow_events = flows.subscribe();
    tokio::spawn(async move {
        while let Some(event) = flow_events.recv().await {
            if flow_tx.send(Msg::Flows(event)).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticker.tick().await;
            if tx.send(Msg::Tick(Timestamp::now())).await.is_err() {
                return;
            }
        }
    });
}

/// Runs the cockpit until the operator quits.
pub async fn run(
    terminal: &mut Tui,
    mut state: State,
    runner: EffectRunner,
    mut rx: mpsc::Receiver<Msg>,
) -> std::io::Result<()> {
    let mut keys = EventStream::new();
    let size = terminal.size()?;
    dispatch(&mut state, &runner, Msg::Resize(size.width, size.height));
    runner.run(Effect::CheckBackupDir);
    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    let mut terminate = signal_stream();

    while state.running {
        if dirty && last_frame.elapsed() >= FRAME {
            terminal.draw(|frame| crate::ui::render(frame, &state))?;
            last_frame = Instant::now();
            dirty = false;
        }
        let deadline = if dirty {
            last_frame + FRAME
        } else {
            Instant::now() + Duration::from_secs(3600)
        };
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) => { dispatch(&mut state, &runner, Msg::Key(key)); dirty = true; }
                Some(Ok(Event::Resize(w, h))) => { dispatch(&mut state, &runner, Msg::Resize(w, h)); terminal.autoresize()?; dirty = true; }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err),
                None => break,
            },
            Some(msg) = rx.recv() => {
                dispatch(&mut state, &runner, msg);
                for _ in 0..BATCH {
                    match rx.try_recv() {
                        Ok(msg) => dispatch(&mut state, &runner, msg),
                        Err(_) => break,
                    }
                }
                dirty = true;
            }
            _ = tokio::time::sleep_until(deadline), if dirty => {}
            _ = terminate.recv() => {
                tracing::info!("terminated by signal");
                break;
            }
        }
    }
    Ok(())
}

fn dispatch(state: &mut State, runner: &EffectRunner, msg: Msg) {
    for effect in update(state, msg) {
        runner.run(effect);
    }
}

/// SIGTERM and SIGHUP end the loop so the terminal is restored.
fn signal_stream() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = tx.send(()).await;
    });
    rx
}
