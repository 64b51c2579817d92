//! Kubernetes label selectors as Cilium and NetworkPolicy use them.
//!
//! Cilium writes selector keys with an optional source prefix (`k8s:app`,
//! `any:app`); pods carry `k8s`-sourced labels plus the namespace and
//! namespace-label pseudo labels Cilium adds to every endpoint.

use std::collections::BTreeMap;

use serde_json::Value;

/// The label Cilium adds to every endpoint naming its namespace.
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
/// Namespace labels are visible to selectors under this prefix.
pub const NAMESPACE_LABELS_PREFIX: &str = "io.cilium.k8s.namespace.labels.";

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector. The empty selector selects everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    pub match_expressions: Vec<Requirement>,
}

/// Why a selector could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("selector is not a mapping")]
    NotAMapping,
    #[error("matchLabels value for {0:?} is not a string")]
    BadLabelValue(String),
    #[error("matchExpressions entry {0} is malformed: {1}")]
    BadExpression(usize, String),
}

impl Requirement {
    /// The label key the requirement is about.
    pub fn key(&self) -> &str {
        match self {
            Requirement::In(key, _)
            | Requirement::NotIn(key, _)
            | Requirement::Exists(key)
            | Requirement::DoesNotExist(key) => key,
        }
    }
}

impl LabelSelector {
    /// Reads a selector from its JSON form. `null` (absent) is the empty selector.
    pub fn parse(value: &Value) -> Result<LabelSelector, SelectorError> {
        if value.is_null() {
            return Ok(LabelSelector::default());
        }
        let map = value.as_object().ok_or(SelectorError::NotAMapping)?;
        let mut selector = LabelSelector::default();
        if let Some(labels) = map.get("matchLabels") {
            let labels = labels.as_object().ok_or(SelectorError::NotAMapping)?;
            for (key, value) in labels {
                let value = value
                    .as_str()
                    .ok_or_else(|| SelectorError::BadLabelValue(key.clone()))?;
                selector.match_labels.insert(key.clone(), value.to_string());
            }
        }
        if let Some(exprs) = map.get("matchExpressions") {
            let exprs = exprs.as_array().ok_or(SelectorError::NotAMapping)?;
            for (index, expr) in exprs.iter().enumerate() {
                selector
                    .match_expressions
                    .push(parse_requirement(expr).map_err(|why| SelectorError::BadExpression(index, why))?);
            }
        }
        Ok(selector)
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether an endpoint with these labels (keys without source prefix) is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|source, key| match source {
            None | Some("k8s") | Some("any") => labels.get(key).map(String::as_str),
            Some(_) => None,
        })
    }

    /// Whether the labels `lookup(source, key)` answers are selected. `source` is
    /// the prefix of a selector key (`k8s`, `reserved`...), `None` when it has none.
    pub fn matches_with<'l>(&self, lookup: impl Fn(Option<&str>, &str) -> Option<&'l str>) -> bool {
        let get = |key: &str| {
            let (source, bare) = split_source(key);
            lookup(source, bare)
        };
        self.match_labels
            .iter()
            .all(|(key, want)| get(key) == Some(want.as_str()))
            && self.match_expressions.iter().all(|req| match req {
                Requirement::In(key, values) => get(key).is_some_and(|v| values.iter().any(|w| w == v)),
                Requirement::NotIn(key, values) => !get(key).is_some_and(|v| values.iter().any(|w| w == v)),
                Requirement::Exists(key) => get(key).is_some(),
                Requirement::DoesNotExist(key) => get(key).is_none(),
            })
    }

    /// Whether any requirement names `key` (with or without a source prefix).
    pub fn mentions(&self, key: &str) -> bool {
        self.mentions_where(|k| k == key)
    }

    /// Whether a key starting with `prefix` is used (`io.cilium.k8s.namespace.labels.`).
    pub fn mentions_prefix(&self, prefix: &str) -> bool {
        self.mentions_where(|k| k.starts_with(prefix))
    }

    fn mentions_where(&self, test: impl Fn(&str) -> bool) -> bool {
        self.match_labels.keys().any(|k| test(split_source(k).1))
            || self.match_expressions.iter().any(|r| match r {
                Requirement::In(k, _)
                | Requirement::NotIn(k, _)
                | Requirement::Exists(k)
                | Requirement::DoesNotExist(k) => test(split_source(k).1),
            })
    }

    /// Whether every requirement is on the namespace (its name or its labels):
    /// such a clusterwide selector selects every endpoint of a namespace it
    /// matches, pods to come included.
    pub fn looks_only_at_namespaces(&self) -> bool {
        let namespace_key = |key: &str| {
            let bare = split_source(key).1;
            bare == POD_NAMESPACE_LABEL || bare.starts_with(NAMESPACE_LABELS_PREFIX)
        };
        self.match_labels.keys().all(|k| namespace_key(k))
            && self.match_expressions.iter().all(|r| match r {
                Requirement::In(k, _)
                | Requirement::NotIn(k, _)
                | Requirement::Exists(k)
                | Requirement::DoesNotExist(k) => namespace_key(k),
            })
    }

    /// The namespace the selector pins with `io.kubernetes.pod.namespace`, if any.
    pub fn pinned_namespace(&self) -> Option<&str> {
        self.match_labels
            .iter()
            .find(|(key, _)| split_source(key).1 == POD_NAMESPACE_LABEL)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_requirement(expr: &Value) -> Result<Requirement, String> {
    let key = expr.get("key").and_then(Value::as_str).ok_or("no key")?.to_string();
    let operator = expr.get("operator").and_then(Value::as_str).ok_or("no operator")?;
    let values = || -> Result<Vec<String>, String> {
        expr.get("values")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("operator {operator} needs values"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "values must be strings".to_string())
            })
            .collect()
    };
    match operator {
        "In" => Ok(Requirement::In(key, values()?)),
        "NotIn" => Ok(Requirement::NotIn(key, values()?)),
        "Exists" => Ok(Requirement::Exists(key)),
        "DoesNotExist" => Ok(Requirement::DoesNotExist(key)),
        other => Err(format!("unknown operator {other:?}")),
    }
}

