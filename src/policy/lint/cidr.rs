//! CIDR rules that can never match what they seem meant for: the API server
//! and nodes (they carry the kube-apiserver, host and remote-node identities,
//! which CIDR rules never select), and LoadBalancer or external addresses
//! (rewritten to the Service's pods before policy is checked).

use std::net::{IpAddr, Ipv4Addr};

use crate::cluster::{AddressPool, ServiceInfo};
use crate::policy::model::{Cidr, Entity, Rule};

use super::read::{Direction, Linted, World, allows_number, entries};
use super::{Finding, Severity, code};

pub(super) fn check(world: &World<'_>, p: &Linted<'_>, rule: &Rule, out: &mut Vec<Finding>) {
    let is_np = !p.is_cilium();
    for direction in [Direction::Ingress, Direction::Egress] {
        let allows: Vec<_> = entries(rule).filter(|e| e.direction == direction && !e.deny).collect();
        let covered = allows.iter().any(|e| {
            e.entities().iter().any(|entity| {
                matches!(
                    entity,
                    Entity::KubeApiserver | Entity::Host | Entity::RemoteNode | Entity::Cluster | Entity::All
                )
            })
        });
        if covered {
            continue;
        }
        let prefix = direction.peer_prefix();
        let fix = if is_np {
            format!(
                "a NetworkPolicy cannot name Cilium entities: add a CiliumNetworkPolicy with {prefix}Entities: \
                 [kube-apiserver] (or host/remote-node) for the same pods"
            )
        } else if direction == Direction::Egress {
            format!("add {prefix}Entities: [kube-apiserver] (or host/remote-node) to a rule of its own")
        } else {
            format!("add {prefix}Entities: [host] (or remote-node, kube-apiserver) to a rule of its own")
        };
        for entry in allows {
            for cidr_rule in entry.cidrs() {
                let (path, cidr) = (&cidr_rule.path, &cidr_rule.cidr);
                let translated = (direction == Direction::Egress && !cidr.is_everything())
                    .then(|| translated_service(world, cidr))
                    .flatten();
                if let Some((service, ip)) = translated {
                    out.push(
                        p.finding(
                            Severity::Warning,
                            code::CIDR_FOR_TRANSLATED_ADDRESS,
                            format!(
                                "`{path}` is {cidr}, which holds {ip}, an address of Service {}/{}: the cluster \
                             rewrites traffic to it to the Service's pods before policy is checked, so this rule \
                             never matches it",
                                service.namespace, service.name
                            ),
                            format!(
                                "allow the pods of Service {}/{} with toEndpoints (their labels and namespace) on its \
                             targetPort",
                                service.namespace, service.name
                            ),
                        )
                        .at(path.as_str()),
                    );
                    continue;
                }
                if let Some(pool) = (direction == Direction::Egress && !cidr.is_everything())
                    .then(|| address_pool(world, cidr))
                    .flatten()
                {
                    out.push(
                        p.finding(
                            Severity::Warning,
                            code::CIDR_FOR_TRANSLATED_ADDRESS,
                            format!(
                                "`{path}` is {cidr}, which overlaps CiliumLoadBalancerIPPool {} ({}): Cilium gives \
                                 those addresses to LoadBalancer Services and rewrites traffic to them to the \
                                 Services' pods before policy is checked, so this rule never matches it",
                                pool.name,
                                pool.written.join(", ")
                            ),
                            "allow the Services' pods with toEndpoints (their labels and namespace) on their \
                             targetPorts",
                        )
                        .at(path.as_str()),
                    );
                    continue;
                }
                if cidr.is_everything() {
                    out.push(
                        p.finding(
                            Severity::Error,
                            code::CIDR_FOR_CLUSTER_ENTITY,
                            format!(
                                "`{path}` is {cidr}, which does not match kube-apiserver, host or remote-node \
                             identities: CIDR rules never select the cluster's own nodes, so traffic {} them is \
                             dropped",
                                if direction == Direction::Egress { "to" } else { "from" }
                            ),
                            fix.clone(),
                        )
                        .at(path.as_str()),
                    );
                } else if direction == Direction::Egress
                    && is_private(cidr)
                    && entry
                        .ports()
                        .iter()
                        .any(|port| allows_number(port, 443, "TCP") || allows_number(port, 6443, "TCP"))
                    && entry.restricts_ports()
                {
                    out.push(
                        p.finding(
                            Severity::Warning,
                            code::CIDR_FOR_CLUSTER_ENTITY,
                            format!(
                                "`{path}` is {cidr}, a private range, on port 443/6443: this looks like the \
                             kube-apiserver or node addresses, which CIDR rules never match (they carry the \
                             kube-apiserver, host or remote-node identity)"
                            ),
                            fix.clone(),
                        )
                        .at(path.as_str()),
                    );
                }
            }
        }
    }
}

/// The first Service with a LoadBalancer or external address inside `cidr`.
fn translated_service<'w>(world: &'w World<'_>, cidr: &Cidr) -> Option<(&'w ServiceInfo, &'w str)> {
    world.input.services.iter().find_map(|service| {
        service
            .translated_ips
            .iter()
            .find(|ip| ip.parse::<IpAddr>().is_ok_and(|ip| cidr.contains(ip)))
            .map(|ip| (service, ip.as_str()))
    })
}

/// The first LB IPAM pool with an address inside `cidr`.
fn address_pool<'w>(world: &'w World<'_>, cidr: &Cidr) -> Option<&'w AddressPool> {
    let (first, last) = cidr.bounds();
    world.input.address_pools.iter().find(|pool| pool.overlaps(first, last))
}

/// Whether a CIDR lies inside 10/8, 172.16/12 or 192.168/16.
fn is_private(cidr: &Cidr) -> bool {
    let IpAddr::V4(address) = cidr.address else {
        return false;
    };
    [
        (Ipv4Addr::new(10, 0, 0, 0), 8),
        (Ipv4Addr::new(172, 16, 0, 0), 12),
        (Ipv4Addr::new(192, 168, 0, 0), 16),
    ]
    .into_iter()
    .any(|(net, prefix)| {
        cidr.prefix >= prefix
            && Cidr {
                address: IpAddr::V4(net),
                prefix,
            }
            .contains(IpAddr::V4(address))
    })
}
