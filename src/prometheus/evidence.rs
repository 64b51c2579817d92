//! What the gate asks Prometheus, and what the answers mean. The queries are
//! built here, pure, and shown to the operator as they were sent, so they can
//! be pasted into Grafana.

use std::collections::BTreeMap;
use std::time::Duration;

use super::client::{PromError, Prometheus, Sample};

/// Hubble's metrics carry namespaces only when configured with
/// `labelsContext=source_namespace,destination_namespace`.
pub const NAMESPACE_LABELS: [&str; 2] = ["source_namespace", "destination_namespace"];

/// The queries for one namespace over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queries {
    /// Drops into the namespace, by reason (Hubble metrics).
    pub drops_into: String,
    /// Drops from the namespace, by reason.
    pub drops_from: String,
    /// Policy verdicts touching the namespace, by action.
    pub policy_verdicts: String,
    /// The agents' drops, cluster-wide, by reason and direction.
    pub cluster_drops: String,
    /// Events Hubble lost (telemetry health).
    pub lost_events: String,
    /// The fullest BPF map, per map (a guardrail).
    pub map_pressure: String,
}

/// PromQL's duration for a window: whole seconds.
fn range(window: Duration) -> String {
    format!("{}s", window.as_secs().max(1))
}

/// A namespace inside a PromQL string literal.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Queries {
    pub fn new(namespace: &str, window: Duration) -> Queries {
        let (ns, w) = (quoted(namespace), range(window));
        Queries {
            drops_into: format!("sum by (reason) (increase(hubble_drop_total{{destination_namespace={ns}}}[{w}]))"),
            drops_from: format!("sum by (reason) (increase(hubble_drop_total{{source_namespace={ns}}}[{w}]))"),
            policy_verdicts: format!(
                "sum by (action) (increase(hubble_policy_verdicts_total{{destination_namespace={ns}}}[{w}]))"
            ),
            cluster_drops: format!("sum by (reason, direction) (increase(cilium_drop_count_total[{w}]))"),
            lost_events: format!("sum(increase(hubble_lost_events_total[{w}]))"),
            map_pressure: "max by (map_name) (cilium_bpf_map_pressure)".to_string(),
        }
    }

    /// Every query, named, for "show the queries".
    pub fn all(&self) -> [(&'static str, &str); 6] {
        [
            ("drops into the namespace", &self.drops_into),
            ("drops from the namespace", &self.drops_from),
            ("policy verdicts", &self.policy_verdicts),
            ("drops in the cluster", &self.cluster_drops),
            ("lost events", &self.lost_events),
            ("BPF map pressure", &self.map_pressure),
        ]
    }
}

/// What Prometheus says about one namespace; each part stands alone, so one
/// failing query degrades one line of the gate.
#[derive(Debug, Clone, PartialEq)]
pub struct PromEvidence {
    /// The window the increases cover.
    pub window: Duration,
    pub queries: Queries,
    /// Whether `hubble_drop_total` carries namespace labels (`None`: the
    /// metric is not there at all).
    pub namespace_labels: Result<Option<bool>, PromError>,
    pub drops_into: Result<BTreeMap<String, f64>, PromError>,
    pub drops_from: Result<BTreeMap<String, f64>, PromError>,
    pub policy_verdicts: Result<BTreeMap<String, f64>, PromError>,
    /// By "reason/direction".
    pub cluster_drops: Result<BTreeMap<String, f64>, PromError>,
    /// `None`: no `hubble_lost_events_total` series at all.
    pub lost_events: Result<Option<f64>, PromError>,
    /// The fullest map and its pressure (0..1).
    pub map_pressure: Result<Option<(String, f64)>, PromError>,
}

/// Samples summed by the value of `label` (an absent label is "").
fn by_label(samples: &[Sample], label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for s in samples {
        *out.entry(s.label(label).to_string()).or_insert(0.0) += s.value;
    }
    out
}

impl PromEvidence {
    /// Asks everything at once.
    pub async fn fetch(prometheus: &Prometheus, namespace: &str, window: Duration) -> PromEvidence {
        let queries = Queries::new(namespace, window);
        let (labels, into, from, verdicts, cluster, lost, pressure) = tokio::join!(
            prometheus.label_names("hubble_drop_total"),
            prometheus.query(&queries.drops_into),
            prometheus.query(&queries.drops_from),
            prometheus.query(&queries.policy_verdicts),
            prometheus.query(&queries.cluster_drops),
            prometheus.query(&queries.lost_events),
            prometheus.query(&queries.map_pressure),
        );
        PromEvidence {
            namespace_labels: labels
                .map(|names| (!names.is_empty()).then(|| NAMESPACE_LABELS.iter().all(|l| names.contains(*l)))),
            drops_into: into.map(|s| by_label(&s, "reason")),
            drops_from: from.map(|s| by_label(&s, "reason")),
            policy_verdicts: verdicts.map(|s| by_label(&s, "action")),
            cluster_drops: cluster.map(|s| {
                let mut out = BTreeMap::new();
                for sample in &s {
                    let key = format!("{}/{}", sample.label("reason"), sample.label("direction"));
                    *out.entry(key).or_insert(0.0) += sample.value;
                }
                out
            }),
            // An empty answer means the metric is not there, not that nothing was lost.
            lost_events: lost.map(|s| (!s.is_empty()).then(|| s.iter().map(|x| x.value).sum())),
            map_pressure: pressure.map(|s| {
                s.iter()
                    .max_by(|a, b| a.value.total_cmp(&b.value))
                    .map(|x| (x.label("map_name").to_string(), x.value))
            }),
            queries,
            window,
        }
    }

    /// Why the namespace's own drop counts cannot be trusted, if they cannot.
    pub fn namespace_caveat(&self) -> Option<String> {
        match &self.namespace_labels {
            Ok(Some(true)) => None,
            Ok(Some(false)) => Some(
                "hubble_drop_total has no namespace labels: configure Hubble metrics with \
                 labelsContext=source_namespace,destination_namespace"
                    .into(),
            ),
            Ok(None) => Some("no hubble_drop_total series: are Hubble metrics enabled and scraped?".into()),
            Err(e) => Some(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_the_namespace_safely_and_the_window_in_seconds() {
        let q = Queries::new("payments", Duration::from_secs(24 * 3600));
        assert_eq!(
            q.drops_into,
            r#"sum by (reason) (increase(hubble_drop_total{destination_namespace="payments"}[86400s]))"#
        );
        assert!(q.drops_from.contains(r#"source_namespace="payments""#));
        let odd = Queries::new("a\"b\\c", Duration::from_millis(10));
        assert!(
            odd.drops_into.contains(r#"destination_namespace="a\"b\\c""#),
            "{}",
            odd.drops_into
        );
        assert!(odd.drops_into.contains("[1s]"));
        assert_eq!(q.all().len(), 6);
    }

    #[test]
    fn samples_sum_by_label() {
        let sample = |reason: &str, value: f64| Sample {
            labels: [("reason".to_string(), reason.to_string())].into(),
            value,
        };
        let summed = by_label(
            &[
                sample("POLICY_DENIED", 2.0),
                sample("POLICY_DENIED", 1.5),
                sample("X", 1.0),
            ],
            "reason",
        );
        assert_eq!(summed.get("POLICY_DENIED"), Some(&3.5));
        assert_eq!(summed.len(), 2);
    }
}
