//! The go/no-go gate: for the namespace's next rollout step, each criterion with
//! pass or fail and the evidence behind it. Pure: everything it needs is passed in.
//!
//! Later sources (the policy engine's would-drop preview, Prometheus) add criteria;
//! the shape stays the same.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::cluster::PolicyObject;
use crate::flows::window::TopCounts;
use crate::flows::{DropPeer, NamespaceTraffic};
use crate::prometheus::PromEvidence;
use crate::rollout::{NamespaceStatus, Phase, RolloutAction};

/// Minutes of flow history the gate reads.
pub const EVIDENCE_MINUTES: usize = 10;

/// One criterion's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Pass,
    Fail,
    /// Will pass by itself when time passes (the soak window).
    Waiting,
    /// Informational, not a criterion.
    Info,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateItem {
    pub name: &'static str,
    pub check: Check,
    pub evidence: String,
    /// The flows behind the item are in the cockpit's Drops tab.
    pub see_drops: bool,
    /// The peer that dropped most, with its count, so a fix can start from the
    /// checklist: `shop/api → databases/pg:5432/TCP (12)`.
    pub worst_peer: Option<String>,
    /// One line per thing the evidence counts, when each needs its own fix
    /// (every declared path that would be dropped, with its allow).
    pub details: Vec<String>,
}

/// The checklist for a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// The step the gate decides; `None` when the namespace has no next step
    /// (enforced: the items are the definition of done; carved out; rolled back).
    pub step: Option<RolloutAction>,
    pub title: String,
    pub items: Vec<GateItem>,
    /// Time left in the soak window, when that is what the gate waits for.
    pub remaining_soak: Option<Duration>,
}

/// A one-glance summary for the namespace table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateSummary {
    Go,
    Blocked(usize),
    Waiting(Duration),
    Done,
    NotApplicable,
}

impl std::fmt::Display for GateSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateSummary::Go => f.write_str("✓ go"),
            GateSummary::Done => f.write_str("✓ done"),
            GateSummary::Blocked(n) => write!(f, "✗ {n} open"),
            GateSummary::Waiting(left) => write!(f, "… soak {}", hours(*left)),
            GateSummary::NotApplicable => f.write_str("—"),
        }
    }
}

/// Whole hours, rounded up, for the narrow table column ("21h").
fn hours(d: Duration) -> String {
    format!("{}h", d.as_secs().div_ceil(3600))
}

/// Hours and minutes at a glance: "45m", "3h05m", "30h".
pub fn human(d: Duration) -> String {
    let minutes = d.as_secs() / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}

/// A rate in the unit that keeps it readable: "2.5/s", "3.0/min", "0.40/h".
pub fn per(per_second: f64) -> String {
    if per_second >= 1.0 {
        format!("{per_second:.1}/s")
    } else if per_second * 60.0 >= 1.0 {
        format!("{:.1}/min", per_second * 60.0)
    } else {
        format!("{:.2}/h", per_second * 3600.0)
    }
}

impl Gate {
    pub fn failing(&self) -> usize {
        self.items.iter().filter(|i| i.check == Check::Fail).count()
    }

    /// Whether the step may go ahead without an override.
    pub fn is_clear(&self) -> bool {
        matches!(self.summary(), GateSummary::Go | GateSummary::Done)
    }

    /// What the audit record says when the operator goes past this gate:
    /// the open items, then the operator's reason.
    pub fn override_note(&self, reason: &str) -> String {
        let open: Vec<&str> = self
            .items
            .iter()
            .filter(|i| matches!(i.check, Check::Fail | Check::Waiting))
            .map(|i| i.name)
            .collect();
        format!("gate override ({}): {}", open.join(", "), reason.trim())
    }

    pub fn summary(&self) -> GateSummary {
        let failing = self.failing();
        let waiting = self.items.iter().any(|i| i.check == Check::Waiting);
        match (self.step, failing, waiting) {
            (None, _, _) if self.items.iter().all(|i| i.check == Check::Info) => GateSummary::NotApplicable,
            (None, 0, _) => GateSummary::Done,
            (_, n, _) if n > 0 => GateSummary::Blocked(n),
            (_, _, true) => GateSummary::Waiting(self.remaining_soak.unwrap_or_default()),
            _ => GateSummary::Go,
        }
    }
}

