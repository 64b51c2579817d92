//! The cockpit's feed into the ledger: a thread of its own owns the
//! [`Observer`], so SQLite never runs on the UI task. The flow task hands it
//! each stream event without waiting; when the thread falls behind, events
//! are dropped and counted, never queued without bound.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::flows::FlowEvent;

use crate::policy::engine::Engine;

use super::coverage::Span;
use super::judge::{DeclaredVerdict, SoakDrop, judge_declared, would_drop_flows};
use super::observer::Observer;
use super::store::Ledger;
use crate::cluster::ClusterSnapshot;
use crate::declared::{NamespacePaths, Senders, declared_paths};
use crate::flows::{Direction, Flow};

/// Events queued for the ledger thread at most.
const QUEUE: usize = 1024;
/// How often what was counted is written.
const FLUSH: Duration = Duration::from_secs(10);

/// What the thread reports after its writes.
#[derive(Debug, Clone)]
pub enum Report {
    /// The spans the ledger observed, for the soak's coverage.
    Observed(Vec<Span>),
    /// Per namespace in Audit, what enforcing it would drop over the soak.
    Soak(BTreeMap<String, SoakVerdict>),
}

/// What enforcing a namespace would drop, judged over its soak.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SoakVerdict {
    /// The connections seen since it was staged that enforcing would drop.
    pub drops: Vec<SoakDrop>,
    /// Its declared paths (Ingress, routes, webhooks, aliases).
    pub declared: DeclaredVerdict,
    /// A flow for each of the above, with where it would be dropped: what
    /// the cockpit's suggestions (`S`) write allows for.
    pub flows: Vec<(Flow, Direction)>,
}

/// Where the thread reports.
pub type Publish = Box<dyn Fn(Report) + Send>;

/// The namespaces to judge over the soak, with the engine and since when,
/// and the snapshot whose Ingresses, routes and webhooks declare paths.
pub struct Judging {
    pub engine: Arc<Engine>,
    pub namespaces: Vec<(String, Timestamp)>,
    pub snapshot: Arc<ClusterSnapshot>,
    pub senders: Senders,
}

impl Judging {
    /// The declared paths of the namespaces judged: they change with the
    /// snapshot, not with the ledger's writes, so once per request.
    pub fn declared(&self) -> BTreeMap<String, NamespacePaths> {
        let wanted = self.namespaces.iter().map(|(ns, _)| ns.clone()).collect();
        declared_paths(&self.snapshot, &self.senders, &wanted)
    }
}

/// Judges each namespace of `judging` over the connections `ledger` saw
/// since it was staged, and its declared paths; a namespace whose
/// connections cannot be read is left out (and logged).
/// `declared` is [`Judging::declared`], derived once per request.
pub fn judge_soak(
    ledger: &Ledger,
    judging: &Judging,
    declared: &BTreeMap<String, NamespacePaths>,
) -> BTreeMap<String, SoakVerdict> {
    let none = NamespacePaths::default();
    let mut verdicts = BTreeMap::new();
    for (namespace, since) in &judging.namespaces {
        match ledger.connections_of(namespace, *since) {
            Ok(records) => {
                let paths = declared.get(namespace).unwrap_or(&none);
                let (drops, mut flows): (Vec<SoakDrop>, Vec<(Flow, Direction)>) =
                    would_drop_flows(&judging.engine, namespace, &records)
                        .into_iter()
                        .map(|(drop, flow)| {
                            let direction = drop.direction;
                            (drop, (flow, direction))
                        })
                        .unzip();
                let declared = judge_declared(&judging.engine, namespace, paths, &records);
                flows.extend(declared.unexercised.iter().filter_map(|u| {
                    let source = u.path.sources.first()?;
                    Some((u.path.flow(source), u.direction))
                }));
                verdicts.insert(namespace.clone(), SoakVerdict { drops, declared, flows });
            }
            Err(e) => tracing::warn!(%e, "ledger read"),
        }
    }
    verdicts
}

