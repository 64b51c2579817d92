//! The application core (The Elm Architecture): [`State`], [`Msg`], [`Effect`] and
//! the pure [`update()`](fn@update). Nothing here does I/O.
pub mod action;
pub mod effect;
pub mod modal;
pub mod msg;
pub mod review;
pub mod rows;
pub mod state;
pub mod text_input;
pub mod update;

pub use action::Action;
pub use effect::Effect;
pub use msg::{ContextSwitch, Msg};
pub use state::State;
pub use update::update;
