//! Seamless single sign-on for axum and any tower/hyper stack.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use seamless_axum::{SeamlessLayer, SignedIn};
//!
//! async fn me(SignedIn(user): SignedIn) -> String {
//!     format!("hello {}", user.claims.upn)
//! }
//!
//! # fn app(provider: seamless_core::Provider) -> Router {
//! Router::new().route("/me", get(me)).layer(SeamlessLayer::new(provider))
//! # }
//! ```
//!
//! The layer answers the sign-in paths itself and tells every other request who
//! is calling; the extractors read that. All decisions are the core's.
//!
//! With the `serve` feature, `seamless_axum::serve` serves an app as
//! `axum::serve` does, with a timeout on slow and silent clients, which
//! `axum::serve` lacks.

mod extract;
mod middleware;
#[cfg(feature = "serve")]
pub mod serve;

pub use extract::{MaybeSignedIn, Rejection, SignedIn};
pub use middleware::{Seamless, SeamlessLayer};
pub use seamless_core as core;
