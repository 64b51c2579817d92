#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use serde_json::json;

use super::*;
use crate::rollout::phase::default_deny_flags;

fn monitoring_scrape(policies: &[PolicyObject]) -> &PolicyObject {
    policies
        .iter()
        .find(|p| PolicyRole::of(p) == PolicyRole::Baseline(Some(BaselineComponent::MonitoringScrape)))
        .expect("monitoring-scrape policy")
}

fn spec(policy: &PolicyObject) -> &Value {
    policy.body.get("spec").expect("spec")
}

/// A templates directory holding `files` (path relative to it, text).
fn templates_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn embedded_text(component: BaselineComponent) -> String {
    Templates::embedded()
        .baseline
        .into_iter()
        .find(|(c, _)| *c == component)
        .map(|(_, t)| t.text)
        .unwrap()
}

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

    templates.default_deny.text = "kind: CiliumNetworkPolicy\nmetadata:\n  name: x\n  namespace: ${namespace}\n".into();
    let err = templates
        .render_default_deny(&TemplateVars::for_namespace("shop"))
        .expect_err("no labels");
    assert!(err.message.contains("default-deny"), "{err}");
    assert_eq!(err.line, Some(2), "points at metadata when there are no labels");
}

/// The templates this change left alone render exactly as the old code did:
/// plain `${namespace}` substitution, then YAML.
#[test]
fn untouched_templates_render_exactly_as_before() {
    let old_render = |text: &str| {
        assert_eq!(text.matches("${").count(), text.matches("${namespace}").count());
        let value: Value = serde_yaml::from_str(&text.replace("${namespace}", "shop")).unwrap();
        PolicyObject::from_manifest(&value).unwrap()
    };
    let templates = Templates::embedded();
    let vars = TemplateVars::for_namespace("shop");
    let rendered = templates.render_baseline(&vars).unwrap();
    for ((component, template), policy) in templates.baseline.iter().zip(&rendered) {
        if *component == BaselineComponent::MonitoringScrape {
            continue;
        }
        assert_eq!(*policy, old_render(&template.text), "{component}");
    }
    let dd = templates.render_default_deny(&vars).unwrap();
    let old_dd = crate::rollout::plan::with_enforcement(&old_render(&templates.default_deny.text), false);
    assert_eq!(dd, old_dd);
    assert_eq!(dd.to_yaml(), old_dd.to_yaml());
}

#[test]
fn monitoring_scrape_defaults_to_prometheus_in_monitoring_on_every_tcp_port() {
    let policies = Templates::embedded()
        .render_baseline(&TemplateVars::for_namespace("shop"))
        .unwrap();
    let policy = monitoring_scrape(&policies);
    assert_eq!(policy.name, "tighten-baseline-monitoring-scrape");
    assert_eq!(policy.namespace.as_deref(), Some("shop"));
    assert_eq!(
        policy.labels,
        BTreeMap::from([
            ("app.kubernetes.io/managed-by".to_string(), "tighten".to_string()),
            ("tighten.dev/role".to_string(), "baseline".to_string()),
            ("tighten.dev/baseline".to_string(), "monitoring-scrape".to_string()),
        ])
    );
    let spec = spec(policy);
    assert_eq!(spec["enableDefaultDeny"], json!({"ingress": false, "egress": false}));
    assert_eq!(spec["endpointSelector"], json!({}));
    assert_eq!(
        spec["ingress"],
        json!([{
            "fromEndpoints": [{"matchLabels": {
                "k8s:io.kubernetes.pod.namespace": "monitoring",
                "k8s:app.kubernetes.io/name": "prometheus",
            }}],
            "toPorts": [{"ports": [{"port": "1", "endPort": 65535, "protocol": "TCP"}]}],
        }])
    );
    assert!(spec.get("egress").is_none());
}

