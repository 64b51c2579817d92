//! Policy knowledge that does not depend on the terminal: label selectors and the
//! baseline templates.
pub mod model;
pub mod selector;
pub mod templates;

pub use selector::LabelSelector;
pub use templates::{TemplateVars, Templates};
