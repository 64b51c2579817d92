//! `tighten observe`: feed the connection ledger headless, for days.
//!
//! The same Hubble client as the cockpit (reconnects with backoff, resumes
//! without counting a flow twice), no terminal. A line per hour says what
//! was recorded; SIGINT or SIGTERM writes what is pending and ends.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

use crate::flows::{FlowEvent, FlowScope, FlowSource, FlowStreamState};
use crate::ledger::{Counts, Ledger, Observer};

use super::exit;

pub struct ObserveOptions {
    pub ledger: PathBuf,
    /// How often counted flows are written.
    pub flush_every: Duration,
    /// How often a line says what was recorded.
    pub report_every: Duration,
    /// Connections last seen longer ago are forgotten (checked hourly).
    pub retention: Option<Duration>,
    /// Names this observer in the coverage spans.
    pub source: String,
}

pub async fn run(flows: Arc<dyn FlowSource>, options: &ObserveOptions, out: &mut impl Write) -> std::io::Result<u8> {
    let opened = Ledger::open(&options.ledger).and_then(|l| Observer::new(l, options.source.clone()));
    let mut observer = match opened {
        Ok(o) => o,
        Err(e) => {
            writeln!(out, "tighten observe: {e}")?;
            return Ok(exit::BAD_INPUT);
        }
    };
    writeln!(out, "tighten observe: recording into {}", options.ledger.display())?;
    out.flush()?;
    let (_scope_tx, scope) = watch::channel(FlowScope::All);
    let mut events = flows.subscribe(scope);
    let mut flush = tokio::time::interval(options.flush_every);
    let mut report = tokio::time::interval(options.report_every);
    report.tick().await;
    let mut reported = Counts::default();
    let mut state = String::from("connecting");
    let mut stop = Box::pin(shutdown());
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                if let FlowEvent::State(s) = &event {
                    state = describe(s);
                    tracing::info!(state = %state, "flow stream");
                }
                if let Err(e) = observer.on_event(&event, Timestamp::now()) {
                    tracing::error!(%e, "ledger write");
                    writeln!(out, "tighten observe: {e}")?;
                    return Ok(exit::BAD_INPUT);
                }
            }
            _ = flush.tick() => {
                if let Err(e) = observer.flush(Timestamp::now()) {
                    tracing::error!(%e, "ledger write");
                    writeln!(out, "tighten observe: {e}")?;
                    return Ok(exit::BAD_INPUT);
                }
            }
            _ = report.tick() => {
                let now = observer.counts.clone();
                let mut pruned = 0;
                if let Some(keep) = options.retention.and_then(|d| SignedDuration::try_from(d).ok()) {
                    pruned = observer.ledger().prune(Timestamp::now() - keep).unwrap_or(0);
                }
                let missing = observer.nodes_missing();
                let nodes = if missing.is_empty() {
                    String::new()
                } else {
                    format!("; not observed while Relay cannot reach {}", missing.join(", "))
                };
                let line = format!(
                    "{}: {} flows recorded, {} already counted skipped, {} reconnects, {} connections forgotten; \
                     stream {state}{nodes}",
                    Timestamp::now().strftime("%Y-%m-%d %H:%M"),
                    now.flows - reported.flows,
                    now.skipped - reported.skipped,
                    now.reconnects - reported.reconnects,
                    pruned,
                );
                tracing::info!("{line}");
                writeln!(out, "{line}")?;
                out.flush()?;
                reported = now;
            }
            _ = &mut stop => break,
        }
    }
    let result = observer.flush(Timestamp::now());
    let counts = &observer.counts;
    writeln!(
        out,
        "tighten observe: stopped; {} flows recorded, {} skipped as already counted",
        counts.flows, counts.skipped
    )?;
    Ok(match result {
        Ok(()) => exit::OK,
        Err(e) => {
            writeln!(out, "tighten observe: {e}")?;
            exit::BAD_INPUT
        }
    })
}

fn describe(state: &FlowStreamState) -> String {
    match state {
        FlowStreamState::Connecting => "connecting".into(),
        FlowStreamState::Connected { source } => format!("connected to {source}"),
        FlowStreamState::Reconnecting { attempt, reason } => format!("reconnecting (attempt {attempt}): {reason}"),
        FlowStreamState::Unavailable(why) => format!("unavailable: {why}"),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
