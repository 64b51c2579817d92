//! Command-line flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use tighten::commands::Output;

/// A terminal cockpit for rolling Cilium network policies out namespace by
/// namespace, and for pulling the brake fast.
///
/// Without a subcommand, opens the cockpit on the current kubeconfig context
/// (or the embedded demo cluster with --demo).
#[derive(Debug, Parser)]
#[command(name = "tighten", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(flatten)]
    pub cockpit: CockpitArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands: the cluster commands (`status`, the rollout steps, `export`,
/// `promote`) and the offline ones, which read files.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Each namespace's phase and go/no-go gate, as the cockpit's Gate tab shows it.
    ///
    /// Reads the cluster, the last 10 minutes of Hubble's flows and Prometheus (when
    /// configured or found), once. Namespaces whose gate is open are listed with their open
    /// items; with --namespace, every item of the checklist is shown.
    ///
    /// Exit status: 0 when every gate shown is go or done, 1 when one is open or waiting,
    /// 2 on bad input (an unknown namespace, a broken config), 3 when the cluster cannot be read.
    Status {
        #[command(flatten)]
        connect: Box<ConnectArgs>,
        /// Only this namespace, with its whole checklist. Repeatable.
        #[arg(short = 'n', long = "namespace", value_name = "NAME")]
        namespaces: Vec<String>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = tighten::commands::status::Format::Table)]
        output: tighten::commands::status::Format,
    },
    /// Apply the golden baseline allows (DNS, kube-apiserver, intra-namespace,
    /// monitoring scrape, host probes) to a namespace.
    #[command(after_long_help = ACT_HELP)]
    Baseline(StepArgs),
    /// Stage the default-deny (Audit: present, enforcing nothing); on an enforced
    /// namespace, step back to Audit.
    #[command(after_long_help = ACT_HELP)]
    Stage(StepArgs),
    /// Enforce the staged default-deny. A gate that is not go stops it unless
    /// --override REASON is given.
    #[command(after_long_help = ACT_HELP)]
    Enforce(StepArgs),
    /// Break-glass: remove every CiliumNetworkPolicy and NetworkPolicy of the namespace
    /// (with --partial, only the default-deny). A backup is written first.
    #[command(after_long_help = ACT_HELP)]
    Rollback {
        /// Remove only the default-deny; the baseline and app allows stay.
        #[arg(long)]
        partial: bool,
        /// Do not suspend the Flux Kustomization (or turn off the Argo CD auto-sync) that
        /// applies the deleted policies: it will re-apply them.
        #[arg(long)]
        no_suspend: bool,
        // After the flags above, so that they stay under Options in --help.
        #[command(flatten)]
        step: StepArgs,
    },
    /// Adopt a rollout tighten did not start: record intent (namespace annotations) for the
    /// phase the namespace's policies show, whoever wrote them, so the gate, the soak clock
    /// and the definition of done work from then on.
    #[command(after_long_help = ACT_HELP)]
    Adopt {
        /// Also label the team's policies with the role tighten read (tighten.dev/role);
        /// Git owns them, so its next reconcile may take the labels away.
        #[arg(long)]
        label_policies: bool,
        #[command(flatten)]
        step: StepArgs,
    },
    /// Resume the Flux Kustomizations and Argo CD Applications a rollback of the namespace
    /// paused.
    #[command(after_long_help = ACT_HELP)]
    Resume(StepArgs),
    /// Copy a namespace's app allows to another namespace, rewritten for it (selectors that
    /// named FROM name TO; peers elsewhere stay), through the same dry run and confirm step.
    #[command(after_long_help = ACT_HELP)]
    Promote {
        /// The namespace whose app allows are copied.
        from: String,
        /// The namespace they are copied to.
        to: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        connect: Box<ConnectArgs>,
    },
    /// Write the namespace's policy set as a kustomize layout (baselines/, overlays/NS/)
    /// into a directory, for review in a pull request.
    ///
    /// `kubectl kustomize DIR/overlays/NS` builds it. Exit status: 0 written, 2 bad input
    /// (unknown namespace, an existing overlay without --force, a directory that cannot be
    /// written), 3 the cluster cannot be read.
    Export {
        /// The namespace.
        namespace: String,
        /// The directory (created if needed).
        dir: PathBuf,
        /// Replace an existing overlays/NAMESPACE.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        connect: Box<ConnectArgs>,
    },
    /// Put back the policies a backup file holds, in the namespace they came from.
    #[command(after_long_help = ACT_HELP)]
    Restore {
        /// A backup written by a rollback (its path is in the audit log and on the namespace).
        backup: PathBuf,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        connect: Box<ConnectArgs>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// tighten completions bash > /etc/bash_completion.d/tighten
    /// tighten completions zsh > "${fpath[1]}/_tighten"
    /// tighten completions fish > ~/.config/fish/completions/tighten.fish
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Decide recorded flows against policy files, as Cilium would.
    ///
    /// Exit status: 0 when nothing is dropped, 1 when something is, 2 on bad input.
    #[command(group = policy_source())]
    Simulate {
        #[command(flatten)]
        policies: PolicyArgs,
        /// The namespace of policies whose file names none and that no kustomization places
        /// [default: default].
        #[arg(short = 'n', long, value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// Flows as `hubble observe -o jsonpb` or `-o json` writes them, one per line.
        #[arg(long, value_name = "FILE")]
        flows: PathBuf,
        /// Treat the staged default-deny of this namespace as enforced (the would-drop preview):
        /// tighten's, or any CiliumNetworkPolicy shaped as one (`endpointSelector: {}`, rules that
        /// allow nothing such as `ingress: [{}]` or `ingressDeny: [{}]`), whoever wrote it and
        /// whatever it is called. Repeatable.
        #[arg(long, value_name = "NAMESPACE")]
        enforce: Vec<String>,
        /// Output format: a table, or one JSON line per flow.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Find the rollout traps in policy files, each with a fix.
    ///
    /// Exit status: 0 without error findings, 1 with, 2 on bad input.
    #[command(group = policy_source())]
    Lint {
        #[command(flatten)]
        policies: PolicyArgs,
        /// The namespace of policies whose file names none and that no kustomization places
        /// [default: default].
        #[arg(short = 'n', long, value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// `kubectl get ns,pods,svc -A -o yaml` output (add `ciliumloadbalancerippools` where Cilium
        /// hands out LoadBalancer addresses), for the checks that need pods and Services.
        #[arg(long, value_name = "FILE")]
        cluster: Option<PathBuf>,
        /// Output format: a table, or one JSON line per finding.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Serve a Hubble recording over the observer API (as Hubble Relay would).
    ///
    /// Clients (the hubble CLI, tighten) connect with --server ADDRESS. Flows play at
    /// their recorded pace times --speed; `follow` streams them as they come.
    Replay {
        /// Flows as `hubble observe -o jsonpb` or `-o json` writes them.
        file: PathBuf,
        /// Address to listen on (port 0 picks a free one; the first line printed says which).
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4245")]
        listen: String,
        /// Playback speed: 2 plays twice as fast.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Start over at the end, with the times shifted.
        #[arg(long = "loop")]
        looping: bool,
        /// Give each flow the time it is played at (at any --speed): an old incident then
        /// fills the cockpit's 1m/5m/1h windows, which end at the wall clock.
        #[arg(long)]
        rebase: bool,
    },
    /// Propose minimal allow rules (CiliumNetworkPolicy YAML) for what a namespace drops.
    ///
    /// With --policies, for the flows that would be dropped once the namespace's
    /// default-deny is enforced; without, for the drops in the recording.
    Suggest {
        /// Flows as `hubble observe -o jsonpb` or `-o json` writes them.
        #[arg(long, value_name = "FILE")]
        flows: PathBuf,
        /// The namespace to write allow rules for; also the namespace of policies whose file
        /// names none and that no kustomization places.
        #[arg(long, short = 'n', value_name = "NAMESPACE")]
        namespace: String,
        /// The namespace's current policies.
        #[command(flatten)]
        policies: PolicyArgs,
    },
    /// Record every connection Hubble shows into the ledger, headless, for days.
    ///
    /// The gate and the preview then weigh the whole soak, not the minutes the cockpit
    /// streamed. Reconnects with backoff; a restart resumes without counting a flow twice.
    /// Prints a line per hour; SIGINT or SIGTERM writes what is pending and ends.
    Observe {
        #[command(flatten)]
        ledger: LedgerArgs,
        /// How often counted flows are written to the ledger.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
        flush_every: std::time::Duration,
        /// How often a line says what was recorded.
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration)]
        report_every: std::time::Duration,
        /// Forget connections last seen longer ago than this.
        #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = duration)]
        retention: std::time::Duration,
        #[command(flatten)]
        connect: Box<ConnectArgs>,
    },
    /// The connection ledger: backfill it from recordings, or list what it holds.
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
}

