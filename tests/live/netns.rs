//! A test "pod": a network namespace joined to this host by a veth pair, so
//! the API server's service proxy (which refuses loopback endpoints) has a
//! real pod IP to reach. Made with iproute2 and removed on drop.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

pub struct PodNetwork {
    pub name: String,
    host_link: String,
    /// The "pod" side's address.
    pub ip: Ipv4Addr,
}

fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`ip {}` cannot run ({e}): the test needs iproute2 and root",
                args.join(" ")
            )
        });
    assert!(
        output.status.success(),
        "`ip {}` failed: {} (the test needs root to make a network namespace)",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

impl PodNetwork {
    /// A namespace with its own loopback and one address on a /30 shared
    /// with the host, picked from this process's id so runs do not collide.
    pub fn new() -> PodNetwork {
        let id = std::process::id();
        let name = format!("tighten-pod-{id}");
        let (host_link, pod_link) = (format!("tth{}", id % 100_000), format!("ttp{}", id % 100_000));
        let subnet = (id % 16_000) * 4;
        let base = Ipv4Addr::new(10, 213, (subnet / 256) as u8, (subnet % 256) as u8);
        let [a, b, c, d] = base.octets();
        let (host_ip, pod_ip) = (Ipv4Addr::new(a, b, c, d + 1), Ipv4Addr::new(a, b, c, d + 2));
        // A namespace left by a killed run of the same pid would be in the way.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &host_link])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        let network = PodNetwork {
            name: name.clone(),
            host_link: host_link.clone(),
            ip: pod_ip,
        };
        ip(&["link", "add", &host_link, "type", "veth", "peer", "name", &pod_link]);
        ip(&["link", "set", &pod_link, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_link]);
        ip(&["link", "set", &host_link, "up"]);
        ip(&["-n", &name, "addr", "add", &format!("{pod_ip}/30"), "dev", &pod_link]);
        ip(&["-n", &name, "link", "set", &pod_link, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        network
    }

    /// A command that runs inside the namespace (`ip netns exec` execs it, so
    /// the child's PID is the program's).
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and with it ours.
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .stderr(Stdio::null())
            .status();
    }
}
