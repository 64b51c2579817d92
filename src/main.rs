//! The `tighten` binary: parse flags, set up logging and the terminal, run.

mod cli;

use std::path::Path;

use clap::Parser;
use color_eyre::eyre::{Context, eyre};
use jiff::Timestamp;

use tighten::app::State;
use tighten::cluster::demo;
use tighten::config::{ConfigSources, Paths};
use tighten::hubble::record::{RecordOptions, Recorder};
use tighten::runtime::backend::{Backends, HubbleSettings};
use tighten::runtime::{self, SessionSettings, terminal};

use cli::{Cli, Command, ConnectArgs};
use tighten::commands::act::Step;
use tighten::commands::pipe::ClosedPipeQuiet;
use tighten::rollout::RolloutAction;

fn main() -> color_eyre::Result<()> {
    terminal::install_hooks()?;
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        std::process::exit(i32::from(run_command(command)?));
    }
    let cli = cli.cockpit;
    let paths = Paths::discover().ok_or_else(|| eyre!("cannot find a home directory for config, data and state"))?;
    let _log = init_logging(&paths.log_file())?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        demo = cli.connect.demo,
        readonly = cli.readonly,
        "starting"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("while starting the async runtime")?;
    runtime.block_on(run(cli, paths))
}

/// Runs an offline subcommand; its exit code is the process's.
fn run_command(command: Command) -> color_eyre::Result<u8> {
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    // `| head -1` closing the pipe is not an error.
    let (mut out, mut err) = (ClosedPipeQuiet::new(stdout.lock()), ClosedPipeQuiet::new(stderr.lock()));
    let code = match command {
        Command::Replay {
            file,
            listen,
            speed,
            looping,
            rebase,
        } => {
            // The replay server is the one command that needs the async runtime.
            let options = tighten::commands::replay::ReplayOptions {
                file,
                listen,
                speed,
                looping,
                rebase,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(tighten::commands::replay::run(&options, &mut out, &mut err))?
        }
        Command::Simulate {
            policies,
            namespace,
            flows,
            enforce,
            output,
        } => {
            let options = tighten::commands::simulate::SimulateOptions {
                policies: policies.sources(namespace),
                flows,
                enforce,
                output,
            };
            tighten::commands::simulate::run(&options, &mut out, &mut err)?
        }
        Command::Lint {
            policies,
            namespace,
            cluster,
            output,
        } => {
            let options = tighten::commands::lint::LintOptions {
                policies: policies.sources(namespace),
                cluster,
                output,
            };
            tighten::commands::lint::run(&options, &mut out, &mut err)?
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "tighten", &mut out);
            tighten::commands::exit::OK
        }
        Command::Baseline(step) => on_namespace(RolloutAction::ApplyBaseline, step, true, &mut out, &mut err)?,
        Command::Stage(step) => on_namespace(RolloutAction::StageDefaultDeny, step, true, &mut out, &mut err)?,
        Command::Enforce(step) => on_namespace(RolloutAction::Enforce, step, true, &mut out, &mut err)?,
        Command::Resume(step) => on_namespace(RolloutAction::ResumeOwners, step, true, &mut out, &mut err)?,
        Command::Adopt { label_policies, step } => {
            let adopt = Step::Adopt {
                namespace: step.namespace,
                label_policies,
            };
            act(&step.connect, &step.confirm, true, adopt, &mut out, &mut err)?
        }
        Command::Rollback {
            step,
            partial,
            no_suspend,
        } => {
            let action = if partial {
                RolloutAction::RollbackDefaultDeny
            } else {
                RolloutAction::RollbackNamespace
            };
            on_namespace(action, step, !no_suspend, &mut out, &mut err)?
        }
        Command::Restore {
            backup,
            confirm,
            connect,
        } => act(&connect, &confirm, true, Step::Restore { backup }, &mut out, &mut err)?,
        Command::Promote {
            from,
            to,
            confirm,
            connect,
        } => act(&connect, &confirm, true, Step::Promote { from, to }, &mut out, &mut err)?,
        Command::Export {
            namespace,
            dir,
            force,
            connect,
        } => on_cluster(&connect, true, &mut err, |backends, context, err| async move {
            let options = tighten::commands::export::ExportOptions { namespace, dir, force };
            tighten::commands::export::run(&backends, &context, &options, &mut out, err).await
        })?,
        Command::Status {
            connect,
            namespaces,
            output,
        } => on_cluster(&connect, true, &mut err, |backends, context, err| async move {
            let options = tighten::commands::status::StatusOptions { namespaces, output };
            tighten::commands::status::run(&backends, &context, &options, &mut out, err).await
        })?,
        Command::Suggest {
            flows,
            namespace,
            policies,
        } => {
            let options = tighten::commands::suggest::SuggestOptions {
                flows,
                namespace,
                policies: policies.sources(None),
            };
            tighten::commands::suggest::run(&options, &mut out, &mut err)?
        }
        Command::Observe {
            ledger,
            flush_every,
            report_every,
            retention,
            connect,
        } => observe(
            &connect,
            &ledger,
            flush_every,
            report_every,
            retention,
            &mut out,
            &mut err,
        )?,
        Command::Ledger { action } => ledger(action, &mut out, &mut err)?,
    };
    Ok(code)
}

