//! (gate, being written)
