//! What the benchmarks share: the harness's clock and a cockpit on the demo
//! cluster with ten minutes of its traffic.

use jiff::{SignedDuration, Timestamp};

use tighten::app::state::AppConfig;
use tighten::app::{Msg, State, update};
use tighten::cluster::demo::DemoCluster;
use tighten::cluster::{Cluster, ClusterEvent};
use tighten::config::{Keymap, Settings, Theme};
use tighten::flows::FlowEvent;
use tighten::policy::Templates;

pub fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().expect("valid time")
}

pub fn cockpit(dir: &std::path::Path) -> (State, DemoCluster) {
    let demo = DemoCluster::new(now(), dir);
    let config = AppConfig {
        keymap: Keymap::embedded_default(),
        theme: Theme::load("dark", None, &mut Vec::new()),
        settings: Settings::default().for_context("demo"),
        templates: Templates::embedded(),
        readonly: false,
        backup_dir: dir.to_path_buf(),
    };
    let mut state = State::new(config, demo.identity(), Vec::new(), now());
    let flows = demo.flows_between(now() - SignedDuration::from_mins(10), now(), 42);
    update(&mut state, Msg::Cluster(ClusterEvent::Snapshot(demo.snapshot())));
    update(&mut state, Msg::Flows(FlowEvent::Batch(flows)));
    update(&mut state, Msg::Tick(now()));
    (state, demo)
}
