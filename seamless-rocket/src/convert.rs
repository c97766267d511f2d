//! rocket ⇄ the core (`http` 1.x): method, URI and headers by their text,
//! bodies as bytes; and a `Responder` for core responses.

use std::io::Cursor;

use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Responder};
use seamless_core::http::{PeerAddr, Response};

/// The core's view of a request head.
pub(crate) fn head(request: &Request<'_>) -> http::request::Parts {
    let mut builder = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for header in request.headers().iter() {
        builder = builder.header(header.name().as_str(), header.value());
    }
    // A head the core cannot represent is treated as having no headers at all.
    let (mut parts, ()) = builder.body(()).unwrap_or_default().into_parts();
    // The socket peer only (not `client_ip()`, which believes `X-Real-IP` from
    // anyone): the core decides about forwarded headers.
    if let Some(peer) = request.remote() {
        parts.extensions.insert(PeerAddr(peer.ip()));
    }
    parts
}

/// A core response, sent as it is.
#[derive(Debug)]
pub struct CoreResponse(pub Response);

impl<'r> Responder<'r, 'static> for CoreResponse {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let (parts, body) = self.0.into_parts();
        let mut out = rocket::Response::build();
        out.status(Status::new(parts.status.as_u16()));
        for (name, value) in &parts.headers {
            if let Ok(value) = value.to_str() {
                out.raw_header_adjoin(name.as_str().to_owned(), value.to_owned());
            }
        }
        out.sized_body(body.len(), Cursor::new(body));
        out.ok()
    }
}