/// Splits `k8s:app` into (`Some("k8s")`, `app`). Keys with dots or slashes before
/// the first colon are still prefixed keys (`k8s:io.kubernetes.pod.namespace`).
fn split_source(key: &str) -> (Option<&str>, &str) {
    match key.split_once(':') {
        Some((source, rest)) if !source.contains('/') => (Some(source), rest),
        _ => (None, key),
    }
}

/// The labels a pod's endpoint carries for selector matching: its own labels plus
/// the namespace and namespace-label pseudo labels.
pub fn endpoint_labels(
    pod_labels: &BTreeMap<String, String>,
    namespace: &str,
    namespace_labels: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = pod_labels.clone();
    labels.insert(POD_NAMESPACE_LABEL.to_string(), namespace.to_string());
    for (key, value) in namespace_labels {
        labels.insert(format!("{NAMESPACE_LABELS_PREFIX}{key}"), value.clone());
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_selector_selects_everything() {
        let selector = LabelSelector::parse(&json!({})).expect("parses");
        assert!(selector.is_empty());
        assert!(selector.matches(&labels(&[])));
        assert!(LabelSelector::parse(&Value::Null).expect("null").is_empty());
    }

    #[test]
    fn match_labels_accept_source_prefixes() {
        let selector =
            LabelSelector::parse(&json!({"matchLabels": {"k8s:app": "api", "any:tier": "web"}})).expect("parses");
        assert!(selector.matches(&labels(&[("app", "api"), ("tier", "web")])));
        assert!(!selector.matches(&labels(&[("app", "api")])));
        let reserved = LabelSelector::parse(&json!({"matchLabels": {"reserved:host": ""}})).expect("parses");
        assert!(!reserved.matches(&labels(&[("host", "")])));
    }

    #[test]
    fn match_expressions_cover_every_operator() {
        let selector = LabelSelector::parse(&json!({"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["api", "web"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"}
        ]}))
        .expect("parses");
        assert!(selector.matches(&labels(&[("app", "web"), ("team", "a")])));
        assert!(selector.matches(&labels(&[("app", "api"), ("team", "a"), ("env", "prod")])));
        assert!(!selector.matches(&labels(&[("app", "db"), ("team", "a")])));
        assert!(!selector.matches(&labels(&[("app", "api"), ("team", "a"), ("env", "dev")])));
        assert!(!selector.matches(&labels(&[("app", "api")])));
        assert!(!selector.matches(&labels(&[("app", "api"), ("team", "a"), ("legacy", "1")])));
    }

    #[test]
    fn malformed_selectors_are_errors_not_panics() {
        assert_eq!(LabelSelector::parse(&json!([])), Err(SelectorError::NotAMapping));
        assert!(matches!(
            LabelSelector::parse(&json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})),
            Err(SelectorError::BadExpression(0, _))
        ));
        assert!(matches!(
            LabelSelector::parse(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
            Err(SelectorError::BadExpression(0, _))
        ));
        assert_eq!(
            LabelSelector::parse(&json!({"matchLabels": {"a": 1}})),
            Err(SelectorError::BadLabelValue("a".into()))
        );
    }

    #[test]
    fn endpoint_labels_expose_namespace_and_its_labels() {
        let ep = endpoint_labels(&labels(&[("app", "api")]), "shop", &labels(&[("policy-tier", "prod")]));
        let by_ns =
            LabelSelector::parse(&json!({"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop"}})).expect("parses");
        assert!(by_ns.matches(&ep));
        assert_eq!(by_ns.pinned_namespace(), Some("shop"));
        let by_tier =
            LabelSelector::parse(&json!({"matchLabels": {"k8s:io.cilium.k8s.namespace.labels.policy-tier": "prod"}}))
                .expect("parses");
        assert!(by_tier.matches(&ep));
    }
}