/// The ledger file: `--ledger`, else the context's under the data directory.
fn ledger_path(args: &cli::LedgerArgs, context: Option<&str>) -> Result<std::path::PathBuf, String> {
    if let Some(path) = &args.ledger {
        return Ok(path.clone());
    }
    let paths = Paths::discover().ok_or("cannot find a home directory for the data directory; give --ledger")?;
    let context = match context {
        Some(c) => c.to_string(),
        None => tighten::cluster::live::ConnectOptions::default()
            .read()
            .map(|t| t.context)
            .map_err(|e| format!("{e}\nGive --ledger FILE, or a kubeconfig whose current context names the ledger."))?,
    };
    Ok(tighten::ledger::path_for(&paths.data_dir, &context))
}

fn ledger(
    action: cli::LedgerAction,
    out: &mut impl std::io::Write,
    err: &mut impl std::io::Write,
) -> color_eyre::Result<u8> {
    let args = match &action {
        cli::LedgerAction::Import { ledger, .. }
        | cli::LedgerAction::Show { ledger, .. }
        | cli::LedgerAction::Preview { ledger, .. } => ledger,
    };
    let path = match ledger_path(args, None) {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "tighten ledger: {e}")?;
            return Ok(tighten::commands::exit::BAD_INPUT);
        }
    };
    Ok(match action {
        cli::LedgerAction::Import {
            files,
            prometheus,
            since,
            ..
        } => {
            let options = tighten::commands::ledger::ImportOptions {
                ledger: path,
                files,
                prometheus,
                since,
            };
            tighten::commands::ledger::import(&options, out, err)?
        }
        cli::LedgerAction::Preview {
            namespace,
            policies,
            since,
            ..
        } => {
            let options = tighten::commands::ledger::PreviewOptions {
                ledger: path,
                policies: policies.sources(Some(namespace.clone())),
                namespace,
                since,
            };
            tighten::commands::ledger::preview(&options, out, err)?
        }
        cli::LedgerAction::Show {
            namespace, since, json, ..
        } => {
            let options = tighten::commands::ledger::ShowOptions {
                ledger: path,
                namespace,
                since,
                json,
            };
            tighten::commands::ledger::show(&options, out, err)?
        }
    })
}

