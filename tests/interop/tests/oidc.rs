//! An independent OpenID Connect relying party (the `openidconnect` crate) against
//! the engine served over HTTP on loopback: discovery, JWKS, the code flow with
//! PKCE, ID-token verification and userinfo, for RS256, ES256 and EdDSA clients.
//! The browser part runs through the same engine with a test-KDC ticket.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
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
    assert_eq!(done.status(), 303);
    done.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string()
}

#[test]
fn openidconnect_rp_verifies_our_tokens_for_every_algorithm() {
    let kdc = kdc();
    let server = loopback::serve(|origin| engine(origin, &kdc));
    let http = |r| loopback::call(r);
    let issuer = IssuerUrl::new(server.origin()).expect("issuer");
    let metadata = CoreProviderMetadata::discover(&issuer, &http).expect("discovery and JWKS");

    for (client_id, secret, alg) in [
        (
            "rp-rs256",
            Some("rp-secret"),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
        ("rp-es256", None, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("rp-eddsa", None, CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client_id.into()),
            secret.map(|s| ClientSecret::new(s.into())),
        )
        .set_redirect_uri(RedirectUrl::new(CB.into()).expect("redirect"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("login_hint", "alice@ad.test")
            .set_pkce_challenge(challenge)
            .url();

        let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
        let ticket = kdc
            .mint(&TicketSpec::new("alice", SystemTime::now()).with_pac(pac))
            .expect("mint");
        let location = browser_sign_in(&server.provider, url.as_str(), &ticket.token);
        let back: BTreeMap<String, String> =
            form_urlencoded::parse(location.split_once('?').expect("query").1.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        assert_eq!(&back["state"], csrf.secret());
        assert_eq!(back["iss"], server.origin());

        let tokens = client
            .exchange_code(AuthorizationCode::new(back["code"].clone()))
            .expect("token endpoint")
            .set_pkce_verifier(verifier)
            .request(&http)
            .expect("code exchange");
        let verifier = client.id_token_verifier().set_allowed_algs(vec![alg]);
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