#[test]
fn monitoring_scrape_uses_the_configured_selector_and_ports() {
    let baseline = BaselineSettings {
        monitoring_namespace: "observability".into(),
        monitoring_selector: BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "vmagent".to_string()),
            ("team".to_string(), "sre".to_string()),
        ]),
        scrape_ports: vec!["9090".into(), "8080".into(), "metrics".into()],
    };
    let vars = TemplateVars::new("shop", &baseline);
    assert_eq!(vars.monitoring_app, "vmagent");
    assert_eq!(vars.monitoring_namespace, "observability");
    let policies = Templates::embedded().render_baseline(&vars).unwrap();
    assert_eq!(
        spec(monitoring_scrape(&policies))["ingress"],
        json!([{
            "fromEndpoints": [{"matchLabels": {
                "k8s:io.kubernetes.pod.namespace": "observability",
                "k8s:app.kubernetes.io/name": "vmagent",
                "k8s:team": "sre",
            }}],
            "toPorts": [{"ports": [
                {"port": "9090", "protocol": "TCP"},
                {"port": "8080", "protocol": "TCP"},
                {"port": "metrics", "protocol": "TCP"},
            ]}],
        }])
    );
}

#[test]
fn substituted_values_stay_valid_yaml() {
    // Settings validation keeps such values out of config.toml, but rendering
    // must not depend on it: keys and values are quoted with JSON escaping.
    let baseline = BaselineSettings {
        monitoring_namespace: "mon: {x}".into(),
        monitoring_selector: BTreeMap::from([
            ("odd\"key".to_string(), "a: b, [c] #d \\ \u{e9}".to_string()),
            // Would duplicate the namespace entry; monitoring_namespace wins.
            ("io.kubernetes.pod.namespace".to_string(), "other".to_string()),
        ]),
        scrape_ports: vec!["9\"0".into()],
    };
    let policies = Templates::embedded()
        .render_baseline(&TemplateVars::new("shop", &baseline))
        .unwrap();
    let ingress = &spec(monitoring_scrape(&policies))["ingress"][0];
    assert_eq!(
        ingress["fromEndpoints"][0]["matchLabels"],
        json!({
            "k8s:io.kubernetes.pod.namespace": "mon: {x}",
            "k8s:odd\"key": "a: b, [c] #d \\ \u{e9}",
        })
    );
    assert_eq!(ingress["toPorts"][0]["ports"][0]["port"], "9\"0");
}

#[test]
fn an_empty_selector_selects_the_whole_monitoring_namespace() {
    let baseline = BaselineSettings {
        monitoring_selector: BTreeMap::new(),
        ..BaselineSettings::default()
    };
    let vars = TemplateVars::new("shop", &baseline);
    assert_eq!(vars.monitoring_app, "");
    let policies = Templates::embedded().render_baseline(&vars).unwrap();
    assert_eq!(
        spec(monitoring_scrape(&policies))["ingress"][0]["fromEndpoints"],
        json!([{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "monitoring"}}])
    );
}

#[test]
fn long_port_lists_are_split_at_ciliums_limit() {
    let baseline = BaselineSettings {
        scrape_ports: (9000..9045).map(|p| p.to_string()).collect(),
        ..BaselineSettings::default()
    };
    let policies = Templates::embedded()
        .render_baseline(&TemplateVars::new("shop", &baseline))
        .unwrap();
    let to_ports = spec(monitoring_scrape(&policies))["ingress"][0]["toPorts"]
        .as_array()
        .unwrap();
    let sizes: Vec<usize> = to_ports.iter().map(|r| r["ports"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [40, 5]);
    assert_eq!(to_ports[1]["ports"][4], json!({"port": "9044", "protocol": "TCP"}));
}

#[test]
fn scalar_placeholders_still_work_in_user_templates() {
    let template = Template {
        source: "mine.yaml".into(),
        text: embedded_text(BaselineComponent::MonitoringScrape).replace(
            "- matchLabels: ${monitoring_selector}",
            "- matchLabels:\n            k8s:io.kubernetes.pod.namespace: ${monitoring_namespace}\n            k8s:app.kubernetes.io/name: ${monitoring_app}",
        ),
    };
    let policy = render_component(
        BaselineComponent::MonitoringScrape,
        &template,
        &TemplateVars::for_namespace("shop"),
    )
    .unwrap();
    assert_eq!(
        spec(&policy)["ingress"][0]["fromEndpoints"],
        json!([{"matchLabels": {
            "k8s:io.kubernetes.pod.namespace": "monitoring",
            "k8s:app.kubernetes.io/name": "prometheus",
        }}])
    );
}

#[test]
fn no_templates_dir_means_the_embedded_templates() {
    let mut diags = Vec::new();
    let templates = Templates::load(None, &mut diags);
    assert!(diags.is_empty());
    assert_eq!(templates.default_deny.source, "templates/default-deny.yaml");
    assert!(
        templates
            .baseline
            .iter()
            .all(|(_, t)| t.source.starts_with("templates/baseline/"))
    );
}

#[test]
fn a_missing_templates_dir_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nope");
    let mut diags = Vec::new();
    let templates = Templates::load(Some(&missing), &mut diags);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].file, missing);
    assert!(diags[0].message.contains("not found"), "{}", diags[0]);
    assert!(
        templates
            .baseline
            .iter()
            .all(|(_, t)| t.source.starts_with("templates/"))
    );

    // A file where a directory should be.
    let file = root.path().join("file");
    fs::write(&file, "x").unwrap();
    let mut diags = Vec::new();
    Templates::load(Some(&file), &mut diags);
    assert!(diags[0].message.contains("not a directory"), "{diags:?}");
}

