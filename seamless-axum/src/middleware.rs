//! The tower `Layer` and `Service`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use seamless_core::engine::Engine;
use seamless_core::http::{Caller, PeerAddr};
use tower::{Layer, Service};

use crate::convert::{full, read_body};

/// Wraps a service with Seamless: sign-in paths are answered, every other
/// request carries a [`Caller`] for the extractors.
///
/// The core needs the socket peer (per-address limits, `[policy] intranet`,
/// trusted proxies): serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()`, or put a
/// [`PeerAddr`] in each request's extensions from your own server.
#[derive(Debug, Clone)]
pub struct SeamlessLayer {
    engine: Engine,
}

impl SeamlessLayer {
    /// A layer around `engine`.
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }
}

impl<S> Layer<S> for SeamlessLayer {
    type Service = Seamless<S>;

    fn layer(&self, inner: S) -> Seamless<S> {
        Seamless {
            engine: self.engine.clone(),
            inner,
        }
    }
}

/// The service [`SeamlessLayer`] makes.
#[derive(Debug, Clone)]
pub struct Seamless<S> {
    engine: Engine,
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Seamless<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<Either<Full<Bytes>, ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let engine = self.engine.clone();
        if engine.wants(request.uri().path()) {
            return Box::pin(async move {
                let (mut head, body) = request.into_parts();
                if let Some(peer) = peer(&head.extensions) {
                    head.extensions.insert(peer);
                }
                let response = match read_body(&engine, body).await {
                    Ok(bytes) => engine.respond(http::Request::from_parts(head, bytes)).await,
                    Err(response) => response,
                };
                Ok(full(response).map(Either::Left))
            });
        }
        let (mut head, body) = request.into_parts();
        // The ready service handles this call; a clone takes its place (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let seen = engine.identify(&head).await;
            head.extensions.insert(Caller::new(engine, seen.identity));
            let mut response = inner.call(http::Request::from_parts(head, body)).await?;
            for (name, value) in seen.response_headers {
                if let Some(name) = name {
                    response.headers_mut().append(name, value);
                }
            }
            Ok(response.map(Either::Right))
        })
    }
}

/// The socket peer: a [`PeerAddr`] the server put there, or axum's
/// `ConnectInfo<SocketAddr>` (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`). Never a header.
fn peer(extensions: &http::Extensions) -> Option<PeerAddr> {
    if let Some(peer) = extensions.get::<PeerAddr>() {
        return Some(*peer);
    }
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| PeerAddr(info.0.ip()))
}
