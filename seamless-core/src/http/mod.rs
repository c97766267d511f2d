//! The framework-neutral HTTP surface: sign-in pages with the background
//! Negotiate request, the OpenID Connect endpoints, and middleware mode.
//!
//! It speaks `http` 1.x. The core decides every status code, header, cookie and
//! body; an adapter only converts types, through one protocol:
//!
//! 1. put the socket peer in the request's extensions as a [`PeerAddr`] (never
//!    a header: the core decides about forwarded headers);
//! 2. if [`Provider::wants`] the request's path, send what [`Provider::serve`]
//!    returns (it reads the body itself, bounded by [`WebConfig::max_body`]);
//! 3. otherwise ask [`Provider::identify`] who is calling, leave a [`Caller`]
//!    in the request for the extractors, pass the request on, and append every
//!    header of [`Continue::headers`] to the application's response; a handler
//!    that needs a signed-in user answers with [`Caller::require`].
//!
//! Paths, under [`WebConfig::base_path`]:
//!
//! | path | |
//! |---|---|
//! | `GET /authorize` | OIDC authorization endpoint; renders the sign-in page |
//! | `GET /signin?return=/path` | middleware mode: sign in to this app |
//! | `POST /login` | every form post of the sign-in page |
//! | `GET /winauth/sso` | background Negotiate |
//! | `POST /token` | authorization code and refresh token grants |
//! | `GET /.well-known/openid-configuration`, `GET /jwks` | discovery |
//! | `GET /userinfo` | claims for a Bearer access token |
//! | `GET\|POST /logout` | sign-out (sets the seamless suppression marker) |
//! | `GET /common/userrealm/{upn}` | native clients: realm discovery |
//! | `GET /winauth/trust/mex` | native clients: WS-MetadataExchange |
//! | `POST /winauth/trust/{2005,13}/windowstransport` | native clients: WS-Trust with Negotiate |

mod address;
mod cookies;
mod form;
mod health;
mod logout;
mod native;
mod negotiate;
mod oidc;
mod pages;
mod provider;
mod revocation;
mod routes;
mod session;
mod signin;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::Code;
use crate::token::SigningAlgorithm;

pub use native::NativeSettings;
pub use provider::{Provider, ProviderBuilder};
pub use revocation::REVOCATION_CACHE;
pub use routes::SIGN_IN_PATHS;
pub use session::{Caller, Identity, Source, missing_middleware};
pub use signin::MAX_AUTHORIZE_PARAM_LEN;

/// A request as the engine takes it.
pub type Request = http::Request<Bytes>;
/// A response as the engine makes it.
pub type Response = http::Response<Bytes>;

pub(crate) use address::ClientAddr;
pub use address::{PeerAddr, client_address};

