//! An explicit deny of every peer on every port, used as if it were a
//! default-deny: deny rules win over every allow, so later allows cannot
//! open anything.

use crate::policy::model::{Entity, Rule};

use super::read::{Linted, entries};
use super::{Finding, Severity, code};

pub(super) fn check(p: &Linted<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    for entry in entries(rule).filter(|e| e.deny) {
        if entry.restricts_ports() {
            continue;
        }
        let mut why = Vec::new();
        if entry.entities().contains(&Entity::All) {
            why.push(format!("`{}` contains all", entry.entities_path()));
        } else if entry.entities().contains(&Entity::World) && entry.entities().contains(&Entity::Cluster) {
            why.push(format!("`{}` contains world and cluster", entry.entities_path()));
        }
        if entry.endpoints().iter().any(|s| s.selector.is_empty()) {
            let reach = if p.is_clusterwide() {
                "every endpoint in the cluster"
            } else {
                "every endpoint of the namespace"
            };
            why.push(format!(
                "`{}.{}Endpoints` has an empty selector {{}} ({reach})",
                entry.path(),
                entry.direction.peer_prefix()
            ));
        }
        for cidr in entry.cidrs() {
            if cidr.cidr.is_everything() {
                why.push(format!("`{}` is {}", cidr.path, cidr.cidr));
            }
        }
        if why.is_empty() {
            continue;
        }
        out.push(
            p.finding(
                Severity::Warning,
                code::DENY_AS_DEFAULT_DENY,
                format!(
                    "`{}` is an explicit deny of every peer on every port ({}): deny rules win over every allow from \
                 any policy, so this blocks everything in {}, including what later allows try to open",
                    entry.path(),
                    why.join("; "),
                    entry.direction.label()
                ),
                "use a default-deny with enableDefaultDeny instead (a policy selecting the pods with ingress: [{}] / \
             egress: [{}], as tighten's default-deny does), and keep deny rules for specific peers or ports",
            )
            .at(entry.path()),
        );
    }
}
