//! The demo site on rocket: `cargo run -p seamless-examples --bin rocket-app [seamless.toml]`.

use rocket::response::content::{RawHtml, RawJson};
use rocket::{Config, get, routes};
use seamless_rocket::{MaybeSignedIn, Seamless, SignedIn};

#[get("/")]
fn home(user: MaybeSignedIn) -> RawHtml<String> {
    RawHtml(seamless_examples::home(user.0.as_ref()))
}

#[get("/me")]
fn me(user: SignedIn) -> RawHtml<String> {
    RawHtml(seamless_examples::me(&user.0))
}

#[get("/api/me")]
fn api(user: SignedIn) -> RawJson<String> {
    RawJson(seamless_examples::api(&user.0))
}

#[rocket::main]
async fn main() -> Result<(), Box<rocket::Error>> {
    let built = seamless_examples::start("rocket-app", seamless_examples::Serving::Framework).await;
    let config = Config {
        address: built.listen.ip(),
        port: built.listen.port(),
        log_level: rocket::config::LogLevel::Critical,
        ..Config::release_default()
    };
    rocket::custom(config)
        .attach(Seamless::fairing(built.provider))
        .mount("/", routes![home, me, api])
        .launch()
        .await
        .map(|_| ())
        .map_err(Box::new)
}
