//! The conformance suite through axum: a `Router` with the layer, driven by
//! tower's `oneshot`.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use seamless_axum::{MaybeSignedIn, SeamlessLayer, SignedIn};
use seamless_conformance::{
    ANONYMOUS, APP_DENIED, HOME, Harness, PlainRequest, PlainResponse, conformance_tests,
    identity_body,
};
use seamless_core::Provider;
use tower::ServiceExt as _;

async fn me(SignedIn(user): SignedIn) -> String {
    identity_body(&user)
}

async fn maybe(MaybeSignedIn(user): MaybeSignedIn) -> String {
    user.map_or_else(|| ANONYMOUS.to_string(), |u| identity_body(&u))
}

fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { HOME }))
        .route("/me", get(me))
        .route("/api/me", get(me))
        .route("/maybe", get(maybe))
        .route(
            "/denied",
            get(|| async { (http::StatusCode::UNAUTHORIZED, APP_DENIED) }),
        )
}

struct Axum {
    guarded: Router,
    unguarded: Router,
    runtime: tokio::runtime::Runtime,
}

fn run(runtime: &tokio::runtime::Runtime, app: &Router, request: PlainRequest) -> PlainResponse {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.uri.as_str());
    for (k, v) in &request.headers {
        // By bytes: values may hold non-ASCII (obs-text) bytes.
        builder = builder.header(k.as_str(), v.as_bytes());
    }
    let peer = request.peer_addr();
    let mut request = builder.body(Body::from(request.body)).expect("request");
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    runtime.block_on(async {
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        PlainResponse {
            status,
            headers,
            body: body.to_vec(),
        }
    })
}

impl Harness for Axum {
    fn send(&mut self, request: PlainRequest) -> PlainResponse {
        run(&self.runtime, &self.guarded, request)
    }

    fn send_unguarded(&mut self, request: PlainRequest) -> Result<PlainResponse, String> {
        Ok(run(&self.runtime, &self.unguarded, request))
    }
}

conformance_tests!(|provider: Provider| Axum {
    guarded: routes().layer(SeamlessLayer::new(provider)),
    unguarded: routes(),
    runtime: tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime"),
});
