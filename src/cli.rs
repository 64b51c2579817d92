//! Command-line flags.

use std::path::PathBuf;

use clap::Parser;

/// A terminal cockpit for rolling Cilium network policies out namespace by
/// namespace, and for pulling the brake fast.
#[derive(Debug, Parser)]
#[command(name = "tighten", version, about, long_about = None)]
pub struct Cli {
    /// Open the cockpit on the embedded demo cluster (no Kubernetes needed).
    #[arg(long)]
    pub demo: bool,

    /// Refuse every change to the cluster; mutating keys are shown disabled.
    #[arg(long)]
    pub readonly: bool,

    /// Use this config file instead of <config dir>/config.toml (must exist and parse).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Colour theme (dark, light, mono, production, or a file in <config dir>/themes).
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,

    /// Kubeconfig file (default: $KUBECONFIG, which may list several files, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the current one.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Open on this namespace.
    #[arg(short = 'n', long, value_name = "NAME")]
    pub namespace: Option<String>,
}
