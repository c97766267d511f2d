//! One conformance suite for every adapter.
//!
//! An adapter implements [`Harness`] with its framework's in-process client and
//! serves the small [app](#the-app) below; `conformance_tests!` then expands to
//! one `#[test]` per case. Cases are defined inside one `cases!` invocation (in
//! [`cases`]), which also writes
//! the list `conformance_tests!` expands: a case cannot exist without running
//! for every adapter.
//!
//! Every test gets a fresh [`Fixture`]: a hand-set clock, seeded randomness,
//! test-KDC tickets and memory backends, so the same requests produce the same
//! responses through every adapter and assertions are exact.
//!
//! # The app
//!
//! With the Seamless middleware, at the root:
//! - `GET /` → `200` `home` (public);
//! - `GET /me` and `GET /api/me` → `SignedIn` → `200` [`identity_body`];
//! - `GET /maybe` → `MaybeSignedIn` → `200` [`identity_body`] or `anonymous`;
//! - `GET /denied` → the application's own `401` with body [`APP_DENIED`] (in
//!   rocket through a 401 catcher the application registers: the fairing must
//!   neither collide with it nor replace its answer).
//!
//! Without the middleware ([`Harness::send_unguarded`]): `GET /me` → `SignedIn`.

pub mod cases;
pub mod client;
pub mod fixture;

pub use client::{Client, PlainRequest, PlainResponse};
pub use fixture::Fixture;

use seamless_core::http::Identity;

/// An adapter under test: its framework's in-process client around the app.
pub trait Harness {
    /// Sends one request to the app with the middleware.
    fn send(&mut self, request: PlainRequest) -> PlainResponse;
    /// Sends one request to the same routes without the middleware; `Err` says
    /// why the framework refused to start such an app at all (rocket's sentinels).
    fn send_unguarded(&mut self, request: PlainRequest) -> Result<PlainResponse, String>;
}

/// The body the app's `/me` answers: the same bytes in every adapter.
pub fn identity_body(identity: &Identity) -> String {
    serde_json::json!({
        "sub": identity.claims.sub,
        "upn": identity.claims.upn,
        "name": identity.claims.name,
        "onprem_sid": identity.claims.onprem_sid,
        "groups": identity.claims.groups,
        "amr": identity.claims.amr,
        "expires_at": identity.expires_at,
    })
    .to_string()
}

/// The body `/maybe` answers for nobody.
pub const ANONYMOUS: &str = "anonymous";
/// The body `/` answers.
pub const HOME: &str = "home";
/// The body of the application's own `401` at `/denied`.
pub const APP_DENIED: &str = "the application says no";