/// How far back the spans reported go: longer than any soak.
const REPORTED: SignedDuration = SignedDuration::from_hours(24 * 60);

/// What the thread is handed.
enum Fed {
    Event(FlowEvent),
    /// Whether the stream carries every namespace.
    Covering(bool),
    /// Judge these namespaces over the soak from now on.
    Judge(Judging),
}

/// The sending side; dropping it stops the thread after a last write.
#[derive(Clone)]
pub struct LedgerFeed {
    tx: SyncSender<Fed>,
    /// Events the thread could not take in time.
    pub dropped: Arc<AtomicU64>,
}

impl LedgerFeed {
    /// Opens the ledger at `path` and starts its thread; the error says why
    /// the ledger cannot be used (the cockpit runs on without it).
    /// `publish` is handed the observed spans after each write, for the gate.
    pub fn start(path: PathBuf, source: String, publish: Publish) -> Result<LedgerFeed, String> {
        let ledger = Ledger::open(&path).map_err(|e| e.to_string())?;
        let observer = Observer::new(ledger, source).map_err(|e| e.to_string())?;
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("ledger".into())
            .spawn(move || run(observer, rx, publish))
            .map_err(|e| format!("cannot start the ledger thread: {e}"))?;
        Ok(LedgerFeed {
            tx,
            dropped: Arc::default(),
        })
    }

    /// Hands an event over without waiting.
    pub fn send(&self, event: &FlowEvent) {
        match self.tx.try_send(Fed::Event(event.clone())) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Asks for the would-drop preview over the soak of these namespaces
    /// (after each policy change), reported now and after each write.
    pub fn judge(&self, judging: Judging) {
        let _ = self.tx.send(Fed::Judge(judging));
    }

    /// Says whether the stream now carries every namespace; waits for room,
    /// as this must not be lost.
    pub fn covering(&self, covering: bool) {
        let _ = self.tx.send(Fed::Covering(covering));
    }
}

fn run(mut observer: Observer, rx: Receiver<Fed>, publish: Publish) {
    let mut judging: Option<(Judging, BTreeMap<String, NamespacePaths>)> = None;
    let report = |observer: &mut Observer, judging: &Option<(Judging, BTreeMap<String, NamespacePaths>)>| {
        match observer.ledger().observed_spans(Timestamp::now() - REPORTED) {
            Ok(spans) => publish(Report::Observed(spans)),
            Err(e) => tracing::warn!(%e, "ledger read"),
        }
        if let Some((judging, declared)) = judging {
            publish(Report::Soak(judge_soak(observer.ledger(), judging, declared)));
        }
    };
    report(&mut observer, &judging);
    let mut last = Instant::now();
    loop {
        let event = rx.recv_timeout(FLUSH.saturating_sub(last.elapsed()));
        let now = Timestamp::now();
        let result = match &event {
            Ok(Fed::Event(event)) => observer.on_event(event, now),
            Ok(Fed::Covering(covering)) => observer.set_covering(*covering, now),
            Ok(Fed::Judge(_)) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => {
                if let Err(e) = observer.flush(now) {
                    tracing::warn!(%e, "ledger write");
                }
                return;
            }
        };
        if let Err(e) = result {
            tracing::warn!(%e, "ledger write");
        }
        if let Ok(Fed::Judge(request)) = event {
            // Write first, so the judgement sees every flow counted so far.
            if let Err(e) = observer.flush(now) {
                tracing::warn!(%e, "ledger write");
            }
            let declared = request.declared();
            judging = Some((request, declared));
            report(&mut observer, &judging);
            continue;
        }
        if last.elapsed() >= FLUSH {
            if let Err(e) = observer.flush(now) {
                tracing::warn!(%e, "ledger write");
            }
            report(&mut observer, &judging);
            last = Instant::now();
        }
    }
}
