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
//!
//! Rocket's `Shield` stays the application's: its headers go on every response,
//! the sign-in paths' and a guard's refusals included, except where the core
//! sets its own (`X-Frame-Options: DENY` on the sign-in page, for one), which
//! stand in place of Shield's. A `Shield` of your own is attached before this
//! fairing (as `rocket::build()` attaches the default one): attached after it, it
//! runs after it, keeps the core's headers all the same, and logs a warning for
//! each.

mod convert;
mod extract;
mod fairing;

pub use convert::CoreResponse;
pub use extract::{MaybeSignedIn, Rejection, SignedIn};
pub use fairing::Seamless;
pub use seamless_core as core;
