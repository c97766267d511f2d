//! The fairing: manages the provider, mounts the sign-in routes for every
//! method, sends the core's response when a guard refused, and adds the headers
//! the core asks for. It registers no catchers: the application's stay its own.

use rocket::data::{Data, ToByteUnit};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::http::Method::{Connect, Delete, Get, Head, Options, Patch, Post, Put, Trace};
use rocket::request::Request;
use rocket::route::{Handler, Outcome, Route};
use rocket::{Build, Rocket};
use seamless_core::http::{Provider, SIGN_IN_PATHS};

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
        if let Some(refusal) = provider.refuse_before_reading(&head) {
            return Outcome::from(request, CoreResponse(refusal));
        }
        let limit = provider.web().max_body.bytes();
        let answer = match data.open(limit).into_bytes().await {
            Ok(body) if body.is_complete() => {
                let body = http_body_util::Full::new(bytes::Bytes::from(body.into_inner()));
                provider.serve(http::Request::from_parts(head, body)).await
            }
            Ok(_) => provider.payload_too_large(),
            Err(_) => provider.unreadable_body(),
        };
        Outcome::from(request, CoreResponse(answer))
    }
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
        // The core's answers on its own paths go out as it made them: no session
        // check, nothing added (as the other adapters serve them).
        if self.provider.wants(request.uri().path().as_str()) {
            return;
        }
        if let Some(seen) = seen(request).await {
            // A guard refused: its answer is the core's, whatever a catcher made.
            if let Some(refusal) = seen.2.get().map(|r| (**r).clone())
                && let Ok(core) =
                    rocket::response::Responder::respond_to(CoreResponse(refusal), request)
            {
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
