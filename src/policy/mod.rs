//! Policy knowledge that does not depend on the terminal: label selectors and the
//! baseline templates.
pub mod engine;
pub mod lint;
pub mod load;
pub mod model;
pub mod parse;
pub mod preview;
pub mod selector;
pub mod shape;
pub mod suggest;
pub mod templates;

pub use selector::LabelSelector;
pub use templates::{TemplateVars, Templates};