/// Everything the gate reads for one namespace.
pub struct GateInput<'a> {
    pub status: &'a NamespaceStatus,
    pub policies: &'a [&'a PolicyObject],
    pub traffic: Option<&'a NamespaceTraffic>,
    pub now: Timestamp,
    pub soak: Duration,
    /// Pods of the namespace and how many lack an `app` or `app.kubernetes.io/name` label.
    pub pods: usize,
    pub unlabelled_pods: usize,
    /// Whether the backup directory accepts files; `None` until checked.
    pub backups_writable: Option<Result<(), String>>,
    /// The would-drop preview over the evidence window: (would drop, judged);
    /// `None` when the namespace is not in Audit.
    pub would_drop: Option<(u64, u64)>,
    /// Who the preview would drop, to name the worst peer.
    pub would_drop_peers: Option<&'a TopCounts<DropPeer>>,
    /// What Prometheus says about the namespace.
    pub prometheus: PromGate<'a>,
    /// Events the Hubble stream reported lost since the cockpit connected.
    pub stream_lost: u64,
    /// Lint's broad-entity findings on the namespace's policies (`policy: what`):
    /// an allowlist that opens to world, cluster or all is not minimal.
    pub broad_allows: &'a [String],
    /// Lint's one-sided allows that involve the namespace on either side
    /// (`policy: what`): flows one side allows and the other drops.
    pub one_sided: &'a [String],
    /// What the connection ledger observed; `None` without a ledger (the
    /// demo), when the soak is timed by the clock alone.
    pub observed: Option<Observed<'a>>,
    /// The would-drop preview over the soak (the ledger's connections since
    /// staging) and the declared paths; `None` without a ledger.
    pub soak_verdict: Option<&'a crate::ledger::feed::SoakVerdict>,
}

/// The spans the ledger observed, and how much of the soak they must cover.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub spans: &'a [crate::ledger::Span],
    pub required_percent: u8,
}

