//! Access tokens, sessions and their keys: checked as strictly as they are
//! issued.

use base64::Engine as _;
use http::StatusCode;
use seamless_core::backends::RulePolicy;
use seamless_core::seal::Sealer;
use seamless_core::token::{SigningAlgorithm, SigningKeys, TokenIssuer, TokenSettings};

use crate::common::browser::*;
use crate::common::{T0, World};

/// An access token signed with our real key, claims chosen by the test.
fn forge(keys: &SigningKeys, claims: serde_json::Value) -> String {
    let dir = std::env::temp_dir().join(format!("seamless-forge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("keys.json");
    keys.save(&path).expect("save");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let _ = std::fs::remove_dir_all(&dir);
    let pem = find_pem(&saved).expect("a PEM in the key file");
    let key = keys.signer(SigningAlgorithm::Es256).expect("es256");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid().to_string());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).expect("ec pem"),
    )
    .expect("sign")
}

fn find_pem(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.contains("PRIVATE KEY") => Some(s.clone()),
        serde_json::Value::Array(a) => a.iter().find_map(find_pem),
        serde_json::Value::Object(o) => o.values().find_map(find_pem),
        _ => None,
    }
}

#[test]
fn an_access_token_before_its_nbf_is_refused() {
    let keys = SigningKeys::generate(&[SigningAlgorithm::Es256], T0).expect("keys");
    let tokens = TokenIssuer::new(
        TokenSettings {
            issuer: "https://idp.test".into(),
            ..TokenSettings::default()
        },
        keys.clone(),
    );
    // The claims of a real token of ours, plus an nbf an hour ahead.
    let completion = seamless_core::model::Completion {
        flow_id: "f".into(),
        user: seamless_core::backends::User::new("u-alice", "alice@ad.test"),
        auth: seamless_core::flow::AuthFacts {
            methods: vec![seamless_core::backends::Method::Kerberos],
            auth_time: T0,
            not_after: None,
            ticket: None,
        },
        request: Default::default(),
    };
    let (_, claims) = tokens
        .access_token(
            &completion,
            "app",
            "openid",
            "j".into(),
            SigningAlgorithm::Es256,
            T0,
        )
        .expect("sign");
    let mut claims = serde_json::to_value(&claims).expect("claims");
    claims["nbf"] = (T0 + 3600).into();
    claims["exp"] = (T0 + 7200).into();
    let token = forge(&keys, claims);
    assert!(tokens.verify_access(&token, T0).is_err(), "not yet valid");
    assert!(
        tokens.verify_access(&token, T0 + 3601).is_ok(),
        "the same token once nbf has passed: only nbf was wrong"
    );
}

fn bearer_head(token: &str) -> http::request::Parts {
    http::Request::builder()
        .uri("/api/me")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .expect("request")
        .into_parts()
        .0
}

/// Alice's token response for the confidential client `web`.
fn web_tokens(w: &World) -> serde_json::Value {
    let mut b = Browser::new(w);
    let page = b.get(&authorize_uri("web", &[("login_hint", "alice@ad.test")]));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    let location = header(&done, "location").expect("location").to_string();
    let code = query_of(&location)["code"].clone();
    json(&token_request(
        &mut b,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_CB),
            ("client_id", "web"),
            ("client_secret", "s3cret"),
            ("code_verifier", VERIFIER),
        ],
    ))
}

#[test]
fn the_middleware_accepts_only_access_tokens_meant_for_it() {
    let w = http_world(RulePolicy::default());
    let ours = oidc_tokens(&w, &mut Browser::new(&w))["access_token"]
        .as_str()
        .expect("at")
        .to_string();
    let theirs = web_tokens(&w)["access_token"]
        .as_str()
        .expect("at")
        .to_string();
    assert!(
        seamless_core::testkit::sim::block_on(w.provider.authenticate(&bearer_head(&ours)))
            .is_some()
    );
    assert!(
        seamless_core::testkit::sim::block_on(w.provider.authenticate(&bearer_head(&theirs)))
            .is_none(),
        "a token issued to another client (another API) does not open this app"
    );
    // Both are still ours: userinfo answers for either.
    let mut b = Browser::new(&w);
    for token in [&ours, &theirs] {
        let r = b.send(
            http::Method::GET,
            "/userinfo",
            &[("authorization", &format!("Bearer {token}"))],
            "",
        );
        assert_eq!(r.status(), StatusCode::OK, "{}", text(&r));
    }
}

