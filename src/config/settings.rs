//! `config.toml`: defaults, soak windows, protected namespaces, per-context overrides.
//!
//! ```toml
//! theme = "dark"
//! keymap = "default"
//! protected_namespaces = ["kube-system", "flux-system"]
//!
//! [soak]          # per namespace `policy-tier` label
//! lab = "1h"
//! stage = "12h"
//! prod = "24h"
//! default = "24h" # tier label missing or unknown
//! coverage = "90%" # of the soak the ledger must have observed
//!
//! # Replace shipped baseline templates with the files found here (relative
//! # paths resolve against this file's directory).
//! templates_dir = "templates"
//!
//! [baseline]     # what the monitoring-scrape baseline allows in
//! monitoring_namespace = "monitoring"
//! monitoring_selector = { "app.kubernetes.io/name" = "prometheus" }
//! scrape_ports = [9090, "8080", "metrics"]   # empty or absent: every TCP port
//!
//! # Who sends the traffic of an Ingress or Gateway controller to its
//! # backends, by the controller name its IngressClass or GatewayClass gives
//! # (Cilium's own, ingress-nginx, Traefik and Gateway-API-labelled pods are known).
//! [senders."example.com/edge-proxy"]
//! namespace = "edge"                 # any namespace when absent
//! labels = { app = "edge-proxy" }
//!
//! [contexts."prod-eu"]
//! theme = "production"
//! protected_namespaces = ["kube-system", "flux-system", "payments"]
//!
//! repo = "~/src/fleet"             # the checkout Flux/Argo CD read: steps become commits
//! push = false                      # push the step's branch (default: only commit)
//! branch = "tighten/{namespace}-{step}"
//!
//! [contexts."prod-eu".baseline]   # replaces the whole [baseline] table
//! monitoring_namespace = "observability"
//! ```
//!
//! Every field is optional. A bad field is reported and keeps its default; the
//! rest of the file still applies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::diagnostics::Diagnostic;
use super::duration::{format_duration, parse_duration};
use super::walk::{Value, Walker, entries};

/// Namespaces no rollout may touch unless the config says otherwise: breaking
/// the control plane or the GitOps controller takes the way back down with it.
pub const DEFAULT_PROTECTED_NAMESPACES: &[&str] = &["kube-system", "flux-system"];

/// Everything `config.toml` can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Theme used when neither the command line nor the context picks one.
    pub theme: String,
    /// Keymap used when the context does not pick one.
    pub keymap: String,
    /// Namespaces shown as protected (never changed by tighten).
    pub protected_namespaces: Vec<String>,
    /// How long each tier must stay clean before the gate allows enforcing.
    pub soak: SoakWindows,
    /// A directory whose `baseline/*.yaml` and `default-deny.yaml` replace the
    /// shipped templates; already resolved against the config file's directory.
    pub templates_dir: Option<PathBuf>,
    /// What the baseline allows besides DNS, the API server, the namespace
    /// itself and kubelet probes.
    pub baseline: BaselineSettings,
    /// `[senders."controller"]`: the pods that send an Ingress or Gateway
    /// controller's traffic, for the declared paths.
    pub senders: BTreeMap<String, SenderPods>,
    /// Overrides per kube context name.
    pub contexts: BTreeMap<String, ContextSettings>,
}

/// `[contexts."<name>"]`: anything left out falls back to the top level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextSettings {
    pub theme: Option<String>,
    pub keymap: Option<String>,
    /// Replaces (does not extend) the top-level list for this context, so a
    /// context can also protect fewer namespaces.
    pub protected_namespaces: Option<Vec<String>>,
    /// Resolved like the top-level `templates_dir`.
    pub templates_dir: Option<PathBuf>,
    /// `[contexts."<name>".baseline]` replaces the whole top-level `[baseline]`:
    /// fields it leaves out take the built-in defaults, not the top level's.
    pub baseline: Option<BaselineSettings>,
    /// Prometheus for this context's gate (`http://…`).
    pub prometheus: Option<String>,
    /// The checkout of the repository this context's reconcilers read, where
    /// forward steps on GitOps-owned namespaces are committed.
    pub repo: Option<PathBuf>,
    /// Push the step's branch to the remote after committing.
    pub push: Option<bool>,
    /// The branch name: `{namespace}` and `{step}` are filled in.
    pub branch: Option<String>,
}

/// The label key whose value fills the `${monitoring_app}` template placeholder.
pub const MONITORING_APP_LABEL: &str = "app.kubernetes.io/name";

/// `[baseline]`: whom the monitoring-scrape baseline lets in, and on which ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineSettings {
    /// The namespace the metrics scrapers run in. Default `monitoring`.
    pub monitoring_namespace: String,
    /// Pod labels of the scrapers, with Kubernetes keys (no Cilium `k8s:`
    /// prefix). Default `app.kubernetes.io/name=prometheus`.
    pub monitoring_selector: BTreeMap<String, String>,
    /// Ports the scrapers may reach: numbers (`"9090"`) or named container
    /// ports (`"metrics"`). Empty (the default) means every TCP port.
    pub scrape_ports: Vec<String>,
}

