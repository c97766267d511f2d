//! The demo site on axum: `cargo run -p seamless-examples --bin axum-app [seamless.toml]`.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use seamless_axum::{MaybeSignedIn, SeamlessLayer, SignedIn};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let built = seamless_examples::start("axum-app").await;
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
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}
