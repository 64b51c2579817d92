//! The gate's Prometheus evidence against a real Prometheus (Debian's package,
//! fetched and unpacked under target/ by tests/prometheus/fetch) scraping a
//! small exporter that serves Cilium's and Hubble's metric names and labels.

#[path = "../common/prometheus_process.rs"]
mod prometheus_process;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use prometheus_process::PrometheusProcess;
use tighten::prometheus::{PromError, PromEvidence, Prometheus};

/// What the exporter serves.
#[derive(Clone, Copy, PartialEq)]
enum Metrics {
    /// Hubble metrics with `labelsContext=source_namespace,destination_namespace`.
    WithNamespaces,
    /// Hubble metrics without the namespace labels.
    WithoutNamespaces,
    /// Hubble's flow metrics with workload context, for the ledger's backfill.
    WithWorkloads,
}

/// Counters grow by a fixed step per scrape, so their increases keep exact ratios.
fn exposition(scrapes: u64, metrics: Metrics) -> String {
    if metrics == Metrics::WithWorkloads {
        let pair = |s: &str, sw: &str, d: &str, dw: &str| {
            format!(
                r#"source_namespace="{s}",source_workload="{sw}",destination_namespace="{d}",destination_workload="{dw}""#
            )
        };
        return format!(
            "# TYPE hubble_flows_processed_total counter\n\
             hubble_flows_processed_total{{{},verdict=\"FORWARDED\",type=\"L3_L4\"}} {}\n\
             hubble_flows_processed_total{{{},verdict=\"DROPPED\",type=\"L3_L4\"}} {}\n\
             # TYPE hubble_port_distribution_total counter\n\
             hubble_port_distribution_total{{destination_namespace=\"payments\",destination_workload=\"api\",port=\"8080\",protocol=\"TCP\"}} {}\n\
             # TYPE cilium_bpf_map_pressure gauge\n\
             cilium_bpf_map_pressure{{map_name=\"policy_00123\"}} 0.42\n",
            pair("shop", "web", "payments", "api"),
            scrapes * 6,
            pair("batch", "report", "payments", "api"),
            scrapes,
            scrapes * 7,
        );
    }
    let ns = |source: &str, destination: &str| match metrics {
        Metrics::WithNamespaces => format!(r#"source_namespace="{source}",destination_namespace="{destination}","#),
        Metrics::WithoutNamespaces | Metrics::WithWorkloads => String::new(),
    };
    let into_payments = ns("shop", "payments");
    let from_payments = ns("payments", "db");
    format!(
        "# TYPE hubble_drop_total counter\n\
         hubble_drop_total{{{into_payments}reason=\"POLICY_DENIED\",protocol=\"TCP\"}} {}\n\
         hubble_drop_total{{{into_payments}reason=\"STALE_OR_UNROUTABLE_IP\",protocol=\"TCP\"}} {}\n\
         hubble_drop_total{{{from_payments}reason=\"POLICY_DENY\",protocol=\"UDP\"}} {}\n\
         # TYPE hubble_policy_verdicts_total counter\n\
         hubble_policy_verdicts_total{{{into_payments}action=\"forwarded\",direction=\"ingress\",match=\"l3-l4\"}} {}\n\
         hubble_policy_verdicts_total{{{into_payments}action=\"dropped\",direction=\"ingress\",match=\"none\"}} {}\n\
         # TYPE cilium_drop_count_total counter\n\
         cilium_drop_count_total{{node=\"n1\",reason=\"Policy denied\",direction=\"INGRESS\"}} {}\n\
         cilium_drop_count_total{{node=\"n2\",reason=\"Stale or unroutable IP\",direction=\"EGRESS\"}} {}\n\
         cilium_drop_count_total{{node=\"n2\",reason=\"Policy denied by denylist\",direction=\"EGRESS\"}} {}\n\
         # TYPE hubble_lost_events_total counter\n\
         hubble_lost_events_total{{source=\"hubble_ring_buffer\"}} {}\n\
         # TYPE cilium_bpf_map_pressure gauge\n\
         cilium_bpf_map_pressure{{map_name=\"policy_00123\"}} 0.42\n\
         cilium_bpf_map_pressure{{map_name=\"ct4_global\"}} 0.17\n",
        scrapes * 10,
        scrapes,
        scrapes * 3,
        scrapes * 50,
        scrapes * 10,
        scrapes * 20,
        scrapes * 2,
        scrapes * 5,
        scrapes * 4,
    )
}

/// Serves the metrics on a free loopback port.
async fn exporter(metrics: Metrics) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let scrapes = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let scrapes = Arc::clone(&scrapes);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = exposition(scrapes.fetch_add(1, Ordering::SeqCst) + 1, metrics);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

/// A Prometheus process on loopback, stopped by PID when dropped.
struct Server {
    _process: PrometheusProcess,
    url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn prometheus(target: SocketAddr) -> Server {
    let port = free_port();
    let process = prometheus_process::start(
        Command::new(prometheus_process::binary()),
        &format!("127.0.0.1:{port}"),
        "cilium",
        &target.to_string(),
    );
    let server = Server {
        _process: process,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Ready, and holding at least three scrapes, so increases are defined.
    let client = Prometheus::new(&server.url).expect("url");
    for _ in 0..300 {
        let scraped = client.query("count_over_time(cilium_bpf_map_pressure[1m])").await;
        if scraped.is_ok_and(|s| s.first().is_some_and(|x| x.value >= 3.0)) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Prometheus at {} never scraped the exporter", server.url);
}

const HOUR: Duration = Duration::from_secs(3600);

/// A Prometheus scraping an exporter of `metrics`, and a client for it.
async fn scraping(metrics: Metrics) -> (Server, Prometheus) {
    let server = prometheus(exporter(metrics).await).await;
    let client = Prometheus::new(&server.url).expect("url");
    (server, client)
}

#[tokio::test]
async fn the_gate_reads_drops_verdicts_lost_events_and_map_pressure() {
    let (_server, client) = scraping(Metrics::WithNamespaces).await;
    let evidence = PromEvidence::fetch(&client, "payments", HOUR).await;

    assert_eq!(evidence.namespace_labels, Ok(Some(true)));
    assert_eq!(evidence.namespace_caveat(), None);
    let into = evidence.drops_into.clone().expect("drops into");
    // Steps of 10 and 1 per scrape: the same samples, so an exact ratio.
    let ratio = into["POLICY_DENIED"] / into["STALE_OR_UNROUTABLE_IP"];
    assert!((ratio - 10.0).abs() < 1e-9, "{into:?}");
    let from = evidence.drops_from.clone().expect("drops from");
    assert_eq!(from.keys().collect::<Vec<_>>(), ["POLICY_DENY"]);
    assert!(from["POLICY_DENY"] > 0.0);
    let verdicts = evidence.policy_verdicts.clone().expect("verdicts");
    assert!(
        (verdicts["forwarded"] / verdicts["dropped"] - 5.0).abs() < 1e-9,
        "{verdicts:?}"
    );
    let cluster = evidence.cluster_drops.clone().expect("cluster drops");
    assert!((cluster["Policy denied/INGRESS"] / cluster["Stale or unroutable IP/EGRESS"] - 10.0).abs() < 1e-9);
    // Per node, the agents' policy drops apart from the datapath's.
    let nodes = evidence.node_drops.clone().expect("node drops");
    assert_eq!(nodes.keys().collect::<Vec<_>>(), ["n1", "n2"]);
    assert!(nodes["n1"].policy > 0.0 && nodes["n1"].other == 0.0, "{nodes:?}");
    assert!((nodes["n2"].policy / nodes["n2"].other - 2.5).abs() < 1e-9, "{nodes:?}");
    assert!(
        (nodes["n1"].policy / nodes["n2"].policy - 4.0).abs() < 1e-9,
        "{nodes:?}"
    );
    // The rate shown is the increase over the window, which is what rate()
    // gives: Prometheus's own ratio of the two, at one instant, is the window.
    let ratio = client
        .query("sum(increase(cilium_drop_count_total[3600s])) / sum(rate(cilium_drop_count_total[3600s]))")
        .await
        .expect("ratio")[0]
        .value;
    assert!((ratio - 3600.0).abs() < 1e-6, "{ratio}");
    assert!((evidence.rate(3600.0) - 1.0).abs() < 1e-12);
    assert!(evidence.lost_events.clone().expect("lost").is_some_and(|n| n > 0.0));
    assert_eq!(evidence.map_pressure, Ok(Some(("policy_00123".to_string(), 0.42))));

    // Another namespace: no drops of its own, and that is an empty answer, not an error.
    let quiet = PromEvidence::fetch(&client, "lab", HOUR).await;
    assert_eq!(quiet.drops_into, Ok(Default::default()));
}

#[tokio::test]
async fn hubble_metrics_without_namespace_labels_are_named_as_such() {
    let (_server, client) = scraping(Metrics::WithoutNamespaces).await;
    let evidence = PromEvidence::fetch(&client, "payments", HOUR).await;
    assert_eq!(evidence.namespace_labels, Ok(Some(false)));
    let caveat = evidence.namespace_caveat().expect("a caveat");
    assert!(
        caveat.contains("labelsContext=source_namespace,destination_namespace"),
        "{caveat}"
    );
    // The cluster-wide series still count.
    assert!(evidence.cluster_drops.expect("cluster drops").len() == 3);
}

#[tokio::test]
async fn an_unreachable_prometheus_is_named_in_every_answer() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = Prometheus::new(&url).expect("url");
    let evidence = PromEvidence::fetch(&client, "payments", Duration::from_secs(60)).await;
    for error in [
        evidence.drops_into.clone().err(),
        evidence.cluster_drops.clone().err(),
        evidence.lost_events.clone().err(),
    ] {
        match error {
            Some(PromError::Unreachable { url: named, message }) => {
                assert_eq!(named, url);
                assert!(message.to_lowercase().contains("connect"), "{message}");
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
    }
    assert!(evidence.namespace_caveat().is_some_and(|c| c.contains(&url)));
}

#[tokio::test]
async fn a_rejected_query_says_why() {
    let (_server, client) = scraping(Metrics::WithNamespaces).await;
    match client.query("sum by (reason) (increase(hubble_drop_total[5m]").await {
        Err(PromError::Rejected { query, message, .. }) => {
            assert!(query.starts_with("sum by"));
            assert!(!message.is_empty());
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn the_ledger_backfills_workload_pairs_from_hubbles_flow_metrics() {
    let (server, client) = scraping(Metrics::WithWorkloads).await;
    let now = jiff::Timestamp::now();
    let tally = tighten::ledger::metrics::backfill(&client, Duration::from_secs(600), now)
        .await
        .expect("backfill");
    let pairs: Vec<String> = tally
        .connections
        .keys()
        .map(|c| format!("{} -> {}:{}", c.source.qualified(), c.destination.qualified(), c.port))
        .collect();
    assert!(
        pairs.contains(&"shop/web -> payments/api:8080".to_string()),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&"batch/report -> payments/api:8080".to_string()),
        "{pairs:?}"
    );
    let report = tally
        .connections
        .iter()
        .find(|(c, _)| c.source.name == "report")
        .map(|(_, s)| s)
        .expect("the job");
    assert!(report.dropped > 0 && report.forwarded == 0, "{report:?}");

    // Through the command line, into a ledger file, marked as coarser.
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("l.sqlite");
    let out = Command::new(env!("CARGO_BIN_EXE_tighten"))
        .args([
            "ledger",
            "import",
            "--prometheus",
            &server.url,
            "--since",
            "10m",
            "--ledger",
        ])
        .arg(&ledger)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 workload pairs"));
    let records = tighten::ledger::Ledger::open(&ledger)
        .expect("opens")
        .connections_of("payments", jiff::Timestamp::UNIX_EPOCH)
        .expect("reads");
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.evidence == tighten::ledger::Evidence::Metrics));
    assert_eq!(
        tighten::ledger::Ledger::open(&ledger)
            .expect("opens")
            .newest_flow()
            .expect("meta"),
        None,
        "metrics do not move the mark a resumed observer starts after"
    );
}