/// Soak window per tier (the namespace's `policy-tier` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoakWindows {
    pub lab: Duration,
    pub stage: Duration,
    pub prod: Duration,
    /// For namespaces without a tier label or with an unknown tier. Defaults
    /// to the production window: an unlabelled namespace is not known to be safe.
    pub default: Duration,
    /// The share of the soak window the connection ledger must have observed
    /// (an observer running, Hubble connected) for the soak to count, in percent.
    pub coverage_percent: u8,
}

/// The settings in effect for one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSettings {
    pub theme: String,
    pub keymap: String,
    pub protected_namespaces: Vec<String>,
    pub soak: SoakWindows,
    /// `None`: only the templates shipped in the binary.
    pub templates_dir: Option<PathBuf>,
    pub baseline: BaselineSettings,
    /// The context's Prometheus, from `[contexts.NAME] prometheus`.
    pub prometheus: Option<String>,
    pub senders: BTreeMap<String, SenderPods>,
    /// `[contexts.NAME] repo`, `push` and `branch`.
    pub repo: Option<PathBuf>,
    pub push: bool,
    pub branch: Option<String>,
}

/// The pods that send a controller's traffic, as `[senders]` names them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderPods {
    /// Any namespace when `None`.
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        Self {
            monitoring_namespace: "monitoring".to_string(),
            monitoring_selector: BTreeMap::from([(MONITORING_APP_LABEL.to_string(), "prometheus".to_string())]),
            scrape_ports: Vec::new(),
        }
    }
}

impl BaselineSettings {
    /// The value of the selector's `app.kubernetes.io/name` label, or `""`.
    pub fn monitoring_app(&self) -> &str {
        self.monitoring_selector
            .get(MONITORING_APP_LABEL)
            .map_or("", String::as_str)
    }
}

const HOUR: Duration = Duration::from_secs(60 * 60);

impl Default for SoakWindows {
    fn default() -> Self {
        Self {
            lab: HOUR,
            stage: HOUR * 12,
            prod: HOUR * 24,
            default: HOUR * 24,
            coverage_percent: 90,
        }
    }
}

impl SoakWindows {
    /// The tier names `[soak]` accepts besides `default`.
    pub const TIERS: &'static [&'static str] = &["lab", "stage", "prod"];

    /// The window for a namespace's tier label (case-insensitive); missing or
    /// unknown tiers get the `default` window.
    pub fn for_tier(&self, tier: Option<&str>) -> Duration {
        match tier.map(str::trim) {
            Some(t) if t.eq_ignore_ascii_case("lab") => self.lab,
            Some(t) if t.eq_ignore_ascii_case("stage") => self.stage,
            Some(t) if t.eq_ignore_ascii_case("prod") => self.prod,
            _ => self.default,
        }
    }

    fn slot(&mut self, key: &str) -> Option<&mut Duration> {
        match key {
            "lab" => Some(&mut self.lab),
            "stage" => Some(&mut self.stage),
            "prod" => Some(&mut self.prod),
            "default" => Some(&mut self.default),
            _ => None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            theme: "dark".to_string(),
            keymap: "default".to_string(),
            protected_namespaces: DEFAULT_PROTECTED_NAMESPACES.iter().map(|ns| ns.to_string()).collect(),
            soak: SoakWindows::default(),
            templates_dir: None,
            baseline: BaselineSettings::default(),
            senders: BTreeMap::new(),
            contexts: BTreeMap::new(),
        }
    }
}

impl Settings {
    /// Interprets the text of a config file.
    ///
    /// `Err` is a TOML syntax error (nothing in the file can be trusted then);
    /// everything else is pushed to `diags` and the offending field keeps its
    /// default.
    pub fn parse(path: &Path, text: &str, diags: &mut Vec<Diagnostic>) -> Result<Settings, Diagnostic> {
        let doc = Walker::parse(path, text)?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        let mut walker = Walker::new(path, text, diags);
        Ok(Settings::from_table(&mut walker, &doc, base_dir))
    }

    /// The settings in effect for kube context `context`.
    pub fn for_context(&self, context: &str) -> ResolvedSettings {
        let ctx = self.contexts.get(context);
        let pick = |field: Option<&String>, fallback: &String| field.unwrap_or(fallback).clone();
        ResolvedSettings {
            theme: pick(ctx.and_then(|c| c.theme.as_ref()), &self.theme),
            keymap: pick(ctx.and_then(|c| c.keymap.as_ref()), &self.keymap),
            protected_namespaces: ctx
                .and_then(|c| c.protected_namespaces.clone())
                .unwrap_or_else(|| self.protected_namespaces.clone()),
            soak: self.soak,
            templates_dir: ctx
                .and_then(|c| c.templates_dir.clone())
                .or_else(|| self.templates_dir.clone()),
            baseline: ctx
                .and_then(|c| c.baseline.clone())
                .unwrap_or_else(|| self.baseline.clone()),
            prometheus: ctx.and_then(|c| c.prometheus.clone()),
            senders: self.senders.clone(),
            repo: ctx.and_then(|c| c.repo.clone()),
            push: ctx.and_then(|c| c.push).unwrap_or(false),
            branch: ctx.and_then(|c| c.branch.clone()),
        }
    }

