//! The namespace table's rows: derived once per change, sorted and filtered, so
//! rendering only reads them.

use std::cmp::Ordering;
use std::sync::Arc;

use jiff::Timestamp;
use regex::Regex;

use super::state::PromState;
use crate::cluster::{ClusterSnapshot, NamespaceIndex, PolicyObject};
use crate::config::ResolvedSettings;
use crate::flows::Traffic;
use crate::flows::window::minute_of;
use crate::gate::{self, Gate, GateInput, GateSummary};
use crate::policy::preview::Preview;
use crate::rollout::{NamespaceStatus, Phase, Statuses, labels, status_in};

/// Minutes the drop sparkline covers.
pub const SPARK_MINUTES: usize = 10;

/// Which tool applied a namespace's policies (the GitOps model's owner).
pub use crate::rollout::gitops::Owner as GitOpsOwner;

/// A GitOps owner a rollback paused, until it is resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedOwner {
    pub owner: GitOpsOwner,
    /// Who paused it and when, as its annotations say.
    pub by: Option<String>,
    pub at: Option<String>,
    /// Still paused on the cluster (`false`: resumed outside tighten, or gone).
    pub paused: bool,
}

/// One namespace, as the table shows it.
#[derive(Debug, Clone)]
pub struct NamespaceRow {
    pub name: String,
    pub tier: Option<String>,
    pub protected: bool,
    /// Shared with the statuses derived once per snapshot.
    pub status: Arc<NamespaceStatus>,
    pub policies: usize,
    pub owner: Option<GitOpsOwner>,
    /// The reconciler that owns the namespace and how far it got:
    /// `Flux Kustomization flux-system/apps: applied main@sha1:… · ready`.
    pub reconciler: Option<String>,
    /// A step committed for it that its reconciler has not applied yet.
    pub waiting: bool,
    /// Owners a rollback paused: flagged on the row until resumed.
    pub paused_owners: Vec<PausedOwner>,
    pub gate: Gate,
    pub drops_per_minute: f64,
    pub sparkline: Vec<u32>,
}

impl NamespaceRow {
    /// The text `/` filters match against.
    fn haystack(&self) -> String {
        format!(
            "{} {} {}",
            self.name,
            self.tier.as_deref().unwrap_or(""),
            self.status.phase.label()
        )
    }
}

/// What rows are derived from besides the cluster.
pub struct RowInputs<'a> {
    pub traffic: &'a Traffic,
    pub preview: &'a Preview,
    pub settings: &'a ResolvedSettings,
    pub now: Timestamp,
    pub backups_writable: &'a Option<Result<(), String>>,
    pub prometheus: &'a PromState,
    /// Events the Hubble stream reported lost.
    pub stream_lost: u64,
    /// Lint findings over the snapshot (the gate reads the broad allowlists).
    pub lint: &'a [crate::policy::lint::Finding],
    /// Each namespace's status, derived once per snapshot; one missing here
    /// is derived on the spot.
    pub statuses: &'a Statuses,
    /// The spans the connection ledger observed; `None` without a ledger.
    pub observed: Option<&'a [crate::ledger::Span]>,
    /// What enforcing would drop over the soak, per namespace; `None` without a ledger.
    pub soak: Option<&'a std::collections::BTreeMap<String, crate::ledger::feed::SoakVerdict>>,
    /// Per namespace, the committed step its reconciler has not applied yet.
    pub waiting: &'a std::collections::BTreeMap<String, String>,
}

