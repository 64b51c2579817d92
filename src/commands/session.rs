//! A cockpit without a terminal, for the cluster commands: connect, wait for a
//! complete view, read the gate's evidence once, and feed it all through the
//! cockpit's own `update`. What a command then reads from the state (rows,
//! gates, plans) is what the cockpit would show.

use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};

use crate::app::state::PromSetup;
use crate::app::{Msg, State, update};
use crate::cluster::{ClusterEvent, ConnectionState};
use crate::flows::{FlowEvent, FlowStreamState, StreamHealth};
use crate::gate::EVIDENCE_MINUTES;
use crate::runtime::backend::{Backend, Backends};

/// Why a session could not be opened.
#[derive(Debug)]
pub enum Failure {
    /// The cluster (or its API) cannot be read.
    Unreachable(String),
    /// Something the operator named is not there.
    BadInput(String),
}

impl Failure {
    /// Says why on `err` (and in the log) and gives the exit code: 3 when the
    /// cluster cannot be read, 2 for bad input.
    pub fn report(self, err: &mut impl std::io::Write) -> std::io::Result<u8> {
        let (why, code) = match self {
            Failure::Unreachable(why) => (why, super::exit::UNREACHABLE),
            Failure::BadInput(why) => (why, super::exit::BAD_INPUT),
        };
        tracing::warn!(%why, code, "command failed");
        writeln!(err, "tighten: {why}")?;
        Ok(code)
    }
}

/// How long the first complete view of the cluster may take.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(30);
/// How long events already on their way are waited for after the snapshot.
const SETTLE: Duration = Duration::from_millis(100);
/// How many namespaces Prometheus is asked about at once.
const PROMETHEUS_AT_ONCE: usize = 8;

/// A connected context and the state its evidence built.
pub struct Headless {
    pub state: State,
    pub backend: Backend,
}

impl Headless {
    /// Connects and waits for the first complete snapshot. `namespaces` must
    /// exist there.
    pub async fn open(backends: &Backends, context: &str, namespaces: &[String]) -> Result<Headless, Failure> {
        let (backend, switch) = backends.connect(context).await.map_err(Failure::Unreachable)?;
        let mut state = State::from_switch(switch, Timestamp::now());
        wait_for_snapshot(&backend, &mut state).await?;
        if let Some(unknown) = namespaces.iter().find(|n| state.snapshot.namespace(n).is_none()) {
            return Err(Failure::BadInput(format!(
                "no namespace {unknown} in context {context}"
            )));
        }
        Ok(Headless { state, backend })
    }

    /// Reads the gate's evidence for `namespaces`: Hubble's recent flows,
    /// Prometheus, the backup directory; then derives the rows.
    pub async fn gather_evidence(&mut self, namespaces: &[String]) {
        read_flows(&self.backend, &mut self.state).await;
        read_ledger(&self.backend, &mut self.state);
        ask_prometheus(&self.backend, &mut self.state, namespaces).await;
        let backups = crate::runtime::effects::check_writable(&self.backend.backup_dir);
        update(&mut self.state, Msg::BackupDirChecked(backups));
        update(&mut self.state, Msg::Tick(Timestamp::now()));
    }

    /// Where the flows came from, or why there are none.
    pub fn flows(&self) -> String {
        match &self.state.flow_stream {
            FlowStreamState::Connected { source } => source.clone(),
            FlowStreamState::Unavailable(why) => format!("unavailable: {why}"),
            other => format!("{other:?}"),
        }
    }

    /// The gate's Prometheus, or why there is none.
    pub fn prometheus(&self) -> String {
        match &self.state.prometheus.setup {
            PromSetup::NotConfigured => "not configured".to_string(),
            PromSetup::Invalid(why) | PromSetup::NotFound(why) => why.clone(),
            PromSetup::Url(url) => url.clone(),
        }
    }
}

/// What the context's ledger observed, for the soak gate: a ledger not yet
/// written (no observer ran) has observed nothing.
fn read_ledger(backend: &Backend, state: &mut State) {
    let Some(path) = &backend.ledger else { return };
    let opened = if path.exists() {
        crate::ledger::Ledger::open(path)
    } else {
        crate::ledger::Ledger::empty()
    };
    let ledger = match opened {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%e, "ledger read");
            return;
        }
    };
    let since = Timestamp::now() - jiff::SignedDuration::from_hours(24 * 60);
    match ledger.observed_spans(since) {
        Ok(spans) => {
            update(state, Msg::LedgerObserved(spans));
        }
        Err(e) => tracing::warn!(%e, "ledger read"),
    }
    // The would-drop preview over the soak, as the cockpit's ledger thread
    // computes it, once.
    if let Some(crate::app::Effect::JudgeSoak {
        engine,
        namespaces,
        snapshot,
        senders,
    }) = crate::app::update::judge_soak_effect(state)
    {
        let judging = crate::ledger::feed::Judging {
            engine: engine.0,
            namespaces,
            snapshot: snapshot.0,
            senders,
        };
        let verdicts = crate::ledger::feed::judge_soak(&ledger, &judging, &judging.declared());
        update(state, Msg::LedgerSoak(verdicts));
    }
}

