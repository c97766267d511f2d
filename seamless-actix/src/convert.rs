//! actix-web (`http` 0.2 types) ⇄ the core (`http` 1.x): method, URI and headers
//! by their bytes, bodies as `Bytes`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use seamless_core::http::{PeerAddr, Response};

/// The core's view of a request head.
pub(crate) fn head(request: &actix_web::HttpRequest) -> http::request::Parts {
    let mut builder = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for (name, value) in request.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let mut parts = match builder.body(()) {
        Ok(r) => r.into_parts().0,
        // A head the core cannot represent is treated as having no headers at all.
        Err(_) => http::Request::new(()).into_parts().0,
    };
    // The socket peer only (not `connection_info().realip_remote_addr()`, which
    // believes headers from anyone): the core decides about forwarded headers.
    if let Some(peer) = request.peer_addr() {
        parts.extensions.insert(PeerAddr(peer.ip()));
    }
    parts
}

/// A core response as an actix response.
pub(crate) fn response(response: Response) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    out.body(body)
}
