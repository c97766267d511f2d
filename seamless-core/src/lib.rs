//! # seamless-core
//!
//! Seamless single sign-on for web applications, in the manner of Microsoft Entra
//! Seamless SSO: a browser on a domain-joined machine presents a Kerberos service
//! ticket, the library validates it with the service account's key, and the
//! application signs the user in without a password.
//!
//! This crate holds the pure-Rust Kerberos acceptor ([`kerberos`]) and the key
//! stores ([`backends`]). The sign-in state machine, token issuance and the HTTP
//! surface build on it; the framework adapters (`seamless-axum`, `seamless-actix`,
//! `seamless-rocket`) only convert types.
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
pub mod native;
pub mod token;

#[cfg(feature = "testkit")]
pub mod testkit;