/// `tighten observe`: the context's flow source into its ledger.
fn observe(
    connect: &ConnectArgs,
    ledger: &cli::LedgerArgs,
    flush_every: std::time::Duration,
    report_every: std::time::Duration,
    retention: std::time::Duration,
    out: &mut impl std::io::Write,
    err: &mut impl std::io::Write,
) -> color_eyre::Result<u8> {
    let paths = Paths::discover().ok_or_else(|| eyre!("cannot find a home directory for config, data and state"))?;
    let _log = init_logging(&paths.log_file())?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let options = |path| tighten::commands::observe::ObserveOptions {
        ledger: path,
        flush_every,
        report_every,
        retention: Some(retention),
        source: format!("observe@{host}"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // With a Hubble address and no demo, no cluster is needed: in a Pod, Relay's
    // Service is the address and --ledger the volume.
    if let (Some(server), false) = (&connect.hubble.hubble_server, connect.demo) {
        let context = connect.context.clone().or_else(|| context_of(connect).ok());
        let path = match ledger_path(ledger, context.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                writeln!(err, "tighten observe: {e}")?;
                return Ok(tighten::commands::exit::BAD_INPUT);
            }
        };
        let target = tighten::hubble::client::Target::Address(server.clone());
        let flows = std::sync::Arc::new(tighten::hubble::client::HubbleClient::new(target, connect.hubble.tls()));
        return Ok(runtime.block_on(tighten::commands::observe::run(flows, &options(path), out))?);
    }
    let found = context_of(connect).and_then(|context| {
        let path = ledger_path(ledger, Some(&context))?;
        Ok((context, path, backends(connect, &paths, true, None)?))
    });
    let (context, path, backends) = match found {
        Ok(found) => found,
        Err(e) => {
            writeln!(err, "tighten: {e}")?;
            return Ok(tighten::commands::exit::BAD_INPUT);
        }
    };
    Ok(runtime.block_on(async {
        let (backend, _) = match backends.connect(&context).await {
            Ok(b) => b,
            Err(e) => {
                writeln!(err, "tighten observe: {e}")?;
                return Ok(tighten::commands::exit::BAD_INPUT);
            }
        };
        tighten::commands::observe::run(backend.flows, &options(path), out).await
    })?)
}

/// Runs a command against the cluster the flags name: logging to the state
/// directory, the context and its backends resolved (bad flags are exit 2),
/// then `command` on an async runtime.
fn on_cluster<'e, E, F, Fut>(
    connect: &ConnectArgs,
    readonly: bool,
    err: &'e mut E,
    command: F,
) -> color_eyre::Result<u8>
where
    E: std::io::Write,
    F: FnOnce(Backends, String, &'e mut E) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<u8>>,
{
    let paths = Paths::discover().ok_or_else(|| eyre!("cannot find a home directory for config, data and state"))?;
    let _log = init_logging(&paths.log_file())?;
    let found = context_of(connect).and_then(|context| Ok((context, backends(connect, &paths, readonly, None)?)));
    let (context, backends) = match found {
        Ok(found) => found,
        Err(e) => {
            writeln!(err, "tighten: {e}")?;
            return Ok(tighten::commands::exit::BAD_INPUT);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    Ok(runtime.block_on(command(backends, context, err))?)
}

/// A rollout step on one namespace.
fn on_namespace(
    action: RolloutAction,
    args: cli::StepArgs,
    pause_owners: bool,
    out: &mut impl std::io::Write,
    err: &mut impl std::io::Write,
) -> color_eyre::Result<u8> {
    let step = Step::On {
        action,
        namespace: args.namespace,
    };
    act(&args.connect, &args.confirm, pause_owners, step, out, err)
}

/// Runs a mutating command: the cockpit's confirm step on the terminal.
fn act(
    connect: &ConnectArgs,
    confirm: &cli::ConfirmArgs,
    pause_owners: bool,
    step: Step,
    out: &mut impl std::io::Write,
    err: &mut impl std::io::Write,
) -> color_eyre::Result<u8> {
    let confirm_step = confirm.confirm(pause_owners);
    on_cluster(connect, confirm.readonly, err, |backends, context, err| async move {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        tighten::commands::act::run(&backends, &context, &step, &confirm_step, &mut input, out, err).await
    })
}

/// The context the flags name: the demo, `--context`, else the kubeconfig's
/// current context, as kubectl picks it.
fn context_of(connect: &ConnectArgs) -> Result<String, String> {
    if connect.demo {
        return Ok(demo::CONTEXT.to_string());
    }
    connect
        .options()
        .read()
        .map(|target| target.context)
        .map_err(|err| format!("{err}\nRun `tighten --demo` for the embedded demo cluster."))
}

/// How to reach any context with these flags.
fn backends(connect: &ConnectArgs, paths: &Paths, readonly: bool, theme: Option<String>) -> Result<Backends, String> {
    let recorder = match &connect.hubble.record {
        Some(path) => {
            let options = RecordOptions {
                path: path.clone(),
                max_bytes: connect.hubble.record_max_size.saturating_mul(1 << 20),
                keep: connect.hubble.record_keep,
            };
            Some(Recorder::start(options)?)
        }
        None => None,
    };
    let hubble = HubbleSettings {
        server: connect.hubble.hubble_server.clone(),
        tls: connect.hubble.tls(),
        namespace: connect.hubble.hubble_namespace.clone(),
        recorder,
        flows_file: connect.hubble.flows.clone(),
    };
    Ok(Backends {
        sources: ConfigSources {
            explicit_config: connect.config.clone(),
            theme_override: theme,
            ..ConfigSources::from_paths(paths)
        },
        paths: paths.clone(),
        kubeconfig: connect.kubeconfig.clone(),
        readonly,
        hubble,
        prometheus: connect.prometheus.clone(),
    })
}

async fn run(mut cli: cli::CockpitArgs, paths: Paths) -> color_eyre::Result<()> {
    // On a machine with no kubeconfig at all the cockpit shows the demo rather
    // than an error; the commands never do, since a script must not read a
    // demo's gates as its cluster's.
    let kube_dir = directories::BaseDirs::new().map(|dirs| dirs.home_dir().join(".kube"));
    let no_cluster = !cli.connect.demo
        && cli
            .connect
            .options()
            .names_no_cluster(std::env::var_os("KUBECONFIG").as_deref(), kube_dir.as_deref());
    if no_cluster {
        tracing::info!("no kubeconfig found: opening the demo cluster");
        cli.connect.demo = true;
    }
    let context = context_of(&cli.connect).unwrap_or_else(|e| fail(&e));
    let backends = backends(&cli.connect, &paths, cli.readonly, cli.theme.clone()).unwrap_or_else(|e| fail(&e));
    // Connection and configuration problems are the operator's to fix: say so
    // plainly before the terminal is taken over.
    let (backend, switch) = match backends.connect(&context).await {
        Ok(connected) => connected,
        Err(err) => fail(&err),
    };
    let mut state = State::from_switch(switch, Timestamp::now());
    state.open_on = cli.namespace.clone();
    if no_cluster {
        tighten::app::update::notify(
            &mut state,
            tighten::app::state::NoticeLevel::Warning,
            "No kubeconfig (KUBECONFIG, ~/.kube/config): this is the embedded demo cluster",
        );
    }
    let settings = SessionSettings {
        readonly: cli.readonly,
        audit_file: paths.audit_file(),
        themes_dir: Some(paths.themes_dir()),
        backends: Some(backends),
    };

    let (guard, mut tui) = terminal::TerminalGuard::enter().wrap_err("while setting up the terminal")?;
    let result = runtime::run(&mut tui, state, backend, settings).await;
    guard.leave(tui);
    tracing::info!("stopped");
    result.wrap_err("while running the cockpit")
}

fn fail(message: &str) -> ! {
    eprintln!("tighten: {message}");
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