/// Derives every row from the cluster, the traffic and the clock.
pub fn derive_rows(snapshot: &ClusterSnapshot, inputs: &RowInputs<'_>) -> Vec<NamespaceRow> {
    let RowInputs {
        traffic,
        preview,
        settings,
        now,
        backups_writable,
        prometheus,
        stream_lost,
        lint,
        statuses,
        observed: ledger,
        soak,
        waiting,
    } = *inputs;
    let minute = minute_of(now);
    let index = NamespaceIndex::new(snapshot);
    // Grouped once per derivation, not scanned once per namespace.
    let mut broad: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    let mut one_sided: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    for finding in lint {
        let line = || match &finding.policy {
            Some(policy) => format!("{policy}: {}", finding.message),
            None => finding.message.clone(),
        };
        if finding.code == crate::policy::lint::code::BROAD_ENTITY
            && let Some(namespace) = finding.namespace.as_deref()
        {
            broad.entry(namespace).or_default().push(line());
        }
        // A flow one side allows and the other drops concerns both ends.
        if finding.code == crate::policy::lint::code::ONE_SIDED_ALLOW {
            let mut ends: Vec<&str> = [finding.namespace.as_deref(), finding.peer_namespace.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            ends.dedup();
            for namespace in ends {
                one_sided.entry(namespace).or_default().push(line());
            }
        }
    }
    snapshot
        .namespaces
        .iter()
        .map(|ns| {
            let own: &[&PolicyObject] = index.policies(&ns.name);
            let status = statuses
                .get(&ns.name)
                .cloned()
                .unwrap_or_else(|| Arc::new(status_in(&index, ns)));
            let selected = index.policies_for(ns);
            let ns_traffic = traffic.namespace(&ns.name);
            let tier = ns.labels.get(labels::TIER).cloned();
            let pods = index.pods(&ns.name);
            let unlabelled = pods
                .iter()
                .filter(|p| !p.labels.contains_key("app") && !p.labels.contains_key("app.kubernetes.io/name"))
                .count();
            let broad_allows = broad.get(ns.name.as_str()).map_or(&[][..], Vec::as_slice);
            let one_sided = one_sided.get(ns.name.as_str()).map_or(&[][..], Vec::as_slice);
            let gate = gate::evaluate(&GateInput {
                status: &status,
                policies: own,
                traffic: ns_traffic,
                now,
                soak: settings.soak.for_tier(tier.as_deref()),
                pods: pods.len(),
                unlabelled_pods: unlabelled,
                backups_writable: backups_writable.clone(),
                would_drop: preview.window(&ns.name, now, gate::EVIDENCE_MINUTES),
                would_drop_peers: preview.namespace(&ns.name).map(|p| &p.peers),
                prometheus: prometheus.gate(&ns.name),
                stream_lost,
                broad_allows,
                one_sided,
                observed: ledger.map(|spans| gate::Observed {
                    spans,
                    required_percent: settings.soak.coverage_percent,
                }),
                soak_verdict: soak.and_then(|m| m.get(&ns.name)),
            });
            NamespaceRow {
                name: ns.name.clone(),
                protected: settings.is_protected(&ns.name),
                owner: own.iter().find_map(|p| snapshot.gitops().owner_of(p)),
                reconciler: crate::repo::owner_of_namespace(snapshot, &ns.name, Some(ns), own.iter().copied())
                    .ok()
                    .flatten()
                    .and_then(|o| {
                        let progress = snapshot.gitops().state(&o)?.progress();
                        Some(match waiting.get(&ns.name) {
                            Some(wait) => format!("{}: waiting for {wait} · {progress}", o.describe()),
                            None => format!("{}: {progress}", o.describe()),
                        })
                    }),
                waiting: waiting.contains_key(&ns.name),
                paused_owners: paused_owners(snapshot, ns),
                policies: selected.len(),
                drops_per_minute: ns_traffic.map_or(0.0, |t| t.drops.rate_per_minute(now)),
                sparkline: ns_traffic.map_or_else(|| vec![0; SPARK_MINUTES], |t| t.drops.series(minute, SPARK_MINUTES)),
                tier,
                status,
                gate,
            }
        })
        .collect()
}

/// The rollout at a glance. Carved-out namespaces are outside the rollout, so
/// they are counted apart and never in the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RolloutProgress {
    pub in_scope: usize,
    pub enforced: usize,
    pub audit: usize,
    pub baseline: usize,
    pub drifting: usize,
    pub carved_out: usize,
}

impl RolloutProgress {
    pub fn of(rows: &[NamespaceRow]) -> RolloutProgress {
        let mut progress = RolloutProgress::default();
        for row in rows {
            if row.status.phase == Phase::CarvedOut {
                progress.carved_out += 1;
                continue;
            }
            progress.in_scope += 1;
            match row.status.phase {
                Phase::Enforced => progress.enforced += 1,
                Phase::Audit => progress.audit += 1,
                Phase::Baseline => progress.baseline += 1,
                _ => {}
            }
            progress.drifting += usize::from(!row.status.drift.is_empty());
        }
        progress
    }
}

impl std::fmt::Display for RolloutProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rollout {}/{} enforced · {} audit · {} baseline",
            self.enforced, self.in_scope, self.audit, self.baseline
        )?;
        if self.drifting > 0 {
            write!(f, " · {} drifting", self.drifting)?;
        }
        if self.carved_out > 0 {
            write!(f, " · {} carved out", self.carved_out)?;
        }
        Ok(())
    }
}

/// Table columns that can be sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Tier,
    Phase,
    Policies,
    Drops,
    Gate,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Tier => "tier",
            SortKey::Phase => "phase",
            SortKey::Policies => "policies",
            SortKey::Drops => "drops",
            SortKey::Gate => "gate",
        }
    }
}

