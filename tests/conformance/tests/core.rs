//! The suite against the provider alone, with the app written directly on the
//! adapter protocol (`Provider::wants` / `serve` / `identify`, `Caller`,
//! `Continue::headers`): what every adapter does, without a framework. A
//! baseline for the adapters' runs.

use bytes::Bytes;
use http_body_util::Full;
use seamless_conformance::{
    ANONYMOUS, APP_DENIED, HOME, Harness, PlainRequest, PlainResponse, conformance_tests,
    identity_body,
};
use seamless_core::http::{Caller, PeerAddr, Provider, Response, missing_middleware};
use seamless_core::testkit::sim::block_on;

struct Core {
    provider: Provider,
}

fn to_http(request: PlainRequest) -> http::Request<Bytes> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.uri.as_str());
    for (k, v) in &request.headers {
        // By bytes: values may hold non-ASCII (obs-text) bytes.
        builder = builder.header(k.as_str(), v.as_bytes());
    }
    let peer = request.peer_addr();
    let mut request = builder.body(Bytes::from(request.body)).expect("request");
    request.extensions_mut().insert(PeerAddr(peer.ip()));
    request
}

fn plain(response: Response) -> PlainResponse {
    PlainResponse {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body: response.body().to_vec(),
    }
}

fn text(status: u16, body: String, content_type: &str) -> PlainResponse {
    PlainResponse {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.into_bytes(),
    }
}

/// The app's routes, given what the middleware left (or nothing).
fn app(head: &http::request::Parts, caller: Option<&Caller>) -> PlainResponse {
    match head.uri.path() {
        "/" => text(200, HOME.into(), "text/plain"),
        "/me" | "/api/me" => match caller {
            None => plain(missing_middleware()),
            Some(c) => match c.require(head) {
                Ok(identity) => text(200, identity_body(&identity), "application/json"),
                Err(response) => plain(*response),
            },
        },
        "/maybe" => match caller {
            None => plain(missing_middleware()),
            Some(c) => match c.identity() {
                Some(identity) => text(200, identity_body(identity), "application/json"),
                None => text(200, ANONYMOUS.into(), "text/plain"),
            },
        },
        "/denied" => text(401, APP_DENIED.into(), "text/plain"),
        _ => text(404, String::new(), "text/plain"),
    }
}

impl Harness for Core {
    fn send(&mut self, request: PlainRequest) -> PlainResponse {
        let request = to_http(request);
        if self.provider.wants(request.uri().path()) {
            return plain(block_on(self.provider.serve(request.map(Full::new))));
        }
        let (head, _) = request.into_parts();
        let seen = block_on(self.provider.identify(&head));
        let caller = Caller::new(self.provider.clone(), seen.identity.clone());
        let mut response = app(&head, Some(&caller));
        for (k, v) in seen.headers() {
            response
                .headers
                .push((k.as_str().into(), v.to_str().unwrap_or_default().into()));
        }
        response
    }

    fn send_unguarded(&mut self, request: PlainRequest) -> Result<PlainResponse, String> {
        let (head, _) = to_http(request).into_parts();
        Ok(app(&head, None))
    }
}

conformance_tests!(|provider: Provider| Core { provider });

#[test]
fn the_suite_has_at_least_thirty_cases() {
    assert!(
        seamless_conformance::cases::ALL.len() >= 30,
        "{}",
        seamless_conformance::cases::ALL.len()
    );
}
