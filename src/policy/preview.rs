//! The would-drop preview: flows of namespaces in Audit judged as if their
//! default-deny were enforced. Cilium has no staged policies and no
//! per-namespace audit mode; this is how an operator sees what enforcing would
//! break, from the traffic that actually happened.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;

use crate::cluster::ClusterSnapshot;
use crate::flows::window::{MinuteSeries, TopCounts, minute_of};
use crate::flows::{Direction, DropPeer, DropReason, Flow, Side};
use crate::gate;
use crate::rollout::Phase;

use super::engine::Engine;
use super::parse::parse_policy;

/// Distinct would-drop peers kept per namespace.
const TOP: usize = 128;

/// What enforcing one namespace would drop.
#[derive(Debug, Clone)]
pub struct NamespacePreview {
    pub series: MinuteSeries,
    pub peers: TopCounts<DropPeer>,
    /// Flows judged, for "no evidence is not a pass".
    pub judged: MinuteSeries,
}

impl Default for NamespacePreview {
    fn default() -> Self {
        NamespacePreview {
            series: MinuteSeries::default(),
            peers: TopCounts::new(TOP),
            judged: MinuteSeries::default(),
        }
    }
}

/// The preview of every namespace in Audit.
#[derive(Default)]
pub struct Preview {
    engine: Option<std::sync::Arc<Engine>>,
    audit: BTreeSet<String>,
    namespaces: HashMap<String, NamespacePreview>,
    /// Policies the API server or the agent would refuse, which the preview
    /// does not apply (as the cluster does not): their namespace (`None` for
    /// a clusterwide one) and why. Shown, never silently ignored.
    pub refused: Vec<(Option<String>, String)>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preview")
            .field("audit", &self.audit)
            .field("refused", &self.refused)
            .finish()
    }
}

