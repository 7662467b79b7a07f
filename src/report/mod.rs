//! What users read: the terminal comparison (`terminal.rs`).

pub mod terminal;