#[test]
fn templates_dir_files_replace_the_embedded_ones() {
    let dns = embedded_text(BaselineComponent::Dns).replace("matchPattern: \"*\"", "matchPattern: \"*.cluster.local\"");
    let dd = include_str!("../../../templates/default-deny.yaml")
        .replace("description: \"", "description: \"site default-deny: ");
    let dir = templates_dir(&[("baseline/dns.yaml", &dns), ("default-deny.yaml", &dd)]);
    let mut diags = Vec::new();
    let templates = Templates::load(Some(dir.path()), &mut diags);
    assert!(diags.is_empty(), "{diags:?}");

    let dns_path = dir.path().join("baseline/dns.yaml");
    let (_, template) = &templates.baseline[0];
    assert_eq!(template.source, dns_path.display().to_string());
    let policies = templates.render_baseline(&TemplateVars::for_namespace("shop")).unwrap();
    assert!(policies[0].to_yaml().contains("*.cluster.local"));
    // The others stay the shipped ones.
    assert_eq!(templates.baseline[1].1.source, "templates/baseline/kube-apiserver.yaml");

    assert_eq!(
        templates.default_deny.source,
        dir.path().join("default-deny.yaml").display().to_string()
    );
    let dd = templates
        .render_default_deny(&TemplateVars::for_namespace("shop"))
        .unwrap();
    assert!(
        spec(&dd)["description"]
            .as_str()
            .unwrap()
            .starts_with("site default-deny"),
        "{dd:?}"
    );
}

#[test]
fn a_broken_override_is_reported_at_its_line_and_the_embedded_template_stays() {
    let broken = embedded_text(BaselineComponent::MonitoringScrape).replace("${scrape_ports}", "${scrape_port}");
    let line = broken.lines().position(|l| l.contains("${scrape_port}")).unwrap() + 1;
    let dir = templates_dir(&[("baseline/monitoring-scrape.yaml", &broken)]);
    let mut diags = Vec::new();
    let templates = Templates::load(Some(dir.path()), &mut diags);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let path = dir.path().join("baseline/monitoring-scrape.yaml");
    assert_eq!(diags[0].file, path);
    assert_eq!(diags[0].line, Some(line));
    assert_eq!(
        diags[0].to_string(),
        format!(
            "{}:{line}: unknown placeholder ${{scrape_port}}; using the built-in template",
            path.display()
        )
    );
    assert_eq!(
        templates.baseline[3].1.source,
        "templates/baseline/monitoring-scrape.yaml"
    );
    templates.render_baseline(&TemplateVars::for_namespace("shop")).unwrap();
}

