//! `SignedIn` and `MaybeSignedIn` (axum extractors).

use axum_core::extract::FromRequestParts;
use axum_core::response::IntoResponse;
use http::request::Parts;
use seamless_core::http::{Caller, Identity, Response, missing_middleware};

/// The signed-in user. Without one, the request is answered with the core's
/// response: a redirect to sign in (browsers) or `401` (API clients).
#[derive(Debug, Clone)]
pub struct SignedIn(pub Identity);

/// The signed-in user, if any.
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<Identity>);

/// Why an extractor refused: the core's response.
#[derive(Debug)]
pub struct Rejection(pub Box<Response>);

impl IntoResponse for Rejection {
    fn into_response(self) -> axum_core::response::Response {
        self.0.map(axum_core::body::Body::from)
    }
}

fn caller(parts: &Parts) -> Result<&Caller, Rejection> {
    parts
        .extensions
        .get::<Caller>()
        .ok_or_else(|| Rejection(Box::new(missing_middleware())))
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        let caller = caller(parts)?;
        caller.require(parts).map(SignedIn).map_err(Rejection)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeSignedIn {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        Ok(MaybeSignedIn(caller(parts)?.identity().cloned()))
    }
}