/// `tighten ledger` subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Add the flows of recordings: `hubble observe -o jsonpb` or `-o json`, or the JSON lines
    /// Cilium's hubble-exporter writes. Each file's span (first to last flow) counts as observed.
    /// With --prometheus, also the workload pairs Hubble's flow metrics show over --since
    /// (coarser: no exact time, ports from hubble_port_distribution_total).
    Import {
        /// The recordings.
        #[arg(required_unless_present = "prometheus", value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Prometheus with Hubble's flow metrics labelled by workload
        /// (hubble_flows_processed_total with source_workload/destination_workload).
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
        /// How far back Prometheus is asked.
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = duration)]
        since: std::time::Duration,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// The would-drop preview over the ledger: every connection seen with an end in the
    /// namespace, judged against policy files as if its default-deny were enforced.
    ///
    /// Exit status: 0 when nothing would be dropped, 1 when something would, 2 on bad input.
    #[command(group = policy_source())]
    Preview {
        /// The namespace whose default-deny would be enforced.
        #[arg(short = 'n', long, value_name = "NAMESPACE")]
        namespace: String,
        #[command(flatten)]
        policies: PolicyArgs,
        /// Only connections seen in this last stretch (such as the soak: 24h).
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        since: Option<std::time::Duration>,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// List the connections seen (of a namespace), with first and last seen, counts and
    /// verdicts, and what part of the window was observed.
    Show {
        /// Only connections with an end in this namespace.
        #[arg(short = 'n', long, value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// Only connections seen in this last stretch (such as 24h, 7d).
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        since: Option<std::time::Duration>,
        /// One JSON line per connection.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
}

/// Which ledger a command uses.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// The ledger file (default: <data dir>/ledger/CONTEXT.sqlite for the context).
    #[arg(long, value_name = "FILE", env = "TIGHTEN_LEDGER")]
    pub ledger: Option<PathBuf>,
}