    fn from_table(w: &mut Walker<'_>, doc: &DeTable<'_>, base_dir: &Path) -> Settings {
        const KNOWN: &[&str] = &[
            "theme",
            "keymap",
            "protected_namespaces",
            "soak",
            "templates_dir",
            "baseline",
            "senders",
            "contexts",
        ];
        let mut settings = Settings::default();
        for (key, value) in entries(doc) {
            match key.get_ref().as_ref() {
                "theme" => set_name(w, value, "theme", &mut settings.theme),
                "keymap" => set_name(w, value, "keymap", &mut settings.keymap),
                "protected_namespaces" => {
                    if let Some(list) = w.string_list(value, "protected_namespaces") {
                        settings.protected_namespaces = list;
                    }
                }
                "soak" => parse_soak(w, value, &mut settings.soak),
                "templates_dir" => {
                    if let Some(dir) = parse_templates_dir(w, value, base_dir) {
                        settings.templates_dir = Some(dir);
                    }
                }
                "baseline" => {
                    if let Some(baseline) = parse_baseline(w, value, "baseline") {
                        settings.baseline = baseline;
                    }
                }
                "senders" => settings.senders = parse_senders(w, value),
                "contexts" => parse_contexts(w, value, base_dir, &mut settings.contexts),
                _ => w.unknown_key(key, "config.toml", KNOWN),
            }
        }
        settings
    }
}

impl ResolvedSettings {
    /// Whether tighten must leave `namespace` alone in this context.
    pub fn is_protected(&self, namespace: &str) -> bool {
        self.protected_namespaces.iter().any(|ns| ns == namespace)
    }
}

fn set_name(w: &mut Walker<'_>, value: &Value<'_>, what: &str, slot: &mut String) {
    if let Some(name) = w.string(value, what) {
        *slot = name.to_string();
    }
}

fn parse_soak(w: &mut Walker<'_>, value: &Value<'_>, soak: &mut SoakWindows) {
    const KNOWN: &[&str] = &["lab", "stage", "prod", "default", "coverage"];
    let Some(table) = w.table(value, "[soak]") else {
        return;
    };
    for (key, value) in entries(table) {
        let name: &str = key.get_ref();
        if name == "coverage" {
            let Some(text) = w.string(value, "soak.coverage") else {
                continue;
            };
            match text.trim().trim_end_matches('%').trim().parse::<u8>() {
                Ok(percent @ 1..=100) => soak.coverage_percent = percent,
                _ => w.report(
                    value.span(),
                    format!(
                        "soak.coverage: {text:?} is not a share from 1% to 100%; keeping {}%",
                        soak.coverage_percent
                    ),
                ),
            }
            continue;
        }
        let Some(slot) = soak.slot(name) else {
            w.unknown_key(key, "[soak]", KNOWN);
            continue;
        };
        let what = format!("soak.{name}");
        let Some(text) = w.string(value, &what) else {
            continue;
        };
        match parse_duration(text) {
            Ok(duration) => *slot = duration,
            Err(err) => w.report(
                value.span(),
                format!("{what}: {err}; keeping {}", format_duration(*slot)),
            ),
        }
    }
}

fn parse_contexts(
    w: &mut Walker<'_>,
    value: &Value<'_>,
    base_dir: &Path,
    contexts: &mut BTreeMap<String, ContextSettings>,
) {
    const KNOWN: &[&str] = &[
        "theme",
        "keymap",
        "protected_namespaces",
        "templates_dir",
        "baseline",
        "prometheus",
        "repo",
        "push",
        "branch",
    ];
    let Some(table) = w.table(value, "[contexts]") else {
        return;
    };
    for (name, value) in entries(table) {
        let section = format!("[contexts.{:?}]", name.get_ref());
        let Some(fields) = w.table(value, &section) else {
            continue;
        };
        let mut ctx = ContextSettings::default();
        for (key, value) in entries(fields) {
            match key.get_ref().as_ref() {
                "theme" => ctx.theme = w.string(value, "theme").map(str::to_string),
                "keymap" => ctx.keymap = w.string(value, "keymap").map(str::to_string),
                "prometheus" => ctx.prometheus = w.string(value, "prometheus").map(str::to_string),
                "repo" => ctx.repo = parse_path(w, value, "repo", base_dir),
                "push" => ctx.push = w.boolean(value, "push"),
                "branch" => {
                    ctx.branch = w.string(value, "branch").and_then(|b| {
                        if b.contains("{namespace}") {
                            Some(b.to_string())
                        } else {
                            w.report(
                                value.span(),
                                format!("branch: {b:?} has no {{namespace}}: every namespace's step would share one branch; using tighten/{{namespace}}-{{step}}"),
                            );
                            None
                        }
                    });
                }
                "protected_namespaces" => {
                    ctx.protected_namespaces = w.string_list(value, "protected_namespaces");
                }
                "templates_dir" => ctx.templates_dir = parse_templates_dir(w, value, base_dir),
                "baseline" => {
                    let prefix = format!("contexts.{:?}.baseline", name.get_ref());
                    ctx.baseline = parse_baseline(w, value, &prefix);
                }
                _ => w.unknown_key(key, &section, KNOWN),
            }
        }
        contexts.insert(name.get_ref().to_string(), ctx);
    }
}

