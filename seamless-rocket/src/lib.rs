//! Seamless single sign-on for rocket.
//!
//! The adapter is a placeholder until the middleware lands: it re-exports the core
//! so that the workspace layout is final from the first commit.

pub use seamless_core as core;
