//! The demo cluster's objects: a dozen namespaces from a typical rollout plan,
//! spread over every phase, with pods, policies and the intent annotations
//! tighten would have written.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::cluster::{
    CiliumInfo, ClusterSnapshot, KustomizationInfo, NamespaceInfo, PodInfo, PolicyKind, PolicyObject, WorkloadRef,
};
use crate::policy::{TemplateVars, Templates};
use crate::rollout::gitops::Owner;
use crate::rollout::labels;
use crate::rollout::plan::with_enforcement;

/// Who applied the demo's earlier steps.
const TEAM: &str = "alice@platform";

/// The demo cluster as it is when the cockpit opens at `now`.
pub fn initial(now: Timestamp, templates: &Templates, payments_backup: &str) -> ClusterSnapshot {
    let ago = |hours: i64| (now - SignedDuration::from_hours(hours)).to_string();
    let mut b = Builder {
        snapshot: ClusterSnapshot::default(),
        templates,
    };
    b.snapshot.cilium = CiliumInfo {
        version: Some("1.19.4".into()),
        crds_installed: true,
        default_deny_supported: Some(true),
    };

    // Platform namespaces.
    b.namespace(
        "kube-system",
        None,
        &[
            (labels::INTENT, "carved-out"),
            (labels::INTENT_AT, &ago(24 * 30)),
            (labels::INTENT_BY, TEAM),
            (
                labels::CARVE_OUT_REASON,
                "CNI, CoreDNS and control-plane add-ons: owned by the platform team",
            ),
        ],
    );
    b.workload("kube-system", "coredns", "Deployment", 2, &[("k8s-app", "kube-dns")]);
    b.workload(
        "kube-system",
        "cilium-operator",
        "Deployment",
        1,
        &[("io.cilium/app", "operator")],
    );
    b.workload(
        "kube-system",
        "hubble-relay",
        "Deployment",
        1,
        &[("k8s-app", "hubble-relay")],
    );

    b.namespace(
        "flux-system",
        None,
        &[
            (labels::INTENT, "observe"),
            (labels::INTENT_AT, &ago(72)),
            (labels::INTENT_BY, TEAM),
        ],
    );
    b.workload(
        "flux-system",
        "source-controller",
        "Deployment",
        1,
        &[("app", "source-controller")],
    );
    b.workload(
        "flux-system",
        "kustomize-controller",
        "Deployment",
        1,
        &[("app", "kustomize-controller")],
    );
    b.workload(
        "flux-system",
        "helm-controller",
        "Deployment",
        1,
        &[("app", "helm-controller")],
    );

    // cert-manager: enforced weeks ago; its ACME HTTP-01 self-check to the world on
    // port 80 was never allowed and shows as a steady trickle of drops.
    b.namespace(
        "cert-manager",
        Some("prod"),
        &enforced_intent(&ago(24 * 20), &ago(24 * 14)),
    );
    b.workload(
        "cert-manager",
        "cert-manager",
        "Deployment",
        1,
        &[("app.kubernetes.io/name", "cert-manager")],
    );
    b.workload(
        "cert-manager",
        "cert-manager-webhook",
        "Deployment",
        1,
        &[("app.kubernetes.io/name", "webhook")],
    );
    b.workload(
        "cert-manager",
        "cert-manager-cainjector",
        "Deployment",
        1,
        &[("app.kubernetes.io/name", "cainjector")],
    );
    b.baseline("cert-manager");
    b.default_deny("cert-manager", true);
    b.app_allow(
        "cert-manager",
        "allow-acme-https",
        json!({
            "endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager"}},
            "egress": [{"toEntities": ["world"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}]
        }),
    );
    b.app_allow("cert-manager", "allow-webhook-from-apiserver", json!({
        "endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "webhook"}},
        "ingress": [{"fromEntities": ["kube-apiserver"], "toPorts": [{"ports": [{"port": "10250", "protocol": "TCP"}]}]}]
    }));

    // monitoring: staged 30 hours ago; the soak window has passed.
    b.namespace("monitoring", Some("prod"), &staged_intent(&ago(30)));
    b.workload(
        "monitoring",
        "prometheus",
        "StatefulSet",
        2,
        &[("app.kubernetes.io/name", "prometheus")],
    );
    b.workload(
        "monitoring",
        "grafana",
        "Deployment",
        1,
        &[("app.kubernetes.io/name", "grafana")],
    );
    b.workload(
        "monitoring",
        "alertmanager",
        "StatefulSet",
        1,
        &[("app.kubernetes.io/name", "alertmanager")],
    );
    b.baseline("monitoring");
    b.default_deny("monitoring", false);
    b.app_allow(
        "monitoring",
        "allow-prometheus-scrape-all",
        json!({
            "endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
            "egress": [{"toEntities": ["cluster"]}]
        }),
    );

    // auth: enforced; its app allows come from Flux.
    b.namespace("auth", Some("prod"), &enforced_intent(&ago(24 * 9), &ago(24 * 6)));
    b.workload("auth", "keycloak", "StatefulSet", 2, &[("app", "keycloak")]);
    b.workload("auth", "oauth2-proxy", "Deployment", 2, &[("app", "oauth2-proxy")]);
    b.baseline("auth");
    b.default_deny("auth", true);
    for (name, spec) in [
        (
            "allow-keycloak-from-ingress",
            json!({
                "endpointSelector": {"matchLabels": {"app": "keycloak"}},
                "ingress": [{"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "network", "app.kubernetes.io/name": "ingress-nginx"}}],
                             "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]
            }),
        ),
        (
            "allow-keycloak-to-postgres",
            json!({
                "endpointSelector": {"matchLabels": {"app": "keycloak"}},
                "egress": [{"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "databases", "app": "postgres"}}],
                            "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]}]
            }),
        ),
    ] {
        b.app_allow("auth", name, spec);
        b.label_last(&[
            (labels::FLUX_NAME, "auth-policies"),
            (labels::FLUX_NAMESPACE, "flux-system"),
        ]);
    }

    // databases: staged three hours ago, still soaking.
    b.namespace("databases", Some("prod"), &staged_intent(&ago(3)));
    b.workload("databases", "postgres", "StatefulSet", 3, &[("app", "postgres")]);
    b.workload("databases", "redis", "StatefulSet", 1, &[("app", "redis")]);
    b.baseline("databases");
    b.default_deny("databases", false);
    b.app_allow(
        "databases",
        "allow-postgres-clients",
        json!({
            "endpointSelector": {"matchLabels": {"app": "postgres"}},
            "ingress": [{"fromEndpoints": [
                {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "auth", "app": "keycloak"}},
                {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "payments", "app": "payments-api"}}],
                "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]}]
        }),
    );

    // media: baseline only, next to a NetworkPolicy its Helm chart ships.
    b.namespace(
        "media",
        Some("stage"),
        &[
            (labels::INTENT, "baseline"),
            (labels::INTENT_AT, &ago(48)),
            (labels::INTENT_BY, TEAM),
        ],
    );
    b.workload(
        "media",
        "jellyfin",
        "Deployment",
        1,
        &[("app.kubernetes.io/name", "jellyfin")],
    );
    b.workload(
        "media",
        "transcoder",
        "Deployment",
        2,
        &[("app.kubernetes.io/name", "transcoder")],
    );
    b.baseline("media");
    b.policy(
        PolicyKind::NetworkPolicy,
        "media",
        "jellyfin",
        json!({
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "jellyfin"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": 8096, "protocol": "TCP"}]}]
        }),
    );
    b.label_last(&[(labels::MANAGED_BY, "Helm"), ("helm.sh/chart", "jellyfin-2.1.0")]);
    b.annotate_last(&[(labels::HELM_RELEASE, "jellyfin")]);

    // network: observed only.
    b.namespace(
        "network",
        Some("prod"),
        &[
            (labels::INTENT, "observe"),
            (labels::INTENT_AT, &ago(24)),
            (labels::INTENT_BY, TEAM),
        ],
    );
    b.workload(
        "network",
        "ingress-nginx-controller",
        "Deployment",
        2,
        &[("app.kubernetes.io/name", "ingress-nginx")],
    );
    b.workload(
        "network",
        "external-dns",
        "Deployment",
        1,
        &[("app.kubernetes.io/name", "external-dns")],
    );

    // lab: the intent says enforced, but someone flipped the default-deny back by
    // hand: the row must show drift.
    b.namespace("lab", Some("lab"), &enforced_intent(&ago(50), &ago(26)));
    b.workload("lab", "echo", "Deployment", 2, &[("app", "echo")]);
    b.workload("lab", "loadgen", "Deployment", 1, &[("app", "loadgen")]);
    b.baseline("lab");
    b.default_deny("lab", false);

    // stage: audit, with an app allow the Cilium agent rejects (empty egress list).
    b.namespace("stage", Some("stage"), &staged_intent(&ago(20)));
    b.workload("stage", "shop-frontend", "Deployment", 2, &[("app", "shop-frontend")]);
    b.workload("stage", "shop-api", "Deployment", 2, &[("app", "shop-api")]);
    b.workload("stage", "shop-worker", "Deployment", 1, &[("app", "shop-worker")]);
    b.baseline("stage");
    b.default_deny("stage", false);
    b.app_allow(
        "stage",
        "allow-shop-api-egress",
        json!({
            "endpointSelector": {"matchLabels": {"app": "shop-api"}},
            "egress": []
        }),
    );
    b.set_last_status(json!({"conditions": [{
        "type": "Valid", "status": "False",
        "message": "Invalid CiliumNetworkPolicy spec: rule egress: empty list is not allowed; use [{}] to select nothing"
    }]}));

    // payments: enforced, broke checkout, rolled back during the incident.
    b.namespace(
        "payments",
        Some("prod"),
        &[
            (labels::INTENT, "rolled-back"),
            (labels::INTENT_AT, &ago(5)),
            (labels::INTENT_BY, "bob@oncall"),
            (labels::STAGED_AT, &ago(24 * 3)),
            (labels::ENFORCED_AT, &ago(6)),
            (labels::BACKUP, payments_backup),
        ],
    );
    b.workload("payments", "payments-api", "Deployment", 3, &[("app", "payments-api")]);
    b.workload("payments", "ledger", "Deployment", 2, &[("app", "ledger")]);

    // orders: a team's own rollout, written by hand and applied by Flux before
    // anyone opened tighten: their names, no tighten label, their default-deny
    // in the explicit deny form, enforced. tighten reads it as Enforced and
    // offers to adopt it.
    b.namespace::<&str>("orders", Some("prod"), &[]);
    b.workload("orders", "orders-api", "Deployment", 2, &[("app", "orders-api")]);
    b.workload("orders", "orders-db", "StatefulSet", 1, &[("app", "orders-db")]);
    b.team_rollout("orders");

    // Not yet in the plan.
    b.namespace::<&str>("legacy-batch", Some("stage"), &[]);
    b.workload("legacy-batch", "report-cron", "CronJob", 1, &[("app", "report-cron")]);
    b.namespace::<&str>("default", None, &[]);

    // A clusterwide policy every namespace sees as foreign.
    b.policy(
        PolicyKind::CiliumClusterwideNetworkPolicy,
        "",
        "deny-metadata-api",
        json!({
            "endpointSelector": {},
            // Without this, a deny-only policy would put every pod's egress in
            // default-deny: the platform team learnt that the hard way.
            "enableDefaultDeny": {"egress": false},
            "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}]
        }),
    );
    b.label_last(&[(labels::MANAGED_BY, "platform-security")]);

    // Flux applies auth's allows; the root Kustomization applies that one, so
    // a pause of auth-policies alone is undone at the root's next reconcile.
    let root = Owner::Flux {
        namespace: "flux-system".into(),
        name: "flux-system".into(),
    };
    // Each reads its folder of the fleet repository and applied its newest commit.
    let fleet = |path: &str| crate::cluster::GitSpec {
        path: Some(path.into()),
        source: Some(("GitRepository".into(), "flux-system".into(), "fleet".into())),
        applied_revision: Some("main@sha1:3f9c2a71d04be65a8c1e0f2b7d9a4c6e8b1f0a2d".into()),
        attempted_revision: Some("main@sha1:3f9c2a71d04be65a8c1e0f2b7d9a4c6e8b1f0a2d".into()),
        ready: Some((
            true,
            "Applied revision: main@sha1:3f9c2a71d04be65a8c1e0f2b7d9a4c6e8b1f0a2d".into(),
        )),
        ..Default::default()
    };
    b.snapshot.kustomizations = Some(vec![
        KustomizationInfo {
            namespace: "flux-system".into(),
            name: "flux-system".into(),
            suspended: false,
            resource_version: Some("11".into()),
            parent: None,
            annotations: BTreeMap::new(),
            git: fleet("./clusters/demo"),
        },
        KustomizationInfo {
            namespace: "flux-system".into(),
            name: "orders".into(),
            suspended: false,
            resource_version: Some("13".into()),
            parent: Some(root.clone()),
            annotations: BTreeMap::new(),
            git: fleet("./apps/orders"),
        },
        KustomizationInfo {
            namespace: "flux-system".into(),
            name: "auth-policies".into(),
            suspended: false,
            resource_version: Some("12".into()),
            parent: Some(root),
            annotations: BTreeMap::new(),
            git: fleet("./apps/auth"),
        },
    ]);
    b.snapshot
}

/// The objects payments had before its rollback: the demo's backup to restore.
pub fn payments_before_rollback(templates: &Templates) -> Vec<PolicyObject> {
    let mut b = Builder {
        snapshot: ClusterSnapshot::default(),
        templates,
    };
    b.baseline("payments");
    b.default_deny("payments", true);
    b.app_allow("payments", "allow-api-from-ingress", json!({
        "endpointSelector": {"matchLabels": {"app": "payments-api"}},
        "ingress": [{"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "network", "app.kubernetes.io/name": "ingress-nginx"}}],
                     "toPorts": [{"ports": [{"port": "8443", "protocol": "TCP"}]}]}]
    }));
    b.app_allow("payments", "allow-api-to-ledger", json!({
        "endpointSelector": {"matchLabels": {"app": "payments-api"}},
        "egress": [{"toEndpoints": [{"matchLabels": {"app": "ledger"}}], "toPorts": [{"ports": [{"port": "9000", "protocol": "TCP"}]}]}]
    }));
    b.snapshot.policies
}

fn staged_intent(at: &str) -> Vec<(&'static str, String)> {
    vec![
        (labels::INTENT, "audit".into()),
        (labels::INTENT_AT, at.into()),
        (labels::INTENT_BY, TEAM.into()),
        (labels::STAGED_AT, at.into()),
    ]
}

fn enforced_intent(staged: &str, enforced: &str) -> Vec<(&'static str, String)> {
    vec![
        (labels::INTENT, "enforced".into()),
        (labels::INTENT_AT, enforced.into()),
        (labels::INTENT_BY, TEAM.into()),
        (labels::STAGED_AT, staged.into()),
        (labels::ENFORCED_AT, enforced.into()),
    ]
}

struct Builder<'a> {
    snapshot: ClusterSnapshot,
    templates: &'a Templates,
}

impl Builder<'_> {
    fn namespace<V: AsRef<str>>(&mut self, name: &str, tier: Option<&str>, annotations: &[(&str, V)]) {
        let mut labels = BTreeMap::from([("kubernetes.io/metadata.name".to_string(), name.to_string())]);
        if let Some(tier) = tier {
            labels.insert(labels::TIER.to_string(), tier.to_string());
        }
        self.snapshot.namespaces.push(NamespaceInfo {
            name: name.into(),
            labels,
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_ref().to_string()))
                .collect(),
            uid: Some(format!("demo-ns-{name}")),
            resource_version: Some("1".into()),
            created: None,
        });
    }

    fn workload(&mut self, namespace: &str, name: &str, kind: &str, replicas: usize, extra: &[(&str, &str)]) {
        for i in 0..replicas {
            let mut labels: BTreeMap<String, String> =
                extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            labels
                .entry("app.kubernetes.io/part-of".into())
                .or_insert_with(|| namespace.to_string());
            let pod = match kind {
                "StatefulSet" => format!("{name}-{i}"),
                _ => format!("{name}-{}-{}", pod_hash(name, 0), pod_hash(name, i + 1)),
            };
            self.snapshot.pods.push(PodInfo {
                namespace: namespace.into(),
                name: pod,
                labels,
                workload: Some(WorkloadRef {
                    kind: kind.into(),
                    name: name.into(),
                }),
                service_account: Some(name.into()),
            });
        }
    }

    fn baseline(&mut self, namespace: &str) {
        match self.templates.render_baseline(&TemplateVars::for_namespace(namespace)) {
            Ok(policies) => self
                .snapshot
                .policies
                .extend(policies.into_iter().map(|p| versioned(p, "3"))),
            Err(err) => tracing::error!(%err, "demo baseline template"),
        }
    }

    /// A team's hand-written rollout (tests/fixtures/team-rollout), applied by
    /// their Flux Kustomization `orders`, with their app allows for orders-api
    /// and orders-db.
    fn team_rollout(&mut self, namespace: &str) {
        let specs: [(&str, Value); 8] = [
            (
                "allow-dns",
                json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                "egress": [{"toEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns"}}],
                            "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}]}]}),
            ),
            (
                "allow-kube-apiserver",
                json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                "egress": [{"toEntities": ["kube-apiserver"], "toPorts": [{"ports": [{"port": "6443", "protocol": "TCP"}]}]}]}),
            ),
            (
                "allow-same-namespace",
                json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                "ingress": [{"fromEndpoints": [{}]}], "egress": [{"toEndpoints": [{}]}]}),
            ),
            (
                "allow-prometheus",
                json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                "ingress": [{"fromEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "monitoring", "app.kubernetes.io/name": "prometheus"}}],
                             "toPorts": [{"ports": [{"port": "9090", "protocol": "TCP"}]}]}]}),
            ),
            (
                "allow-kubelet",
                json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": false, "egress": false},
                "ingress": [{"fromEntities": ["host"]}]}),
            ),
            (
                "orders-api-from-ingress",
                json!({"endpointSelector": {"matchLabels": {"app": "orders-api"}},
                "enableDefaultDeny": {"ingress": false, "egress": false},
                "ingress": [{"fromEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "network", "app.kubernetes.io/name": "ingress-nginx"}}],
                             "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}),
            ),
            (
                "orders-api-to-payments",
                json!({"endpointSelector": {"matchLabels": {"app": "orders-api"}},
                "enableDefaultDeny": {"ingress": false, "egress": false},
                "egress": [{"toEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "payments", "app": "payments-api"}}],
                            "toPorts": [{"ports": [{"port": "8443", "protocol": "TCP"}]}]}]}),
            ),
            (
                "default-deny",
                json!({"endpointSelector": {}, "ingressDeny": [{}], "egressDeny": [{}]}),
            ),
        ];
        for (name, spec) in specs {
            self.policy(PolicyKind::CiliumNetworkPolicy, namespace, name, spec);
            self.label_last(&[(labels::FLUX_NAME, "orders"), (labels::FLUX_NAMESPACE, "flux-system")]);
        }
    }

    fn default_deny(&mut self, namespace: &str, enforce: bool) {
        match self
            .templates
            .render_default_deny(&TemplateVars::for_namespace(namespace))
        {
            Ok(dd) => self
                .snapshot
                .policies
                .push(versioned(with_enforcement(&dd, enforce), "5")),
            Err(err) => tracing::error!(%err, "demo default-deny template"),
        }
    }

    /// A tighten app allow. Like every allow tighten writes, it never isolates
    /// pods by itself: only the namespace's default-deny decides that.
    fn app_allow(&mut self, namespace: &str, name: &str, mut spec: Value) {
        if let Some(rule) = spec.as_object_mut() {
            rule.insert("enableDefaultDeny".into(), json!({"ingress": false, "egress": false}));
        }
        self.policy(PolicyKind::CiliumNetworkPolicy, namespace, name, spec);
        self.label_last(&[
            (labels::MANAGED_BY, labels::MANAGED_BY_TIGHTEN),
            (labels::ROLE, "app-allow"),
        ]);
    }

    fn policy(&mut self, kind: PolicyKind, namespace: &str, name: &str, spec: Value) {
        self.snapshot.policies.push(PolicyObject {
            kind,
            name: name.into(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            uid: Some(format!("demo-{namespace}-{name}")),
            resource_version: Some("2".into()),
            created: None,
            body: serde_json::Map::from_iter([("spec".to_string(), spec)]),
        });
    }

    fn label_last(&mut self, pairs: &[(&str, &str)]) {
        if let Some(p) = self.snapshot.policies.last_mut() {
            p.labels
                .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        }
    }

    fn annotate_last(&mut self, pairs: &[(&str, &str)]) {
        if let Some(p) = self.snapshot.policies.last_mut() {
            p.annotations
                .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        }
    }

    fn set_last_status(&mut self, status: Value) {
        if let Some(p) = self.snapshot.policies.last_mut() {
            p.body.insert("status".into(), status);
        }
    }
}

fn versioned(mut policy: PolicyObject, version: &str) -> PolicyObject {
    policy.uid = Some(format!(
        "demo-{}-{}",
        policy.namespace.as_deref().unwrap_or(""),
        policy.name
    ));
    policy.resource_version = Some(version.into());
    policy
}

/// Stable pseudo-random pod name suffixes, so screenshots do not change per run.
fn pod_hash(name: &str, salt: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 1469598103934665603 ^ salt as u64;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    let len = if salt == 0 { 9 } else { 5 };
    (0..len)
        .map(|i| ALPHABET[((h >> (i * 5)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}
