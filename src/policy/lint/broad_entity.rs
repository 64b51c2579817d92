//! Very broad entities: ingress from world, cluster or all, and egress to
//! world on every port.

use crate::policy::model::{Entity, Rule};

use super::read::{Direction, Linted, entries};
use super::{Finding, Severity, code};

pub(super) fn check(p: &Linted<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    for entry in entries(rule).filter(|e| !e.deny) {
        match entry.direction {
            Direction::Ingress => {
                let broad: Vec<&str> = entry
                    .entities()
                    .iter()
                    .filter(|e| matches!(e, Entity::World | Entity::Cluster | Entity::All))
                    .map(|e| e.name())
                    .collect();
                if broad.is_empty() {
                    continue;
                }
                out.push(
                    p.finding(
                        Severity::Warning,
                        code::BROAD_ENTITY,
                        format!(
                            "`{}` contains {}: ingress from {} is very broad",
                            entry.entities_path(),
                            broad.join(", "),
                            broad
                                .iter()
                                .map(|e| match *e {
                                    "world" => "anywhere outside the cluster",
                                    "cluster" => "every pod and node of the cluster",
                                    _ => "every identity",
                                })
                                .collect::<Vec<_>>()
                                .join(" and ")
                        ),
                        "name the clients with fromEndpoints (pods, with k8s:io.kubernetes.pod.namespace for other \
                     namespaces) or fromCIDRSet (external ranges), and restrict toPorts",
                    )
                    .at(entry.entities_path()),
                );
            }
            Direction::Egress => {
                if entry.entities().contains(&Entity::World) && !entry.restricts_ports() {
                    out.push(
                        p.finding(
                            Severity::Info,
                            code::BROAD_ENTITY,
                            format!(
                                "`{}` contains world without toPorts: egress to anywhere outside the cluster on every \
                             port",
                                entry.entities_path()
                            ),
                            "add toPorts with the ports needed (such as 443/TCP), or use toFQDNs for known hosts",
                        )
                        .at(entry.entities_path()),
                    );
                }
            }
        }
    }
}
