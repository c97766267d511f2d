//! What the HTTP benchmarks share.

#![allow(dead_code)] // each bench uses its own part

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use seamless_core::Provider;
use seamless_core::http::Response;
use seamless_core::testkit::sim::block_on;

/// A hidden field's value in a page.
pub(crate) fn field(r: &Response, name: &str) -> String {
    let html = std::str::from_utf8(r.body()).expect("utf-8");
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("field") + marker.len();
    html[start..start + html[start..].find('"').expect("end")].to_string()
}

pub(crate) fn send(
    engine: &Provider,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Response {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    block_on(engine.serve(request))
}

pub(crate) fn cookie(r: &Response) -> String {
    r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_string()
}

pub(crate) fn authorize(alg: &str) -> String {
    format!(
        "/authorize?client_id={alg}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid&state=s&nonce=n&login_hint=alice%40ad.test"
    )
}

/// A browser sign-in up to the authorization code, as an adapter drives it:
/// authorize → the background request's challenge → Negotiate → the sign-in
/// token posted → the code.
pub(crate) fn code_for(engine: &Provider, alg: &str, auth: &str) -> String {
    let page = send(engine, Method::GET, &authorize(alg), &[], String::new());
    let flow = cookie(&page);
    let state = field(&page, "state");
    let challenge = [("cookie", flow.as_str()), ("seamless-flow", &state)];
    let r = send(
        engine,
        Method::GET,
        "/winauth/sso",
        &challenge,
        String::new(),
    );
    assert_eq!(r.status(), http::StatusCode::UNAUTHORIZED);
    let headers = [
        ("cookie", flow.as_str()),
        ("seamless-flow", &state),
        ("authorization", auth),
    ];
    let r = send(engine, Method::GET, "/winauth/sso", &headers, String::new());
    let token: serde_json::Value = serde_json::from_slice(r.body()).expect("json");
    let token = token["token"].as_str().expect("token");
    let body = format!("step=sso&state={state}&token={token}");
    let done = send(engine, Method::POST, "/login", &[("cookie", &flow)], body);
    let location = done.headers()["location"].to_str().expect("ascii");
    let code = location.split("code=").nth(1).expect("code");
    code.split('&').next().expect("code").to_string()
}
