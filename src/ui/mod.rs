//! Pure rendering: `render(&State, &mut Frame)`. No clients, no clocks, no I/O;
//! everything drawn is read from the state, and colours come from theme roles.

mod detail;
mod dialog;
mod format;
mod header;
mod help;
mod status;
mod table;
pub mod tabs;
mod viewer;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;

use crate::app::State;
use crate::app::modal::Modal;
use crate::config::ThemeRole;

/// Draws the whole screen.
pub fn render(frame: &mut Frame, state: &State) {
    let area = frame.area();
    let [header_area, body, status_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    header::render(frame, header_area, state);

    // The table gets what its rows need, up to a little under half the body, so
    // the detail of the selected namespace stays in view.
    let wanted = state.table.visible.len() as u16 + 3;
    let cap = (body.height * 9 / 20).max(6);
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Length(wanted.clamp(5, cap)), Constraint::Min(0)]).areas(body);
    table::render(frame, table_area, state);
    detail::render(frame, detail_area, state);
    status::render(frame, status_area, state);

    for modal in &state.modals {
        match modal {
            Modal::Help { scroll } => help::render(frame, area, state, *scroll),
            Modal::Yaml { title, text, scroll } => viewer::render(frame, area, state, title, text, *scroll),
            other => dialog::render(frame, area, state, other),
        }
    }
}

/// The style of a semantic role in the active theme.
fn style(state: &State, role: ThemeRole) -> Style {
    state.config.theme.style(role)
}

/// A one-line note in place of an empty table's first row: two lines below the
/// table's top (title, header), `inset` columns in from each side.
fn empty_note(frame: &mut Frame, area: Rect, inset: u16, line: ratatui::text::Line<'_>) {
    let row = Rect {
        x: area.x + inset,
        y: area.y + 2,
        width: area.width.saturating_sub(2 * inset),
        height: 1,
    };
    frame.render_widget(line, row.intersection(area));
}

/// A rectangle of `percent_x` by `percent_y` of `area`, centred, at least
/// `min_w` by `min_h` where the screen allows.
fn centered(area: Rect, percent_x: u16, percent_y: u16, min_w: u16, min_h: u16) -> Rect {
    let w = (area.width * percent_x / 100).max(min_w).min(area.width);
    let h = (area.height * percent_y / 100).max(min_h).min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
