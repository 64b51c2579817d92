//! The golden baseline and the default-deny, as YAML templates.
//!
//! The shipped templates live in `templates/` and are embedded in the binary; a
//! `templates_dir` in config.toml may replace any of them ([`Templates::load`]).
//! `${name}` placeholders are substituted before parsing; a template that does not
//! parse, or lacks tighten's labels, is an error naming the template and line.
//!
//! Placeholders (every value is valid YAML where a scalar or a flow collection
//! may stand):
//!
//! | placeholder               | value                                                     |
//! |---------------------------|-----------------------------------------------------------|
//! | `${namespace}`            | the namespace the policy is for                           |
//! | `${monitoring_namespace}` | `[baseline] monitoring_namespace`                         |
//! | `${monitoring_app}`       | the selector's `app.kubernetes.io/name` value, or empty   |
//! | `${monitoring_selector}`  | flow mapping for `matchLabels`: scraper namespace + labels |
//! | `${scrape_ports}`         | flow sequence for `toPorts`: the scrape ports, TCP         |

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cluster::PolicyObject;
use crate::config::{BaselineSettings, Diagnostic};
use crate::rollout::labels;
use crate::rollout::{BaselineComponent, PolicyRole};

/// One template: where it came from and its text.
#[derive(Debug, Clone)]
pub struct Template {
    pub source: String,
    pub text: String,
}

/// The baseline set and the default-deny.
#[derive(Debug, Clone)]
pub struct Templates {
    pub baseline: Vec<(BaselineComponent, Template)>,
    pub default_deny: Template,
}

/// Values substituted into templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVars {
    pub namespace: String,
    pub monitoring_namespace: String,
    /// The selector's `app.kubernetes.io/name` value, or empty.
    pub monitoring_app: String,
    /// Scraper pod labels, Kubernetes keys (rendered with Cilium's `k8s:` prefix).
    pub monitoring_selector: BTreeMap<String, String>,
    /// Port numbers or names; empty means every TCP port.
    pub scrape_ports: Vec<String>,
}

/// The Cilium label carrying a pod's namespace.
const NAMESPACE_LABEL: &str = "k8s:io.kubernetes.pod.namespace";
/// Cilium's limit on `toPorts[].ports` entries; longer lists are split.
const MAX_PORTS_PER_RULE: usize = 40;
/// The namespace templates from a templates directory are checked with.
const SAMPLE_NAMESPACE: &str = "example";

impl TemplateVars {
    /// Variables for `namespace` with the default `[baseline]` settings.
    pub fn for_namespace(namespace: &str) -> TemplateVars {
        TemplateVars::new(namespace, &BaselineSettings::default())
    }

    /// Variables for `namespace` with the `[baseline]` settings in effect
    /// (`ResolvedSettings::baseline`).
    pub fn new(namespace: &str, baseline: &BaselineSettings) -> TemplateVars {
        TemplateVars {
            namespace: namespace.to_string(),
            monitoring_namespace: baseline.monitoring_namespace.clone(),
            monitoring_app: baseline.monitoring_app().to_string(),
            monitoring_selector: baseline.monitoring_selector.clone(),
            scrape_ports: baseline.scrape_ports.clone(),
        }
    }

