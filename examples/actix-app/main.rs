//! The demo site on actix-web: `cargo run -p seamless-examples --bin actix-app [seamless.toml]`.

use actix_web::{App, HttpResponse, HttpServer, web};
use seamless_actix::{MaybeSignedIn, Seamless, SignedIn};

async fn home(MaybeSignedIn(user): MaybeSignedIn) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(seamless_examples::home(user.as_ref()))
}

async fn me(SignedIn(user): SignedIn) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(seamless_examples::me(&user))
}

async fn api(SignedIn(user): SignedIn) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(seamless_examples::api(&user))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let built = seamless_examples::start("actix-app", seamless_examples::Serving::Timed).await;
    let provider = built.provider;
    let client_timeout = provider.web().client_timeout;
    HttpServer::new(move || {
        App::new()
            .wrap(Seamless::new(provider.clone()))
            .route("/", web::get().to(home))
            .route("/me", web::get().to(me))
            .route("/api/me", web::get().to(api))
    })
    // `[server] client_timeout_ms` for request heads and idle keep-alive
    // connections (actix-web's own defaults: 5 s each); the middleware gives
    // the sign-in paths' bodies as long (`WebConfig::client_timeout`).
    .client_request_timeout(client_timeout)
    .keep_alive(client_timeout)
    .bind(built.listen)?
    .run()
    .await
}
