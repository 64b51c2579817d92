//! One real kube-apiserver and etcd per test run, started by the repo's own
//! script (which builds them from Go modules, cached under target/) and tied to
//! this test process's life.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub struct ControlPlane {
    pub dir: PathBuf,
    pub admin: PathBuf,
    pub operator: PathBuf,
    bin: PathBuf,
    args: Vec<String>,
}

static PLANE: OnceLock<ControlPlane> = OnceLock::new();

/// The shared control plane, started on first use.
pub fn get() -> &'static ControlPlane {
    PLANE.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = root
            .join("target/control-plane")
            .join(format!("test-{}", std::process::id()));
        let started = Instant::now();
        let output = Command::new(root.join("tests/control-plane/start"))
            .args([
                "--dir",
                &dir.display().to_string(),
                "--parent",
                &std::process::id().to_string(),
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("tests/control-plane/start runs");
        assert!(
            output.status.success(),
            "the control plane did not start: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        eprintln!("control plane up in {:.1}s", started.elapsed().as_secs_f64());
        let state = read_env(&dir.join("state.env"));
        let args = std::fs::read_to_string(dir.join("apiserver.args"))
            .expect("apiserver.args")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        ControlPlane {
            admin: PathBuf::from(&state["ADMIN_KUBECONFIG"]),
            operator: PathBuf::from(&state["OPERATOR_KUBECONFIG"]),
            bin: PathBuf::from(&state["BIN"]).join("kube-apiserver"),
            dir,
            args,
        }
    })
}

fn read_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .expect("state.env")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A client for a kubeconfig file.
pub async fn client(kubeconfig: &Path) -> Client {
    Client::try_from(config(kubeconfig).await).expect("client")
}

/// A client that does not retry, as tighten's service-proxy client.
pub async fn client_once(kubeconfig: &Path) -> Client {
    let mut config = config(kubeconfig).await;
    config.default_retry = false;
    Client::try_from(config).expect("client")
}

async fn config(kubeconfig: &Path) -> Config {
    Config::from_custom_kubeconfig(
        Kubeconfig::read_from(kubeconfig).expect("kubeconfig"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("config")
}

impl ControlPlane {
    /// The kubectl built next to the API server (`kubectl kustomize`).
    pub fn kubectl(&self) -> PathBuf {
        self.bin.with_file_name("kubectl")
    }

    /// A second API server on the same etcd, on its own port, that a test may
    /// stop and start without disturbing the others.
    pub fn extra_apiserver(&self, name: &str) -> ExtraApiServer {
        let port = free_port();
        let kubeconfig = self.dir.join(format!("{name}.kubeconfig"));
        let admin = std::fs::read_to_string(&self.admin).expect("admin kubeconfig");
        let rewritten = admin
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("server:") {
                    format!("    server: https://127.0.0.1:{port}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&kubeconfig, rewritten).expect("write kubeconfig");
        let mut server = ExtraApiServer {
            port,
            kubeconfig,
            bin: self.bin.clone(),
            args: self.args.clone(),
            log: self.dir.join(format!("{name}.log")),
            child: None,
        };
        server.start();
        server
    }
}

pub struct ExtraApiServer {
    pub port: u16,
    pub kubeconfig: PathBuf,
    bin: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl ExtraApiServer {
    pub fn start(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(&self.bin)
            .args(&self.args)
            .arg(format!("--secure-port={}", self.port))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("kube-apiserver starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "extra API server did not listen; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        self.wait_until_ready(deadline);
    }

    /// Listening is not serving: under load the API server takes a while to
    /// sync with etcd, and a test timing the watch's resume must not time
    /// that. Asks `/readyz` (on a thread of its own, since callers are async).
    fn wait_until_ready(&self, deadline: Instant) {
        let kubeconfig = self.kubeconfig.clone();
        let log = self.log.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let client = client(&kubeconfig).await;
                loop {
                    let request = http::Request::get("/readyz").body(Vec::new()).expect("request");
                    if client.request_text(request).await.is_ok_and(|t| t.trim() == "ok") {
                        return;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "extra API server not ready; see {}",
                        log.display()
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        })
        .join()
        .expect("readiness check");
    }

    /// Stops it by PID and waits for the port to close.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ExtraApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
