//! The `tighten` binary: parse flags, set up logging and the terminal, run.

mod cli;

use std::path::Path;
use std::sync::Arc;

use clap::Parser;
use color_eyre::eyre::{Context, eyre};
use jiff::Timestamp;
use tokio::sync::mpsc;

use tighten::app::State;
use tighten::app::state::AppConfig;
use tighten::cluster::demo::{self, DemoCluster};
use tighten::cluster::{AuditLog, Cluster, Mutator};
use tighten::config::{self, ConfigSources, Paths};
use tighten::policy::Templates;
use tighten::runtime::{self, effects::EffectRunner, terminal};

use cli::Cli;

fn main() -> color_eyre::Result<()> {
    terminal::install_hooks()?;
    let cli = Cli::parse();
    let paths = Paths::discover().ok_or_else(|| eyre!("cannot find a home directory for config, data and state"))?;
    let _log = init_logging(&paths.log_file())?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        demo = cli.demo,
        readonly = cli.readonly,
        "starting"
    );

    if !cli.demo {
        return live_backend_unavailable(&cli);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("while starting the async runtime")?;
    runtime.block_on(run_demo(cli, paths))
}

async fn run_demo(cli: Cli, paths: Paths) -> color_eyre::Result<()> {
    let sources = ConfigSources {
        explicit_config: cli.config.clone(),
        theme_override: cli.theme.clone(),
        ..ConfigSources::from_paths(&paths)
    };
    // A missing or unparsable --config is the operator's to fix: say so plainly.
    let loaded = match config::load(&sources, demo::CONTEXT) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("tighten: {err}");
            std::process::exit(2);
        }
    };
    for diagnostic in &loaded.diagnostics {
        tracing::warn!(%diagnostic, "configuration");
    }
    let backup_dir = paths.backup_dir().join(demo::CONTEXT);
    let cluster = DemoCluster::new(Timestamp::now(), &backup_dir);
    let identity = cluster.identity();
    let shared: Arc<dyn Cluster> = Arc::new(cluster.clone());
    let mutator = Mutator::new(Arc::clone(&shared), cli.readonly, AuditLog::new(paths.audit_file()));

    let app_config = AppConfig {
        keymap: loaded.keymap,
        theme: loaded.theme,
        settings: loaded.settings.for_context(demo::CONTEXT),
        templates: Templates::embedded(),
        readonly: cli.readonly,
        backup_dir: backup_dir.clone(),
    };
    let mut state = State::new(app_config, identity, loaded.diagnostics, Timestamp::now());
    state.open_on = cli.namespace.clone();

    let (tx, rx) = mpsc::channel(1024);
    runtime::spawn_sources(shared, Arc::new(cluster), tx.clone());
    let runner = EffectRunner {
        mutator,
        tx,
        backup_dir,
        themes_dir: Some(paths.themes_dir()),
    };
    let mut guard = terminal::TerminalGuard::enter().wrap_err("while setting up the terminal")?;
    let result = runtime::run(&mut guard.terminal, state, runner, rx).await;
    drop(guard);
    tracing::info!("stopped");
    result.wrap_err("while running the cockpit")
}

/// Without `--demo` tighten targets the current kubeconfig context; the live
/// backend is not in this build, and it says so instead of pretending.
fn live_backend_unavailable(cli: &Cli) -> color_eyre::Result<()> {
    let read = match &cli.kubeconfig {
        Some(path) => kube::config::Kubeconfig::read_from(path).map(|k| (k, path.display().to_string())),
        None => kube::config::Kubeconfig::read().map(|k| (k, "~/.kube/config".to_string())),
    };
    let target = match read {
        Ok((kubeconfig, source)) => {
            let context = cli.context.clone().or(kubeconfig.current_context.clone());
            match context {
                Some(name) => {
                    let entry = kubeconfig
                        .contexts
                        .iter()
                        .find(|c| c.name == name)
                        .and_then(|c| c.context.clone());
                    match entry {
                        Some(ctx) => format!(
                            "context \"{name}\" (cluster \"{}\", user \"{}\") from {source}",
                            ctx.cluster,
                            ctx.user.unwrap_or_default()
                        ),
                        None => format!("context \"{name}\", which {source} does not define"),
                    }
                }
                None => format!("{source}, which names no current context"),
            }
        }
        Err(err) => format!("no usable kubeconfig: {err}"),
    };
    eprintln!(
        "tighten: this build has no live cluster backend yet, so it will not connect to\n  {target}.\n\
         Run `tighten --demo` to use the cockpit on the embedded demo cluster."
    );
    std::process::exit(2);
}

/// Logs go to a file under the XDG state directory, never to the terminal.
fn init_logging(file: &Path) -> color_eyre::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = file
        .parent()
        .ok_or_else(|| eyre!("log file {} has no directory", file.display()))?;
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("while creating the log directory {}", dir.display()))?;
    let name = file
        .file_name()
        .ok_or_else(|| eyre!("log file {} has no name", file.display()))?;
    let appender = tracing_appender::rolling::never(dir, name);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("TIGHTEN_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Ok(guard)
}