#[test]
fn invalid_yaml_labels_and_isolating_baselines_are_refused() {
    let host = embedded_text(BaselineComponent::HostProbes);
    // Line 4: a tab-indented mapping is not YAML.
    let bad_yaml = host.replacen("  name: tighten-baseline-host-probes", "\tname: [oops", 1);
    let no_label = embedded_text(BaselineComponent::KubeApiserver).replace(
        "tighten.dev/baseline: kube-apiserver",
        "tighten.dev/baseline: apiserver",
    );
    let isolating = embedded_text(BaselineComponent::IntraNamespace)
        .replace("  enableDefaultDeny:\n    ingress: false\n    egress: false\n", "");
    let half = embedded_text(BaselineComponent::Dns).replace("    egress: false\n", "    egress: true\n");
    let dd_specs = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: dd\n  namespace: ${namespace}\n  labels:\n    app.kubernetes.io/managed-by: tighten\n    tighten.dev/role: default-deny\nspecs:\n  - endpointSelector: {}\n    ingress:\n      - {}\n";
    let dir = templates_dir(&[
        ("baseline/host-probes.yaml", &bad_yaml),
        ("baseline/kube-apiserver.yaml", &no_label),
        ("baseline/intra-namespace.yaml", &isolating),
        ("baseline/dns.yaml", &half),
        ("default-deny.yaml", dd_specs),
    ]);
    let mut diags = Vec::new();
    let templates = Templates::load(Some(dir.path()), &mut diags);
    let by_file = |name: &str| {
        diags
            .iter()
            .find(|d| d.file == dir.path().join(name))
            .unwrap_or_else(|| panic!("no diagnostic for {name}: {diags:?}"))
    };

    let d = by_file("baseline/host-probes.yaml");
    assert_eq!(d.line, Some(4), "{d}");

    let d = by_file("baseline/kube-apiserver.yaml");
    assert!(d.message.contains("tighten.dev/baseline=kube-apiserver"), "{d}");
    assert_eq!(d.line, Some(6), "{d}");

    let d = by_file("baseline/intra-namespace.yaml");
    assert!(d.message.contains("enableDefaultDeny"), "{d}");

    let d = by_file("baseline/dns.yaml");
    assert!(d.message.contains("enableDefaultDeny"), "{d}");
    assert_eq!(d.line, Some(14), "{d}");

    let d = by_file("default-deny.yaml");
    assert!(d.message.contains("single spec"), "{d}");
    assert_eq!(d.line, Some(9), "{d}");

    assert_eq!(diags.len(), 5, "{diags:?}");
    assert!(
        diags
            .iter()
            .all(|d| d.message.ends_with("; using the built-in template")),
        "{diags:?}"
    );
    assert!(
        templates
            .baseline
            .iter()
            .all(|(_, t)| t.source.starts_with("templates/"))
    );
    assert_eq!(templates.default_deny.source, "templates/default-deny.yaml");
}

#[test]
fn unreadable_and_unknown_files_are_reported() {
    let dir = templates_dir(&[("baseline/dns.yml", "x"), ("notes.txt", "x"), ("extra.yaml", "x")]);
    // A directory where a template should be cannot be read as one.
    fs::create_dir_all(dir.path().join("baseline/host-probes.yaml")).unwrap();
    let mut diags = Vec::new();
    let templates = Templates::load(Some(dir.path()), &mut diags);
    let files: Vec<_> = diags.iter().map(|d| d.file.clone()).collect();
    assert_eq!(
        files,
        [
            dir.path().join("baseline/host-probes.yaml"),
            dir.path().join("baseline/dns.yml"),
            dir.path().join("extra.yaml"),
        ],
        "{diags:?}"
    );
    assert!(diags[0].message.contains("cannot read template"), "{}", diags[0]);
    assert!(diags[1].message.contains("not a template tighten uses"), "{}", diags[1]);
    assert!(
        templates
            .baseline
            .iter()
            .all(|(_, t)| t.source.starts_with("templates/"))
    );
}

#[test]
fn template_errors_become_diagnostics() {
    let err = TemplateError {
        file: "t/dns.yaml".into(),
        line: Some(7),
        message: "boom".into(),
    };
    let diag = Diagnostic::from(err.clone());
    assert_eq!(diag.to_string(), err.to_string());
    assert_eq!(diag.to_string(), "t/dns.yaml:7: boom");
}
