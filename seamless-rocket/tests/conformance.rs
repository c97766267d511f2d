//! The conformance suite through rocket: the fairing and guards, driven by
//! rocket's blocking local `Client`.

use rocket::config::{Config, LogLevel};
use rocket::http::{Header, Method, Status};
use rocket::local::blocking::Client;
use rocket::{Build, Rocket, catch, catchers, get, routes};
use seamless_conformance::{
    ANONYMOUS, APP_DENIED, HOME, Harness, PlainRequest, PlainResponse, conformance_tests,
    identity_body,
};
use seamless_core::Provider;
use seamless_rocket::{MaybeSignedIn, Seamless, SignedIn};

#[get("/")]
fn home() -> &'static str {
    HOME
}

#[get("/me")]
fn me(user: SignedIn) -> String {
    identity_body(&user.0)
}

#[get("/api/me")]
fn api_me(user: SignedIn) -> String {
    identity_body(&user.0)
}

#[get("/maybe")]
fn maybe(user: MaybeSignedIn) -> String {
    user.0
        .map_or_else(|| ANONYMOUS.to_string(), |u| identity_body(&u))
}

#[get("/denied")]
fn denied() -> Status {
    Status::Unauthorized
}

/// The application's own 401 catcher.
#[catch(401)]
fn unauthorized() -> &'static str {
    APP_DENIED
}

fn app() -> Rocket<Build> {
    let config = Config {
        log_level: LogLevel::Off,
        ..Config::debug_default()
    };
    rocket::custom(config)
        .mount("/", routes![home, me, api_me, maybe, denied])
        .register("/", catchers![unauthorized])
}

struct RocketHarness {
    guarded: Client,
    unguarded: Result<Client, String>,
}

fn run(client: &Client, request: PlainRequest) -> PlainResponse {
    let method: Method = request.method.parse().expect("method");
    let peer = request.peer_addr();
    let mut local = client
        .req(method, request.uri)
        .remote(peer)
        .body(request.body);
    for (k, v) in request.headers {
        local = local.header(Header::new(k, v));
    }
    let response = local.dispatch();
    let status = response.status().code;
    let headers = response
        .headers()
        .iter()
        .map(|h| {
            (
                h.name().as_str().to_ascii_lowercase(),
                h.value().to_string(),
            )
        })
        .collect();
    let body = response.into_bytes().unwrap_or_default();
    PlainResponse {
        status,
        headers,
        body,
    }
}

impl Harness for RocketHarness {
    fn send(&mut self, request: PlainRequest) -> PlainResponse {
        run(&self.guarded, request)
    }

    fn send_unguarded(&mut self, request: PlainRequest) -> Result<PlainResponse, String> {
        match &self.unguarded {
            Ok(client) => Ok(run(client, request)),
            Err(refused) => Err(refused.clone()),
        }
    }
}

conformance_tests!(|provider: Provider| RocketHarness {
    guarded: Client::untracked(app().attach(Seamless::fairing(provider))).expect("rocket"),
    unguarded: Client::untracked(app()).map_err(|e| format!("{e:?}")),
});