/// The HTTP surface's settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Scheme, host and port users reach us at, without a trailing slash
    /// (`https://login.example.com`). With [`WebConfig::base_path`] it makes the
    /// issuer.
    pub public_origin: String,
    /// Where the sign-in paths live (`""` for the root, or `/seamless`).
    pub base_path: String,
    /// The name pages show.
    pub title: String,
    /// How long the page waits for the background Negotiate request before it
    /// shows the password form.
    pub sso_timeout: Duration,
    /// The longest one session cookie lasts (also capped at the Kerberos
    /// ticket's end).
    pub session_ttl: Duration,
    /// No session outlives the original authentication by more than this,
    /// however many silent sign-ins re-issue its cookie (default 12 hours).
    pub session_max_lifetime: Duration,
    /// How often (per account and instance) a session's account is looked up
    /// again: one found disabled, locked, expired or deleted ends its sessions
    /// everywhere (default 5 minutes).
    pub session_recheck: Duration,
    /// Request bodies larger than this are refused (413).
    pub max_body: usize,
    /// How long a client may take to send a request head, and then its body
    /// (default 30 s; `[server] client_timeout_ms`), so one that stops
    /// half-way, or trickles its request in, holds nothing for long. The core
    /// has no timer; what serves it applies this: `seamless_axum::serve` (and
    /// `seamless serve`) to heads, idle connections and bodies, `seamless-actix`
    /// to the sign-in paths' bodies through [`Provider::serve_within`] (the
    /// actix example app sets actix-web's head and keep-alive timeouts from it).
    /// Rocket applies none (SECURITY.md, Limits).
    pub client_timeout: Duration,
    /// A request header block larger than this on the Negotiate endpoint gets
    /// the 81001 fallback.
    pub max_header_block: usize,
    /// The native-client (WS-Trust) flow.
    pub native: NativeSettings,
    /// The `aud` values of access tokens the middleware accepts as Bearer
    /// credentials for this application (see [`Client::audience`]). Empty (the
    /// default): the middleware accepts no Bearer token, only its session, so an
    /// access token issued to another client never opens this application.
    pub bearer_audiences: Vec<String>,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed (see
    /// [`client_address`]). Empty (the default): the socket peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Serve Prometheus metrics at `GET /metrics` (feature `metrics`; without
    /// it, or when false, the default, `/metrics` is not a sign-in path).
    pub metrics: bool,
    secure_cookies: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            public_origin: "http://localhost:8080".into(),
            base_path: String::new(),
            title: "Sign in".into(),
            sso_timeout: Duration::from_secs(5),
            session_ttl: Duration::from_secs(8 * 3600),
            session_max_lifetime: Duration::from_secs(12 * 3600),
            session_recheck: Duration::from_secs(300),
            max_body: 64 * 1024,
            client_timeout: Duration::from_secs(30),
            max_header_block: 64 * 1024,
            native: NativeSettings::default(),
            bearer_audiences: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics: false,
            secure_cookies: true,
        }
    }
}

/// Settings that weaken security, for development on `http://localhost` only.
#[derive(Debug)]
pub struct Dangerous<'a>(&'a mut WebConfig);

impl Dangerous<'_> {
    /// Cookies without `Secure` (and without the `__Host-` prefix), so plain
    /// `http://` works. This works for any origin, so it is only for local
    /// development and tests: on another host the session and flow cookies
    /// travel in clear text. The configuration file allows it only for an
    /// `http://` loopback origin. Never in production.
    pub fn insecure_cookies(self) -> Self {
        self.0.secure_cookies = false;
        self
    }
}

impl WebConfig {
    /// Defaults for a service reached at `public_origin`
    /// (`https://login.example.com`, no trailing slash).
    pub fn new(public_origin: impl Into<String>) -> Self {
        Self {
            public_origin: public_origin.into().trim_end_matches('/').to_string(),
            ..Self::default()
        }
    }

    /// The issuer URL: origin and base path.
    pub fn issuer(&self) -> String {
        format!("{}{}", self.public_origin, self.base_path)
    }

    /// Settings that weaken security; each is named for what it gives up.
    pub fn dangerous(&mut self) -> Dangerous<'_> {
        Dangerous(self)
    }

    /// Whether cookies are `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }
}

/// A client secret, kept only as its SHA-256 and compared in constant time.
#[derive(Clone)]
pub struct ClientSecret([u8; 32]);

impl ClientSecret {
    /// From the secret's text.
    pub fn new(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    fn matches(&self, presented: &str) -> bool {
        let h: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        h.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

/// A registered OpenID Connect client (relying party).
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Its secret (`client_secret_basic` / `client_secret_post`), or `None` for a
    /// public client, which must use PKCE.
    pub secret: Option<ClientSecret>,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where it may send users after sign-out, matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// The algorithm its ID and access tokens are signed with.
    pub algorithm: SigningAlgorithm,
    /// The API its access tokens are for (their `aud`). `None`: the issuer's
    /// [`TokenSettings::api_audience`](crate::token::TokenSettings::api_audience).
    pub audience: Option<String>,
}

impl Client {
    /// A public client (PKCE required) with one redirect URI.
    pub fn public(id: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: None,
            redirect_uris: vec![redirect_uri.into()],
            post_logout_redirect_uris: Vec::new(),
            algorithm: SigningAlgorithm::default(),
            audience: None,
        }
    }

    /// A confidential client with one redirect URI.
    pub fn confidential(
        id: impl Into<String>,
        secret: &str,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            secret: Some(ClientSecret::new(secret)),
            ..Self::public(id, redirect_uri)
        }
    }

