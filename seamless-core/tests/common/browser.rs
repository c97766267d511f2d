//! A browser for the HTTP tests: a cookie jar over the adapter protocol, the
//! sign-in page's requests, and the OIDC client's redirects and grants.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Method, StatusCode};
use jsonwebtoken::{DecodingKey, Validation};
use seamless_core::backends::RulePolicy;
use seamless_core::clock::Clock;
use seamless_core::grants::s256_challenge;
use seamless_core::http::{Client, Response, WebConfig};

use super::Outcome;
use seamless_core::testkit::sim::block_on;
use seamless_core::token::SigningAlgorithm;

use super::World;
use seamless_core::testkit::world::WorldBuilder;

pub const ORIGIN: &str = "https://login.example";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92aXlMG8kN4jv0ty5Ic5y2c1WZ0Q12345";
pub const SPA_CB: &str = "https://spa.example/cb";
pub const WEB_CB: &str = "https://web.example/cb";

/// The API `spa`'s access tokens are for; the application accepts only it.
pub const API: &str = "https://login.example/api";

pub fn web() -> WebConfig {
    let mut web = WebConfig::new(ORIGIN);
    web.bearer_audiences = vec![API.into()];
    web
}

pub fn http_world(policy: RulePolicy) -> World {
    http_world_from(World::builder().policy(policy))
}

/// [`http_world`] from a builder with other settings.
pub fn http_world_from(builder: WorldBuilder) -> World {
    builder
        .provider(|b| {
            b.web(web())
                .client(
                    Client::public("spa", SPA_CB)
                        .with_algorithm(SigningAlgorithm::Es256)
                        .with_audience(API),
                )
                .client(Client::confidential("web", "s3cret", WEB_CB))
        })
        .build()
}

pub fn mfa_policy() -> RulePolicy {
    RulePolicy {
        mfa_groups: vec!["mfa".into()],
        ..RulePolicy::default()
    }
}

/// A browser: a cookie jar and the engine as its only server.
pub struct Browser<'w> {
    pub world: &'w World,
    pub jar: BTreeMap<String, String>,
}

impl<'w> Browser<'w> {
    pub fn new(world: &'w World) -> Self {
        Self {
            world,
            jar: BTreeMap::new(),
        }
    }

    pub fn send(
        &mut self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if !self.jar.is_empty() {
            let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header("cookie", cookie.join("; "));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(Bytes::from(body.to_string()))
            .expect("request");
        let response = match block_on(self.world.handle(request)) {
            Outcome::Respond(r) => r,
            other => panic!("{uri} is ours, got {other:?}"),
        };
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().expect("ascii");
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("cookie pair");
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
        response
    }

    pub fn get(&mut self, uri: &str) -> Response {
        self.send(Method::GET, uri, &[], "")
    }

    pub fn post(&mut self, uri: &str, pairs: &[(&str, &str)]) -> Response {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.send(
            Method::POST,
            uri,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", ORIGIN),
                ("sec-fetch-site", "same-origin"),
            ],
            &body,
        )
    }

    /// The page's background request, as its script makes it.
    pub fn sso(&mut self, page: &Response, authorization: Option<&str>) -> Response {
        let state = field(page, "state");
        let mut headers = vec![("seamless-flow", state.as_str())];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        self.send(Method::GET, "/winauth/sso", &headers, "")
    }

    /// The session cookie as a `Cookie` header value.
    pub fn session_cookie(&self) -> String {
        format!(
            "__Host-seamless-session={}",
            self.jar["__Host-seamless-session"]
        )
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.jar.contains_key(name)
    }
}

pub fn text(r: &Response) -> &str {
    std::str::from_utf8(r.body()).expect("utf-8")
}

pub fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(r.body()).expect("json body")
}

pub fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().expect("ascii"))
}

/// A hidden field's value in a page.
pub fn field(page: &Response, name: &str) -> String {
    let html = text(page);
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].replace("&amp;", "&")
}

pub fn step_of(page: &Response) -> String {
    field(page, "step")
}

pub fn query_of(location: &str) -> BTreeMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn authorize_uri(client: &str, extra: &[(&str, &str)]) -> String {
    let redirect = if client == "spa" { SPA_CB } else { WEB_CB };
    let challenge = s256_challenge(VERIFIER);
    let mut pairs = vec![
        ("client_id", client),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    format!(
        "/authorize?{}",
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    )
}

/// Runs the seamless part: page → 401 challenge → Negotiate → token → login post.
pub fn seamless(b: &mut Browser<'_>, page: &Response, token: &str) -> Response {
    let challenge = b.sso(page, None);
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&challenge, "www-authenticate"), Some("Negotiate"));
    assert_eq!(json(&challenge)["code"], 81006);
    let answer = b.sso(page, Some(&format!("Negotiate {token}")));
    assert_eq!(answer.status(), StatusCode::OK, "{}", text(&answer));
    assert_eq!(header(&answer, "cache-control"), Some("no-store"));
    let sign_in_token = json(&answer)["token"].as_str().expect("token").to_string();
    b.post(
        "/login",
        &[
            ("step", "sso"),
            ("state", &field(page, "state")),
            ("token", &sign_in_token),
        ],
    )
}

pub fn redeem(b: &mut Browser<'_>, location: &str) -> Response {
    let q = query_of(location);
    token_request(
        b,
        &[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", SPA_CB),
            ("client_id", "spa"),
            ("code_verifier", VERIFIER),
        ],
    )
}

/// A form post to the token endpoint.
pub fn token_request(b: &mut Browser<'_>, pairs: &[(&str, &str)]) -> Response {
    b.send(
        Method::POST,
        "/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
    )
}

pub fn decode_id_token(w: &World, b: &mut Browser<'_>, id_token: &str) -> serde_json::Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(b.get("/jwks").body()).expect("jwks");
    let header = jsonwebtoken::decode_header(id_token).expect("header");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("key in JWKS");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["spa"]);
    validation.set_issuer(&[ORIGIN]);
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(
        id_token,
        &DecodingKey::from_jwk(jwk).expect("decoding key"),
        &validation,
    )
    .expect("ID token verifies against the JWKS");
    let exp = data.claims["exp"].as_i64().expect("exp");
    assert!(exp > w.clock.unix());
    data.claims
}

/// Signs alice in seamlessly through `/authorize` for `spa` and redeems the
/// code: the token response.
pub fn oidc_tokens(w: &World, b: &mut Browser<'_>) -> serde_json::Value {
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let done = seamless(b, &page, &w.token("alice", 1105));
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
    let tokens = redeem(b, header(&done, "location").expect("location"));
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    json(&tokens)
}
