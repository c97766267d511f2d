//! `SignedIn` and `MaybeSignedIn` (actix `FromRequest`).

use std::fmt;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};
use seamless_core::http::{Caller, Identity, Response, missing_middleware};

use crate::convert::{head, response};

/// The signed-in user. Without one, the request is answered with the core's
/// response: a redirect to sign in (browsers) or `401` (API clients).
#[derive(Debug, Clone)]
pub struct SignedIn(pub Identity);

/// The signed-in user, if any.
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<Identity>);

/// Why an extractor refused: the core's response, status included.
#[derive(Debug)]
pub struct Rejection(pub Box<Response>);

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seamless: {}", self.0.status())
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        response((*self.0).clone())
    }
}

fn caller(request: &HttpRequest) -> Result<Caller, Rejection> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Rejection(Box::new(missing_middleware())))
}

impl FromRequest for SignedIn {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(request).and_then(|c| {
            c.require_with(|| head(request))
                .map(SignedIn)
                .map_err(Rejection)
        }))
    }
}

impl FromRequest for MaybeSignedIn {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(request).map(|c| MaybeSignedIn(c.identity().cloned())))
    }
}