    /// With this signing algorithm.
    pub fn with_algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Its access tokens are for the API `audience`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }
}

/// The registered clients.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clients(HashMap<String, Client>);

impl Clients {
    pub(crate) fn new(clients: Vec<Client>) -> Self {
        Self(clients.into_iter().map(|c| (c.id.clone(), c)).collect())
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Client> {
        self.0.get(id)
    }

    pub(crate) fn algorithms(&self) -> impl Iterator<Item = SigningAlgorithm> + '_ {
        self.0.values().map(|c| c.algorithm)
    }

    /// Every audience a client's access tokens may carry.
    pub(crate) fn audiences(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.values().filter_map(|c| c.audience.as_deref())
    }
}

/// What the middleware learned about a request for the application: who sent
/// it, and headers to add to the application's response.
#[derive(Debug, Default)]
pub struct Continue {
    /// The signed-in user, if any (shared: per-request cost is a pointer copy).
    pub identity: Option<std::sync::Arc<Identity>>,
    /// Headers to add to the application's response (clearing a stale cookie).
    pub response_headers: HeaderMap,
}

impl Continue {
    /// Each header to add to the application's response, one pair per value:
    /// a name with several values comes once per value, in order (never folded,
    /// never dropped). Adapters append each pair.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.response_headers.iter()
    }

    /// Appends the headers to an `http` 1.x response's headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in self.headers() {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// The path inside the base, when `path` is one of ours.
fn local_path<'a>(base: &str, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    rest.starts_with('/').then_some(rest)
}

impl Provider {
    /// Whether a request for `path` is for the sign-in surface (answer it with
    /// [`Provider::serve`]); everything else belongs to the application (ask
    /// [`Provider::identify`] who sent it). Every method counts: the core answers
    /// a wrong one with `405` itself.
    pub fn wants(&self, path: &str) -> bool {
        self.route_of(path).is_some()
    }

    fn route_of(&self, path: &str) -> Option<routes::Route> {
        local_path(&self.web().base_path, path)
            .and_then(routes::Route::of)
            .filter(|r| {
                *r != routes::Route::Metrics || (cfg!(feature = "metrics") && self.web().metrics)
            })
    }

    /// Answers a request for the sign-in surface, reading its body (any
    /// [`http_body::Body`]) up to [`WebConfig::max_body`]: a body declared or
    /// found larger is refused (413) before more of it is read. A path that is
    /// not the sign-in surface's gets a `404`. Never panics, never answers 500
    /// for bad input.
    pub async fn serve<B>(&self, request: http::Request<B>) -> Response
    where
        B: http_body::Body,
    {
        self.serve_within(request, std::future::pending()).await
    }

    /// [`Provider::serve`], but a body that has not arrived when `deadline`
    /// completes is answered 400 (and not read further). The adapters pass
    /// their runtime's sleep for [`WebConfig::client_timeout`]; the core has no
    /// timer of its own.
    pub async fn serve_within<B, D>(&self, request: http::Request<B>, deadline: D) -> Response
    where
        B: http_body::Body,
        D: Future<Output = ()>,
    {
        let (mut head, body) = request.into_parts();
        self.resolve_client(&mut head);
        let route = match self.admit(&head) {
            Ok(route) => route,
            Err(refusal) => return *refusal,
        };
        let started = std::time::Instant::now();
        let response = match before(self.read_body(body), deadline).await {
            Some(Ok(body)) => self.route(route, &head, &body).await,
            Some(Err(refusal)) => refusal,
            None => unreadable_body(),
        };
        self.backends()
            .metrics
            .request(route.name(), started.elapsed().as_secs_f64());
        response
    }

    /// How full the store is, by kind of entry (the memory store; empty for
    /// Redis): entries, budget, bytes and evictions.
    pub fn store_usage(&self) -> Vec<crate::backends::KindUsage> {
        self.backends().store.usage()
    }

