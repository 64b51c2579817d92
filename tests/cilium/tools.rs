//! Cilium's own programs, built once per test run from its Go module by
//! `tests/cilium/build` (cached under target/cilium: seconds after the first
//! build).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

static BIN: OnceLock<PathBuf> = OnceLock::new();

fn bin_dir() -> &'static Path {
    BIN.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let started = Instant::now();
        let output = Command::new(root.join("tests/cilium/build"))
            .stderr(Stdio::inherit())
            .output()
            .expect("tests/cilium/build runs");
        assert!(output.status.success(), "tests/cilium/build failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let dir = stdout
            .lines()
            .last()
            .expect("the build prints its bin directory")
            .trim();
        eprintln!("Cilium tools ready in {:.1}s", started.elapsed().as_secs_f64());
        PathBuf::from(dir)
    })
}

/// The real hubble CLI.
pub fn hubble() -> PathBuf {
    bin_dir().join("hubble")
}

/// The policy oracle over Cilium's `pkg/policy`.
pub fn oracle() -> PathBuf {
    bin_dir().join("cilium-oracle")
}
