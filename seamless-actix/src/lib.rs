//! Seamless single sign-on for actix-web.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use seamless_actix::{Seamless, SignedIn};
//!
//! async fn me(SignedIn(user): SignedIn) -> String {
//!     format!("hello {}", user.claims.upn)
//! }
//!
//! # async fn serve(provider: seamless_core::Provider) -> std::io::Result<()> {
//! HttpServer::new(move || App::new().wrap(Seamless::new(provider.clone())).route("/me", web::get().to(me)))
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! # }
//! ```
//!
//! The middleware answers the sign-in paths itself and tells every other request
//! who is calling; the extractors read that. All decisions are the core's.

mod convert;
mod extract;
mod middleware;

pub use extract::{MaybeSignedIn, Rejection, SignedIn};
pub use middleware::{Seamless, SeamlessMiddleware};
pub use seamless_core as core;
