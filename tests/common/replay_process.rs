//! `tighten replay` as its own process, for the test binaries that talk to
//! it as Hubble's clients would. Included with `#[path]` where needed.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tighten::flows::Flow;
use tighten::hubble::proto::observer::ServerStatusRequest;
use tighten::hubble::proto::observer::observer_client::ObserverClient;

/// The process, stopped by PID when dropped (even when a test fails).
pub struct ReplayProcess {
    child: Child,
    /// `host:port` it listens on.
    pub address: String,
    /// What it printed first (`serving N flows from FILE on ADDRESS …`).
    pub first_line: String,
}

impl ReplayProcess {
    /// `tighten replay FILE ARGS…`, once it says where it listens.
    pub fn start(file: &Path, args: &[&str]) -> ReplayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tighten"))
            .arg("replay")
            .arg(file)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("tighten replay starts");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first_line)
            .expect("first line");
        let address = first_line
            .split(" on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first_line:?}"))
            .to_string();
        ReplayProcess {
            child,
            address,
            first_line,
        }
    }
}

impl Drop for ReplayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the server at `address` says it has seen `count` flows: a
/// replay plays on its own task, so history asked for too early is short.
pub async fn played(address: &str, count: u64) {
    let url = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let mut client = ObserverClient::connect(url).await.expect("connects");
    for _ in 0..200 {
        let status = client.server_status(ServerStatusRequest {}).await.expect("status");
        if status.into_inner().seen_flows >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server never played {count} flows");
}

/// A recording as `hubble observe -o jsonpb` (and tighten's recorder) write it.
pub fn write_recording(path: &Path, flows: &[Flow]) {
    let text: String = flows.iter().map(|f| tighten::hubble::jsonpb::line(f) + "\n").collect();
    std::fs::write(path, text).expect("recording written");
}
