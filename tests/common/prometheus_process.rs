//! Debian's Prometheus as the tests run it: fetched and unpacked under
//! target/ by tests/prometheus/fetch, started with one scrape job, stopped by
//! PID when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The unpacked `prometheus` binary (fetched on first use).
pub fn binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(root.join("tests/prometheus/fetch"))
        .stderr(Stdio::inherit())
        .output()
        .expect("tests/prometheus/fetch runs");
    assert!(output.status.success(), "tests/prometheus/fetch failed");
    PathBuf::from(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .expect("a path")
            .trim(),
    )
}

/// A running Prometheus and its data directory.
pub struct PrometheusProcess {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for PrometheusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` (the binary, or a wrapper such as `ip netns exec` that
/// execs it) listening on `listen`, scraping `target` every second as `job`.
pub fn start(mut command: Command, listen: &str, job: &str, target: &str) -> PrometheusProcess {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n- job_name: {job}\n  static_configs: [{{targets: [\"{target}\"]}}]\n"
        ),
    )
    .expect("config written");
    let child = command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={listen}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    PrometheusProcess { child, _dir: dir }
}