    /// The Prometheus text exposition (feature `metrics`; empty without it):
    /// what `GET /metrics` answers, for a server that exposes it elsewhere.
    pub async fn metrics(&self) -> String {
        let backends = self.backends();
        let ring = backends.keys.key_ring().await.ok();
        let store: Vec<crate::metrics::StoreRow> = backends
            .store
            .usage()
            .into_iter()
            .map(|u| crate::metrics::StoreRow {
                kind: u.kind.name(),
                entries: u.entries,
                budget: u.budget,
                bytes: u.payload_bytes,
                evicted: u.evicted,
            })
            .collect();
        backends.metrics.render(
            ring.as_deref(),
            &store,
            backends.store.round_trips(),
            backends.now(),
        )
    }

    /// What [`Provider::serve`] refuses from the head alone, before any of the
    /// body is read: a path that is not ours (`404`), a method the route does
    /// not serve (`405` with `Allow`), a `Content-Length` over
    /// [`WebConfig::max_body`] (`413`). For adapters whose framework reads the
    /// body itself (rocket), so they never read what will be refused.
    pub fn refuse_before_reading(&self, head: &http::request::Parts) -> Option<Response> {
        self.admit(head).err().map(|refusal| *refusal)
    }

    fn admit(&self, head: &http::request::Parts) -> Result<routes::Route, Box<Response>> {
        let Some(route) = self.route_of(head.uri.path()) else {
            return Err(Box::new(json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "not_found"}),
            )));
        };
        if let Some(refusal) = route.refuse_method(&head.method) {
            return Err(Box::new(refusal));
        }
        if declared_length(head).is_some_and(|n| n > self.web().max_body as u64) {
            return Err(Box::new(payload_too_large()));
        }
        Ok(route)
    }

    /// Reads a body up to [`WebConfig::max_body`]; the error is the answer.
    async fn read_body<B>(&self, body: B) -> Result<Bytes, Response>
    where
        B: http_body::Body,
    {
        use bytes::{Buf as _, BufMut as _};
        use http_body_util::BodyExt as _;

        let limit = self.web().max_body;
        if body.size_hint().lower() > limit as u64 {
            return Err(payload_too_large());
        }
        let mut body = std::pin::pin!(body);
        let mut out = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(unreadable_body());
            };
            if let Ok(mut data) = frame.into_data() {
                if out.len() + data.remaining() > limit {
                    return Err(payload_too_large());
                }
                while data.has_remaining() {
                    let chunk = data.chunk();
                    let n = chunk.len();
                    out.put_slice(chunk);
                    data.advance(n);
                }
            }
        }
        Ok(out.freeze())
    }

    /// Derives the client's address from the adapter's [`PeerAddr`] and the
    /// trusted proxies; an address put there by anyone else is dropped.
    fn resolve_client(&self, head: &mut http::request::Parts) {
        let client = head
            .extensions
            .get::<PeerAddr>()
            .map(|peer| client_address(peer.0, &head.headers, &self.web().trusted_proxies));
        match client {
            Some(ip) => head.extensions.insert(ClientAddr(ip)),
            None => head.extensions.remove::<ClientAddr>(),
        };
    }

    /// The answer to a request body over [`WebConfig::max_body`], for adapters
    /// whose framework reads the body itself and stops early.
    pub fn payload_too_large(&self) -> Response {
        payload_too_large()
    }

    /// The answer when a request body could not be read (the client went away,
    /// or sent a malformed body), for adapters whose framework reads the body.
    pub fn unreadable_body(&self) -> Response {
        unreadable_body()
    }

    /// The response for a request that needs a signed-in user and has none: a
    /// redirect to sign in for browsers, `401` with `WWW-Authenticate: Bearer`
    /// for API clients (`Accept: application/json`, or a Bearer attempt).
    pub fn sign_in_required(&self, head: &http::request::Parts) -> Response {
        session::sign_in_required(self, head)
    }
}

