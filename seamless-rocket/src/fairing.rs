//! The fairing: manages the engine, mounts the sign-in routes, registers the
//! catchers the guards answer through, and adds headers the core asks for.

use rocket::data::{Data, ToByteUnit};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Header, Method};
use rocket::request::Request;
use rocket::route::{Handler, Outcome, Route};
use rocket::{Build, Catcher, Rocket, catcher};
use seamless_core::engine::Engine;
use seamless_core::http::SIGN_IN_PATHS;

use crate::convert::{CoreResponse, head};
use crate::extract::{Stash, seen};

/// `rocket.attach(Seamless::fairing(engine))`.
#[derive(Debug, Clone)]
pub struct Seamless {
    engine: Engine,
}

impl Seamless {
    /// The fairing around `engine`.
    pub fn fairing(engine: Engine) -> Self {
        Self { engine }
    }
}

/// Forwards every sign-in path to the engine.
#[derive(Clone)]
struct SignInRoutes;

#[rocket::async_trait]
impl Handler for SignInRoutes {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let Some(engine) = request.rocket().state::<Engine>() else {
            return Outcome::forward(data, rocket::http::Status::NotFound);
        };
        let answer = match data.open(engine.web().max_body.bytes()).into_bytes().await {
            Ok(body) if body.is_complete() => {
                let request = http::Request::from_parts(head(request), body.into_inner().into());
                engine.respond(request).await
            }
            Ok(_) => engine.payload_too_large(),
            Err(_) => engine.unreadable_body(),
        };
        Outcome::from(request, CoreResponse(answer))
    }
}

/// Answers with the response a guard stashed (the core's), or the bare status.
#[derive(Clone)]
struct Stashed;

#[rocket::async_trait]
impl catcher::Handler for Stashed {
    async fn handle<'r>(
        &self,
        status: rocket::http::Status,
        request: &'r Request<'_>,
    ) -> catcher::Result<'r> {
        let stashed = request.local_cache(|| Stash(None)).0.clone();
        match stashed {
            Some(response) => {
                rocket::response::Responder::respond_to(CoreResponse(response), request)
            }
            None => rocket::Response::build().status(status).ok(),
        }
    }
}

fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    let paths = SIGN_IN_PATHS
        .iter()
        .map(|p| (*p).to_string())
        .chain(std::iter::once("/common/userrealm/<upn>".to_string()));
    for path in paths {
        for method in [Method::Get, Method::Post] {
            routes.push(Route::ranked(-10, method, &path, SignInRoutes));
        }
    }
    routes
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
        let base = match self.engine.web().base_path.as_str() {
            "" => "/".to_string(),
            b => b.to_string(),
        };
        let catchers = [401, 500].map(|code| Catcher::new(code, Stashed));
        Ok(rocket
            .manage(self.engine.clone())
            .mount(base, routes())
            .register("/", catchers))
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut rocket::Response<'r>) {
        if let Some(seen) = seen(request).await {
            for (name, value) in &seen.1 {
                if let Ok(value) = value.to_str() {
                    response.adjoin_header(Header::new(name.as_str().to_owned(), value.to_owned()));
                }
            }
        }
    }
}
