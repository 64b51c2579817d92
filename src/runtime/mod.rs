//! The event loop: terminal events, backend streams and timers become messages;
//! `update` runs on each; effects go to the runner; the screen is redrawn at most
//! about sixty times a second, and only when something changed.
//!
//! Each connected context is a [`Session`] with its own message channel. `:ctx`
//! starts a new session and drops the old one, so a late message from the old
//! cluster can never reach the new state.

pub mod backend;
pub mod effects;
pub mod terminal;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::{Stream, StreamExt};
use jiff::Timestamp;
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use crate::app::{Effect, Msg, State, update};
use crate::cluster::{AuditLog, Cluster, Mutator};
use crate::flows::{FlowScope, FlowSource};

use backend::{Backend, Backends};
use effects::{EffectRunner, Switched};
use terminal::Tui;

/// Minimum time between frames.
const FRAME: Duration = Duration::from_millis(16);
/// How long queued messages are handled before the loop looks at the screen
/// again, so a burst cannot starve it.
const DRAIN: Duration = Duration::from_millis(8);

/// What every session shares.
#[derive(Clone)]
pub struct SessionSettings {
    pub readonly: bool,
    pub audit_file: PathBuf,
    pub themes_dir: Option<PathBuf>,
    /// How to reach other contexts (`None`: no switching).
    pub backends: Option<Backends>,
}

/// One connected context: its runner, its message channel and its streams.
pub struct Session {
    pub runner: EffectRunner,
    pub rx: mpsc::Receiver<Msg>,
    sources: Vec<JoinHandle<()>>,
    /// The backend's own servers (the demo's Hubble), stopped with the session.
    services: Vec<AbortHandle>,
}

impl Session {
    pub fn start(backend: Backend, settings: &SessionSettings, handover: mpsc::Sender<Switched>) -> Session {
        let (tx, rx) = mpsc::channel(1024);
        let mutator = Mutator::new(
            Arc::clone(&backend.cluster),
            settings.readonly,
            AuditLog::new(settings.audit_file.clone()),
        );
        let (scope, scope_rx) = watch::channel(FlowScope::All);
        // The ledger is evidence, not a condition of running: a ledger that
        // cannot be opened is logged and the cockpit goes on.
        let publish_tx = tx.clone();
        let publish: crate::ledger::feed::Publish = Box::new(move |spans| {
            let msg = match spans {
                crate::ledger::feed::Report::Observed(spans) => Msg::LedgerObserved(spans),
                crate::ledger::feed::Report::Soak(verdicts) => Msg::LedgerSoak(verdicts),
            };
            let _ = publish_tx.blocking_send(msg);
        });
        let ledger = backend.ledger.and_then(|path| {
            crate::ledger::LedgerFeed::start(path, "cockpit".into(), publish)
                .inspect_err(|e| tracing::warn!(%e, "ledger"))
                .ok()
        });
        let sources = spawn_sources(
            Arc::clone(&backend.cluster),
            backend.flows,
            scope_rx,
            tx.clone(),
            ledger.clone(),
        );
        let runner = EffectRunner {
            cluster: backend.cluster,
            mutator,
            tx,
            flow_scope: scope,
            prometheus: backend.prometheus,
            backup_dir: backend.backup_dir,
            themes_dir: settings.themes_dir.clone(),
            switching: settings.backends.clone().map(|b| (b, handover)),
            ledger,
            worktrees_dir: settings
                .audit_file
                .parent()
                .map_or_else(std::env::temp_dir, std::path::Path::to_path_buf)
                .join("worktrees"),
            drafts: Arc::default(),
        };
        Session {
            runner,
            rx,
            sources,
            services: backend.services,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in &self.sources {
            task.abort();
        }
        for service in &self.services {
            service.abort();
        }
    }
}

/// Starts the background streams that feed `tx`.
pub fn spawn_sources(
    cluster: Arc<dyn Cluster>,
    flows: Arc<dyn FlowSource>,
    scope: watch::Receiver<FlowScope>,
    tx: mpsc::Sender<Msg>,
    ledger: Option<crate::ledger::LedgerFeed>,
) -> Vec<JoinHandle<()>> {
    let cluster_tx = tx.clone();
    let mut cluster_events = cluster.subscribe();
    let cluster_task = tokio::spawn(async move {
        while let Some(event) = cluster_events.recv().await {
            if cluster_tx.send(Msg::Cluster(event)).await.is_err() {
                return;
            }
        }
    });
    let flow_tx = tx.clone();
    let mut in_view = scope.clone();
    let mut flow_events = flows.subscribe(scope);
    let flow_task = tokio::spawn(async move {
        let mut covering = true;
        while let Some(event) = flow_events.recv().await {
            if let Some(ledger) = &ledger {
                // A stream narrowed to the namespaces in view is recorded,
                // but is not the whole cluster observed.
                let all = *in_view.borrow_and_update() == FlowScope::All;
                if all != covering {
                    covering = all;
                    ledger.covering(all);
                }
                ledger.send(&event);
            }
            if flow_tx.send(Msg::Flows(event)).await.is_err() {
                return;
            }
        }
    });
    let tick_task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticker.tick().await;
            if tx.send(Msg::Tick(Timestamp::now())).await.is_err() {
                return;
            }
        }
    });
    vec![cluster_task, flow_task, tick_task]
}

