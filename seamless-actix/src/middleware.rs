//! The `Transform` middleware and its service.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use futures_util::StreamExt as _;
use seamless_core::http::{Caller, Provider};

use crate::convert::{head, response};

/// `App::wrap(Seamless::new(provider))`: sign-in paths are answered, every other
/// request carries a [`Caller`] for the extractors.
#[derive(Debug, Clone)]
pub struct Seamless {
    provider: Provider,
}

impl Seamless {
    /// The middleware around `provider`.
    pub fn new(provider: Provider) -> Self {
        Self { provider }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Seamless
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SeamlessMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SeamlessMiddleware {
            provider: self.provider.clone(),
            service: Rc::new(service),
        }))
    }
}

/// The service [`Seamless`] makes.
pub struct SeamlessMiddleware<S> {
    provider: Provider,
    service: Rc<S>,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for SeamlessMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let provider = self.provider.clone();
        let parts = head(request.request());
        if provider.wants(parts.uri.path()) {
            let payload = request.take_payload();
            return Box::pin(async move {
                let body = http_body_util::StreamBody::new(
                    payload.map(|chunk| chunk.map(http_body::Frame::data)),
                );
                // actix-web sets no limit on the time a body takes: the core
                // gets it for `client_timeout`, then answers 400.
                let deadline = actix_web::rt::time::sleep(provider.web().client_timeout);
                let answer = provider
                    .serve_within(http::Request::from_parts(parts, body), deadline)
                    .await;
                Ok(request
                    .into_response(response(answer))
                    .map_into_right_body())
            });
        }
        let service = self.service.clone();
        Box::pin(async move {
            let seen = provider.identify(&parts).await;
            request
                .extensions_mut()
                .insert(Caller::new(provider, seen.identity.clone()));
            let mut response = service.call(request).await?;
            for (name, value) in seen.headers() {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_str().as_bytes()),
                    HeaderValue::from_bytes(value.as_bytes()),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            Ok(response.map_into_left_body())
        })
    }
}