impl Preview {
    /// The refused policies that bear on `namespace`: its own and clusterwide ones.
    pub fn refused_for<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.refused
            .iter()
            .filter(move |(ns, _)| ns.as_deref().is_none_or(|ns| ns == namespace))
            .map(|(_, why)| why.as_str())
    }

    /// Rebuilds the engine from the cluster's policies. Policies Cilium rejected
    /// are left out, as Cilium leaves them out.
    pub fn rebuild(&mut self, snapshot: &ClusterSnapshot, phases: impl IntoIterator<Item = (String, Phase)>) {
        self.audit = phases
            .into_iter()
            .filter(|(_, p)| *p == Phase::Audit)
            .map(|(n, _)| n)
            .collect();
        self.refused.clear();
        let mut parsed = Vec::new();
        for policy in &snapshot.policies {
            // The agent's own verdict first, as Cilium leaves the policy out.
            if let Some(said) = gate::rejection(policy) {
                let why = format!("{}: rejected by the Cilium agent: {said}", policy.object_ref());
                self.refused.push((policy.namespace.clone(), why));
                continue;
            }
            match parse_policy(policy) {
                Ok(p) => parsed.push(p),
                Err(e) => self.refused.push((policy.namespace.clone(), e.to_string())),
            }
        }
        self.engine = Some(std::sync::Arc::new(Engine::new(parsed)));
        self.namespaces.retain(|ns, _| self.audit.contains(ns));
    }

    /// Judges the flows again from scratch (after a rebuild).
    pub fn replay<'a>(&mut self, flows: impl IntoIterator<Item = &'a Flow>) {
        self.namespaces.clear();
        for flow in flows {
            self.record(flow);
        }
    }

    /// Judges one flow, if it touches a namespace in Audit.
    pub fn record(&mut self, flow: &Flow) {
        let Some(engine) = &self.engine else { return };
        let (src, dst) = (&flow.source.namespace, &flow.destination.namespace);
        let involved: Vec<&String> = [src, dst].into_iter().filter(|ns| self.audit.contains(*ns)).collect();
        if involved.is_empty() {
            return;
        }
        let minute = minute_of(flow.time);
        for ns in involved {
            // Each namespace's preview enforces that namespace alone, so a flow
            // between two namespaces in Audit is judged at each of them.
            let verdict = engine.evaluate_enforcing(flow, &BTreeSet::from([ns.clone()]));
            let decided_here = match verdict.direction {
                Some(Direction::Egress) => ns == src,
                Some(Direction::Ingress) => ns == dst,
                _ => false,
            };
            let preview = self.namespaces.entry(ns.clone()).or_default();
            preview.judged.add(minute, 1);
            if !verdict.allowed && decided_here {
                preview.series.add(minute, 1);
                let side = if src == dst {
                    Side::Internal
                } else if ns == src {
                    Side::Source
                } else {
                    Side::Destination
                };
                preview.peers.add(
                    DropPeer {
                        side,
                        direction: verdict.direction.unwrap_or(flow.direction),
                        source: flow.source.qualified_name(),
                        destination: flow.destination.qualified_name(),
                        port: flow.destination_port,
                        protocol: flow.protocol,
                        reason: DropReason::POLICY_DENIED,
                    },
                    minute,
                );
            }
        }
    }

    /// The flows of `flows` that enforcing `namespace` would drop there, with
    /// the direction (for suggestions).
    pub fn would_drop<'a>(
        &self,
        namespace: &str,
        flows: impl IntoIterator<Item = &'a Flow>,
    ) -> Vec<(&'a Flow, Direction)> {
        match &self.engine {
            Some(engine) => super::suggest::would_drops(engine, namespace, flows),
            None => Vec::new(),
        }
    }

    /// The engine the preview judges with, for judging elsewhere (the
    /// ledger's thread judges the whole soak with it).
    pub fn engine(&self) -> Option<std::sync::Arc<Engine>> {
        self.engine.clone()
    }

    pub fn namespace(&self, name: &str) -> Option<&NamespacePreview> {
        self.namespaces.get(name)
    }

    pub fn is_audit(&self, name: &str) -> bool {
        self.audit.contains(name)
    }

    /// Would-drop count and flows judged over the last `minutes`, for the gate.
    pub fn window(&self, name: &str, now: Timestamp, minutes: usize) -> Option<(u64, u64)> {
        if !self.audit.contains(name) {
            return None;
        }
        Some(self.namespaces.get(name).map_or((0, 0), |p| {
            (p.series.window(now, minutes), p.judged.window(now, minutes))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::PolicyObject;
    use crate::cluster::demo::fixtures;
    use crate::policy::Templates;

    #[test]
    fn refused_policies_are_left_out_and_said_for_their_namespace() {
        let now = "2026-11-23T12:00:00Z".parse().expect("time");
        let mut snapshot = fixtures::initial(now, &Templates::embedded(), "/b/payments.yaml");
        // A team's policy the agent would refuse (two kinds of peer in one rule),
        // with no verdict from the agent yet.
        snapshot.policies.push(
            PolicyObject::from_manifest(&serde_json::json!({
                "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
                "metadata": {"name": "mixed-peers", "namespace": "payments"},
                "spec": {"endpointSelector": {}, "egress": [{"toEndpoints": [{}], "toCIDR": ["10.0.0.0/8"]}]},
            }))
            .expect("policy"),
        );
        let mut preview = Preview::default();
        preview.rebuild(&snapshot, []);
        let payments: Vec<&str> = preview.refused_for("payments").collect();
        assert_eq!(payments.len(), 1, "{payments:?}");
        assert!(payments[0].contains("payments/mixed-peers"), "{}", payments[0]);
        assert!(
            payments[0].contains("combines toEndpoints and toCIDR"),
            "{}",
            payments[0]
        );
        // The demo's stage namespace holds one the agent already rejected.
        let stage: Vec<&str> = preview.refused_for("stage").collect();
        assert!(
            stage.iter().any(|s| s.contains("rejected by the Cilium agent")),
            "{stage:?}"
        );
        assert!(preview.refused_for("databases").all(|s| !s.contains("payments/")));
    }
}
