//! The application core: state, messages, effects and the pure `update`.
pub mod action;