/// `templates_dir`: relative paths resolve against `base_dir` (the config
/// file's directory) and `~/` against the home directory, so the setting means
/// the same whatever directory tighten is started from.
fn parse_templates_dir(w: &mut Walker<'_>, value: &Value<'_>, base_dir: &Path) -> Option<PathBuf> {
    if w.string(value, "templates_dir")?.trim().is_empty() {
        w.report(value.span(), "templates_dir: empty path; using the built-in templates");
        return None;
    }
    parse_path(w, value, "templates_dir", base_dir)
}

/// A path setting, resolved as `templates_dir` is.
fn parse_path(w: &mut Walker<'_>, value: &Value<'_>, what: &str, base_dir: &Path) -> Option<PathBuf> {
    let text = w.string(value, what)?;
    if text.trim().is_empty() {
        w.report(value.span(), format!("{what}: empty path"));
        return None;
    }
    let path = match text.strip_prefix("~/") {
        Some(rest) => match directories::BaseDirs::new() {
            Some(dirs) => dirs.home_dir().join(rest),
            None => {
                w.report(value.span(), format!("{what}: no home directory to expand \"~\" in"));
                return None;
            }
        },
        None => PathBuf::from(text),
    };
    Some(if path.is_absolute() { path } else { base_dir.join(path) })
}

/// A `[baseline]` table (`prefix` is its dotted name for messages). `None`
/// when the value is not a table; a bad field keeps its default.
fn parse_baseline(w: &mut Walker<'_>, value: &Value<'_>, prefix: &str) -> Option<BaselineSettings> {
    const KNOWN: &[&str] = &["monitoring_namespace", "monitoring_selector", "scrape_ports"];
    let section = format!("[{prefix}]");
    let table = w.table(value, &section)?;
    let mut baseline = BaselineSettings::default();
    for (key, value) in entries(table) {
        match key.get_ref().as_ref() {
            "monitoring_namespace" => {
                let what = format!("{prefix}.monitoring_namespace");
                let Some(namespace) = w.string(value, &what) else {
                    continue;
                };
                match check_namespace(namespace) {
                    Ok(()) => baseline.monitoring_namespace = namespace.to_string(),
                    Err(err) => w.report(
                        value.span(),
                        format!("{what}: {err}; keeping {:?}", baseline.monitoring_namespace),
                    ),
                }
            }
            "monitoring_selector" => {
                let what = format!("{prefix}.monitoring_selector");
                if let Some(selector) = parse_selector(
                    w,
                    value,
                    &what,
                    "keeping the default selector app.kubernetes.io/name=prometheus",
                ) {
                    baseline.monitoring_selector = selector;
                }
            }
            "scrape_ports" => {
                let what = format!("{prefix}.scrape_ports");
                if let Some(ports) = parse_ports(w, value, &what) {
                    baseline.scrape_ports = ports;
                }
            }
            _ => w.unknown_key(key, &section, KNOWN),
        }
    }
    Some(baseline)
}

/// `[senders."controller"]` tables; a controller with a bad field is left
/// out (its paths then say their senders are not known).
fn parse_senders(w: &mut Walker<'_>, value: &Value<'_>) -> BTreeMap<String, SenderPods> {
    const KNOWN: &[&str] = &["namespace", "labels"];
    let mut senders = BTreeMap::new();
    let Some(table) = w.table(value, "[senders]") else {
        return senders;
    };
    for (controller, value) in entries(table) {
        let controller: &str = controller.get_ref();
        let section = format!("[senders.\"{controller}\"]");
        let Some(fields) = w.table(value, &section) else {
            continue;
        };
        let mut pods = SenderPods::default();
        let mut ok = true;
        for (key, value) in entries(fields) {
            match key.get_ref().as_ref() {
                "namespace" => match w.string(value, &format!("{section} namespace")) {
                    Some(ns) => match check_namespace(ns) {
                        Ok(()) => pods.namespace = Some(ns.to_string()),
                        Err(err) => {
                            w.report(
                                value.span(),
                                format!("{section} namespace: {err}; ignoring this controller"),
                            );
                            ok = false;
                        }
                    },
                    None => ok = false,
                },
                "labels" => match parse_selector(w, value, &format!("{section} labels"), "ignoring this controller") {
                    Some(labels) => pods.labels = labels,
                    None => ok = false,
                },
                _ => w.unknown_key(key, &section, KNOWN),
            }
        }
        if ok && pods.labels.is_empty() {
            w.report(
                value.span(),
                format!("{section}: labels are required (every pod would be a sender); ignoring this controller"),
            );
            ok = false;
        }
        if ok {
            senders.insert(controller.to_string(), pods);
        }
    }
    senders
}

