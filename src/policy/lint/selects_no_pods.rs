//! A policy whose subject selects no pod: it has no effect.

use std::collections::BTreeSet;

use crate::policy::selector::LabelSelector;

use super::read::{Linted, World, describe_selector, subject_path};
use super::{Finding, Severity, code};

pub(super) fn check(world: &World<'_>, p: &Linted<'_>, out: &mut Vec<Finding>) {
    let subjects: Vec<(String, &LabelSelector)> = p
        .parsed
        .policy
        .rules
        .iter()
        .map(|r| (subject_path(p, r), &r.subject.selector))
        .collect();
    if subjects.is_empty() {
        return;
    }
    let namespace = p.scope();
    if p.object.kind.is_namespaced() && namespace.is_none() {
        return;
    }
    let candidates = world.in_scope(namespace).count();
    let where_ = namespace.map_or_else(|| "the cluster".to_string(), |ns| format!("namespace {ns}"));
    let paths: Vec<String> = subjects.iter().map(|(path, _)| format!("`{path}`")).collect();
    if candidates == 0 {
        out.push(
            p.finding(
                Severity::Info,
                code::SELECTS_NO_PODS,
                format!("{} selects no pod: {where_} has no pods (yet)", paths.join(", ")),
                "nothing to do if pods are coming; otherwise delete the policy",
            )
            .at(subjects.first().map(|s| s.0.clone()).unwrap_or_default()),
        );
        return;
    }
    if subjects
        .iter()
        .any(|(_, selector)| world.selected(namespace, selector).next().is_some())
    {
        return;
    }
    let described: Vec<String> = subjects
        .iter()
        .map(|(path, selector)| format!("`{path}` ({})", describe_selector(selector)))
        .collect();
    let mut apps: BTreeSet<String> = BTreeSet::new();
    for e in world.in_scope(namespace) {
        for key in ["app", "app.kubernetes.io/name"] {
            if let Some(v) = e.pod.labels.get(key) {
                apps.insert(format!("{key}={v}"));
            }
        }
    }
    let sample: Vec<String> = apps.into_iter().take(5).collect();
    let hint = if sample.is_empty() {
        String::new()
    } else {
        format!(" (pods there carry {})", sample.join(", "))
    };
    out.push(
        p.finding(
            Severity::Warning,
            code::SELECTS_NO_PODS,
            format!(
                "{} selects none of the {candidates} pods in {where_}: the policy has no effect",
                described.join(", ")
            ),
            format!("match the selector to the pods' labels{hint}, or delete the policy"),
        )
        .at(subjects.first().map(|s| s.0.clone()).unwrap_or_default()),
    );
}
