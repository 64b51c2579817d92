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
    /// The agents' drops per node (the scrape's `node`, `pod` or `instance`), by reason.
    pub node_drops: String,
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
            node_drops: format!("sum by (node, pod, instance, reason) (increase(cilium_drop_count_total[{w}]))"),
            lost_events: format!("sum(increase(hubble_lost_events_total[{w}]))"),
            map_pressure: "max by (map_name) (cilium_bpf_map_pressure)".to_string(),
        }
    }

    /// Every query, named, for "show the queries".
    pub fn all(&self) -> [(&'static str, &str); 7] {
        [
            ("drops into the namespace", &self.drops_into),
            ("drops from the namespace", &self.drops_from),
            ("policy verdicts", &self.policy_verdicts),
            ("drops in the cluster", &self.cluster_drops),
            ("drops per node", &self.node_drops),
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
    /// Per node, policy drops apart from the rest.
    pub node_drops: Result<BTreeMap<String, NodeDrops>, PromError>,
    /// `None`: no `hubble_lost_events_total` series at all.
    pub lost_events: Result<Option<f64>, PromError>,
    /// The fullest map and its pressure (0..1).
    pub map_pressure: Result<Option<(String, f64)>, PromError>,
}

/// One node's agent drops over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeDrops {
    /// Drops whose reason is a policy's ("Policy denied", "Policy denied by denylist", …).
    pub policy: f64,
    pub other: f64,
}

/// Whether an agent drop reason (`cilium_drop_count_total`'s human text, or
/// Hubble's enum name) is a policy's verdict rather than the datapath's.
pub fn is_policy_reason(reason: &str) -> bool {
    crate::flows::DropReason::from_name(reason).is_some_and(crate::flows::DropReason::is_policy)
        || reason.to_ascii_lowercase().contains("policy")
}

/// The node a scraped agent series belongs to: the `node` label when the
/// scrape adds it (Cilium's ServiceMonitor does), else the agent pod, else the
/// scrape address.
fn node_of(sample: &Sample) -> String {
    ["node", "pod", "instance"]
        .iter()
        .map(|l| sample.label(l))
        .find(|v| !v.is_empty())
        .unwrap_or("(unlabelled)")
        .to_string()
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
        let (labels, into, from, verdicts, cluster, nodes, lost, pressure) = tokio::join!(
            prometheus.label_names("hubble_drop_total"),
            prometheus.query(&queries.drops_into),
            prometheus.query(&queries.drops_from),
            prometheus.query(&queries.policy_verdicts),
            prometheus.query(&queries.cluster_drops),
            prometheus.query(&queries.node_drops),
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
            node_drops: nodes.map(|s| {
                let mut out: BTreeMap<String, NodeDrops> = BTreeMap::new();
                for sample in &s {
                    let node = out.entry(node_of(sample)).or_default();
                    if is_policy_reason(sample.label("reason")) {
                        node.policy += sample.value;
                    } else {
                        node.other += sample.value;
                    }
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

    /// Why Prometheus could not be asked at all, when it could not (the
    /// connection failed, as opposed to one query being rejected).
    pub fn unreachable(&self) -> Option<&PromError> {
        self.lost_events
            .as_ref()
            .err()
            .filter(|e| matches!(e, PromError::Unreachable { .. }))
    }

    /// The average rate per second over the window of an increase over it:
    /// what `rate(…[window])` gives for the same series.
    pub fn rate(&self, increase: f64) -> f64 {
        increase / self.window.as_secs_f64().max(1.0)
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
        assert_eq!(q.all().len(), 7);
        assert_eq!(
            q.node_drops,
            "sum by (node, pod, instance, reason) (increase(cilium_drop_count_total[86400s]))"
        );
    }

    #[test]
    fn agent_drop_reasons_split_into_policy_and_datapath() {
        for policy in [
            "Policy denied",
            "Policy denied by denylist",
            "POLICY_DENIED",
            "POLICY_DENY",
        ] {
            assert!(is_policy_reason(policy), "{policy}");
        }
        for datapath in [
            "Stale or unroutable IP",
            "STALE_OR_UNROUTABLE_IP",
            "CT: Map insertion failed",
            "",
        ] {
            assert!(!is_policy_reason(datapath), "{datapath}");
        }
        let sample = |labels: &[(&str, &str)]| Sample {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value: 1.0,
        };
        assert_eq!(node_of(&sample(&[("node", "n1"), ("pod", "cilium-x")])), "n1");
        assert_eq!(node_of(&sample(&[("node", ""), ("pod", "cilium-x")])), "cilium-x");
        assert_eq!(node_of(&sample(&[("instance", "10.0.0.1:9962")])), "10.0.0.1:9962");
        assert_eq!(node_of(&sample(&[])), "(unlabelled)");
    }

    #[test]
    fn rates_are_increases_over_the_window() {
        let evidence = PromEvidence {
            window: Duration::from_secs(3600),
            queries: Queries::new("x", Duration::from_secs(3600)),
            namespace_labels: Ok(Some(true)),
            drops_into: Ok(BTreeMap::new()),
            drops_from: Ok(BTreeMap::new()),
            policy_verdicts: Ok(BTreeMap::new()),
            cluster_drops: Ok(BTreeMap::new()),
            node_drops: Ok(BTreeMap::new()),
            lost_events: Ok(None),
            map_pressure: Ok(None),
        };
        assert!((evidence.rate(7200.0) - 2.0).abs() < 1e-9);
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