    fn as_map(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("namespace", self.namespace.clone()),
            ("monitoring_namespace", self.monitoring_namespace.clone()),
            ("monitoring_app", self.monitoring_app.clone()),
            ("monitoring_selector", self.monitoring_selector_yaml()),
            ("scrape_ports", self.scrape_ports_yaml()),
        ])
    }

    /// `${monitoring_selector}`: a one-line flow mapping for `matchLabels`,
    /// every key and value a double-quoted (JSON-escaped) string.
    fn monitoring_selector_yaml(&self) -> String {
        let namespace = std::iter::once((NAMESPACE_LABEL.to_string(), self.monitoring_namespace.as_str()));
        let labels = self
            .monitoring_selector
            .iter()
            .map(|(key, value)| {
                let key = if key.starts_with("k8s:") {
                    key.clone()
                } else {
                    format!("k8s:{key}")
                };
                (key, value.as_str())
            })
            // The namespace comes from monitoring_namespace; a second entry
            // would be a duplicate key.
            .filter(|(key, _)| key != NAMESPACE_LABEL);
        let entries: Vec<String> = namespace
            .chain(labels)
            .map(|(key, value)| format!("{}: {}", quoted(&key), quoted(value)))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }

    /// `${scrape_ports}`: a one-line flow sequence for `toPorts`.
    fn scrape_ports_yaml(&self) -> String {
        if self.scrape_ports.is_empty() {
            return r#"[{"ports": [{"port": "1", "endPort": 65535, "protocol": "TCP"}]}]"#.to_string();
        }
        let rules: Vec<String> = self
            .scrape_ports
            .chunks(MAX_PORTS_PER_RULE)
            .map(|chunk| {
                let ports: Vec<String> = chunk
                    .iter()
                    .map(|port| format!(r#"{{"port": {}, "protocol": "TCP"}}"#, quoted(port)))
                    .collect();
                format!(r#"{{"ports": [{}]}}"#, ports.join(", "))
            })
            .collect();
        format!("[{}]", rules.join(", "))
    }
}

/// A double-quoted scalar: JSON string escaping is valid YAML.
fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// A template that cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl From<TemplateError> for Diagnostic {
    fn from(err: TemplateError) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from(err.file),
            line: err.line,
            column: None,
            message: err.message,
        }
    }
}

/// Which template a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Baseline(BaselineComponent),
    DefaultDeny,
}

/// Every template, by its path under `templates/` (or a templates directory).
const FILES: &[(&str, Slot)] = &[
    ("baseline/dns.yaml", Slot::Baseline(BaselineComponent::Dns)),
    (
        "baseline/kube-apiserver.yaml",
        Slot::Baseline(BaselineComponent::KubeApiserver),
    ),
    (
        "baseline/intra-namespace.yaml",
        Slot::Baseline(BaselineComponent::IntraNamespace),
    ),
    (
        "baseline/monitoring-scrape.yaml",
        Slot::Baseline(BaselineComponent::MonitoringScrape),
    ),
    (
        "baseline/host-probes.yaml",
        Slot::Baseline(BaselineComponent::HostProbes),
    ),
    ("default-deny.yaml", Slot::DefaultDeny),
];

macro_rules! embedded {
    ($path:literal) => {
        Template {
            source: concat!("templates/", $path).to_string(),
            text: include_str!(concat!("../../templates/", $path)).to_string(),
        }
    };
}

impl Templates {
    /// The templates shipped in the binary.
    pub fn embedded() -> Templates {
        Templates {
            baseline: vec![
                (BaselineComponent::Dns, embedded!("baseline/dns.yaml")),
                (
                    BaselineComponent::KubeApiserver,
                    embedded!("baseline/kube-apiserver.yaml"),
                ),
                (
                    BaselineComponent::IntraNamespace,
                    embedded!("baseline/intra-namespace.yaml"),
                ),
                (
                    BaselineComponent::MonitoringScrape,
                    embedded!("baseline/monitoring-scrape.yaml"),
                ),
                (BaselineComponent::HostProbes, embedded!("baseline/host-probes.yaml")),
            ],
            default_deny: embedded!("default-deny.yaml"),
        }
    }

