//! An independent OpenID Connect relying party (the `openidconnect` crate) against
//! the engine served over HTTP on loopback: discovery, JWKS, the code flow with
//! PKCE, ID-token verification and userinfo, for RS256, ES256 and EdDSA clients,
//! in the query and form-post response modes, with and without `max_age`.
//! The browser part runs through the same engine with a test-KDC ticket.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseMode,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use seamless_core::backends::{MemoryKeyStore, StaticDirectory};
use seamless_core::http::{Client, Provider, WebConfig};
use seamless_core::kerberos::{Etype, Key};
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use seamless_core::token::SigningAlgorithm;
use seamless_interop::loopback;

const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";
const CB: &str = "https://rp.example/cb";

fn kdc() -> TestKdc {
    let key = Key::new(Etype::Aes256CtsHmacSha196, &[0x31; 32]).expect("key");
    TestKdc::with_key("AD.TEST", "HTTP/app.ad.test", key, 3)
}

fn engine(origin: &str, kdc: &TestKdc) -> Provider {
    let directory = format!(
        "[[users]]\nid = \"u-alice\"\nupn = \"alice@ad.test\"\ndisplay_name = \"Alice\"\nsid = \"{DOMAIN}-1105\"\ngroups = [\"staff\"]\n"
    );
    let mut web = WebConfig::new(origin);
    web.dangerous().insecure_cookies();
    Provider::builder()
        .web(web)
        .keys(Arc::new(MemoryKeyStore::new(kdc.key_ring())))
        .directory(Arc::new(
            StaticDirectory::from_text(&directory).expect("directory"),
        ))
        .client(Client::confidential("rp-rs256", "rp-secret", CB))
        .client(Client::public("rp-es256", CB).with_algorithm(SigningAlgorithm::Es256))
        .client(Client::public("rp-eddsa", CB).with_algorithm(SigningAlgorithm::EdDsa))
        .with_engine(|b| b.dangerous().no_passwords())
        .build()
        .expect("engine")
}

/// The browser part, in process: authorize → page → Negotiate → login post.
/// Returns the redirect to the client with the code.
fn browser_sign_in(engine: &Provider, authorize_url: &str, token: &str) -> String {
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    let mut send = |request: http::request::Builder, body: String| {
        let cookie: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let request = request
            .header("cookie", cookie.join("; "))
            .body(http_body_util::Full::new(Bytes::from(body)))
            .expect("request");
        let response = block_on(engine.serve(request));
        for set in response.headers().get_all("set-cookie") {
            let pair = set
                .to_str()
                .expect("ascii")
                .split(';')
                .next()
                .expect("pair");
            let (k, v) = pair.split_once('=').expect("=");
            jar.insert(k.into(), v.into());
        }
        response
    };
    let uri: http::Uri = authorize_url.parse().expect("uri");
    let page = send(
        http::Request::get(uri.path_and_query().expect("pq").as_str()),
        String::new(),
    );
    let html = String::from_utf8(page.body().to_vec()).expect("html");
    let start = html.find("name=\"state\" value=\"").expect("state field") + 20;
    let state = html[start..start + html[start..].find('"').expect("end")].to_string();
    let answer = send(
        http::Request::get("/winauth/sso")
            .header("seamless-flow", &state)
            .header("authorization", format!("Negotiate {token}")),
        String::new(),
    );
    assert_eq!(
        answer.status(),
        200,
        "{}",
        String::from_utf8_lossy(answer.body())
    );
    let json: serde_json::Value = serde_json::from_slice(answer.body()).expect("json");
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("step", "sso"),
            ("state", &state),
            ("token", json["token"].as_str().expect("token")),
        ])
        .finish();
    let done = send(http::Request::post("/login"), form);
    authorization_response(&done)
}

/// The authorization response's parameters and where they go: from a redirect's
/// query, or from a form-post page's form (as a browser would submit it).
fn authorization_response(done: &http::Response<Bytes>) -> String {
    if done.status() == 303 {
        return done.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_string();
    }
    assert_eq!(done.status(), 200, "a redirect or a form-post page");
    let html = String::from_utf8(done.body().to_vec()).expect("html");
    let attribute = |tag: &str, name: &str| {
        tag.split_once(&format!("{name}=\""))
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(v, _)| v.replace("&amp;", "&"))
    };
    let action = attribute(&html[html.find("<form").expect("a form")..], "action").expect("action");
    let mut fields = form_urlencoded::Serializer::new(String::new());
    for input in html.split("<input ").skip(1) {
        if let (Some(k), Some(v)) = (attribute(input, "name"), attribute(input, "value")) {
            fields.append_pair(&k, &v);
        }
    }
    format!("{action}?{}", fields.finish())
}