/// Label key to value. Every problem is reported; any problem keeps the
/// default selector, because dropping just the bad label would widen it.
fn parse_selector(
    w: &mut Walker<'_>,
    value: &Value<'_>,
    what: &str,
    keeping: &str,
) -> Option<BTreeMap<String, String>> {
    let table = w.table(value, what)?;
    let mut selector = BTreeMap::new();
    let mut ok = true;
    for (key, value) in entries(table) {
        let name: &str = key.get_ref();
        let label = match value.get_ref() {
            DeValue::String(label) => label.as_ref(),
            DeValue::Table(_) => {
                // `app.kubernetes.io = "x"` is a dotted TOML key: nested tables.
                w.report(
                    value.span(),
                    format!(
                        "{what}.{name}: expected a string, found table (quote label keys that contain dots: \"{name}.…\" = \"…\"); {keeping}"
                    ),
                );
                ok = false;
                continue;
            }
            other => {
                w.report(
                    value.span(),
                    format!(
                        "{what}.{name}: expected a string, found {}; {keeping}",
                        other.type_str()
                    ),
                );
                ok = false;
                continue;
            }
        };
        if let Err(err) = check_label_key(name) {
            w.report(key.span(), format!("{what}: label key {name:?}: {err}; {keeping}"));
            ok = false;
            continue;
        }
        if let Err(err) = check_label_value(label) {
            w.report(
                value.span(),
                format!("{what}.{name}: label value {label:?}: {err}; {keeping}"),
            );
            ok = false;
            continue;
        }
        selector.insert(name.to_string(), label.to_string());
    }
    ok.then_some(selector)
}

/// Port numbers (integers or digit strings) and named ports. Any bad entry
/// keeps the default (every TCP port) rather than a list missing a port.
fn parse_ports(w: &mut Walker<'_>, value: &Value<'_>, what: &str) -> Option<Vec<String>> {
    const KEEPING: &str = "keeping the default (every TCP port)";
    let items = w.array(value, what)?;
    let mut ports = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let port = match item.get_ref() {
            DeValue::Integer(int) => match i64::from_str_radix(int.as_str(), int.radix()) {
                Ok(number) => check_port_number(number),
                Err(_) => Err(format!("port {} is out of range (1-65535)", int.as_str())),
            },
            DeValue::String(text) => check_port_text(text),
            other => Err(format!(
                "expected a port number or a port name, found {}",
                other.type_str()
            )),
        };
        match port {
            Ok(port) if !ports.contains(&port) => ports.push(port),
            Ok(_) => {}
            Err(err) => {
                w.report(item.span(), format!("{what}: {err}; {KEEPING}"));
                ok = false;
            }
        }
    }
    ok.then_some(ports)
}

fn check_port_number(number: i64) -> Result<String, String> {
    if (1..=65535).contains(&number) {
        Ok(number.to_string())
    } else {
        Err(format!("port {number} is out of range (1-65535)"))
    }
}

/// `"8080"` (a number in a string) or a named container port (`"metrics"`).
fn check_port_text(text: &str) -> Result<String, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(number) => check_port_number(number),
            Err(_) => Err(format!("port {text} is out of range (1-65535)")),
        };
    }
    // Kubernetes container port names are IANA service names.
    let valid = (1..=15).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && text.bytes().any(|b| b.is_ascii_lowercase())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--");
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is neither a port number (1-65535) nor a port name (up to 15 of a-z, 0-9, '-', with a letter)"
        ))
    }
}

/// Namespace names are DNS-1123 labels.
fn check_namespace(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty namespace name".to_string());
    }
    if is_dns_label(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a namespace name (up to 63 of a-z, 0-9, '-', starting and ending with a letter or digit)"
        ))
    }
}

fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A Kubernetes label key: `[prefix/]name`, the prefix a DNS subdomain.
fn check_label_key(key: &str) -> Result<(), String> {
    if key.starts_with("k8s:") {
        return Err("write the Kubernetes label key without Cilium's \"k8s:\" prefix".to_string());
    }
    if key == "io.kubernetes.pod.namespace" {
        return Err("set the namespace with monitoring_namespace instead".to_string());
    }
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let subdomain = (1..=253).contains(&prefix.len()) && prefix.split('.').all(is_dns_label);
        if !subdomain {
            return Err(format!("prefix {prefix:?} is not a DNS subdomain"));
        }
    }
    if name.is_empty() || !is_label_text(name) {
        return Err(
            "not a label key (name part: up to 63 of A-Z, a-z, 0-9, '-', '_', '.', starting and ending with a letter or digit)"
                .to_string(),
        );
    }
    Ok(())
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_text(value) {
        Ok(())
    } else {
        Err(
            "not a label value (up to 63 of A-Z, a-z, 0-9, '-', '_', '.', starting and ending with a letter or digit)"
                .to_string(),
        )
    }
}

