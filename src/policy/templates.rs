//! The golden baseline and the default-deny, as YAML templates.
//!
//! The shipped templates live in `templates/` and are embedded in the binary.
//! `${name}` placeholders are substituted before parsing; a template that does not
//! parse, or lacks tighten's labels, is an error naming the template and line.

use std::collections::BTreeMap;

use crate::cluster::PolicyObject;
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
    pub monitoring_app: String,
}

impl TemplateVars {
    pub fn for_namespace(namespace: &str) -> TemplateVars {
        TemplateVars {
            namespace: namespace.to_string(),
            monitoring_namespace: "monitoring".into(),
            monitoring_app: "prometheus".into(),
        }
    }

    fn as_map(&self) -> BTreeMap<&'static str, &str> {
        BTreeMap::from([
            ("namespace", self.namespace.as_str()),
            ("monitoring_namespace", self.monitoring_namespace.as_str()),
            ("monitoring_app", self.monitoring_app.as_str()),
        ])
    }
}

/// A template that cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

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

    /// The baseline policies for one namespace.
    pub fn render_baseline(&self, vars: &TemplateVars) -> Result<Vec<PolicyObject>, TemplateError> {
        self.baseline
            .iter()
            .map(|(component, template)| {
                let policy = render(template, vars)?;
                let role = PolicyRole::of(&policy);
                if role != PolicyRole::Baseline(Some(*component)) {
                    return Err(TemplateError {
                        file: template.source.clone(),
                        line: None,
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
            })
            .collect()
    }

    /// The staged (not enforcing) default-deny for one namespace.
    pub fn render_default_deny(&self, vars: &TemplateVars) -> Result<PolicyObject, TemplateError> {
        let policy = render(&self.default_deny, vars)?;
        if PolicyRole::of(&policy) != PolicyRole::DefaultDeny {
            return Err(TemplateError {
                file: self.default_deny.source.clone(),
                line: None,
                message: format!(
                    "must carry labels {}=tighten and {}=default-deny",
                    labels::MANAGED_BY,
                    labels::ROLE
                ),
            });
        }
        Ok(crate::rollout::plan::with_enforcement(&policy, false))
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
    let value: serde_json::Value =
        serde_yaml::from_str(&text).map_err(|e| error(e.location().map(|l| l.line()), e.to_string()))?;
    let policy = PolicyObject::from_manifest(&value).map_err(|e| error(None, e.to_string()))?;
    if policy.namespace.as_deref() != Some(vars.namespace.as_str()) {
        return Err(error(None, "metadata.namespace must be ${namespace}".into()));
    }
    Ok(policy)
}

/// Replaces `${name}`; an unknown name is reported with its line.
fn substitute(text: &str, vars: &BTreeMap<&'static str, &str>) -> Result<String, (usize, String)> {
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
mod tests {
    use super::*;
    use crate::rollout::phase::default_deny_flags;

    #[test]
    fn embedded_templates_render_with_tighten_labels() {
        let templates = Templates::embedded();
        let vars = TemplateVars::for_namespace("shop");
        let baseline = templates.render_baseline(&vars).expect("baseline renders");
        assert_eq!(baseline.len(), 5);
        for policy in &baseline {
            assert_eq!(policy.namespace.as_deref(), Some("shop"));
            // A baseline never switches a pod into default-deny.
            assert_eq!(default_deny_flags(policy), (false, false), "{}", policy.name);
        }
        let dd = templates.render_default_deny(&vars).expect("default-deny renders");
        assert_eq!(PolicyRole::of(&dd), PolicyRole::DefaultDeny);
        assert_eq!(default_deny_flags(&dd), (false, false));
    }

    #[test]
    fn dns_baseline_carries_the_dns_l7_rule() {
        let baseline = Templates::embedded()
            .render_baseline(&TemplateVars::for_namespace("shop"))
            .expect("renders");
        let dns = &baseline[0];
        let yaml = dns.to_yaml();
        assert!(yaml.contains("matchPattern: '*'"), "{yaml}");
        assert!(yaml.contains("protocol: UDP") && yaml.contains("protocol: TCP"));
    }

    #[test]
    fn broken_templates_name_the_file_and_line() {
        let mut templates = Templates::embedded();
        templates.default_deny = Template {
            source: "my/default-deny.yaml".into(),
            text: "kind: CiliumNetworkPolicy\nmetadata:\n  name: x\n  namespace: ${nope}\n".into(),
        };
        let err = templates
            .render_default_deny(&TemplateVars::for_namespace("shop"))
            .expect_err("unknown placeholder");
        assert_eq!(err.line, Some(4));
        assert_eq!(err.to_string(), "my/default-deny.yaml:4: unknown placeholder ${nope}");

        templates.default_deny.text = "kind: [unclosed\n".into();
        let err = templates
            .render_default_deny(&TemplateVars::for_namespace("shop"))
            .expect_err("bad yaml");
        assert!(err.line.is_some(), "{err}");

        templates.default_deny.text =
            "kind: CiliumNetworkPolicy\nmetadata:\n  name: x\n  namespace: ${namespace}\n".into();
        let err = templates
            .render_default_deny(&TemplateVars::for_namespace("shop"))
            .expect_err("no labels");
        assert!(err.message.contains("default-deny"), "{err}");
    }
}