    /// The shipped templates, each replaced by the file of the same path under
    /// `dir` (`baseline/dns.yaml`, …, `default-deny.yaml`) when there is one.
    ///
    /// A replacement is checked at once by rendering it for a sample namespace;
    /// one that fails (bad YAML, unknown placeholder, missing tighten labels, a
    /// baseline that could isolate pods) is reported with its file and line and
    /// the shipped template stays. Never fails: problems go to `diags`.
    pub fn load(dir: Option<&Path>, diags: &mut Vec<Diagnostic>) -> Templates {
        let mut templates = Templates::embedded();
        let Some(dir) = dir else {
            return templates;
        };
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                diags.push(Diagnostic::new(
                    dir,
                    "templates_dir is not a directory; using the built-in templates",
                ));
                return templates;
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                diags.push(Diagnostic::new(
                    dir,
                    "templates directory not found; using the built-in templates",
                ));
                return templates;
            }
            Err(err) => {
                diags.push(Diagnostic::new(
                    dir,
                    format!("cannot read templates directory: {err}; using the built-in templates"),
                ));
                return templates;
            }
        }
        let sample = TemplateVars::for_namespace(SAMPLE_NAMESPACE);
        for &(relative, slot) in FILES {
            let path = dir.join(relative);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => {
                    diags.push(Diagnostic::new(
                        &path,
                        format!("cannot read template: {err}; using the built-in template"),
                    ));
                    continue;
                }
            };
            let template = Template {
                source: path.display().to_string(),
                text,
            };
            if let Err(err) = check_override(slot, &template, &sample) {
                let mut diag = Diagnostic::from(err);
                diag.message.push_str("; using the built-in template");
                diags.push(diag);
                continue;
            }
            match slot {
                Slot::DefaultDeny => templates.default_deny = template,
                Slot::Baseline(component) => {
                    if let Some((_, slot)) = templates.baseline.iter_mut().find(|(c, _)| *c == component) {
                        *slot = template;
                    }
                }
            }
        }
        report_unknown_files(dir, diags);
        templates
    }

    /// The baseline policies for one namespace.
    pub fn render_baseline(&self, vars: &TemplateVars) -> Result<Vec<PolicyObject>, TemplateError> {
        self.baseline
            .iter()
            .map(|(component, template)| render_component(*component, template, vars))
            .collect()
    }

    /// The staged (not enforcing) default-deny for one namespace.
    pub fn render_default_deny(&self, vars: &TemplateVars) -> Result<PolicyObject, TemplateError> {
        let policy = render_default_deny_unstaged(&self.default_deny, vars)?;
        Ok(crate::rollout::plan::with_enforcement(&policy, false))
    }
}

fn render_component(
    component: BaselineComponent,
    template: &Template,
    vars: &TemplateVars,
) -> Result<PolicyObject, TemplateError> {
    let policy = render(template, vars)?;
    let role = PolicyRole::of(&policy);
    if role != PolicyRole::Baseline(Some(component)) {
        return Err(TemplateError {
            file: template.source.clone(),
            line: labels_line(&template.text),
            message: format!(
                "must carry labels {}=tighten, {}=baseline, {}={} (found role {})",
                labels::MANAGED_BY,
                labels::ROLE,
                labels::BASELINE_COMPONENT,
                component,
                role.label()
            ),
        });
    }
    Ok(policy)
}

fn render_default_deny_unstaged(template: &Template, vars: &TemplateVars) -> Result<PolicyObject, TemplateError> {
    let policy = render(template, vars)?;
    if PolicyRole::of(&policy) != PolicyRole::DefaultDeny {
        return Err(TemplateError {
            file: template.source.clone(),
            line: labels_line(&template.text),
            message: format!(
                "must carry labels {}=tighten and {}=default-deny",
                labels::MANAGED_BY,
                labels::ROLE
            ),
        });
    }
    Ok(policy)
}

