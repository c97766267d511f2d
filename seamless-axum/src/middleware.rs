//! The tower `Layer` and `Service`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use seamless_core::http::{Caller, PeerAddr, Provider};
use tower::{Layer, Service};

/// Wraps a service with Seamless: sign-in paths are answered, every other
/// request carries a [`Caller`] for the extractors.
///
/// The core needs the socket peer (per-address limits, `[policy] intranet`,
/// trusted proxies): serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()`, or put a
/// [`PeerAddr`] in each request's extensions from your own server.
#[derive(Debug, Clone)]
pub struct SeamlessLayer {
    provider: Provider,
}

impl SeamlessLayer {
    /// A layer around `provider`.
    pub fn new(provider: Provider) -> Self {
        Self { provider }
    }
}

impl<S> Layer<S> for SeamlessLayer {
    type Service = Seamless<S>;

    fn layer(&self, inner: S) -> Seamless<S> {
        Seamless {
            provider: self.provider.clone(),
            inner,
        }
    }
}

/// The service [`SeamlessLayer`] makes.
#[derive(Debug, Clone)]
pub struct Seamless<S> {
    provider: Provider,
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Seamless<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: http_body::Body + Send + 'static,
{
    type Response = http::Response<Either<Full<Bytes>, ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let provider = self.provider.clone();
        let (mut head, body) = request.into_parts();
        if let Some(peer) = peer(&head.extensions) {
            head.extensions.insert(peer);
        }
        if provider.wants(head.uri.path()) {
            return Box::pin(async move {
                let response = provider.serve(http::Request::from_parts(head, body)).await;
                Ok(response.map(|b| Either::Left(Full::new(b))))
            });
        }
        // The ready service handles this call; a clone takes its place (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let seen = provider.identify(&head).await;
            head.extensions
                .insert(Caller::new(provider, seen.identity.clone()));
            let mut response = inner.call(http::Request::from_parts(head, body)).await?;
            seen.apply(response.headers_mut());
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