#[test]
fn retiring_the_oldest_sealing_key_keeps_what_the_others_sealed() {
    let dir = std::env::temp_dir().join(format!("seamless-sealing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("sealing.keys");
    let b64 = |k: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(k);
    let (old, new) = ([1u8; 32], [2u8; 32]);
    let load = |lines: &[[u8; 32]]| {
        let text: String = lines.iter().map(|k| format!("{}\n", b64(*k))).collect();
        std::fs::write(&path, text).expect("write");
        Sealer::new(seamless_core::config::sealing_keys(&path).expect("keys")).expect("sealer")
    };
    let entropy = seamless_core::kerberos::OsEntropy;
    // Rotation: the new key in front seals, the old one still opens.
    let rotated = load(&[new, old]);
    let sealed = rotated
        .seal("session", &"alice", T0 + 60, &entropy)
        .expect("seal");
    // The old key retired: what the new key sealed still opens.
    let retired = load(&[new]);
    assert_eq!(
        retired.open::<String>("session", &sealed, T0),
        Ok("alice".to_string())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn cookie_head(cookie: &str) -> http::request::Parts {
    http::Request::builder()
        .uri("/me")
        .header("cookie", cookie)
        .body(())
        .expect("request")
        .into_parts()
        .0
}

fn signed_in_browser(w: &World) -> Browser<'_> {
    let mut b = Browser::new(w);
    let page = b.get("/signin?return=%2F&login_hint=alice%40ad.test");
    assert_eq!(
        seamless(&mut b, &page, &w.token("alice", 1105)).status(),
        StatusCode::SEE_OTHER
    );
    b
}

fn opens(w: &World, cookie: &str) -> bool {
    seamless_core::testkit::sim::block_on(w.provider.authenticate(&cookie_head(cookie))).is_some()
}

#[test]
fn a_captured_session_cookie_is_dead_after_sign_out() {
    let w = http_world(RulePolicy::default());
    let mut b = signed_in_browser(&w);
    let captured = b.session_cookie();
    assert!(opens(&w, &captured));
    let out = b.post("/logout", &[]);
    assert_eq!(out.status(), StatusCode::OK, "{}", text(&out));
    assert!(
        !opens(&w, &captured),
        "signed out everywhere, not only in this browser"
    );
    // Past the cache window too (what another instance would see).
    w.clock.advance(seamless_core::http::REVOCATION_CACHE * 2);
    assert!(!opens(&w, &captured));
    // Nor does it sign in silently to an OIDC client.
    let mut thief = Browser::new(&w);
    let (name, value) = captured.split_once('=').expect("cookie");
    thief.jar.insert(name.to_string(), value.to_string());
    let r = thief.get(&authorize_uri("spa", &[("prompt", "none")]));
    let q = query_of(header(&r, "location").expect("location"));
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("login_required"),
        "{q:?}"
    );
}

#[test]
fn a_refused_account_ends_its_sessions() {
    let w = http_world(RulePolicy::default());
    let b = signed_in_browser(&w);
    let captured = b.session_cookie();
    let mut other = Browser::new(&w);
    let tokens = oidc_tokens(&w, &mut other);
    w.edit_user("alice@ad.test", |u| u.enabled = false);
    // The refresh finds the account disabled: its family and its sessions end.
    let refused = token_request(
        &mut other,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("rt"),
            ),
            ("client_id", "spa"),
        ],
    );
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    w.clock.advance(seamless_core::http::REVOCATION_CACHE * 2);
    assert!(!opens(&w, &captured));
}

#[test]
fn a_cross_site_logout_signs_nobody_out() {
    let w = http_world(RulePolicy::default());
    let mut b = signed_in_browser(&w);
    // A link or image on another site: a GET with no id_token_hint.
    let r = b.send(
        http::Method::GET,
        "/logout",
        &[("sec-fetch-site", "cross-site")],
        "",
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert!(text(&r).contains("method=\"post\""), "asks to confirm");
    assert!(b.has_cookie("__Host-seamless-session"), "still signed in");
    assert!(
        !b.has_cookie("__Host-seamless-signed-out"),
        "no suppression marker"
    );
    assert!(opens(&w, &b.session_cookie()));
    // A cross-site form post is refused too.
    let r = b.send(
        http::Method::POST,
        "/logout",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("sec-fetch-site", "cross-site"),
        ],
        "",
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(b.has_cookie("__Host-seamless-session"));
}

#[test]
fn logout_with_an_id_token_hint_signs_out_and_redirects() {
    let w = crate::common::world_custom(
        RulePolicy::default(),
        seamless_core::engine::EngineConfig::default(),
        vec![seamless_core::seal::SealingKey::new(1, [7; 32])],
        |b| {
            let mut spa = seamless_core::http::Client::public("spa", SPA_CB);
            spa.post_logout_redirect_uris = vec!["https://spa.example/bye".into()];
            b.web(web()).client(spa)
        },
    );
    let mut b = Browser::new(&w);
    let tokens = oidc_tokens(&w, &mut b);
    let hint = tokens["id_token"].as_str().expect("id token");
    let uri = format!(
        "/logout?{}",
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "https://spa.example/bye"),
                ("state", "s1"),
            ])
            .finish()
    );
    let r = b.send(
        http::Method::GET,
        &uri,
        &[("sec-fetch-site", "cross-site")],
        "",
    );
    assert_eq!(
        header(&r, "location"),
        Some("https://spa.example/bye?state=s1")
    );
    assert!(!b.has_cookie("__Host-seamless-session"));
    // A forged hint is refused, not treated as no hint.
    let forged = format!("{}x", &hint[..hint.len() - 1]);
    let r = b.get(&format!("/logout?id_token_hint={forged}"));
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn a_disabled_account_loses_its_sessions_within_the_recheck_interval() {
    let w = http_world(RulePolicy::default());
    let b = signed_in_browser(&w);
    let captured = b.session_cookie();
    assert!(opens(&w, &captured));
    w.edit_user("alice@ad.test", |u| u.enabled = false);
    // Within the interval this instance's last answer stands (the stated bound)...
    w.clock.advance(std::time::Duration::from_secs(60));
    assert!(opens(&w, &captured));
    // ...and past it the account is looked up, found disabled, and its sessions end.
    w.clock
        .advance(seamless_core::http::WebConfig::default().session_recheck);
    assert!(!opens(&w, &captured));
    // Everywhere and for good: enabled again, the old session stays dead.
    w.edit_user("alice@ad.test", |u| u.enabled = true);
    w.clock.advance(std::time::Duration::from_secs(400));
    assert!(!opens(&w, &captured));
}
