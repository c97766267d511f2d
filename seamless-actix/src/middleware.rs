//! The `Transform` middleware and its service.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use seamless_core::engine::Engine;
use seamless_core::http::Caller;

use crate::convert::{head, read_body, response};

/// `App::wrap(Seamless::new(engine))`: sign-in paths are answered, every other
/// request carries a [`Caller`] for the extractors.
#[derive(Debug, Clone)]
pub struct Seamless {
    engine: Engine,
}

impl Seamless {
    /// The middleware around `engine`.
    pub fn new(engine: Engine) -> Self {
        Self { engine }
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
            engine: self.engine.clone(),
            service: Rc::new(service),
        }))
    }
}

/// The service [`Seamless`] makes.
pub struct SeamlessMiddleware<S> {
    engine: Engine,
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
        let engine = self.engine.clone();
        let parts = head(request.request());
        if engine.wants(parts.uri.path()) {
            let mut payload = request.take_payload();
            return Box::pin(async move {
                let answer = match read_body(&engine, &mut payload).await {
                    Ok(body) => engine.respond(http::Request::from_parts(parts, body)).await,
                    Err(answer) => answer,
                };
                Ok(request
                    .into_response(response(answer))
                    .map_into_right_body())
            });
        }
        let service = self.service.clone();
        Box::pin(async move {
            let seen = engine.identify(&parts).await;
            request
                .extensions_mut()
                .insert(Caller::new(engine, seen.identity));
            let mut response = service.call(request).await?;
            for (name, value) in &seen.response_headers {
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
