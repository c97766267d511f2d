//! The demo site on axum: `cargo run -p seamless-examples --bin axum-app [seamless.toml]`.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use seamless_axum::{MaybeSignedIn, SeamlessLayer, SignedIn};
use seamless_examples::Serving;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let built = seamless_examples::start("axum-app", Serving::Timed).await;
    let client_timeout = built.provider.web().client_timeout;
    let app = Router::new()
        .route(
            "/",
            get(|MaybeSignedIn(user): MaybeSignedIn| async move {
                Html(seamless_examples::home(user.as_ref()))
            }),
        )
        .route(
            "/me",
            get(|SignedIn(user): SignedIn| async move { Html(seamless_examples::me(&user)) }),
        )
        .route(
            "/api/me",
            get(|SignedIn(user): SignedIn| async move {
                (
                    [("content-type", "application/json")],
                    seamless_examples::api(&user),
                )
            }),
        )
        .layer(SeamlessLayer::new(built.provider));
    let listener = tokio::net::TcpListener::bind(built.listen).await?;
    // Not `axum::serve`, which waits for ever on a client that sends half a
    // request: the same loop with `[server] client_timeout_ms` on heads and
    // bodies, and the socket peer for the middleware. It stops on Ctrl-C or
    // SIGTERM: idle connections close, requests in flight finish.
    let shutdown = seamless_axum::serve::signal();
    seamless_axum::serve::serve(listener, app, client_timeout, shutdown).await;
    Ok(())
}