/// The Prometheus evidence as far as it has come.
#[derive(Debug, Clone, Copy)]
pub enum PromGate<'a> {
    NotConfigured,
    /// A configured URL that cannot be used, and why.
    Invalid(&'a str),
    /// None configured and none found in the cluster, and how the search went.
    NotFound(&'a str),
    /// Asked, no answer yet.
    Pending(&'a str),
    Fetched(&'a PromEvidence),
}

/// How much of the Prometheus evidence a step weighs. Adding the baseline
/// only grows the policy maps; staging the default-deny starts the evidence
/// the enforce gate reads, so telemetry must be healthy; enforcing needs it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    Guardrail,
    Telemetry,
    Full,
}

/// A BPF map this full is close to refusing entries (policy, conntrack): a
/// guardrail before enforcing adds more.
pub const MAP_PRESSURE_LIMIT: f64 = 0.9;

/// Whether `action` is a step the gate decides (the others, the brakes among
/// them, need no evidence).
pub fn decides(action: RolloutAction) -> bool {
    matches!(
        action,
        RolloutAction::ApplyBaseline | RolloutAction::StageDefaultDeny | RolloutAction::Enforce
    )
}

/// Builds the checklist for the namespace's next step.
pub fn evaluate(input: &GateInput<'_>) -> Gate {
    let status = input.status;
    let mut items = Vec::new();
    let (step, title) = match status.phase {
        Phase::Unmanaged | Phase::Observe | Phase::RolledBack => {
            (Some(RolloutAction::ApplyBaseline), "Gate: apply baseline".to_string())
        }
        Phase::Baseline => (
            Some(RolloutAction::StageDefaultDeny),
            "Gate: stage default-deny".to_string(),
        ),
        Phase::Audit => (Some(RolloutAction::Enforce), "Gate: enforce".to_string()),
        Phase::Enforced => (None, "Definition of done".to_string()),
        Phase::CarvedOut => {
            items.push(info(
                "Carved out",
                status
                    .intent
                    .carve_out_reason
                    .clone()
                    .unwrap_or_else(|| "no reason recorded".into()),
            ));
            return Gate {
                step: None,
                title: "Carved out: skipped by the rollout".into(),
                items,
                remaining_soak: None,
            };
        }
    };

    let evidence = evidence(input);
    let mut remaining_soak = None;
    match status.phase {
        Phase::Unmanaged | Phase::Observe | Phase::RolledBack => {
            if let Some(backup) = &status.intent.backup {
                items.push(info("Last backup", backup.clone()));
            }
            items.push(evidence);
            items.push(labels_item(input));
            items.extend(prometheus_items(input, Depth::Guardrail));
        }
        Phase::Baseline => {
            items.push(baseline_item(status));
            items.push(dns_item(status));
            items.push(both_sides_item(input));
            items.push(valid_item(input.policies));
            items.push(evidence);
            items.push(labels_item(input));
            items.extend(prometheus_items(input, Depth::Telemetry));
        }
        Phase::Audit => {
            let (soak, remaining) = soak_item(input);
            remaining_soak = remaining;
            items.push(soak);
            items.push(match input.would_drop {
                Some((0, judged)) if judged > 0 => pass(
                    "Would-drop preview",
                    format!("none of {judged} flows in the last {EVIDENCE_MINUTES} min would be dropped"),
                ),
                Some((0, _)) | None => fail("Would-drop preview", "no flows judged yet: no evidence is not a pass"),
                Some((n, judged)) => drops_fail(
                    "Would-drop preview",
                    format!("{n} of {judged} flows in the last {EVIDENCE_MINUTES} min would be dropped"),
                    input
                        .would_drop_peers
                        .and_then(|peers| worst(peers, input.now, |_| true)),
                ),
            });
            if let Some(soak) = input.soak_verdict {
                items.push(soak_would_drop_item(&soak.drops));
                items.push(declared_item(&soak.declared));
            }
            items.push(drops_item(input));
            items.push(baseline_item(status));
            items.push(dns_item(status));
            items.push(both_sides_item(input));
            items.push(valid_item(input.policies));
            items.push(evidence);
            items.extend(prometheus_items(input, Depth::Full));
            items.push(drift_item(status));
        }
        Phase::Enforced => {
            let posture = &status.observed.posture;
            items.push(if posture.fully_enforced() {
                pass("Default-deny enforced", "ingress and egress")
            } else {
                fail("Default-deny enforced", posture.summary().join("; "))
            });
            items.push(dns_item(status));
            items.push(both_sides_item(input));
            items.push(if status.observed.app_allows > 0 {
                pass(
                    "App allowlists exist",
                    format!("{} app allow policies", status.observed.app_allows),
                )
            } else {
                fail("App allowlists exist", "none: only the baseline opens traffic")
            });
            items.push(minimal_item(input));
            items.push(drops_item(input));
            items.push(forwarded_item(input));
            items.extend(prometheus_items(input, Depth::Full));
            items.push(drift_item(status));
        }
        Phase::CarvedOut => {}
    }
    items.push(rollback_item(input, status.phase == Phase::Enforced));
    Gate {
        step,
        title,
        items,
        remaining_soak,
    }
}

/// Whether the way back is open: a backup can be written before anything is
/// deleted. For an enforced namespace (the definition of done) the item also
/// names the two rollbacks the cockpit offers.
fn rollback_item(input: &GateInput<'_>, done: bool) -> GateItem {
    let name = if done {
        "Rollback steps available"
    } else {
        "Rollback ready"
    };
    match &input.backups_writable {
        Some(Ok(())) if done => pass(
            name,
            "partial (default-deny only) or whole namespace, each backed up first; backup directory writable",
        ),
        Some(Ok(())) => pass(name, "backup directory is writable"),
        Some(Err(why)) => fail(name, why.clone()),
        None => waiting(name, "checking the backup directory"),
    }
}

/// Allows on one side only, in either direction: Cilium drops those flows (or
/// will, once the staged side enforces), whatever the soak saw.
fn both_sides_item(input: &GateInput<'_>) -> GateItem {
    lint_item(
        "Allows on both sides",
        "no allow here lacks its other side",
        input.one_sided,
    )
}

/// App allowlists name their peers: no world, cluster or all entities.
fn minimal_item(input: &GateInput<'_>) -> GateItem {
    lint_item(
        "Allowlists minimal",
        "no broad entities (world, cluster, all)",
        input.broad_allows,
    )
}

/// An item that passes without lint findings, and otherwise names the first.
fn lint_item(name: &'static str, clear: &str, findings: &[String]) -> GateItem {
    match findings {
        [] => pass(name, clear),
        [first] => fail(name, first.clone()),
        [first, rest @ ..] => fail(name, format!("{first} (and {} more: see `tighten lint`)", rest.len())),
    }
}

fn item(name: &'static str, check: Check, evidence: impl Into<String>) -> GateItem {
    GateItem {
        name,
        check,
        evidence: evidence.into(),
        see_drops: false,
        worst_peer: None,
        details: Vec::new(),
    }
}

fn pass(name: &'static str, evidence: impl Into<String>) -> GateItem {
    item(name, Check::Pass, evidence)
}

fn fail(name: &'static str, evidence: impl Into<String>) -> GateItem {
    item(name, Check::Fail, evidence)
}

fn info(name: &'static str, evidence: impl Into<String>) -> GateItem {
    item(name, Check::Info, evidence)
}

fn waiting(name: &'static str, evidence: impl Into<String>) -> GateItem {
    item(name, Check::Waiting, evidence)
}

/// The paths the cluster's Ingresses, routes, webhooks and aliases declare:
/// one enforcing would drop that nothing exercised over the soak is the
/// user's real path, which the soak and in-cluster smoke tests never tried.
fn declared_item(declared: &crate::ledger::judge::DeclaredVerdict) -> GateItem {
    const NAME: &str = "Declared paths";
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let not_judged = declared
        .unjudged
        .iter()
        .map(|u| format!("not judged: {}: {}", u.origin, u.why));
    if let Some(first) = declared.unexercised.first() {
        return GateItem {
            see_drops: true,
            details: declared
                .unexercised
                .iter()
                .map(|u| {
                    format!(
                        "{}: add {} · declared by {} · {}",
                        u.path.describe(),
                        u.allow_summary(),
                        u.path.origin,
                        u.allow_line()
                    )
                })
                .chain(not_judged)
                .collect(),
            ..fail(
                NAME,
                format!(
                    "{} never exercised during the soak, would be dropped (first: {}); add the allows below",
                    plural(declared.unexercised.len(), "declared path", "declared paths"),
                    first.path.describe(),
                ),
            )
        };
    }
    if let Some(first) = declared.unjudged.first() {
        return GateItem {
            details: not_judged.collect(),
            ..fail(
                NAME,
                format!(
                    "{} could not be judged (first: {}); name the senders in [senders] or override",
                    plural(declared.unjudged.len(), "declared path", "declared paths"),
                    first.why
                ),
            )
        };
    }
    match (declared.judged, declared.dropped_seen) {
        (0, _) => pass(
            NAME,
            "no Ingress, route, webhook or alias declares a path to or from the namespace",
        ),
        (judged, 0) => pass(
            NAME,
            format!(
                "{} allowed as if enforced",
                plural(judged, "declared path", "declared paths")
            ),
        ),
        (judged, seen) => pass(
            NAME,
            format!(
                "{} judged; the {seen} that would be dropped were seen in the soak (see the would-drops above)",
                plural(judged, "declared path", "declared paths")
            ),
        ),
    }
}

/// The ledger's connections since staging that enforcing would drop: the
/// nightly job the ten-minute window missed.
fn soak_would_drop_item(drops: &[crate::ledger::SoakDrop]) -> GateItem {
    const NAME: &str = "Would-drop over the soak";
    let Some(latest) = drops.first() else {
        return pass(
            NAME,
            "none of the connections the ledger saw since staging would be dropped",
        );
    };
    let seen = |d: &crate::ledger::SoakDrop| {
        let when = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M").to_string();
        if d.count == 1 {
            format!("seen once, {}", when(d.last))
        } else {
            format!("seen {} times, {} to {}", d.count, when(d.first), when(d.last))
        }
    };
    GateItem {
        see_drops: true,
        worst_peer: Some(format!(
            "{} → {}:{}/{} ({})",
            latest.source,
            latest.destination,
            latest.port,
            latest.protocol.name(),
            seen(latest)
        )),
        ..fail(
            NAME,
            format!(
                "{} connection{} the ledger saw since staging would be dropped (latest: {} → {}:{}, {})",
                drops.len(),
                if drops.len() == 1 { "" } else { "s" },
                latest.source,
                latest.destination,
                latest.port,
                seen(latest)
            ),
        )
    }
}

/// A failing item whose flows the Drops tab lists, naming the peer that
/// dropped most.
fn drops_fail(name: &'static str, evidence: String, worst: Option<(DropPeer, u64)>) -> GateItem {
    GateItem {
        see_drops: true,
        worst_peer: worst.map(|(peer, count)| format!("{} ({count})", peer.describe())),
        ..fail(name, evidence)
    }
}

/// Telemetry health, the map-pressure guardrail and the namespace's drops over
/// the gate window, from Prometheus, as far as `depth` asks. Without
/// Prometheus the gate says so and rests on the flows alone; a Prometheus that
/// cannot answer is no evidence.
fn prometheus_items(input: &GateInput<'_>, depth: Depth) -> Vec<GateItem> {
    let evidence = match input.prometheus {
        PromGate::NotConfigured => {
            return vec![info(
                "Prometheus",
                "not configured (--prometheus URL): the gate rests on Hubble flows",
            )];
        }
        PromGate::Invalid(why) => return vec![fail("Prometheus", why)],
        PromGate::NotFound(why) => {
            return vec![info(
                "Prometheus",
                format!("{why} (--prometheus URL): the gate rests on Hubble flows"),
            )];
        }
        PromGate::Pending(url) => {
            return vec![waiting("Prometheus", format!("asking {url}"))];
        }
        PromGate::Fetched(evidence) => evidence,
    };
    let window = human(evidence.window);
    let telemetry = match &evidence.lost_events {
        Err(e) => fail("Telemetry healthy", e.to_string()),
        Ok(Some(lost)) if *lost >= 0.5 => fail(
            "Telemetry healthy",
            format!("Hubble lost {lost:.0} events in {window}: flows may be missing from the evidence"),
        ),
        Ok(_) if input.stream_lost > 0 => fail(
            "Telemetry healthy",
            format!("the flow stream reported {} lost events", input.stream_lost),
        ),
        Ok(None) => info(
            "Telemetry healthy",
            "no hubble_lost_events_total series (Hubble metrics off?); the flow stream lost none",
        ),
        Ok(Some(_)) => pass("Telemetry healthy", format!("Hubble lost no events in {window}")),
    };
    let pressure = match &evidence.map_pressure {
        Err(e) => fail("BPF map pressure", e.to_string()),
        Ok(None) => info("BPF map pressure", "no cilium_bpf_map_pressure series"),
        Ok(Some((map, p))) if *p >= MAP_PRESSURE_LIMIT => fail(
            "BPF map pressure",
            format!(
                "{map} is {:.0}% full (limit {:.0}%)",
                p * 100.0,
                MAP_PRESSURE_LIMIT * 100.0
            ),
        ),
        Ok(Some((map, p))) => pass("BPF map pressure", format!("fullest: {map} at {:.0}%", p * 100.0)),
    };
    let drops = match (evidence.namespace_caveat(), &evidence.drops_into, &evidence.drops_from) {
        (_, Err(e), _) | (_, _, Err(e)) => fail("Policy drops (Prometheus)", e.to_string()),
        (Some(caveat), _, _) => info("Policy drops (Prometheus)", caveat),
        (None, Ok(into), Ok(from)) => {
            let policy = |m: &std::collections::BTreeMap<String, f64>| -> f64 {
                m.iter()
                    .filter(|(reason, _)| crate::prometheus::evidence::is_policy_reason(reason))
                    .map(|(_, n)| n)
                    // An empty float sum is -0.0, which would print as "-0".
                    .fold(0.0, |a, b| a + b)
            };
            let (into, from) = (policy(into), policy(from));
            if into + from < 0.5 {
                pass(
                    "Policy drops (Prometheus)",
                    format!("none in {window} (hubble_drop_total)"),
                )
            } else {
                fail(
                    "Policy drops (Prometheus)",
                    format!(
                        "{into:.0} into and {from:.0} from the namespace in {window}, {} (hubble_drop_total)",
                        per(evidence.rate(into + from))
                    ),
                )
            }
        }
    };
    match depth {
        Depth::Guardrail => vec![pressure],
        Depth::Telemetry => vec![telemetry, pressure],
        Depth::Full => vec![telemetry, pressure, drops],
    }
}

fn evidence(input: &GateInput<'_>) -> GateItem {
    let seen = input.traffic.map_or(0, |t| t.flows_seen(input.now, EVIDENCE_MINUTES));
    if seen > 0 {
        pass(
            "Hubble evidence",
            format!("{seen} flows in the last {EVIDENCE_MINUTES} min"),
        )
    } else {
        fail(
            "Hubble evidence",
            format!("no flows in the last {EVIDENCE_MINUTES} min: no evidence is not a pass"),
        )
    }
}

fn drops_item(input: &GateInput<'_>) -> GateItem {
    let drops = input
        .traffic
        .map_or(0, |t| t.policy_drops.window(input.now, EVIDENCE_MINUTES));
    if drops == 0 {
        pass(
            "Policy drops explained",
            format!("none in the last {EVIDENCE_MINUTES} min"),
        )
    } else {
        drops_fail(
            "Policy drops explained",
            format!("{drops} policy drops in the last {EVIDENCE_MINUTES} min"),
            input
                .traffic
                .and_then(|t| worst(&t.peers, input.now, |p| p.reason.is_policy())),
        )
    }
}

/// The peer with the most drops over the evidence window among those `keep` accepts.
fn worst(peers: &TopCounts<DropPeer>, now: Timestamp, keep: impl Fn(&DropPeer) -> bool) -> Option<(DropPeer, u64)> {
    peers
        .top(now, EVIDENCE_MINUTES, usize::MAX)
        .into_iter()
        .find(|r| keep(&r.key))
        .map(|r| (r.key, r.count))
}

fn forwarded_item(input: &GateInput<'_>) -> GateItem {
    let forwarded = input
        .traffic
        .map_or(0, |t| t.forwarded.window(input.now, EVIDENCE_MINUTES));
    if forwarded > 0 {
        pass(
            "Expected traffic flows",
            format!("{forwarded} forwarded in the last {EVIDENCE_MINUTES} min"),
        )
    } else {
        fail("Expected traffic flows", "nothing forwarded: is the namespace cut off?")
    }
}

fn soak_item(input: &GateInput<'_>) -> (GateItem, Option<Duration>) {
    // Staged through Git, the namespace records nothing: the default-deny's
    // creation is when the reconciler staged it.
    let from_object = input
        .status
        .intent
        .staged_at
        .is_none()
        .then_some(input.status.observed.default_deny_created.as_ref())
        .flatten();
    let staged_at = input.status.intent.staged_at.or(from_object.map(|(t, _)| *t));
    let (mut item, left) = soak_since(input, staged_at);
    if let Some((_, name)) = from_object {
        item.evidence
            .push_str(&format!(" (timed from {name}'s creation: no staged time was recorded)"));
    }
    (item, left)
}

fn soak_since(input: &GateInput<'_>, staged_at: Option<Timestamp>) -> (GateItem, Option<Duration>) {
    let window = human(input.soak);
    let Some(staged) = staged_at else {
        let why = if input.status.intent.phase.is_none() {
            format!(
                "not adopted: adopting the namespace starts the {window} soak clock (tighten cannot know when it was staged)"
            )
        } else {
            format!("no staged-at annotation: the {window} soak cannot be timed")
        };
        return (fail("Soak window", why), None);
    };
    let elapsed = input.now.duration_since(staged);
    let soak = SignedDuration::try_from(input.soak).unwrap_or(SignedDuration::MAX);
    let ago = human(elapsed.unsigned_abs());
    if elapsed >= soak {
        let Some(observed) = input.observed else {
            return (pass("Soak window", format!("staged {ago} ago; soak {window}")), None);
        };
        // The soak counts only as far as someone was looking: flows that did
        // not happen while nothing recorded them are not evidence.
        let cover = crate::ledger::coverage(
            crate::ledger::Span {
                start: staged,
                end: input.now,
            },
            observed.spans,
        );
        let percent = cover.fraction() * 100.0;
        let said = crate::ledger::describe(&cover);
        if percent + 1e-9 >= f64::from(observed.required_percent) {
            (
                pass(
                    "Soak window",
                    format!("staged {ago} ago; soak {window}; {said} ({percent:.0}%)"),
                ),
                None,
            )
        } else {
            (
                fail(
                    "Soak window",
                    format!(
                        "staged {ago} ago, but {said} ({percent:.0}%, below {}%): flows nobody recorded are not \
                         evidence. Run `tighten observe` so the ledger records the whole soak (or import \
                         recordings with `tighten ledger import`), and let it cover {}%",
                        observed.required_percent, observed.required_percent
                    ),
                ),
                None,
            )
        }
    } else {
        let left = (soak - elapsed).unsigned_abs();
        (
            waiting(
                "Soak window",
                format!("staged {ago} ago; {} of {window} left", human(left)),
            ),
            Some(left),
        )
    }
}

fn baseline_item(status: &NamespaceStatus) -> GateItem {
    let missing = status.observed.missing_baseline();
    if missing.is_empty() {
        pass(
            "Baseline present",
            "DNS, kube-apiserver, intra-namespace, monitoring scrape, host probes",
        )
    } else {
        let names: Vec<_> = missing.iter().map(|c| c.label()).collect();
        fail("Baseline present", format!("missing {}", names.join(", ")))
    }
}

/// DNS by function: whichever policy allows it, tighten's or the team's.
fn dns_item(status: &NamespaceStatus) -> GateItem {
    let dns: Vec<(&str, bool)> = status
        .observed
        .posture
        .dns_allows()
        .map(|(r, without_l7)| (r.policy.name.as_str(), without_l7))
        .collect();
    match dns.iter().find(|(_, without_l7)| !without_l7).or(dns.first()) {
        None => fail(
            "DNS allowed with its L7 rule",
            "no policy allows DNS for every endpoint",
        ),
        Some((name, false)) => pass("DNS allowed with its L7 rule", format!("{name} (toFQDNs can work)")),
        Some((name, true)) => fail(
            "DNS allowed with its L7 rule",
            format!("{name} has no dns rule: toFQDNs policies will not match"),
        ),
    }
}

fn valid_item(policies: &[&PolicyObject]) -> GateItem {
    let invalid: Vec<_> = policies
        .iter()
        .filter(|p| is_rejected(p))
        .map(|p| p.name.as_str())
        .collect();
    if invalid.is_empty() {
        pass(
            "Policies accepted by Cilium",
            format!("{} policies, none rejected", policies.len()),
        )
    } else {
        fail(
            "Policies accepted by Cilium",
            format!("rejected: {}", invalid.join(", ")),
        )
    }
}

fn drift_item(status: &NamespaceStatus) -> GateItem {
    match status.drift.first() {
        None if status.intent.phase.is_none() => pass("No drift", "no recorded intent to disagree with (not adopted)"),
        None => pass("No drift", "objects match the recorded intent"),
        Some(first) => fail("No drift", first.to_string()),
    }
}

fn labels_item(input: &GateInput<'_>) -> GateItem {
    if input.pods == 0 {
        return info("Standard labels", "no pods");
    }
    if input.unlabelled_pods == 0 {
        pass("Standard labels", format!("all {} pods carry app labels", input.pods))
    } else {
        fail(
            "Standard labels",
            format!(
                "{} of {} pods lack app or app.kubernetes.io/name",
                input.unlabelled_pods, input.pods
            ),
        )
    }
}

/// Whether Cilium reported the policy invalid (`status.conditions[type=Valid]` false).
pub fn is_rejected(policy: &PolicyObject) -> bool {
    rejection(policy).is_some()
}

/// The agent's message for a rejected policy (`Valid` condition false). This is
/// the one reading of it: the gate, the preview, the demo and lint all use it.
pub fn rejection(policy: &PolicyObject) -> Option<String> {
    let conditions = policy.body.get("status")?.get("conditions")?.as_array()?;
    conditions
        .iter()
        .find(|c| {
            let valid = c.get("type").and_then(|t| t.as_str()) == Some("Valid");
            let false_ = match c.get("status") {
                Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("false"),
                Some(serde_json::Value::Bool(b)) => !b,
                _ => false,
            };
            valid && false_
        })
        .map(|c| {
            c.get("message")
                .and_then(|m| m.as_str())
                .filter(|m| !m.trim().is_empty())
                .or_else(|| c.get("reason").and_then(|r| r.as_str()))
                .unwrap_or("(no message)")
                .to_string()
        })
}

#[cfg(test)]
mod tests;