/// The request's `Content-Length`, when it declares one.
fn declared_length(head: &http::request::Parts) -> Option<u64> {
    head.headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn payload_too_large() -> Response {
    json(
        StatusCode::PAYLOAD_TOO_LARGE,
        &serde_json::json!({"error": "invalid_request", "message": "body too large"}),
    )
}

/// `work`'s output, or `None` if `deadline` completes first.
async fn before<W: Future, D: Future<Output = ()>>(work: W, deadline: D) -> Option<W::Output> {
    let mut work = std::pin::pin!(work);
    let mut deadline = std::pin::pin!(deadline);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(done) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(done));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

fn unreadable_body() -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({"error": "invalid_request", "message": "the request body could not be read"}),
    )
}

/// Builds a response.
fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: that makes browsers send `Origin: null` on our own
    // form posts, which the CSRF check must refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A JSON response.
fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    respond(status, "application/json", value.to_string())
}

/// A JSON error body with our stable code.
fn json_code(code: Code) -> serde_json::Value {
    serde_json::json!({
        "error": error_name(code),
        "code": code.number(),
        "message": pages::message(code),
    })
}

/// A short machine name for a code.
fn error_name(code: Code) -> &'static str {
    match code {
        Code::TicketTooLarge
        | Code::TicketNotAcceptable
        | Code::PackageNotSupported
        | Code::NoTicket
        | Code::MalformedTicket
        | Code::TicketInvalid => "seamless_failed",
        Code::InteractionRequired | Code::MfaNotEnrolled => "interaction_required",
        Code::DirectoryUnavailable
        | Code::StoreUnavailable
        | Code::VerifierUnavailable
        | Code::KeysUnavailable => "temporarily_unavailable",
        Code::FlowExpired | Code::FlowInvalid => "flow_invalid",
        Code::BadRequest => "invalid_request",
        _ => "access_denied",
    }
}

/// A redirect (303: the browser follows with GET).
fn redirect(location: &str) -> Response {
    let mut response = respond(StatusCode::SEE_OTHER, "text/plain", Bytes::new());
    match HeaderValue::from_str(location) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
            response
        }
        Err(_) => respond(StatusCode::BAD_REQUEST, "text/plain", "bad redirect"),
    }
}

fn add_header(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `HeaderMap::into_iter` names a repeated header once (`None` after): an
    /// adapter that skipped those dropped values. `headers()`/`apply` keep all.
    #[test]
    fn continue_headers_keep_every_value_of_a_repeated_header() {
        let mut seen = Continue::default();
        for v in ["a=1", "b=2", "c=3"] {
            seen.response_headers
                .append(header::SET_COOKIE, HeaderValue::from_static(v));
        }
        let pairs: Vec<(&str, &[u8])> = seen
            .headers()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("set-cookie", &b"a=1"[..]),
                ("set-cookie", b"b=2"),
                ("set-cookie", b"c=3")
            ]
        );
        let mut response = HeaderMap::new();
        response.append(header::SET_COOKIE, HeaderValue::from_static("app=1"));
        seen.apply(&mut response);
        let all: Vec<_> = response.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(all, ["app=1", "a=1", "b=2", "c=3"]);
    }

    /// A body that records whether anyone read it.
    struct Watched(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl http_body::Body for Watched {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            std::task::Poll::Ready(None)
        }
    }

    #[test]
    fn what_the_head_refuses_is_refused_before_the_body_is_read() {
        use crate::backends::{MemoryKeyStore, StaticDirectory};
        let provider = Provider::builder()
            .keys(MemoryKeyStore::default())
            .directory(StaticDirectory::from_text("").expect("directory"))
            .with_engine(|b| b.dangerous().no_passwords())
            .build()
            .expect("provider");
        for (method, path, length, status) in [
            ("POST", "/token", "10000000", 413),
            ("DELETE", "/token", "10", 405),
            ("POST", "/not-ours", "10", 404),
        ] {
            let read = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_LENGTH, length)
                .body(Watched(read.clone()))
                .expect("request");
            let response = crate::testkit::sim::block_on(provider.serve(request));
            assert_eq!(response.status().as_u16(), status, "{method} {path}");
            assert!(
                !read.load(std::sync::atomic::Ordering::SeqCst),
                "{method} {path}: body read"
            );
        }
    }
}