/// Runs the cockpit on the terminal until the operator quits.
pub async fn run(terminal: &mut Tui, state: State, backend: Backend, settings: SessionSettings) -> std::io::Result<()> {
    run_on(terminal, EventStream::new(), state, backend, settings)
        .await
        .map(drop)
}

/// The event loop on any ratatui backend and any stream of terminal events
/// (tests drive it with a test backend and a channel); returns the final state.
pub async fn run_on<B>(
    terminal: &mut Terminal<B>,
    mut keys: impl Stream<Item = std::io::Result<Event>> + Unpin,
    mut state: State,
    backend: Backend,
    settings: SessionSettings,
) -> std::io::Result<State>
where
    B: ratatui::backend::Backend,
    B::Error: Send + Sync + 'static,
{
    let io = std::io::Error::other;
    let (handover, mut switched) = mpsc::channel::<Switched>(1);
    let mut session = Session::start(backend, &settings, handover.clone());
    let size = terminal.size().map_err(io)?;
    dispatch(&mut state, &session.runner, Msg::Resize(size.width, size.height));
    session.runner.run(Effect::CheckBackupDir);
    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    let mut terminate = signal_stream();

    while state.running {
        if dirty && last_frame.elapsed() >= FRAME {
            terminal.draw(|frame| crate::ui::render(frame, &state)).map_err(io)?;
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
                Some(Ok(Event::Key(key))) => { dispatch(&mut state, &session.runner, Msg::Key(key)); dirty = true; }
                Some(Ok(Event::Resize(w, h))) => {
                    dispatch(&mut state, &session.runner, Msg::Resize(w, h));
                    terminal.autoresize().map_err(io)?;
                    dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err),
                None => break,
            },
            Some(msg) = session.rx.recv() => {
                dispatch(&mut state, &session.runner, msg);
                let until = Instant::now() + DRAIN;
                while Instant::now() < until {
                    match session.rx.try_recv() {
                        Ok(msg) => dispatch(&mut state, &session.runner, msg),
                        Err(_) => break,
                    }
                }
                dirty = true;
            }
            Some(outcome) = switched.recv() => {
                match outcome {
                    Ok((backend, switch)) => {
                        // Dropping the old session stops its streams and closes
                        // its channel, so nothing of the old cluster arrives now.
                        session = Session::start(backend, &settings, handover.clone());
                        dispatch(&mut state, &session.runner, Msg::ContextSwitched(Box::new(switch)));
                    }
                    Err((context, error)) => dispatch(&mut state, &session.runner, Msg::ContextFailed { context, error }),
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
    Ok(state)
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
