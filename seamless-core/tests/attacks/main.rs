//! Attack tests: one named test per guarantee in SECURITY.md. Each was seen failing
//! on the code before its fix (the fix's commit says which), and each asserts the
//! refusal and its code, not only that nothing panicked.

#[path = "../common/mod.rs"]
mod common;

mod config;
mod limits;
mod policy;
mod refresh;
mod replay;
mod settings;
mod tokens;
