//! (app runtime, being written)
