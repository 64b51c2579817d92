//! (ui, being written)