/// Alice signs in through `authorize_url` with a fresh ticket; the response
/// reaches the redirect URI with the RP's `state` and our `iss`: its code.
fn alice_signs_in(
    kdc: &TestKdc,
    server: &loopback::Loopback,
    authorize_url: &str,
    csrf: &CsrfToken,
) -> String {
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
    let ticket = kdc
        .mint(&TicketSpec::new("alice", SystemTime::now()).with_pac(pac))
        .expect("mint");
    let location = browser_sign_in(&server.provider, authorize_url, &ticket.token);
    let (target, query) = location.split_once('?').expect("response parameters");
    assert_eq!(target, CB, "the response goes to the redirect URI");
    let back: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(&back["state"], csrf.secret());
    assert_eq!(back["iss"], server.origin());
    back["code"].clone()
}

/// The discovery document as the RP reads it, then a code flow for each client:
/// RS256, ES256 and EdDSA in the query response mode, and ES256 again with
/// `max_age` and `response_mode=form_post`, where the RP checks `auth_time`
/// against `max_age` as a careful RP does (ASP.NET Core 11 does).
#[test]
fn openidconnect_rp_verifies_our_tokens_for_every_algorithm_and_response_mode() {
    let kdc = kdc();
    let server = loopback::serve(|origin| engine(origin, &kdc));
    let http = |r| loopback::call(r);
    let issuer = IssuerUrl::new(server.origin()).expect("issuer");
    let metadata = CoreProviderMetadata::discover(&issuer, &http).expect("discovery and JWKS");
    assert_eq!(metadata.request_parameter_supported(), Some(false));
    assert_eq!(metadata.request_uri_parameter_supported(), Some(false));
    assert_eq!(
        metadata.response_modes_supported(),
        Some(&vec![CoreResponseMode::Query, CoreResponseMode::FormPost])
    );

    let max_age = Duration::from_secs(300);
    for (client_id, secret, alg, form_post_max_age) in [
        (
            "rp-rs256",
            Some("rp-secret"),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            false,
        ),
        (
            "rp-es256",
            None,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            false,
        ),
        ("rp-eddsa", None, CoreJwsSigningAlgorithm::EdDsa, false),
        (
            "rp-es256",
            None,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            true,
        ),
    ] {
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client_id.into()),
            secret.map(|s| ClientSecret::new(s.into())),
        )
        .set_redirect_uri(RedirectUrl::new(CB.into()).expect("redirect"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("login_hint", "alice@ad.test")
            .set_pkce_challenge(challenge);
        if form_post_max_age {
            request = request
                .set_max_age(max_age)
                .add_extra_param("response_mode", "form_post");
        }
        let (url, csrf, nonce) = request.url();
        let code = alice_signs_in(&kdc, &server, url.as_str(), &csrf);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token endpoint")
            .set_pkce_verifier(verifier)
            .request(&http)
            .expect("code exchange");
        let mut verifier = client.id_token_verifier().set_allowed_algs(vec![alg]);
        if form_post_max_age {
            verifier = verifier.set_auth_time_verifier_fn(move |auth_time| {
                let auth_time = auth_time.ok_or("auth_time missing under max_age")?;
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let age = now - auth_time.timestamp();
                (age <= max_age.as_secs() as i64)
                    .then_some(())
                    .ok_or_else(|| format!("authenticated {age} s ago"))
            });
        }
        let claims = tokens
            .id_token()
            .expect("id token")
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("{client_id}: the RP rejects our ID token: {e}"));
        assert_eq!(claims.subject().as_str(), "u-alice");
        let amr: Vec<&str> = claims
            .auth_method_refs()
            .expect("amr")
            .iter()
            .map(|a| a.as_str())
            .collect();
        assert_eq!(amr, ["kerberos"]);
        assert!(claims.auth_time().is_some());

        let info: openidconnect::core::CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), None)
            .expect("userinfo endpoint")
            .request(&http)
            .expect("userinfo");
        assert_eq!(info.subject().as_str(), "u-alice");
    }
}