fn duration(text: &str) -> Result<std::time::Duration, String> {
    tighten::config::parse_duration(text)
}

/// Where `simulate`, `lint` and `suggest` read policies: files, directories and
/// kustomize builds, with Flux's post-build variables.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Policy files or directories (*.yaml, *.yml, *.json; multi-document files and kind: List
    /// allowed; other kinds are skipped). A policy's namespace is the one set by a
    /// kustomization.yaml above it that includes it (as kustomize sets it), else its own, else
    /// --namespace's.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// A directory to build with `kubectl kustomize` and read. Repeatable.
    #[arg(short = 'k', long, value_name = "DIR")]
    pub kustomize: Vec<PathBuf>,
    /// A Flux post-build variable, for ${KEY} in the files (as postBuild.substitute gives it).
    /// Repeatable.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

impl PolicyArgs {
    /// The sources these flags name; `namespace` places policies that name none.
    pub fn sources(self, namespace: Option<String>) -> tighten::policy::load::Sources {
        tighten::policy::load::Sources {
            paths: self.policies,
            kustomize: self.kustomize,
            vars: self.vars.into_iter().collect(),
            namespace,
        }
    }
}

/// `simulate` and `lint` need policies: from files, a kustomize build, or both.
fn policy_source() -> clap::ArgGroup {
    clap::ArgGroup::new("policy_source")
        .args(["policies", "kustomize"])
        .required(true)
        .multiple(true)
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    if !tighten::policy::load::valid_var_name(key) {
        return Err(format!(
            "{key:?} is not a variable name Flux accepts (letters, digits and _, not starting with a digit)"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// How the mutating commands behave, and their exit codes.
const ACT_HELP: &str = "\
Runs the server-side dry run, prints what will change, the diff and the gate, then asks.
Deleting, or acting on a protected namespace, asks for the namespace name to be typed.

Exit status:
  0  done (or --dry-run printed; or nothing to change)
  1  not confirmed at the prompt: nothing was changed
  2  bad input (unknown namespace, unreadable backup or kubeconfig, --override too short)
  3  the cluster cannot be read
  4  refused: --readonly, RBAC, the namespace's phase, or a protected namespace with --yes
     but without --force-protected
  5  the gate is not go, and no --override REASON
  6  the server refused the dry run or the change: nothing was changed (a change that
     failed part-way was undone)";

/// A rollout step's arguments: the namespace, the confirm step, the cluster.
#[derive(Debug, Args)]
pub struct StepArgs {
    /// The namespace.
    pub namespace: String,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub connect: Box<ConnectArgs>,
}

/// The confirm step of the mutating commands.
#[derive(Debug, Args)]
#[command(next_help_heading = "Confirm")]
pub struct ConfirmArgs {
    /// Do not ask; act once the dry run is accepted (and the gate is go or overridden).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Stop after printing the dry run, the diff and the gate.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Act past a gate that is not go; the reason (10+ characters) goes into the audit record.
    #[arg(long = "override", value_name = "REASON")]
    pub override_reason: Option<String>,
    /// With --yes, act on a protected namespace without typing its name.
    #[arg(long, requires = "yes")]
    pub force_protected: bool,
    /// Refuse every change (the dry run still runs).
    #[arg(long)]
    pub readonly: bool,
    /// The checkout of the repository Flux or Argo CD read (else `repo` of the
    /// context): a forward step on a namespace they own becomes a commit on a
    /// branch there.
    #[arg(long, value_name = "PATH", env = "TIGHTEN_REPO")]
    pub repo: Option<std::path::PathBuf>,
    /// Push the step's branch to the repository's remote after committing.
    #[arg(long)]
    pub push: bool,
    /// Write a forward step on a GitOps-owned namespace into the cluster
    /// anyway (its reconciler may put back what Git says).
    #[arg(long)]
    pub direct: bool,
}

impl ConfirmArgs {
    /// The confirm step; `pause_owners` is false only for `rollback --no-suspend`.
    pub fn confirm(&self, pause_owners: bool) -> tighten::commands::act::Confirm {
        tighten::commands::act::Confirm {
            pause_owners,
            yes: self.yes,
            dry_run: self.dry_run,
            override_reason: self.override_reason.clone(),
            force_protected: self.force_protected,
            repo: self.repo.clone(),
            push: self.push,
            direct: self.direct,
        }
    }
}

/// The cockpit's flags.
#[derive(Debug, Args)]
pub struct CockpitArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Refuse every change to the cluster; mutating keys are shown disabled.
    #[arg(long)]
    pub readonly: bool,

    /// Colour theme (dark, light, mono, production, or a file in <config dir>/themes).
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,

    /// Open on this namespace.
    #[arg(short = 'n', long, value_name = "NAME")]
    pub namespace: Option<String>,
}

/// Which cluster, and where its evidence comes from: the cockpit's and the
/// cluster commands' shared flags.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster")]
pub struct ConnectArgs {
    /// Use the embedded demo cluster (no Kubernetes needed).
    #[arg(long)]
    pub demo: bool,

    /// Use this config file instead of <config dir>/config.toml (must exist and parse).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Kubeconfig file (default: $KUBECONFIG, which may list several files, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the current one.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Prometheus for the gate's evidence (drops, lost events, map pressure), for every
    /// context; else the context's `prometheus` in config.toml; else a Prometheus Service
    /// found in the cluster, asked through the API server.
    #[arg(long, value_name = "URL", env = "TIGHTEN_PROMETHEUS")]
    pub prometheus: Option<String>,

    #[command(flatten)]
    pub hubble: HubbleArgs,
}

impl ConnectArgs {
    /// The kubeconfig and context these flags name.
    pub fn options(&self) -> tighten::cluster::live::ConnectOptions {
        tighten::cluster::live::ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// Where flows come from, and where they are recorded.
#[derive(Debug, Args)]
#[command(next_help_heading = "Hubble")]
pub struct HubbleArgs {
    /// Hubble Relay (or `tighten replay`) at HOST:PORT. Default: a port-forward through the
    /// API server to the hubble-relay Service; the demo serves its own traffic.
    #[arg(long, value_name = "HOST:PORT", env = "HUBBLE_SERVER")]
    pub hubble_server: Option<String>,
    /// Namespace of the hubble-relay Service, for the port-forward.
    #[arg(long, value_name = "NAMESPACE", default_value = "kube-system")]
    pub hubble_namespace: String,
    /// Connect with TLS (implied by the other --hubble-tls options).
    #[arg(long)]
    pub hubble_tls: bool,
    /// CA certificates (PEM) to trust for Hubble instead of the public roots.
    #[arg(long, value_name = "FILE")]
    pub hubble_tls_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "hubble_tls_client_key")]
    pub hubble_tls_client_cert: Option<std::path::PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "hubble_tls_client_cert")]
    pub hubble_tls_client_key: Option<std::path::PathBuf>,
    /// Name to expect in Hubble's certificate (e.g. *.hubble-relay.cilium.io).
    #[arg(long, value_name = "NAME")]
    pub hubble_tls_server_name: Option<String>,
    /// Read flows from this recording instead of Hubble (`hubble observe -o jsonpb` or
    /// `-o json` lines), moved in time so that its last flow is now.
    #[arg(long, value_name = "FILE", conflicts_with = "hubble_server")]
    pub flows: Option<std::path::PathBuf>,
    /// Record every flow received, as `hubble observe -o jsonpb` writes them.
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
    /// Rotate the recording when it reaches this many megabytes.
    #[arg(long, value_name = "MB", default_value_t = 100, requires = "record")]
    pub record_max_size: u64,
    /// Rotated recordings kept (FILE.1 … FILE.N).
    #[arg(long, value_name = "N", default_value_t = 5, requires = "record")]
    pub record_keep: usize,
}

impl HubbleArgs {
    /// TLS settings, when any TLS option is given.
    pub fn tls(&self) -> Option<tighten::hubble::client::TlsOptions> {
        let wanted = self.hubble_tls
            || self.hubble_tls_ca.is_some()
            || self.hubble_tls_client_cert.is_some()
            || self.hubble_tls_server_name.is_some();
        wanted.then(|| tighten::hubble::client::TlsOptions {
            ca: self.hubble_tls_ca.clone(),
            client_cert: self.hubble_tls_client_cert.clone(),
            client_key: self.hubble_tls_client_key.clone(),
            server_name: self.hubble_tls_server_name.clone(),
        })
    }
}
