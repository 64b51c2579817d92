//! `tighten lint` of a team's GitOps repository: 2,000 namespaces of 10
//! policies each, one folder per namespace with its kustomization setting the
//! namespace (the files name none), written as teams write them: a
//! default-deny, DNS with its L7 rule, the API server by entity, the
//! namespace itself, a monitoring scrape, and five app allows, several of
//! them to the next namespace (whose ingress side is present for most and
//! missing for some, so the one-sided check has work).
//!
//! Measured: reading the repository (`load`: files, kustomizations, the
//! policy reader), the policy reader alone, and linting what was read, each on
//! its own, and load and lint together as `tighten lint --policies repo/`
//! does.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

use tighten::policy::lint::{LintInput, lint};
use tighten::policy::load::{Sources, load};

const NAMESPACES: usize = 2_000;

fn namespace_files(i: usize) -> String {
    let next = (i + 1) % NAMESPACES;
    let app = |k: usize| format!("svc-{}", (i + k) % 7);
    // Every seventh namespace forgets the ingress side of its neighbour's call.
    let from_previous = if i.is_multiple_of(7) {
        String::new()
    } else {
        format!(
            "    - fromEndpoints: [{{matchLabels: {{k8s:io.kubernetes.pod.namespace: team-{prev}, app: api}}}}]\n      \
             toPorts: [{{ports: [{{port: '8443', protocol: TCP}}]}}]\n",
            prev = (i + NAMESPACES - 1) % NAMESPACES
        )
    };
    format!(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: default-deny}}
spec:
  endpointSelector: {{}}
  ingress: [{{}}]
  egress: [{{}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: allow-dns}}
spec:
  endpointSelector: {{}}
  enableDefaultDeny: {{ingress: false, egress: false}}
  egress:
    - toEndpoints: [{{matchLabels: {{k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}}}}]
      toPorts:
        - ports: [{{port: '53', protocol: UDP}}, {{port: '53', protocol: TCP}}]
          rules: {{dns: [{{matchPattern: '*'}}]}}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: allow-apiserver}}
spec:
  endpointSelector: {{}}
  enableDefaultDeny: {{ingress: false, egress: false}}
  egress:
    - toEntities: [kube-apiserver]
      toPorts: [{{ports: [{{port: '443', protocol: TCP}}, {{port: '6443', protocol: TCP}}]}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: allow-same-namespace}}
spec:
  endpointSelector: {{}}
  enableDefaultDeny: {{ingress: false, egress: false}}
  ingress: [{{fromEndpoints: [{{}}]}}]
  egress: [{{toEndpoints: [{{}}]}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: allow-prometheus}}
spec:
  endpointSelector: {{}}
  enableDefaultDeny: {{ingress: false, egress: false}}
  ingress:
    - fromEndpoints: [{{matchLabels: {{k8s:io.kubernetes.pod.namespace: monitoring, app.kubernetes.io/name: prometheus}}}}]
      toPorts: [{{ports: [{{port: '9090', protocol: TCP}}]}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: web-to-api}}
spec:
  endpointSelector: {{matchLabels: {{app: api}}}}
  ingress:
    - fromEndpoints: [{{matchLabels: {{app: web}}}}]
      toPorts: [{{ports: [{{port: '8080', protocol: TCP}}]}}]
{from_previous}---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: api-to-next}}
spec:
  endpointSelector: {{matchLabels: {{app: api}}}}
  egress:
    - toEndpoints: [{{matchLabels: {{k8s:io.kubernetes.pod.namespace: team-{next}, app: api}}}}]
      toPorts: [{{ports: [{{port: '8443', protocol: TCP}}]}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: {a}-to-db}}
spec:
  endpointSelector: {{matchLabels: {{app: {a}}}}}
  egress:
    - toEndpoints: [{{matchLabels: {{app: db}}}}]
      toPorts: [{{ports: [{{port: '5432', protocol: TCP}}]}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: {b}-egress-world}}
spec:
  endpointSelector: {{matchLabels: {{app: {b}}}}}
  egress:
    - toFQDNs: [{{matchName: api.example.com}}]
      toPorts: [{{ports: [{{port: '443', protocol: TCP}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: db-from-apps}}
spec:
  podSelector: {{matchLabels: {{app: db}}}}
  policyTypes: [Ingress]
  ingress:
    - from: [{{podSelector: {{matchLabels: {{app: {a}}}}}}}]
      ports: [{{port: 5432, protocol: TCP}}]
",
        a = app(1),
        b = app(2),
    )
}

fn write_repository(root: &Path) {
    for i in 0..NAMESPACES {
        let dir = root.join(format!("apps/team-{i}/policies"));
        std::fs::create_dir_all(&dir).expect("dirs");
        std::fs::write(dir.join("policies.yaml"), namespace_files(i)).expect("write");
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: team-{i}\nresources: [policies.yaml]\n"),
        )
        .expect("write");
    }
}

fn benches(c: &mut Criterion) {
    let repo = tempfile::tempdir().expect("tempdir");
    write_repository(repo.path());
    let sources = Sources {
        paths: vec![repo.path().to_path_buf()],
        ..Sources::default()
    };
    let loaded = load(&sources).expect("loads");
    assert_eq!(loaded.objects.len(), NAMESPACES * 10);
    let findings = lint(&LintInput::policies_only(&loaded.objects));
    let one_sided = findings.iter().filter(|f| f.code == "one-sided-allow").count();
    eprintln!(
        "repository: {} policies, {} findings ({one_sided} one-sided allows)",
        loaded.objects.len(),
        findings.len()
    );

    let mut group = c.benchmark_group("lint_repository");
    group.sample_size(10);
    group.bench_function("load_2000_namespaces_x_10", |b| {
        b.iter(|| load(black_box(&sources)).expect("loads").objects.len())
    });
    group.bench_function("read_2000_namespaces_x_10", |b| {
        b.iter(|| {
            black_box(&loaded.objects)
                .iter()
                .map(|o| tighten::policy::parse::read_policy(o).problems.len())
                .sum::<usize>()
        })
    });
    group.bench_function("lint_2000_namespaces_x_10", |b| {
        b.iter(|| lint(&LintInput::policies_only(black_box(&loaded.objects))).len())
    });
    group.bench_function("load_and_lint_2000_namespaces_x_10", |b| {
        b.iter(|| {
            let loaded = load(black_box(&sources)).expect("loads");
            lint(&LintInput::policies_only(&loaded.objects)).len()
        })
    });
    group.finish();
}

criterion_group!(lint_benches, benches);
criterion_main!(lint_benches);
