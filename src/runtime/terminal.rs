//! Entering and leaving the terminal's raw, alternate-screen mode. The terminal
//! is restored on every exit path: normal return, error, panic, signal.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether raw mode is on, so restore is idempotent (drop guard and panic hook
/// may both run).
static ACTIVE: AtomicBool = AtomicBool::new(false);

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal mode when dropped (on every path, panics included).
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Raw mode and the alternate screen, and the terminal to draw on.
    pub fn enter() -> io::Result<(TerminalGuard, Tui)> {
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard(());
        let mut stdout = io::stdout();
        execute!(stdout, EnterAlternateScreen)?;
        let mut terminal = Terminal::new(CrosstermBackend::new(stdout))?;
        terminal.hide_cursor()?;
        terminal.clear()?;
        Ok((guard, terminal))
    }

    /// Restores the terminal and shows the cursor. When the terminal is gone
    /// (closed window, SIGHUP) the cursor cannot be shown, and ratatui's own
    /// drop would then report that on a stderr that is gone too, which
    /// panics: the terminal is forgotten instead, as the process is ending.
    pub fn leave(self, mut terminal: Tui) {
        restore();
        if terminal.show_cursor().is_err() {
            std::mem::forget(terminal);
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen, once.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

/// Installs color-eyre's hooks with a panic hook that restores the terminal
/// before the report is printed, so a panic never leaves a broken shell.
pub fn install_hooks() -> color_eyre::Result<()> {
    let mut builder = color_eyre::config::HookBuilder::default().display_env_section(false);
    // Colour codes only for a person at a terminal, not in a log or a pipe.
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        builder = builder.theme(color_eyre::config::Theme::new());
    }
    let (panic_hook, eyre_hook) = builder.into_hooks();
    eyre_hook.install()?;
    let panic_hook = panic_hook.into_panic_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!(%info, %backtrace, "panic");
        panic_hook(info);
    }));
    Ok(())
}