/// Rollout order: the tiers an operator promotes through.
fn tier_rank(tier: Option<&str>) -> u8 {
    match tier {
        Some("lab") => 0,
        Some("stage") => 1,
        Some("prod") => 2,
        Some(_) => 3,
        None => 4,
    }
}

fn gate_rank(gate: &Gate) -> (u8, u64) {
    match gate.summary() {
        GateSummary::Blocked(n) => (0, u64::MAX - n as u64),
        GateSummary::Waiting(d) => (1, d.as_secs()),
        GateSummary::Go => (2, 0),
        GateSummary::Done => (3, 0),
        GateSummary::NotApplicable => (4, 0),
    }
}

fn phase_rank(phase: Phase) -> u8 {
    phase as u8
}

/// Orders rows by `key`; ties fall back to the name so the order is stable.
pub fn compare(a: &NamespaceRow, b: &NamespaceRow, key: SortKey) -> Ordering {
    let primary = match key {
        SortKey::Name => Ordering::Equal,
        SortKey::Tier => tier_rank(a.tier.as_deref()).cmp(&tier_rank(b.tier.as_deref())),
        SortKey::Phase => phase_rank(a.status.phase).cmp(&phase_rank(b.status.phase)),
        SortKey::Policies => a.policies.cmp(&b.policies),
        SortKey::Drops => a.drops_per_minute.total_cmp(&b.drops_per_minute),
        SortKey::Gate => gate_rank(&a.gate).cmp(&gate_rank(&b.gate)),
    };
    primary.then_with(|| a.name.cmp(&b.name))
}

/// A compiled `/` filter.
#[derive(Debug, Clone)]
pub struct NamespaceFilter {
    pub text: String,
    regex: Regex,
    pub inverted: bool,
}

impl NamespaceFilter {
    /// Parses what follows `/`: a regex, or `!regex` to invert. Case-insensitive
    /// unless the pattern has an upper-case letter (as in k9s and vim's smartcase).
    pub fn parse(text: &str) -> Result<Option<NamespaceFilter>, String> {
        let (inverted, pattern) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if pattern.is_empty() {
            return Ok(None);
        }
        let smart = if pattern.chars().any(char::is_uppercase) {
            pattern.to_string()
        } else {
            format!("(?i){pattern}")
        };
        let regex = Regex::new(&smart).map_err(|e| match e {
            regex::Error::Syntax(s) => s.lines().last().unwrap_or("invalid regex").trim().to_string(),
            other => other.to_string(),
        })?;
        Ok(Some(NamespaceFilter {
            text: text.to_string(),
            regex,
            inverted,
        }))
    }

    pub fn matches(&self, row: &NamespaceRow) -> bool {
        self.regex.is_match(&row.haystack()) != self.inverted
    }
}

/// The owners the namespace recorded as paused, with what the cluster says of them.
fn paused_owners(snapshot: &ClusterSnapshot, ns: &crate::cluster::NamespaceInfo) -> Vec<PausedOwner> {
    let view = snapshot.gitops();
    crate::rollout::gitops::recorded_pauses(&ns.annotations)
        .into_iter()
        .map(|owner| {
            let state = view.state(&owner);
            PausedOwner {
                by: state.as_ref().and_then(|s| s.paused_by.clone()),
                at: state.as_ref().and_then(|s| s.paused_at.clone()),
                paused: state.is_some_and(|s| s.paused),
                owner,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_smart_case_and_invertible() {
        let f = NamespaceFilter::parse("prod").expect("valid").expect("some");
        assert!(!f.inverted);
        assert!(f.regex.is_match("auth prod Enforced"));
        assert!(f.regex.is_match("PROD"));
        let f = NamespaceFilter::parse("!^kube").expect("valid").expect("some");
        assert!(f.inverted);
        let f = NamespaceFilter::parse("Enforced").expect("valid").expect("some");
        assert!(!f.regex.is_match("enforced"));
        assert!(NamespaceFilter::parse("").expect("valid").is_none());
        assert!(NamespaceFilter::parse("!").expect("valid").is_none());
        assert!(NamespaceFilter::parse("(").is_err());
    }

    #[test]
    fn tiers_sort_in_promotion_order() {
        assert!(tier_rank(Some("lab")) < tier_rank(Some("stage")));
        assert!(tier_rank(Some("stage")) < tier_rank(Some("prod")));
        assert!(tier_rank(Some("prod")) < tier_rank(None));
    }
}
