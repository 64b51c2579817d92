//! Data handed to another thread or task by reference (the preview's
//! engine, a snapshot), compared by identity so effects stay comparable.

/// Shared data handed to another thread (the preview's engine, a
/// snapshot): compared by identity, printed by name.
pub struct Shared<T>(pub std::sync::Arc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(std::sync::Arc::clone(&self.0))
    }
}
