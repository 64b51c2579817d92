//! The `tighten` binary as an operator runs it, with its config, data and
//! state directories under `home` and nothing inherited that names a cluster,
//! a Hubble or a Prometheus.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `tighten ARGS` with `stdin` on its standard input: exit code, stdout, stderr.
pub fn run(home: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    run_with_env(home, args, stdin, &[])
}

/// [`run`] with `env` (name, value) set on top, e.g. a PATH without kubectl.
pub fn run_with_env(home: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tighten"))
        .args(args)
        .envs(env.iter().copied())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("KUBECONFIG")
        .env_remove("TIGHTEN_PROMETHEUS")
        .env_remove("HUBBLE_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tighten runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let output = child.wait_with_output().expect("tighten ends");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