/// Everything [`Templates::render_baseline`] and
/// [`Templates::render_default_deny`] check, plus what only a replaced template
/// can get wrong: the shipped ones are right by construction.
fn check_override(slot: Slot, template: &Template, vars: &TemplateVars) -> Result<(), TemplateError> {
    let error = |line: Option<usize>, message: &str| TemplateError {
        file: template.source.clone(),
        line,
        message: message.to_string(),
    };
    match slot {
        Slot::Baseline(component) => {
            let policy = render_component(component, template, vars)?;
            // Cilium treats a missing enableDefaultDeny as true: applying such
            // a "baseline" would isolate every pod it selects.
            let staged = |rule: &Value| {
                let flags = rule.get("enableDefaultDeny");
                let off = |direction: &str| flags.and_then(|f| f.get(direction)) == Some(&Value::Bool(false));
                off("ingress") && off("egress")
            };
            if !policy.cilium_rules().into_iter().all(staged) {
                return Err(error(
                    line_of(&template.text, "enableDefaultDeny:").or_else(|| line_of(&template.text, "spec")),
                    "a baseline must set enableDefaultDeny: {ingress: false, egress: false} \
                     (left out, Cilium isolates the selected pods)",
                ));
            }
        }
        Slot::DefaultDeny => {
            let policy = render_default_deny_unstaged(template, vars)?;
            // Staging and enforcing switch spec.enableDefaultDeny only.
            if !policy.body.get("spec").is_some_and(Value::is_object) || policy.body.contains_key("specs") {
                return Err(error(
                    line_of(&template.text, "specs:").or_else(|| line_of(&template.text, "spec:")),
                    "the default-deny must have a single spec (not specs): \
                     staging and enforcing switch spec.enableDefaultDeny",
                ));
            }
        }
    }
    Ok(())
}

/// The 1-based line of the first line of `text` that starts (after
/// indentation) with `key`.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| line.trim_start().starts_with(key))
        .map(|i| i + 1)
}

/// Where a missing tighten label should go.
fn labels_line(text: &str) -> Option<usize> {
    line_of(text, "labels:").or_else(|| line_of(text, "metadata:"))
}

/// YAML files in a templates directory that replace nothing are most likely
/// misnamed (`dns.yml`, `baseline/DNS.yaml`); say so rather than ignore them.
fn report_unknown_files(dir: &Path, diags: &mut Vec<Diagnostic>) {
    let mut unknown = Vec::new();
    for sub in ["", "baseline"] {
        let Ok(read) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in read.flatten() {
            let path = entry.path();
            let is_yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
            let relative = match sub {
                "" => entry.file_name().to_string_lossy().into_owned(),
                _ => format!("{sub}/{}", entry.file_name().to_string_lossy()),
            };
            if is_yaml && path.is_file() && !FILES.iter().any(|(known, _)| *known == relative) {
                unknown.push(path);
            }
        }
    }
    unknown.sort();
    let known: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
    for path in unknown {
        diags.push(Diagnostic::new(
            path,
            format!(
                "not a template tighten uses (expected one of: {}); ignored",
                known.join(", ")
            ),
        ));
    }
}

fn render(template: &Template, vars: &TemplateVars) -> Result<PolicyObject, TemplateError> {
    let error = |line: Option<usize>, message: String| TemplateError {
        file: template.source.clone(),
        line,
        message,
    };
    let text = substitute(&template.text, &vars.as_map())
        .map_err(|(line, name)| error(Some(line), format!("unknown placeholder ${{{name}}}")))?;
    let value: Value = serde_yaml::from_str(&text).map_err(|e| error(e.location().map(|l| l.line()), e.to_string()))?;
    let policy = PolicyObject::from_manifest(&value).map_err(|e| error(None, e.to_string()))?;
    if policy.namespace.as_deref() != Some(vars.namespace.as_str()) {
        return Err(error(
            line_of(&template.text, "namespace:"),
            "metadata.namespace must be ${namespace}".into(),
        ));
    }
    Ok(policy)
}

/// Replaces `${name}`; an unknown name is reported with its line. Values are
/// single-line, so line numbers of the result match the template's.
fn substitute(text: &str, vars: &BTreeMap<&'static str, String>) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err((index + 1, after.to_string()));
            };
            let name = &after[..end];
            let value = vars.get(name).ok_or_else(|| (index + 1, name.to_string()))?;
            out.push_str(value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
