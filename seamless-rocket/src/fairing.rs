//! The fairing: manages the provider, mounts the sign-in routes for every
//! method, sends the core's response when a guard refused, and adds the headers
//! the core asks for. It registers no catchers: the application's stay its own.

use std::sync::{LazyLock, OnceLock};

use rocket::data::{Data, ToByteUnit};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::http::Method::{Connect, Delete, Get, Head, Options, Patch, Post, Put, Trace};
use rocket::request::Request;
use rocket::route::{Handler, Outcome, Route};
use rocket::shield::{
    ExpectCt, Frame, Hsts, NoSniff, Permission, Policy, Prefetch, Referrer, XssFilter,
};
use rocket::{Build, Rocket};
use seamless_core::http::{Provider, Response, SIGN_IN_PATHS};

use crate::convert::{CoreResponse, head};
use crate::extract::seen;

/// `rocket.attach(Seamless::fairing(provider))`.
#[derive(Debug, Clone)]
pub struct Seamless {
    provider: Provider,
}

impl Seamless {
    /// The fairing around `provider`.
    pub fn fairing(provider: Provider) -> Self {
        Self { provider }
    }
}

/// Forwards every sign-in path to the provider.
#[derive(Clone)]
struct SignInRoutes;

#[rocket::async_trait]
impl Handler for SignInRoutes {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let Some(provider) = request
            .rocket()
            .state::<Provider>()
            .filter(|p| p.wants(request.uri().path().as_str()))
        else {
            // Not served here (`/metrics` switched off): the application's.
            return Outcome::forward(data, rocket::http::Status::NotFound);
        };
        let head = head(request);
        // Rocket reads the body itself: what the head alone refuses is refused
        // before any of it is read.
        let answer = if let Some(refusal) = provider.refuse_before_reading(&head) {
            refusal
        } else {
            let limit = provider.web().max_body.bytes();
            match data.open(limit).into_bytes().await {
                Ok(body) if body.is_complete() => {
                    let body = http_body_util::Full::new(bytes::Bytes::from(body.into_inner()));
                    provider.serve(http::Request::from_parts(head, body)).await
                }
                Ok(_) => provider.payload_too_large(),
                Err(_) => provider.unreadable_body(),
            }
        };
        Outcome::from(request, CoreResponse(hold_back(request, answer)))
    }
}

/// The headers rocket's `Shield` writes into every response that lacks them. On
/// a response that has one, Shield keeps it but logs two warning lines, which on
/// the core's answers (`X-Content-Type-Options` on all, `X-Frame-Options` on
/// pages) was every response of every sign-in.
const SHIELDED: [&str; 8] = [
    NoSniff::NAME,
    Frame::NAME,
    Hsts::NAME,
    XssFilter::NAME,
    Referrer::NAME,
    Prefetch::NAME,
    Permission::NAME,
    ExpectCt::NAME,
];

/// The core's values of [`SHIELDED`] headers on one answer, kept out of the
/// response until Shield has run.
#[derive(Default)]
struct Held(OnceLock<Vec<(&'static str, String)>>);

/// Takes the [`SHIELDED`] headers out of `answer`, for [`Seamless::on_response`]
/// to put back (over Shield's) once Shield has been through the response.
fn hold_back(request: &Request<'_>, mut answer: Response) -> Response {
    // Parsed once: looking a name up by its text parses it every time.
    static NAMES: LazyLock<Vec<(&str, http::HeaderName)>> = LazyLock::new(|| {
        SHIELDED
            .iter()
            .filter_map(|&n| Some((n, http::HeaderName::from_bytes(n.as_bytes()).ok()?)))
            .collect()
    });
    let mut held = Vec::new();
    for (name, key) in NAMES.iter() {
        if let http::header::Entry::Occupied(entry) = answer.headers_mut().entry(key) {
            let values = entry.remove_entry_mult().1;
            held.extend(values.filter_map(|v| Some((*name, v.to_str().ok()?.to_owned()))));
        }
    }
    if !held.is_empty() {
        let _ = request.local_cache(Held::default).0.set(held);
    }
    answer
}

fn routes() -> Vec<Route> {
    let paths = SIGN_IN_PATHS.iter().copied();
    let paths = paths.chain(std::iter::once("/common/userrealm/<upn>"));
    // Every method: the core answers a wrong one with 405 and `Allow`.
    let methods = [Get, Head, Post, Put, Delete, Patch, Options, Trace, Connect];
    let route = |path| methods.map(|method| Route::ranked(-10, method, path, SignInRoutes));
    paths.flat_map(route).collect()
}

#[rocket::async_trait]
impl Fairing for Seamless {
    fn info(&self) -> Info {
        Info {
            name: "Seamless",
            kind: Kind::Ignite | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        let base = Some(self.provider.web().base_path.clone()).filter(|b| !b.is_empty());
        let base = base.unwrap_or_else(|| "/".into());
        Ok(rocket.manage(self.provider.clone()).mount(base, routes()))
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut rocket::Response<'r>) {
        // The core's answers on its own paths go out as it made them (no session
        // check) with what Shield added. The core's headers that Shield also
        // writes go in now, over Shield's: attached by `rocket::build()`,
        // Shield's fairing runs before this one.
        if self.provider.wants(request.uri().path().as_str()) {
            if let Some(held) = request.local_cache(Held::default).0.get() {
                for (name, _) in held {
                    response.remove_header(name);
                }
                for (name, value) in held {
                    response.adjoin_raw_header(*name, value.clone());
                }
            }
            return;
        }
        if let Some(seen) = seen(request).await {
            // A guard refused: its answer is the core's, whatever a catcher made,
            // with the application's Shield headers the core does not set.
            if let Some(refusal) = seen.2.get().map(|r| (**r).clone())
                && let Ok(mut core) =
                    rocket::response::Responder::respond_to(CoreResponse(refusal), request)
            {
                for name in SHIELDED {
                    if !core.headers().contains(name) {
                        for value in response.headers().get(name) {
                            core.adjoin_raw_header(name, value.to_owned());
                        }
                    }
                }
                *response = core;
            }
            for (name, value) in seen.1.headers() {
                if let Ok(value) = value.to_str() {
                    response.adjoin_header(Header::new(name.as_str().to_owned(), value.to_owned()));
                }
            }
        }
    }
}