/// The first complete snapshot. The live watches publish a first snapshot
/// once every kind has listed or failed; one that failed makes the view
/// incomplete, and a gate read from it would be wrong, so that is an error
/// with the connection's reason.
async fn wait_for_snapshot(backend: &Backend, state: &mut State) -> Result<(), Failure> {
    let mut events = backend.cluster.subscribe();
    let mut last = ConnectionState::Connecting;
    let context = state.identity.context.clone();
    let snapshot = tokio::time::timeout(SNAPSHOT_WAIT, async {
        while let Some(event) = events.recv().await {
            match event {
                ClusterEvent::Snapshot(snapshot) => return Some(snapshot),
                ClusterEvent::Connection(connection) => last = connection,
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let Some(snapshot) = snapshot else {
        return Err(Failure::Unreachable(format!(
            "no complete view of context {context} within {} s (connection: {last:?})",
            SNAPSHOT_WAIT.as_secs()
        )));
    };
    // The connection state is published just before the snapshot, on its own
    // channel: take what is already waiting.
    while let Ok(Some(event)) = tokio::time::timeout(SETTLE, events.recv()).await {
        if let ClusterEvent::Connection(connection) = event {
            last = connection;
        }
    }
    if let ConnectionState::Reconnecting { reason, .. } = &last {
        return Err(Failure::Unreachable(format!("context {context}: {reason}")));
    }
    // Whether the reconcilers applied the steps committed for them is asked
    // of Git here, as the cockpit's runtime would.
    for effect in update(state, Msg::Cluster(ClusterEvent::Snapshot(snapshot))) {
        if let crate::app::Effect::CheckCommit { pending, applied } = effect {
            let contained = crate::repo::pending::contains(&pending, &applied);
            update(
                state,
                Msg::CommitChecked {
                    namespace: pending.namespace,
                    applied,
                    contained,
                },
            );
        }
    }
    Ok(())
}

/// Hubble's flows over the gate's evidence window, as the stream would have
/// delivered them; when there are none the gate says so (no evidence is not
/// a pass).
async fn read_flows(backend: &Backend, state: &mut State) {
    let since = Timestamp::now() - SignedDuration::from_mins(EVIDENCE_MINUTES as i64);
    match backend.flows.history(since).await {
        Ok(history) => {
            let health = StreamHealth {
                lost: history.lost,
                malformed: history.malformed,
                ..StreamHealth::default()
            };
            let seen = history.flows.len();
            for msg in [
                FlowEvent::State(FlowStreamState::Connected {
                    source: format!("{}, {seen} flows in the last {EVIDENCE_MINUTES} min", history.source),
                }),
                FlowEvent::Batch(history.flows),
                FlowEvent::Health(health),
            ] {
                update(state, Msg::Flows(msg));
            }
        }
        Err(why) => {
            update(state, Msg::Flows(FlowEvent::State(FlowStreamState::Unavailable(why))));
        }
    }
}

/// Asks Prometheus about each namespace over its tier's soak window, a few at
/// a time.
async fn ask_prometheus(backend: &Backend, state: &mut State, namespaces: &[String]) {
    let Some(prometheus) = &backend.prometheus else {
        return;
    };
    let asks: Vec<(String, Duration)> = namespaces
        .iter()
        .map(|name| {
            let tier = state.row(name).and_then(|r| r.tier.clone());
            (name.clone(), state.config.settings.soak.for_tier(tier.as_deref()))
        })
        .collect();
    let answers: Vec<_> = futures::stream::iter(asks)
        .map(|(namespace, window)| async move {
            let evidence = crate::prometheus::PromEvidence::fetch(prometheus, &namespace, window).await;
            (namespace, evidence)
        })
        .buffer_unordered(PROMETHEUS_AT_ONCE)
        .collect()
        .await;
    for (namespace, evidence) in answers {
        update(
            state,
            Msg::PrometheusFetched {
                namespace,
                at: Timestamp::now(),
                evidence: Box::new(evidence),
            },
        );
    }
}
