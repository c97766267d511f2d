//! # seamless-core
//!
//! Seamless single sign-on for web applications, in the manner of Microsoft Entra
//! Seamless SSO: a browser on a domain-joined machine presents a Kerberos service
//! ticket, the library validates it with the service account's key, and the
//! application signs the user in without a password.
//!
//! This crate holds the pure-Rust Kerberos acceptor ([`kerberos`]), the pluggable
//! backends ([`backends`]), the sign-in state machine ([`flow`]) and the
//! [`Engine`] that drives it, token issuance ([`token`], [`grants`]) and the
//! framework-neutral HTTP surface, [`Provider`]. The framework adapters
//! (`seamless-axum`, `seamless-actix`, `seamless-rocket`) only convert types.
//!
//! ```
//! use std::time::SystemTime;
//! use seamless_core::kerberos::{Acceptor, KeyRing};
//!
//! let acceptor = Acceptor::default();
//! let ring = KeyRing::default();
//! // A header value `Negotiate <token>` from the browser:
//! let outcome = acceptor.validate(b"not base64!", &ring, SystemTime::now());
//! assert_eq!(outcome.unwrap_err().code(), 81009);
//! ```

// Layers, lowest first; a module imports only from its own layer or below
// (checked by `tests/layering.rs`, drawn in ARCHITECTURE.md):
// kerberos, clock, error, seal, fs, native → model → flow, backends, token,
// grants → engine → http → config, testkit.
pub mod backends;
pub mod clock;
pub mod config;
pub mod engine;
pub mod error;
pub mod flow;
pub mod fs;
pub mod grants;
pub mod http;
pub mod kerberos;
mod metrics;
pub mod model;
pub mod native;
pub mod seal;
pub mod token;

pub use engine::{Durability, Engine, EngineBuilder, EngineConfig, Step, View};
pub use error::{BackendError, BuildError, Code};
pub use http::{Caller, Client, Identity, Provider, ProviderBuilder, WebConfig};
pub use model::{Audience, Completion, SignInRequest, User};

#[cfg(feature = "testkit")]
pub mod testkit;

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
