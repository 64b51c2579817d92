//! A deterministic cockpit on the demo cluster for tests: fixed clock, seeded
//! flows, effects run by the real effect runner and mutation guard.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyEvent, KeyEventKind, KeyEventState};
use jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use tighten::app::modal::Modal;
use tighten::app::state::AppConfig;
use tighten::app::{Effect, Msg, State, update};
use tighten::cluster::demo::{self, DemoCluster};
use tighten::cluster::{AuditLog, Cluster, ClusterEvent, ConnectionState, Mutator};
use tighten::config::{KeyChord, Keymap, Settings, Theme};
use tighten::flows::{FlowEvent, FlowStreamState};
use tighten::policy::Templates;
use tighten::rollout::Phase;
use tighten::runtime::effects::EffectRunner;

/// The harness's clock: every test sees the same minute.
pub fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().expect("valid time")
}

pub struct Cockpit {
    pub state: State,
    pub demo: DemoCluster,
    pub dir: tempfile::TempDir,
    runner: EffectRunner,
    rx: mpsc::Receiver<Msg>,
}

pub struct Options {
    pub readonly: bool,
    pub theme: &'static str,
    pub size: (u16, u16),
    /// Configuration as `config::load` produced it, instead of the defaults.
    pub loaded: Option<tighten::config::LoadedConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            readonly: false,
            theme: "dark",
            size: (120, 40),
            loaded: None,
        }
    }
}

impl Cockpit {
    pub fn new() -> Cockpit {
        Cockpit::with(Options::default())
    }

    pub fn with(options: Options) -> Cockpit {
        let dir = tempfile::tempdir().expect("tempdir");
        let backup_dir = dir.path().join("backups").join(demo::CONTEXT);
        let demo = DemoCluster::new(now(), &backup_dir);
        let (keymap, theme, settings, diagnostics) = match options.loaded {
            Some(loaded) => (loaded.keymap, loaded.theme, loaded.settings, loaded.diagnostics),
            None => {
                let mut diagnostics = Vec::new();
                let theme = Theme::load(options.theme, None, &mut diagnostics);
                assert!(diagnostics.is_empty(), "{diagnostics:?}");
                (Keymap::embedded_default(), theme, Settings::default(), diagnostics)
            }
        };
        let config = AppConfig {
            keymap,
            theme,
            settings: settings.for_context(demo::CONTEXT),
            templates: Templates::embedded(),
            readonly: options.readonly,
            backup_dir: backup_dir.clone(),
        };
        let state = State::new(config, demo.identity(), diagnostics, now());
        let cluster: Arc<dyn Cluster> = Arc::new(demo.clone());
        let mutator = Mutator::new(cluster, options.readonly, AuditLog::new(dir.path().join("audit.jsonl")));
        let (tx, rx) = mpsc::channel(64);
        let runner = EffectRunner {
            cluster: Arc::new(demo.clone()),
            mutator,
            tx,
            flow_scope: tokio::sync::watch::channel(tighten::flows::FlowScope::All).0,
            prometheus: None,
            backup_dir,
            themes_dir: None,
            switching: None,
            ledger: None,
            worktrees_dir: dir.path().join("worktrees"),
            drafts: Default::default(),
        };
        let mut cockpit = Cockpit {
            state,
            demo,
            dir,
            runner,
            rx,
        };
        let flows = cockpit
            .demo
            .flows_between(now() - SignedDuration::from_mins(10), now(), 42);
        for msg in [
            Msg::Resize(options.size.0, options.size.1),
            Msg::Cluster(ClusterEvent::Connection(ConnectionState::Connected)),
            Msg::Cluster(ClusterEvent::Snapshot(cockpit.demo.snapshot())),
            Msg::Flows(FlowEvent::State(FlowStreamState::Connected {
                source: "demo traffic".into(),
            })),
            Msg::Flows(FlowEvent::Batch(flows)),
            Msg::BackupDirChecked(Ok(())),
            Msg::Tick(now()),
        ] {
            let effects = update(&mut cockpit.state, msg);
            assert!(effects.is_empty());
        }
        cockpit
    }

    /// Sends one key, given as a keymap chord ("E", "ctrl-d", "tab", "enter").
    pub fn key(&mut self, chord: &str) -> Vec<Effect> {
        let chord: KeyChord = chord.parse().expect("valid key");
        let event = KeyEvent {
            code: chord.code,
            modifiers: chord.modifiers,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        };
        update(&mut self.state, Msg::Key(event))
    }

    /// Types text character by character.
    pub fn type_text(&mut self, text: &str) -> Vec<Effect> {
        text.chars()
            .flat_map(|c| {
                let name = if c == ' ' { "space".to_string() } else { c.to_string() };
                self.key(&name)
            })
            .collect()
    }

    /// Runs effects through the real runner until every answer has been handled,
    /// then delivers the cluster's new snapshot as its watch would.
    pub async fn settle(&mut self, effects: Vec<Effect>) {
        let mut outstanding = 0;
        for effect in effects {
            self.runner.run(effect);
            outstanding += 1;
        }
        while outstanding > 0 {
            let mut msg = tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
                .await
                .expect("an effect answered in time")
                .expect("runner alive");
            // A break-glass's revert note follows its Executed, unasked.
            if !matches!(msg, Msg::Reverted(_)) {
                outstanding -= 1;
            }
            if let Msg::Executed { record, .. } = &mut msg {
                // The audit record carries the wall clock; the harness owns time.
                record.time = now();
            }
            for effect in update(&mut self.state, msg) {
                self.runner.run(effect);
                outstanding += 1;
            }
        }
        update(
            &mut self.state,
            Msg::Cluster(ClusterEvent::Snapshot(self.demo.snapshot())),
        );
    }

    /// Sends a key and settles what it asked for.
    pub async fn press(&mut self, chord: &str) {
        let effects = self.key(chord);
        self.settle(effects).await;
    }

    pub fn select(&mut self, namespace: &str) {
        let effects = self.type_command(&format!("ns {namespace}"));
        assert!(effects.is_empty(), "selecting a namespace asked for {effects:?}");
        self.key("esc"); // back to the table, selection kept
        assert_eq!(self.state.table.selected.as_deref(), Some(namespace));
    }

    pub fn type_command(&mut self, command: &str) -> Vec<Effect> {
        let mut effects = self.key(":");
        effects.extend(self.type_text(command));
        effects.extend(self.key("enter"));
        effects
    }

    pub fn row(&self, namespace: &str) -> &tighten::app::rows::NamespaceRow {
        self.state.row(namespace).expect("row")
    }

    pub fn phase(&self, namespace: &str) -> Phase {
        self.row(namespace).status.phase
    }

    pub fn top_modal(&self) -> Option<&Modal> {
        self.state.modals.last()
    }

    /// The screen as text.
    pub fn render(&self) -> String {
        let (w, h) = self.state.viewport;
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal
            .draw(|frame| tighten::ui::render(frame, &self.state))
            .expect("draw");
        let buffer = terminal.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            let mut line = String::new();
            for x in 0..buffer.area.width {
                line.push_str(buffer[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The rendered buffer, for style assertions.
    pub fn buffer(&self) -> ratatui::buffer::Buffer {
        let (w, h) = self.state.viewport;
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal
            .draw(|frame| tighten::ui::render(frame, &self.state))
            .expect("draw");
        terminal.backend().buffer().clone()
    }

    /// The temp dir path, to filter out of snapshots.
    pub fn dir_path(&self) -> String {
        self.dir.path().display().to_string()
    }
}
