//! Seamless single sign-on for rocket.
//!
//! ```no_run
//! use rocket::get;
//! use seamless_rocket::{Seamless, SignedIn};
//!
//! #[get("/me")]
//! fn me(user: SignedIn) -> String {
//!     format!("hello {}", user.0.claims.upn)
//! }
//!
//! # fn app(provider: seamless_core::Provider) -> rocket::Rocket<rocket::Build> {
//! rocket::build()
//!     .attach(Seamless::fairing(provider))
//!     .mount("/", rocket::routes![me])
//! # }
//! ```
//!
//! Rocket fairings cannot answer a request early, so the fairing mounts the
//! sign-in routes and protection is by request guard, as rocket's guide
//! recommends: [`SignedIn`] refuses with the core's response (the fairing sends
//! it in place of what the catcher for its status made; it registers no
//! catchers of its own), [`MaybeSignedIn`] never refuses. A
//! guard used without the fairing stops the application from launching.

mod convert;
mod extract;
mod fairing;

pub use convert::CoreResponse;
pub use extract::{MaybeSignedIn, Rejection, SignedIn};
pub use fairing::Seamless;
pub use seamless_core as core;
