//! `SignedIn` and `MaybeSignedIn` (rocket request guards).

use std::sync::OnceLock;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};
use seamless_core::http::{Caller, Continue, Identity, Provider, Response};

use crate::convert::head;

/// The signed-in user. Without one, the request is answered with the core's
/// response: a redirect to sign in (browsers) or `401` (API clients).
#[derive(Debug, Clone)]
pub struct SignedIn(pub Identity);

/// The signed-in user, if any.
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<Identity>);

/// A refusal; the response is the core's (the fairing sends it in place of
/// whatever the catcher for its status made).
#[derive(Debug)]
pub struct Rejection;

/// Who is calling, worked out once per request, headers to add, and the
/// response a refusing guard left for the fairing.
pub(crate) struct Seen(
    pub(crate) Caller,
    pub(crate) Continue,
    pub(crate) OnceLock<Box<Response>>,
);

pub(crate) async fn seen<'r>(request: &'r Request<'_>) -> Option<&'r Seen> {
    request
        .local_cache_async(async {
            let provider = request.rocket().state::<Provider>()?;
            let identified = provider.identify(&head(request)).await;
            let caller = Caller::new(provider.clone(), identified.identity.clone());
            Some(Seen(caller, identified, OnceLock::new()))
        })
        .await
        .as_ref()
}

/// Both guards need the fairing: without it the application does not launch.
fn fairing_missing(rocket: &Rocket<Ignite>) -> bool {
    let missing = rocket.state::<Provider>().is_none();
    if missing {
        rocket::error!(
            "SignedIn/MaybeSignedIn need the Seamless middleware: attach Seamless::fairing(provider)"
        );
    }
    missing
}

macro_rules! sentinel {
    ($($guard:ty),*) => {$(
        impl Sentinel for $guard {
            fn abort(rocket: &Rocket<Ignite>) -> bool {
                fairing_missing(rocket)
            }
        }
    )*};
}
sentinel!(SignedIn, MaybeSignedIn);

/// Refuses with the core's response: its status picks a catcher, whose output
/// the fairing replaces with the response left in `seen`.
fn refuse<T>(seen: Option<&Seen>, response: Response) -> Outcome<T, Rejection> {
    let status = Status::new(response.status().as_u16());
    seen.map(|seen| seen.2.set(Box::new(response)));
    Outcome::Error((status, Rejection))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SignedIn {
    type Error = Rejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Rejection> {
        let Some(seen) = seen(request).await else {
            return refuse(None, seamless_core::http::missing_middleware());
        };
        match seen.0.require_with(|| head(request)) {
            Ok(identity) => Outcome::Success(SignedIn(identity)),
            Err(response) => refuse(Some(seen), *response),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MaybeSignedIn {
    type Error = Rejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Rejection> {
        match seen(request).await {
            Some(Seen(caller, ..)) => Outcome::Success(MaybeSignedIn(caller.identity().cloned())),
            None => refuse(None, seamless_core::http::missing_middleware()),
        }
    }
}
