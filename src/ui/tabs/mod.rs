//! The detail tabs, one file each.
pub mod drops;
pub mod flows;
pub mod gate;
pub mod log;
pub mod policies;

use ratatui::style::Style;
use ratatui::widgets::{Block, Borders};

/// The thin frame around a tab's table.
fn section(title: String, border: Style, title_style: Style) -> Block<'static> {
    Block::default()
        .borders(Borders::TOP)
        .border_style(border)
        .title(ratatui::text::Span::styled(title, title_style))
}