/// The name part of a label key, or a non-empty label value.
fn is_label_text(text: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (1..=63).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && alnum(text.chars().next())
        && alnum(text.chars().last())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Settings, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let settings = Settings::parse(Path::new("config.toml"), text, &mut diags).unwrap();
        (settings, diags)
    }

    const EXAMPLE: &str = r#"
theme = "dark"
keymap = "default"

[soak]
lab = "1h"
stage = "6h"
prod = "2d"
default = "3d"

[contexts."prod-eu"]
theme = "production"
protected_namespaces = ["kube-system", "flux-system", "payments"]

[contexts.lab]
keymap = "vim"
"#;

    #[test]
    fn empty_file_gives_defaults() {
        let (settings, diags) = parse("");
        assert!(diags.is_empty());
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.protected_namespaces, ["kube-system", "flux-system"]);
    }

    #[test]
    fn soak_per_tier() {
        let (settings, diags) = parse(EXAMPLE);
        assert!(diags.is_empty(), "{diags:?}");
        let soak = settings.soak;
        assert_eq!(soak.for_tier(Some("lab")), HOUR);
        assert_eq!(soak.for_tier(Some("stage")), HOUR * 6);
        assert_eq!(soak.for_tier(Some("PROD")), HOUR * 48);
        assert_eq!(soak.for_tier(Some("qa")), HOUR * 72);
        assert_eq!(soak.for_tier(None), HOUR * 72);
        assert_eq!(soak.coverage_percent, 90, "the default share the ledger must observe");
    }

    #[test]
    fn soak_coverage_is_a_share_and_a_bad_one_keeps_the_default() {
        let (settings, diags) = parse("[soak]\ncoverage = \"75%\"\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(settings.soak.coverage_percent, 75);
        let (settings, diags) = parse("[soak]\ncoverage = \"150%\"\n");
        assert_eq!(settings.soak.coverage_percent, 90);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].to_string().contains("soak.coverage"), "{}", diags[0]);
    }

    #[test]
    fn senders_name_a_controllers_pods_and_a_bad_one_is_left_out() {
        let text = r#"
[senders."example.com/edge-proxy"]
namespace = "edge"
labels = { app = "edge-proxy", "app.kubernetes.io/component" = "proxy" }

[senders."example.com/anywhere"]
labels = { app = "gw" }

[senders."example.com/bad-namespace"]
namespace = "Edge_1"
labels = { app = "x" }

[senders."example.com/no-labels"]
namespace = "edge"
"#;
        let (settings, diags) = parse(text);
        assert_eq!(settings.senders.len(), 2, "{:?}", settings.senders);
        let edge = &settings.senders["example.com/edge-proxy"];
        assert_eq!(edge.namespace.as_deref(), Some("edge"));
        assert_eq!(edge.labels["app.kubernetes.io/component"], "proxy");
        assert_eq!(settings.senders["example.com/anywhere"].namespace, None);
        let messages: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].contains("bad-namespace") && messages[0].contains("config.toml:10:"),
            "{messages:?}"
        );
        assert!(messages[1].contains("labels are required"), "{messages:?}");
        assert_eq!(settings.for_context("any").senders, settings.senders);
    }

    #[test]
    fn default_soak_windows() {
        let soak = SoakWindows::default();
        assert_eq!(soak.for_tier(Some("lab")), HOUR);
        assert_eq!(soak.for_tier(Some("stage")), HOUR * 12);
        assert_eq!(soak.for_tier(Some("prod")), HOUR * 24);
        assert_eq!(soak.for_tier(None), HOUR * 24);
    }

    #[test]
    fn contexts_override_theme_keymap_and_protected_namespaces() {
        let (settings, _) = parse(EXAMPLE);
        let prod = settings.for_context("prod-eu");
        assert_eq!(prod.theme, "production");
        assert_eq!(prod.keymap, "default");
        assert_eq!(prod.protected_namespaces, ["kube-system", "flux-system", "payments"]);
        assert!(prod.is_protected("payments"));

        let lab = settings.for_context("lab");
        assert_eq!(lab.theme, "dark");
        assert_eq!(lab.keymap, "vim");
        assert_eq!(lab.protected_namespaces, ["kube-system", "flux-system"]);
        assert!(!lab.is_protected("payments"));

        let other = settings.for_context("kind-kind");
        assert_eq!(other.theme, "dark");
        assert!(other.is_protected("kube-system"));
    }

    #[test]
    fn bad_duration_keeps_default_and_the_rest() {
        let text = "[soak]\nlab = \"2h\"\nstage = \"12x\"\nprod = 5\n";
        let (settings, diags) = parse(text);
        assert_eq!(settings.soak.lab, HOUR * 2);
        assert_eq!(settings.soak.stage, HOUR * 12);
        assert_eq!(settings.soak.prod, HOUR * 24);
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert_eq!(diags[0].line, Some(3));
        assert!(diags[0].message.contains("soak.stage"), "{}", diags[0]);
        assert!(diags[0].message.contains("keeping 12h"), "{}", diags[0]);
        assert_eq!(diags[1].line, Some(4));
    }

    #[test]
    fn unknown_keys_are_reported_with_line() {
        let text = "theme = \"light\"\nthemes = \"x\"\n[soak]\nqa = \"1h\"\n[contexts.a]\ncolour = 1\n";
        let (settings, diags) = parse(text);
        assert_eq!(settings.theme, "light");
        let lines: Vec<_> = diags.iter().map(|d| d.line).collect();
        assert_eq!(lines, [Some(2), Some(4), Some(6)], "{diags:?}");
        assert!(diags[0].message.contains("unknown key \"themes\""));
        assert!(diags[2].message.contains("[contexts.\"a\"]"), "{}", diags[2]);
    }

    #[test]
    fn syntax_error_is_returned() {
        let mut diags = Vec::new();
        let err = Settings::parse(Path::new("c.toml"), "a = 1\n[soak\n", &mut diags).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(diags.is_empty());
    }

    fn parse_at(path: &str, text: &str) -> (Settings, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let settings = Settings::parse(Path::new(path), text, &mut diags).unwrap();
        (settings, diags)
    }

    fn selector(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const BASELINE: &str = r#"
templates_dir = "templates"

[baseline]
monitoring_namespace = "observability"
monitoring_selector = { "app.kubernetes.io/name" = "vmagent", team = "sre" }
scrape_ports = [9090, "8080", "metrics"]

[contexts.lab]
templates_dir = "/srv/lab-templates"

[contexts.lab.baseline]
monitoring_namespace = "lab-monitoring"

[contexts."prod-eu"]
theme = "production"
"#;

    #[test]
    fn baseline_defaults() {
        let resolved = Settings::default().for_context("any");
        assert_eq!(resolved.templates_dir, None);
        assert_eq!(resolved.baseline.monitoring_namespace, "monitoring");
        assert_eq!(
            resolved.baseline.monitoring_selector,
            selector(&[("app.kubernetes.io/name", "prometheus")])
        );
        assert!(resolved.baseline.scrape_ports.is_empty());
        assert_eq!(resolved.baseline.monitoring_app(), "prometheus");
    }

    #[test]
    fn baseline_and_templates_dir_are_read() {
        let (settings, diags) = parse_at("/etc/tighten/config.toml", BASELINE);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(settings.templates_dir, Some(PathBuf::from("/etc/tighten/templates")));
        let baseline = &settings.baseline;
        assert_eq!(baseline.monitoring_namespace, "observability");
        assert_eq!(
            baseline.monitoring_selector,
            selector(&[("app.kubernetes.io/name", "vmagent"), ("team", "sre")])
        );
        assert_eq!(baseline.scrape_ports, ["9090", "8080", "metrics"]);
        assert_eq!(baseline.monitoring_app(), "vmagent");

        // A context without overrides gets the top level.
        let prod = settings.for_context("prod-eu");
        assert_eq!(prod.baseline, settings.baseline);
        assert_eq!(prod.templates_dir, settings.templates_dir);
    }

    #[test]
    fn context_baseline_replaces_the_whole_table() {
        let (settings, diags) = parse_at("/etc/tighten/config.toml", BASELINE);
        assert!(diags.is_empty(), "{diags:?}");
        let lab = settings.for_context("lab");
        assert_eq!(lab.templates_dir, Some(PathBuf::from("/srv/lab-templates")));
        // Not merged with [baseline]: what the context leaves out is the built-in default.
        assert_eq!(
            lab.baseline,
            BaselineSettings {
                monitoring_namespace: "lab-monitoring".into(),
                ..BaselineSettings::default()
            }
        );
    }

    #[test]
    fn relative_templates_dir_resolves_against_the_config_file() {
        let (settings, _) = parse_at(
            "/home/op/.config/tighten/config.toml",
            "templates_dir = \"../shared/tpl\"\n",
        );
        assert_eq!(
            settings.templates_dir,
            Some(PathBuf::from("/home/op/.config/tighten/../shared/tpl"))
        );
        let (settings, _) = parse_at("/etc/tighten/config.toml", "templates_dir = \"/opt/tpl\"\n");
        assert_eq!(settings.templates_dir, Some(PathBuf::from("/opt/tpl")));
        let (settings, _) = parse_at("config.toml", "templates_dir = \"tpl\"\n");
        assert_eq!(settings.templates_dir, Some(PathBuf::from("tpl")));
        let text = "[contexts.a]\ntemplates_dir = \"ctx\"\n";
        let (settings, _) = parse_at("/etc/tighten/config.toml", text);
        assert_eq!(
            settings.for_context("a").templates_dir,
            Some(PathBuf::from("/etc/tighten/ctx"))
        );
        if let Some(dirs) = directories::BaseDirs::new() {
            let (settings, _) = parse_at("/etc/tighten/config.toml", "templates_dir = \"~/tpl\"\n");
            assert_eq!(settings.templates_dir, Some(dirs.home_dir().join("tpl")));
        }
        let (settings, diags) = parse("templates_dir = \"\"\n");
        assert_eq!(settings.templates_dir, None);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].line, Some(1));
    }

    #[test]
    fn bad_ports_are_reported_with_position_and_keep_the_default() {
        let text = "[baseline]\nmonitoring_namespace = \"obs\"\nscrape_ports = [9090,\n  0, \"70000\", \"Metrics_2\", 65536, true]\n";
        let (settings, diags) = parse(text);
        assert_eq!(settings.baseline.monitoring_namespace, "obs", "the rest still applies");
        assert!(settings.baseline.scrape_ports.is_empty(), "default: every TCP port");
        assert_eq!(diags.len(), 5, "{diags:?}");
        assert!(diags.iter().all(|d| d.line == Some(4)), "{diags:?}");
        assert_eq!(
            diags[0].to_string(),
            "config.toml:4:3: baseline.scrape_ports: port 0 is out of range (1-65535); keeping the default (every TCP port)"
        );
        assert!(diags[1].message.contains("port 70000 is out of range"), "{}", diags[1]);
        assert!(diags[2].message.contains("\"Metrics_2\" is neither"), "{}", diags[2]);
        assert!(diags[3].message.contains("65536"), "{}", diags[3]);
        assert!(diags[4].message.contains("found boolean"), "{}", diags[4]);

        let (settings, diags) = parse("[baseline]\nscrape_ports = \"9090\"\n");
        assert!(settings.baseline.scrape_ports.is_empty());
        assert_eq!(diags[0].line, Some(2));
    }

    #[test]
    fn good_ports_are_normalised() {
        let (settings, diags) = parse("[baseline]\nscrape_ports = [1, 65535, \"0443\", \"http-metrics\", 1, 0x50]\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            settings.baseline.scrape_ports,
            ["1", "65535", "443", "http-metrics", "80"]
        );
    }

    #[test]
    fn bad_selectors_keep_the_default_selector() {
        let default = BaselineSettings::default().monitoring_selector;
        let cases: &[(&str, &str)] = &[
            (
                "monitoring_selector = { \"app.kubernetes.io/name\" = 5 }",
                "expected a string, found integer",
            ),
            ("monitoring_selector = { app = \"a\", team = [\"x\"] }", "found array"),
            (
                "monitoring_selector = { app.kubernetes.io = \"x\" }",
                "quote label keys",
            ),
            ("monitoring_selector = { \"k8s:app\" = \"x\" }", "without Cilium's"),
            (
                "monitoring_selector = { \"io.kubernetes.pod.namespace\" = \"x\" }",
                "monitoring_namespace",
            ),
            ("monitoring_selector = { \"bad key\" = \"x\" }", "not a label key"),
            ("monitoring_selector = { app = \"has space\" }", "not a label value"),
            ("monitoring_selector = \"app=prometheus\"", "expected a table"),
        ];
        for (line, expected) in cases {
            let (settings, diags) = parse(&format!("[baseline]\n{line}\n"));
            assert_eq!(settings.baseline.monitoring_selector, default, "{line}");
            assert_eq!(diags.len(), 1, "{line}: {diags:?}");
            assert_eq!(diags[0].line, Some(2), "{line}");
            assert!(diags[0].column.is_some());
            assert!(diags[0].message.contains(expected), "{line}: {}", diags[0]);
        }
        // An empty selector is allowed: every pod of the monitoring namespace.
        let (settings, diags) = parse("[baseline]\nmonitoring_selector = {}\n");
        assert!(diags.is_empty());
        assert!(settings.baseline.monitoring_selector.is_empty());
        assert_eq!(settings.baseline.monitoring_app(), "");
    }

    #[test]
    fn bad_monitoring_namespace_keeps_the_default() {
        for (value, expected) in [
            ("\"\"", "empty namespace"),
            ("\"Monitoring\"", "not a namespace name"),
            ("7", "expected a string"),
        ] {
            let (settings, diags) = parse(&format!("[baseline]\n\nmonitoring_namespace = {value}\n"));
            assert_eq!(settings.baseline.monitoring_namespace, "monitoring");
            assert_eq!(diags.len(), 1, "{diags:?}");
            assert_eq!(diags[0].line, Some(3));
            assert_eq!(diags[0].column, Some(24));
            assert!(diags[0].message.contains(expected), "{}", diags[0]);
        }
    }

    #[test]
    fn unknown_baseline_keys_are_reported() {
        let text =
            "[baseline]\nscrape_port = [1]\n[contexts.a.baseline]\nnamespace = \"x\"\n[contexts.b]\nbaseline = 1\n";
        let (settings, diags) = parse(text);
        let lines: Vec<_> = diags.iter().map(|d| d.line).collect();
        assert_eq!(lines, [Some(2), Some(4), Some(6)], "{diags:?}");
        assert!(diags[0].message.contains("in [baseline]"), "{}", diags[0]);
        assert!(
            diags[1].message.contains("in [contexts.\"a\".baseline]"),
            "{}",
            diags[1]
        );
        assert!(diags[2].message.contains("expected a table"), "{}", diags[2]);
        // A context baseline of the wrong type falls back to the top level.
        assert_eq!(settings.for_context("b").baseline, BaselineSettings::default());
        assert_eq!(settings.contexts["a"].baseline, Some(BaselineSettings::default()));
    }
}
