//! The HTTP surface through the adapter protocol: what the conformance suite
//! (`tests/conformance`, run through every adapter) does not already cover —
//! every fallback with its code, the OIDC endpoints in detail, and middleware
//! mode, on test-KDC tickets, a hand-advanced clock and seeded randomness. A
//! behaviour tested in the suite is not tested again here.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::browser::*;
use common::*;
use http::{Method, StatusCode};

use seamless_core::backends::{EntryKind, MemoryBudgets, RulePolicy};
use seamless_core::clock::Clock;
use seamless_core::engine::EngineConfig;
use seamless_core::http::{Client, Response};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::{PacSpec, TicketSpec};
use seamless_core::token::SigningAlgorithm;

/// The refresh grant for the `spa` client.
fn spa_refresh(b: &mut Browser<'_>, refresh_token: &str) -> Response {
    b.send(
        Method::POST,
        "/token",
        &[],
        &format!("grant_type=refresh_token&client_id=spa&refresh_token={refresh_token}"),
    )
}

/// Sends `authorization` to the background endpoint of a hinted flow.
fn refused(w: &World, authorization: &str) -> (Response, serde_json::Value) {
    let mut b = Browser::new(w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let r = b.sso(&page, Some(authorization));
    let body = json(&r);
    (r, body)
}

#[test]
fn ntlm_gets_81005_and_the_password_form() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    for auth in [
        "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
        "Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
    ] {
        let (r, body) = refused(&w, auth);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(body["code"], 81005, "{auth}");
        assert!(
            header(&r, "www-authenticate").is_none(),
            "never offers NTLM"
        );
    }
    let r = b.sso(
        &page,
        Some("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="),
    );
    let state = json(&r)["state"].as_str().expect("state").to_string();
    let form = b.post("/login", &[("step", "resume"), ("state", &state)]);
    assert_eq!(step_of(&form), "password");
    assert!(text(&form).contains("(81005)"));
}

#[test]
fn hostile_negotiate_headers_get_their_codes() {
    let w = http_world(RulePolicy::default());
    let huge = format!("Negotiate {}", "A".repeat(70 * 1024));
    let cases: [(&str, u32); 6] = [
        (&huge, 81001),
        ("Negotiate !!!not-base64!!!", 81009),
        ("Negotiate YIIBhgYGKwYBBQUCoII=", 81009),
        ("Negotiate ", 81006),
        ("negotiate", 81006),
        ("Basic YWxpY2U6cHc=", 81009),
    ];
    for (auth, code) in cases {
        let (r, body) = refused(&w, auth);
        assert_eq!(body["code"], code, "{}", &auth[..auth.len().min(40)]);
        assert!(r.status().is_client_error(), "never a 5xx: {}", r.status());
        assert!(body["state"].is_string(), "the page can fall back");
    }
    // Truncated real token.
    let token = w.token("alice", 1105);
    let (_, body) = refused(&w, &format!("Negotiate {}", &token[..token.len() / 2]));
    assert_eq!(body["code"], 81009);
    // Wrong key.
    let other = seamless_core::kerberos::Key::new(
        seamless_core::kerberos::Etype::Aes256CtsHmacSha196,
        &[0x22; 32],
    )
    .expect("key");
    let wrong = w
        .kdc
        .mint(
            &TicketSpec::new("alice", w.now())
                .with_flaw(seamless_core::testkit::Flaw::WrongServiceKey(other)),
        )
        .expect("mint")
        .token;
    let (_, body) = refused(&w, &format!("Negotiate {wrong}"));
    assert_eq!(body["code"], 81010);
}

#[test]
fn replayed_expired_and_skewed_tickets_fall_back_with_81010() {
    let w = http_world(RulePolicy::default());
    let token = w.token("alice", 1105);
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    assert_eq!(
        seamless(&mut b, &page, &token).status(),
        StatusCode::SEE_OTHER
    );
    let (_, body) = refused(&w, &format!("Negotiate {token}"));
    assert_eq!(body["code"], 81010, "replay");

    let old = w.token("alice", 1105);
    w.clock.advance(std::time::Duration::from_secs(11 * 3600));
    let (_, body) = refused(&w, &format!("Negotiate {old}"));
    assert_eq!(body["code"], 81010, "expired");

    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
    let mut spec = TicketSpec::new("alice", w.now()).with_pac(pac);
    spec.ctime = w.clock.unix() - 600;
    let skewed = w.kdc.mint(&spec).expect("mint").token;
    let (_, body) = refused(&w, &format!("Negotiate {skewed}"));
    assert_eq!(body["code"], 81010, "skew");
}

#[test]
fn directory_outcomes_are_coded() {
    let w = http_world(RulePolicy::default());
    let (r, body) = refused(&w, &format!("Negotiate {}", w.token("ghost", 9999)));
    assert_eq!(
        (r.status(), body["code"].clone()),
        (StatusCode::FORBIDDEN, 81011.into())
    );
    // carol is disabled: refused for good, no password form.
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "carol@ad.test")]));
    let r = b.sso(
        &page,
        Some(&format!("Negotiate {}", w.token("carol", 1107))),
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(&r)["code"], 50057);
    assert!(json(&r).get("state").is_none());
    // Hint says alice, ticket says dave.
    let (_, body) = refused(&w, &format!("Negotiate {}", w.token("dave", 1108)));
    assert_eq!(body["code"], 81012);
}

#[test]
fn mfa_after_seamless_then_lockout() {
    let w = http_world(mfa_policy());
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "bob@ad.test")]));
    let r = b.sso(&page, Some(&format!("Negotiate {}", w.token("bob", 1106))));
    assert_eq!(r.status(), StatusCode::OK);
    let state = json(&r)["state"].as_str().expect("mfa state").to_string();
    let mfa = b.post("/login", &[("step", "resume"), ("state", &state)]);
    assert_eq!(step_of(&mfa), "mfa");
    let wrong = b.post(
        "/login",
        &[
            ("step", "mfa"),
            ("state", &field(&mfa, "state")),
            ("code", "000000"),
        ],
    );
    assert_eq!(step_of(&wrong), "mfa");
    assert!(text(&wrong).contains("(500121)"), "the wrong code is named");
    let code = w.totp();
    let done = b.post(
        "/login",
        &[
            ("step", "mfa"),
            ("state", &field(&wrong, "state")),
            ("code", &code),
        ],
    );
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    let claims = decode_id_token(&w, &mut b, json(&tokens)["id_token"].as_str().expect("id"));
    assert_eq!(claims["amr"], serde_json::json!(["kerberos", "otp", "mfa"]));

    // Lockout: five wrong codes end the flow.
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "bob@ad.test")]));
    w.clock.advance(std::time::Duration::from_secs(1));
    let r = b.sso(&page, Some(&format!("Negotiate {}", w.token("bob", 1106))));
    let mut page = b.post(
        "/login",
        &[
            ("step", "resume"),
            ("state", json(&r)["state"].as_str().expect("s")),
        ],
    );
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        let state = field(&page, "state");
        page = b.post(
            "/login",
            &[("step", "mfa"), ("state", &state), ("code", "000000")],
        );
        last = page.status();
        if last != StatusCode::OK {
            break;
        }
    }
    assert_eq!(last, StatusCode::FORBIDDEN);
    assert!(text(&page).contains("(500121)"));
}

#[test]
fn pkce_code_reuse_and_refresh_rotation() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    let location = header(&done, "location").expect("location").to_string();
    let code = query_of(&location)["code"].clone();
    let exchange = |b: &mut Browser<'_>, verifier: &str| {
        b.send(
            Method::POST,
            "/token",
            &[],
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", SPA_CB),
                    ("client_id", "spa"),
                    ("code_verifier", verifier),
                ])
                .finish(),
        )
    };
    let r = exchange(&mut b, &"x".repeat(43));
    assert_eq!(
        (r.status(), json(&r)["error"].clone()),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    // The failed PKCE attempt spent the code: single use, whatever happened.
    let r = exchange(&mut b, VERIFIER);
    assert_eq!(json(&r)["error"], "invalid_grant");

    // A fresh sign-in; a refresh chain; reuse of an old refresh token kills it.
    w.clock.advance(std::time::Duration::from_secs(1));
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    let tokens = json(&redeem(
        &mut b,
        header(&done, "location").expect("location"),
    ));
    let rt1 = tokens["refresh_token"].as_str().expect("rt").to_string();
    let r2 = spa_refresh(&mut b, &rt1);
    assert_eq!(r2.status(), StatusCode::OK);
    let rt2 = json(&r2)["refresh_token"]
        .as_str()
        .expect("rt2")
        .to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(
        json(&spa_refresh(&mut b, &rt1))["error"],
        "invalid_grant",
        "reuse"
    );
    assert_eq!(
        json(&spa_refresh(&mut b, &rt2))["error"],
        "invalid_grant",
        "the family is revoked"
    );

    // A second redemption of a code revokes the refresh tokens issued from it.
    w.clock.advance(std::time::Duration::from_secs(1));
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    let location = header(&done, "location").expect("location").to_string();
    let rt = json(&redeem(&mut b, &location))["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    assert_eq!(json(&redeem(&mut b, &location))["error"], "invalid_grant");
    assert_eq!(json(&spa_refresh(&mut b, &rt))["error"], "invalid_grant");
}

/// A complete browser sign-in asks the store three operations (each one round
/// trip to Redis): the replay entry at Negotiate; the sign-in token spent with
/// the code stored, at the login post; the code taken with its spent mark and
/// the first refresh token stored, at `/token`. A refresh asks two. The sign-in
/// token still buys one code only.
#[test]
fn a_sign_in_is_three_store_round_trips_and_a_refresh_two() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let before = w.store_operations();
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let challenge = b.sso(&page, None);
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    let answer = b.sso(
        &page,
        Some(&format!("Negotiate {}", w.token("alice", 1105))),
    );
    assert_eq!(answer.status(), StatusCode::OK, "{}", text(&answer));
    assert_eq!(w.store_operations() - before, 1, "the replay entry");
    let sign_in_token = json(&answer)["token"].as_str().expect("token").to_string();
    let post = |b: &mut Browser<'_>| {
        b.post(
            "/login",
            &[
                ("step", "sso"),
                ("state", &field(&page, "state")),
                ("token", &sign_in_token),
            ],
        )
    };
    let done = post(&mut b);
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
    assert_eq!(
        w.store_operations() - before,
        2,
        "spent with the code stored"
    );
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    assert_eq!(
        w.store_operations() - before,
        3,
        "the code and the refresh token"
    );

    let refresh = json(&tokens)["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let at = w.store_operations();
    let next = spa_refresh(&mut b, &refresh);
    assert_eq!(next.status(), StatusCode::OK, "{}", text(&next));
    assert_eq!(w.store_operations() - at, 2, "a look, then one rotation");
    let next = json(&next)["refresh_token"]
        .as_str()
        .expect("next")
        .to_string();
    assert_eq!(
        spa_refresh(&mut b, &next).status(),
        StatusCode::OK,
        "the rotated token works"
    );

    // The same sign-in token again (a replayed form post): no second code.
    let again = post(&mut b);
    assert!(
        header(&again, "location").is_none_or(|l| !l.contains("code=")),
        "a spent sign-in token bought a second code: {:?}",
        header(&again, "location")
    );
}

#[test]
fn confidential_clients_authenticate() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("web", &[("login_hint", "alice@ad.test")]));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    let code = query_of(header(&done, "location").expect("location"))["code"].clone();
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fweb.example%2Fcb&code_verifier={VERIFIER}"
    );
    use base64::Engine as _;
    let wrong = base64::engine::general_purpose::STANDARD.encode("web:nope");
    let r = b.send(
        Method::POST,
        "/token",
        &[("authorization", &format!("Basic {wrong}"))],
        &form,
    );
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(&r)["error"], "invalid_client");
    assert!(header(&r, "www-authenticate").is_some_and(|v| v.starts_with("Basic")));
    let right = base64::engine::general_purpose::STANDARD.encode("web:s3cret");
    let r = b.send(
        Method::POST,
        "/token",
        &[("authorization", &format!("Basic {right}"))],
        &form,
    );
    assert_eq!(r.status(), StatusCode::OK, "{}", text(&r));
    let id = jsonwebtoken::decode_header(json(&r)["id_token"].as_str().expect("id")).expect("hdr");
    assert_eq!(id.alg, jsonwebtoken::Algorithm::RS256, "RS256 by default");
}

#[test]
fn prompt_none_uses_the_session_or_says_login_required() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let r = b.get(&authorize_uri("spa", &[("prompt", "none")]));
    let q = query_of(header(&r, "location").expect("location"));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("login_required", "st-1")
    );
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    seamless(&mut b, &page, &w.token("alice", 1105));
    let r = b.get(&authorize_uri("web", &[("prompt", "none")]));
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let q = query_of(header(&r, "location").expect("location"));
    assert!(
        q.contains_key("code"),
        "silent sign-in from the session: {q:?}"
    );
    // prompt=login ignores the session.
    let r = b.get(&authorize_uri("spa", &[("prompt", "login")]));
    assert_eq!(step_of(&r), "username");
}

#[test]
fn middleware_mode_guards_the_application() {
    let w = http_world(RulePolicy::default());
    let head = |headers: &[(&str, &str)]| {
        let mut req = http::Request::builder().uri("/app/page?x=1");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).expect("req").into_parts().0
    };
    let browser = w
        .provider
        .sign_in_required(&head(&[("accept", "text/html")]));
    assert_eq!(browser.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header(&browser, "location"),
        Some("/signin?return=%2Fapp%2Fpage%3Fx%3D1")
    );
    let api = w
        .provider
        .sign_in_required(&head(&[("accept", "application/json")]));
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&api, "www-authenticate"),
        Some("Bearer realm=\"https://login.example\"")
    );
    let bad = w
        .provider
        .sign_in_required(&head(&[("authorization", "Bearer junk")]));
    assert!(header(&bad, "www-authenticate").is_some_and(|v| v.contains("invalid_token")));

    // Sign in to the app itself: back to the page with a session.
    let mut b = Browser::new(&w);
    let page = b.get("/signin?return=%2Fapp%2Fpage%3Fx%3D1&login_hint=alice%40ad.test");
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    assert_eq!(header(&done, "location"), Some("/app/page?x=1"));
    let cookie = b.session_cookie();
    let who = block_on(w.provider.authenticate(&head(&[("cookie", &cookie)]))).expect("signed in");
    assert_eq!(who.claims.sub, "u-alice");
    assert_eq!(who.claims.amr, vec!["kerberos"]);
    // Sessions last 8 h; this ticket lives 10 h, so the session limit applies.
    assert_eq!(who.expires_at, T0 + 8 * 3600);
    // A ticket ending in 1 h caps the session at 1 h.
    let mut short = Browser::new(&w);
    let page = short.get("/signin?return=%2F&login_hint=alice%40ad.test");
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
    let mut spec = TicketSpec::new("alice", w.now()).with_pac(pac);
    spec.cusec = 7;
    spec.end_time = T0 + 3600;
    let token = w.kdc.mint(&spec).expect("mint").token;
    seamless(&mut short, &page, &token);
    let cookie_short = short.session_cookie();
    let who_short =
        block_on(w.provider.authenticate(&head(&[("cookie", &cookie_short)]))).expect("signed in");
    assert_eq!(who_short.expires_at, T0 + 3600);
    let app = block_on(
        w.handle(
            http::Request::builder()
                .uri("/app/page")
                .header("cookie", &cookie)
                .body(Bytes::new())
                .expect("req"),
        ),
    );
    match app {
        Outcome::Continue(c) => {
            assert_eq!(c.identity.expect("identity").claims.upn, "alice@ad.test")
        }
        other => panic!("the app's request passes: {other:?}"),
    }
    // A forged cookie is nobody, and is cleared.
    let forged = block_on(
        w.handle(
            http::Request::builder()
                .uri("/app")
                .header("cookie", "__Host-seamless-session=AAAA")
                .body(Bytes::new())
                .expect("req"),
        ),
    );
    match forged {
        Outcome::Continue(c) => {
            assert!(c.identity.is_none());
            assert!(c.response_headers.get("set-cookie").is_some());
        }
        other => panic!("{other:?}"),
    }
    // Opened sessions are cached per thread; an expiry passing is still seen.
    w.clock.advance(std::time::Duration::from_secs(3601));
    assert!(
        block_on(w.provider.authenticate(&head(&[("cookie", &cookie_short)]))).is_none(),
        "expired after the ticket's end, cache or not"
    );
    assert!(block_on(w.provider.authenticate(&head(&[("cookie", &cookie)]))).is_some());
    w.clock.advance(std::time::Duration::from_secs(8 * 3600));
    assert!(block_on(w.provider.authenticate(&head(&[("cookie", &cookie)]))).is_none());
}

#[test]
fn limits_methods_and_security_headers() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let r = b.send(Method::POST, "/token", &[], &"a".repeat(70 * 1024));
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = b.send(Method::DELETE, "/authorize", &[], "");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&r, "allow"), Some("GET, HEAD"));
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let csp = header(&page, "content-security-policy").expect("csp");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("nonce");
    assert!(text(&page).contains(&format!("<script nonce=\"{nonce}\">")));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(csp.contains("form-action 'self' https://spa.example"));
    assert_eq!(header(&page, "cache-control"), Some("no-store"));
    assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
    let cookie = page
        .headers()
        .get("set-cookie")
        .expect("flow cookie")
        .to_str()
        .expect("ascii");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax")
    );
    // Only the background request challenges, and only within a flow.
    for uri in ["/authorize", "/.well-known/openid-configuration", "/jwks"] {
        assert!(header(&b.get(uri), "www-authenticate").is_none(), "{uri}");
    }
    // The sso endpoint without its flow is a coded 400, not a challenge.
    let r = b.get("/winauth/sso");
    assert_eq!(
        (r.status(), json(&r)["code"].clone()),
        (StatusCode::BAD_REQUEST, 90011.into())
    );
}

#[test]
fn logout_redirects_only_to_registered_uris() {
    let w = world_custom(
        RulePolicy::default(),
        EngineConfig::default(),
        vec![SealingKey::new(1, [7; 32])],
        |b| {
            let mut client = Client::public("spa", SPA_CB);
            client.post_logout_redirect_uris = vec!["https://spa.example/bye".into()];
            b.web(web()).client(client)
        },
    );
    let mut b = Browser::new(&w);
    let r = b.post(
        "/logout",
        &[
            ("client_id", "spa"),
            ("post_logout_redirect_uri", "https://spa.example/bye"),
            ("state", "x"),
        ],
    );
    assert_eq!(
        header(&r, "location"),
        Some("https://spa.example/bye?state=x")
    );
    for pairs in [
        &[
            ("client_id", "spa"),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ][..],
        &[("post_logout_redirect_uri", "https://spa.example/bye")][..],
    ] {
        let r = b.post("/logout", pairs);
        assert_eq!(r.status(), StatusCode::OK, "{pairs:?}");
        assert!(header(&r, "location").is_none(), "{pairs:?}");
    }
}

/// The `auth_time` of an ID token from a token response.
fn auth_time(w: &World, b: &mut Browser<'_>, tokens: &Response) -> i64 {
    let id_token = json(tokens)["id_token"]
        .as_str()
        .expect("id_token")
        .to_string();
    decode_id_token(w, b, &id_token)["auth_time"]
        .as_i64()
        .expect("auth_time is always in the ID token")
}

#[test]
fn max_age_reauthenticates_when_the_session_is_older() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let first = oidc_tokens(&w, &mut b)["id_token"]
        .as_str()
        .expect("id")
        .to_string();
    let first = decode_id_token(&w, &mut b, &first)["auth_time"]
        .as_i64()
        .expect("auth_time");
    assert_eq!(first, w.clock.unix());
    w.advance(120);

    // A session younger than max_age is used silently.
    let r = b.get(&authorize_uri("spa", &[("max_age", "600")]));
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = header(&r, "location").expect("location").to_string();
    let tokens = redeem(&mut b, &location);
    assert_eq!(auth_time(&w, &mut b, &tokens), first);

    // Older than max_age: not with prompt=none, and otherwise a fresh sign-in.
    let r = b.get(&authorize_uri(
        "spa",
        &[("max_age", "60"), ("prompt", "none")],
    ));
    let q = query_of(header(&r, "location").expect("location"));
    assert_eq!(q["error"], "login_required");
    for max_age in ["60", "0"] {
        let page = b.get(&authorize_uri(
            "spa",
            &[("max_age", max_age), ("login_hint", "alice@ad.test")],
        ));
        assert_eq!(page.status(), StatusCode::OK, "max_age={max_age}: no code");
        assert_eq!(step_of(&page), "fallback", "the background Negotiate page");
    }
    let page = b.get(&authorize_uri(
        "spa",
        &[("max_age", "60"), ("login_hint", "alice@ad.test")],
    ));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(
        auth_time(&w, &mut b, &tokens),
        first + 120,
        "a new authentication"
    );

    // Not a number: refused with the standard error.
    for bad in ["-1", "soon", "1.5"] {
        let r = b.get(&authorize_uri("spa", &[("max_age", bad)]));
        let q = query_of(header(&r, "location").expect("location"));
        assert_eq!(q["error"], "invalid_request", "max_age={bad}");
    }
}

#[test]
fn max_age_shorter_than_the_windows_sign_in_asks_for_the_password() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri(
        "spa",
        &[("max_age", "600"), ("login_hint", "alice@ad.test")],
    ));
    assert_eq!(b.sso(&page, None).status(), StatusCode::UNAUTHORIZED);
    // The user signed in to Windows an hour ago: the ticket says so.
    let mut spec = TicketSpec::new("alice", w.now())
        .with_pac(PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test"));
    spec.auth_time -= 3600;
    let r = b.sso(&page, Some(&format!("Negotiate {}", w.mint(spec))));
    assert_eq!(json(&r)["code"], 50079, "{}", text(&r));
    let state = json(&r)["state"].as_str().expect("state").to_string();
    let form = b.post("/login", &[("step", "resume"), ("state", &state)]);
    assert_eq!(step_of(&form), "password");
    assert!(text(&form).contains("(50079)"), "the page says why");
    let done = b.post(
        "/login",
        &[
            ("step", "password"),
            ("state", &field(&form, "state")),
            ("username", "alice@ad.test"),
            ("password", "alice-pw"),
        ],
    );
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(auth_time(&w, &mut b, &tokens), w.clock.unix());

    // The same hour-old ticket is fine without max_age.
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let mut spec = TicketSpec::new("alice", w.now())
        .with_pac(PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test"));
    spec.auth_time -= 3600;
    let done = seamless(&mut b, &page, &w.mint(spec));
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(auth_time(&w, &mut b, &tokens), w.clock.unix() - 3600);
}

#[test]
fn prompt_login_with_a_session_takes_a_fresh_ticket() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    oidc_tokens(&w, &mut b);
    w.advance(30);
    let page = b.get(&authorize_uri(
        "spa",
        &[("prompt", "login"), ("login_hint", "alice@ad.test")],
    ));
    assert_eq!(page.status(), StatusCode::OK, "the session is not used");
    assert_eq!(step_of(&page), "username");
    let challenge = b.post(
        "/login",
        &[
            ("step", "username"),
            ("state", &field(&page, "state")),
            ("username", "alice@ad.test"),
        ],
    );
    assert_eq!(step_of(&challenge), "fallback", "Negotiate, not a password");
    let done = seamless(&mut b, &challenge, &w.token("alice", 1105));
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(auth_time(&w, &mut b, &tokens), w.clock.unix());
}

#[test]
fn request_objects_and_unknown_response_modes_are_refused_by_name() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    for (extra, error) in [
        (
            ("request", "eyJhbGciOiJub25lIn0.e30."),
            "request_not_supported",
        ),
        (
            ("request_uri", "https://spa.example/req.jwt"),
            "request_uri_not_supported",
        ),
        (("response_mode", "fragment"), "invalid_request"),
        (("response_mode", "query.jwt"), "invalid_request"),
    ] {
        let r = b.get(&authorize_uri("spa", &[extra]));
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let location = header(&r, "location").expect("location");
        assert!(location.starts_with(SPA_CB) && !location.contains('#'));
        let q = query_of(location);
        assert_eq!(
            (q["error"].as_str(), q["state"].as_str(), q["iss"].as_str()),
            (error, "st-1", ORIGIN),
            "{extra:?}"
        );
    }
}

/// The hidden fields of a form-post page, and where its form goes.
fn form_post_fields(page: &Response) -> (String, BTreeMap<String, String>) {
    let html = text(page);
    let action = html
        .split_once("action=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(a, _)| a.replace("&amp;", "&"))
        .expect("form action");
    let mut fields = BTreeMap::new();
    for input in html.split("<input ").skip(1) {
        let attr = |name: &str| {
            input
                .split_once(&format!("{name}=\""))
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(v, _)| v.replace("&amp;", "&"))
        };
        if let (Some(k), Some(v)) = (attr("name"), attr("value")) {
            fields.insert(k, v);
        }
    }
    (action, fields)
}

#[test]
fn form_post_delivers_the_code_and_errors_in_an_auto_submitted_form() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri(
        "spa",
        &[
            ("response_mode", "form_post"),
            ("login_hint", "alice@ad.test"),
        ],
    ));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    assert_eq!(done.status(), StatusCode::OK, "a page, not a redirect");
    assert!(header(&done, "location").is_none());
    assert_eq!(header(&done, "cache-control"), Some("no-store"));
    let csp = header(&done, "content-security-policy").expect("csp");
    assert!(
        csp.contains("form-action 'self' https://spa.example"),
        "{csp}"
    );
    let nonce = csp
        .split_once("script-src 'nonce-")
        .and_then(|(_, r)| r.split_once('\''))
        .map(|(n, _)| n)
        .expect("script nonce");
    assert!(
        text(&done).contains(&format!("<script nonce=\"{nonce}\">")),
        "the submitting script runs under the CSP"
    );
    assert!(
        text(&done).contains("<noscript>"),
        "and without script, a button"
    );
    let (action, fields) = form_post_fields(&done);
    assert_eq!(action, SPA_CB);
    assert_eq!(
        (fields["state"].as_str(), fields["iss"].as_str()),
        ("st-1", ORIGIN)
    );
    let location = format!("{SPA_CB}?code={}", fields["code"]);
    assert_eq!(redeem(&mut b, &location).status(), StatusCode::OK);

    // Errors go the same way once the mode is known.
    let r = b.get(&authorize_uri(
        "spa",
        &[
            ("response_mode", "form_post"),
            ("prompt", "none"),
            ("max_age", "0"),
        ],
    ));
    let (action, fields) = form_post_fields(&r);
    assert_eq!(
        (action.as_str(), fields["error"].as_str()),
        (SPA_CB, "login_required")
    );
    // A silent sign-in from the session, too.
    let r = b.get(&authorize_uri("web", &[("response_mode", "form_post")]));
    let (action, fields) = form_post_fields(&r);
    assert_eq!(action, WEB_CB);
    assert!(fields.contains_key("code"));
}

#[test]
fn discovery_says_what_the_provider_does() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let d = json(&b.get("/.well-known/openid-configuration"));
    for (key, value) in [
        ("request_parameter_supported", false),
        ("request_uri_parameter_supported", false),
        ("claims_parameter_supported", false),
        ("authorization_response_iss_parameter_supported", true),
    ] {
        assert_eq!(d[key], value, "{key}");
    }
    assert_eq!(
        d["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["end_session_endpoint"], format!("{ORIGIN}/logout"));
    // Every claim a real ID token and userinfo carry is listed.
    let listed: Vec<&str> = d["claims_supported"]
        .as_array()
        .expect("claims_supported")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    let tokens = oidc_tokens(&w, &mut b);
    let id = decode_id_token(&w, &mut b, tokens["id_token"].as_str().expect("id"));
    let access = tokens["access_token"].as_str().expect("at").to_string();
    let info = json(&b.send(
        Method::GET,
        "/userinfo",
        &[("authorization", &format!("Bearer {access}"))],
        "",
    ));
    for claims in [&id, &info] {
        for key in claims.as_object().expect("claims").keys() {
            assert!(
                listed.contains(&key.as_str()),
                "{key} not in claims_supported"
            );
        }
    }
    // Each advertised client authentication method is accepted (the refusals
    // are in `confidential_clients_authenticate`).
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
}

#[test]
fn userinfo_challenges_as_rfc_6750_says() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    // No credentials: a bare challenge, no error, nothing in the body.
    let r = b.get("/userinfo");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"https://login.example\"")
    );
    assert!(r.body().is_empty());
    // Another scheme is no Bearer credential either.
    let r = b.send(
        Method::GET,
        "/userinfo",
        &[("authorization", "Basic dTpw")],
        "",
    );
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"https://login.example\"")
    );
    // A malformed Bearer header: 400 invalid_request.
    for malformed in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b"] {
        let r = b.send(
            Method::GET,
            "/userinfo",
            &[("authorization", malformed)],
            "",
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{malformed:?}");
        assert!(
            header(&r, "www-authenticate").is_some_and(|v| v.contains("error=\"invalid_request\"")),
            "{malformed:?}"
        );
    }
    // A bad token: 401 invalid_token.
    let r = b.send(
        Method::GET,
        "/userinfo",
        &[("authorization", "Bearer forged.token.x")],
        "",
    );
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").is_some_and(|v| v.contains("error=\"invalid_token\"")));
    assert_eq!(json(&r)["error"], "invalid_token");
    // A good token without `openid`: 403 insufficient_scope.
    let uri = authorize_uri("spa", &[("login_hint", "alice@ad.test")])
        .replace("scope=openid+profile", "scope=api.read");
    let page = b.get(&uri);
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    let tokens = json(&redeem(
        &mut b,
        header(&done, "location").expect("location"),
    ));
    assert!(tokens.get("id_token").is_none());
    let access = tokens["access_token"].as_str().expect("at").to_string();
    let r = b.send(
        Method::GET,
        "/userinfo",
        &[("authorization", &format!("Bearer {access}"))],
        "",
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let challenge = header(&r, "www-authenticate").expect("challenge");
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"openid\""),
        "{challenge}"
    );
}

#[test]
fn return_paths_are_normalised_before_use() {
    let w = http_world(RulePolicy::default());
    for (given, expected) in [
        ("/.//evil.example", "/evil.example"),
        ("/./%2e/%2E%2e//evil.example/x", "/evil.example/x"),
        ("/a/../../b", "/b"),
        ("/app/page with space", "/app/page%20with%20space"),
        ("/app/%zz?q=a b&r=<x>", "/app/%25zz?q=a%20b&r=%3Cx%3E"),
        ("/app/caf\u{e9}/", "/app/caf%C3%A9/"),
        ("/app/#frag", "/app/"),
        ("/..", "/"),
        // Refused outright: back to the root.
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/a\u{1}", "/"),
    ] {
        let mut b = Browser::new(&w);
        w.advance(1);
        let uri = format!(
            "/signin?{}",
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("return", given), ("login_hint", "alice@ad.test")])
                .finish()
        );
        let page = b.get(&uri);
        let done = seamless(&mut b, &page, &w.token("alice", 1105));
        assert_eq!(header(&done, "location"), Some(expected), "{given:?}");
    }
}

#[test]
fn sign_ins_beyond_the_refresh_budget_never_fail_and_end_the_oldest_families() {
    // Room for 40 refresh entries (tokens and reuse markers), far fewer than the
    // sign-ins below; every other kind has room to spare.
    let w = http_world_from(World::builder().store_budgets(MemoryBudgets {
        refresh: 40,
        ..MemoryBudgets::uniform(100_000)
    }));
    let mut refresh_tokens = Vec::new();
    let mut tickets = Vec::new();
    for _ in 0..150 {
        w.advance(1);
        let mut b = Browser::new(&w);
        let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
        let ticket = w.token("alice", 1105);
        let done = seamless(&mut b, &page, &ticket);
        assert_eq!(
            done.status(),
            StatusCode::SEE_OTHER,
            "no sign-in refused: {}",
            text(&done)
        );
        let tokens = redeem(&mut b, header(&done, "location").expect("location"));
        assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
        refresh_tokens.push(
            json(&tokens)["refresh_token"]
                .as_str()
                .expect("rt")
                .to_string(),
        );
        tickets.push(ticket);
    }
    let usage = w.store.usage();
    let refresh = usage
        .iter()
        .find(|u| u.kind == EntryKind::Refresh)
        .expect("refresh");
    assert!(
        refresh.entries <= 40 && refresh.evicted > 100,
        "{refresh:?}"
    );

    let mut b = Browser::new(&w);
    // The oldest families are gone: invalid_grant, as for any expired token.
    let old = spa_refresh(&mut b, &refresh_tokens[0]);
    assert_eq!(
        (old.status(), json(&old)["error"].clone()),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    // The newest still rotate, and reuse of a rotated one still ends its family.
    let newest = refresh_tokens.last().expect("newest");
    let next = spa_refresh(&mut b, newest);
    assert_eq!(next.status(), StatusCode::OK, "{}", text(&next));
    assert_eq!(json(&spa_refresh(&mut b, newest))["error"], "invalid_grant");
    let rotated = json(&next)["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    assert_eq!(
        json(&spa_refresh(&mut b, &rotated))["error"],
        "invalid_grant",
        "family revoked"
    );

    // Replays are still refused: their entries were never evicted.
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let replayed = b.sso(
        &page,
        Some(&format!("Negotiate {}", tickets[tickets.len() - 1])),
    );
    assert_eq!(json(&replayed)["code"], 81010, "{}", text(&replayed));
}

#[test]
fn a_full_replay_budget_fails_closed_with_90002() {
    let w = http_world_from(World::builder().store_budgets(MemoryBudgets {
        replay: 5,
        ..MemoryBudgets::uniform(100_000)
    }));
    for _ in 0..5 {
        let mut b = Browser::new(&w);
        let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
        let done = seamless(&mut b, &page, &w.token("alice", 1105));
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
    }
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let r = b.sso(
        &page,
        Some(&format!("Negotiate {}", w.token("alice", 1105))),
    );
    assert_eq!(
        (r.status(), json(&r)["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, 90002.into()),
        "{}",
        text(&r)
    );
}

#[test]
fn without_passwords_the_fallback_is_a_coded_refusal_not_a_dead_form() {
    let w = World::builder()
        .provider(|b| {
            b.web(web())
                .client(Client::public("spa", SPA_CB).with_algorithm(SigningAlgorithm::Es256))
                .with_engine(|e| e.dangerous().no_passwords())
        })
        .build();
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    assert_eq!(step_of(&page), "fallback", "the background Negotiate page");
    assert!(
        !text(&page).contains("Use a password instead"),
        "no way to a form that cannot work"
    );
    // A refused ticket ends the flow: no state to resume a password form with.
    let r = b.sso(
        &page,
        Some("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="),
    );
    assert_eq!(
        (r.status(), json(&r)["code"].clone()),
        (StatusCode::FORBIDDEN, 81005.into())
    );
    assert!(json(&r).get("state").is_none());
    // The page's script then posts the fallback: an error page with a code.
    let done = b.post(
        "/login",
        &[("step", "fallback"), ("state", &field(&page, "state"))],
    );
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    assert!(text(&done).contains("(81006)") && !text(&done).contains("type=\"password\""));
    // Seamless sign-in itself is untouched.
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
}

/// Oversized `/authorize` parameters never produce a page whose flow cannot
/// finish (its sealed state would outgrow the sealed-value limit, and the page
/// would reload itself for ever): an overlong `state`, `nonce` or `scope` is
/// `invalid_request` to the client (an overlong `state` is not echoed); an
/// overlong hint is no hint. At the limit, a sign-in completes with its `state`.
#[test]
fn oversized_authorize_parameters_are_refused_or_ignored_never_a_flow_that_cannot_finish() {
    use seamless_core::http::MAX_AUTHORIZE_PARAM_LEN;
    let w = http_world(RulePolicy::default());
    let long = "a".repeat(40_000);
    let with = |name: &str, value: &str| {
        let uri = authorize_uri("spa", &[("login_hint", "alice@ad.test")]);
        match name {
            "state" => uri.replace("state=st-1", &format!("state={value}")),
            "nonce" => uri.replace("nonce=n-1", &format!("nonce={value}")),
            "scope" => uri.replace("scope=openid+profile", &format!("scope=openid+{value}")),
            _ => unreachable!("{name}"),
        }
    };
    for name in ["state", "nonce", "scope"] {
        let r = Browser::new(&w).get(&with(name, &long));
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}: {}", text(&r));
        let location = header(&r, "location").expect("location");
        assert!(location.len() < 1_024, "{name}: nothing long comes back");
        let q = query_of(location);
        assert_eq!(
            q.get("error").map(String::as_str),
            Some("invalid_request"),
            "{name}"
        );
        let expected_state = (name != "state").then(|| "st-1".to_string());
        assert_eq!(q.get("state").cloned(), expected_state, "{name}");
    }

    // An overlong hint is ignored: the user name page, whose flow goes on.
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", &long)]));
    assert_eq!(step_of(&page), "username", "{}", text(&page));
    let next = b.post(
        "/login",
        &[
            ("step", "username"),
            ("state", &field(&page, "state")),
            ("username", "alice@ad.test"),
        ],
    );
    assert!(text(&next).contains("Signing in as <b>alice@ad.test</b>"));
    assert_eq!(b.sso(&next, None).status(), StatusCode::UNAUTHORIZED);

    // At the limit: a complete sign-in, and the state comes back whole.
    let state = "s".repeat(MAX_AUTHORIZE_PARAM_LEN);
    let mut b = Browser::new(&w);
    let page = b.get(&with("state", &state).replace(
        "nonce=n-1",
        &format!("nonce={}", "n".repeat(MAX_AUTHORIZE_PARAM_LEN)),
    ));
    let done = seamless(&mut b, &page, &w.token("alice", 1105));
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
    let q = query_of(header(&done, "location").expect("location"));
    assert_eq!(q.get("state"), Some(&state));
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
}

/// Two tabs of one browser sign in at once (a browser restoring its tabs
/// opens several applications together): each flow has its own binding
/// cookie, so neither start clobbers the other, the flows finish in any
/// order, and each flow's cookie goes when that flow finishes.
#[test]
fn two_tabs_sign_in_at_once_and_finish_in_either_order() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let hint = [("login_hint", "alice@ad.test")];
    let tab_a = b.get(&authorize_uri("spa", &hint));
    let tab_b = b.get(&authorize_uri("web", &hint));
    let flow_cookies =
        |b: &Browser<'_>| b.jar.keys().filter(|k| k.contains("seamless-flow")).count();
    assert_eq!(flow_cookies(&b), 2, "{:?}", b.jar.keys());

    // B's background request first, then A's: each is its own flow's.
    let token = |b: &mut Browser<'_>, page: &Response| {
        let r = b.sso(page, Some(&format!("Negotiate {}", w.token("alice", 1105))));
        assert_eq!(r.status(), StatusCode::OK, "{}", text(&r));
        json(&r)["token"].as_str().expect("token").to_string()
    };
    let token_b = token(&mut b, &tab_b);
    let token_a = token(&mut b, &tab_a);
    // A's login post first, then B's: each gets its code, back at its client.
    let finish = |b: &mut Browser<'_>, page: &Response, token: &str, back_to: &str| {
        let done = b.post(
            "/login",
            &[
                ("step", "sso"),
                ("state", &field(page, "state")),
                ("token", token),
            ],
        );
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
        let location = header(&done, "location").expect("location");
        assert!(location.starts_with(back_to), "{location}");
        assert!(query_of(location).contains_key("code"), "{location}");
    };
    finish(&mut b, &tab_a, &token_a, SPA_CB);
    assert_eq!(flow_cookies(&b), 1, "A's cookie went with A's flow");
    finish(&mut b, &tab_b, &token_b, WEB_CB);
    assert_eq!(flow_cookies(&b), 0);

    // Another browser's flow cookie binds nothing here.
    let mut other = Browser::new(&w);
    let theirs = other.get(&authorize_uri("spa", &hint));
    let mut b = Browser::new(&w);
    let mine = b.get(&authorize_uri("spa", &hint));
    let stolen = b.sso(&theirs, None);
    assert_eq!(
        stolen.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        text(&stolen)
    );
    assert_eq!(b.sso(&mine, None).status(), StatusCode::UNAUTHORIZED);
}

/// The "Start again" link of an error page, if it has one.
fn start_again_link(page: &Response) -> Option<String> {
    let html = text(page);
    let end = html.find("\">Start again</a>")?;
    let start = html[..end].rfind("<a href=\"")? + "<a href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}

/// A flow that can no longer go on (it expired, its cookie went, its state does
/// not open here) ends on an error page whose link starts the same sign-in
/// again, never on a page that reloads itself (with instances on different
/// sealing keys that was a loop, and after a posted form a resubmission
/// prompt). A forged link is not offered.
#[test]
fn a_flow_that_cannot_go_on_ends_on_a_page_with_a_link_to_start_again() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let hint = [("login_hint", "alice@ad.test"), ("max_age", "3600")];
    let page = b.get(&authorize_uri("spa", &hint));
    assert!(
        !text(&page).contains("reload") && !text(&page).contains("location."),
        "the page never navigates by itself: {}",
        text(&page)
    );
    // A state no other key opens (another instance sealed it): the background
    // request says restart, and the page's script posts the fallback.
    let r = b.send(
        Method::GET,
        "/winauth/sso",
        &[("seamless-flow", &field(&page, "state").replace('A', "B"))],
        "",
    );
    assert_eq!(json(&r)["restart"], true, "{}", text(&r));
    let post = |b: &mut Browser<'_>, state: &str, again: &str| {
        b.post(
            "/login",
            &[("step", "fallback"), ("state", state), ("again", again)],
        )
    };
    let again = field(&page, "again");
    let bad = field(&page, "state").replace('A', "B");
    let done = post(&mut b, &bad, &again);
    assert_eq!(done.status(), StatusCode::BAD_REQUEST);
    assert!(text(&done).contains("(90011)"), "{}", text(&done));
    let link = start_again_link(&done).expect("a link to start again");
    assert_eq!(link, again);
    // It is the same request: client, redirect, state, nonce, PKCE, hint, max_age.
    let q = query_of(&link);
    let asked = query_of(&authorize_uri("spa", &hint));
    assert!(link.starts_with("/authorize?"), "{link}");
    for name in [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "login_hint",
        "max_age",
    ] {
        assert_eq!(q.get(name), asked.get(name), "{name} in {link}");
    }

    // The password page left open past the flow's lifetime: 90010, the link,
    // and following it signs in with the client's state.
    let form = b.post(
        "/login",
        &[("step", "fallback"), ("state", &field(&page, "state"))],
    );
    assert_eq!(step_of(&form), "password", "{}", text(&form));
    w.advance(w.engine.config().flow_ttl.as_secs() + 1);
    let late = b.post(
        "/login",
        &[
            ("step", "password"),
            ("state", &field(&form, "state")),
            ("again", &field(&form, "again")),
            ("username", "alice@ad.test"),
            ("password", "alice-pw"),
        ],
    );
    assert!(text(&late).contains("(90010)"), "{}", text(&late));
    let link = start_again_link(&late).expect("a link to start again");
    let fresh = b.get(&link);
    let done = seamless(&mut b, &fresh, &w.token("alice", 1105));
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
    let q = query_of(header(&done, "location").expect("location"));
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    assert!(q.contains_key("code"));

    // The flow's cookie went (it expires with the flow): the same way on.
    let mut b = Browser::new(&w);
    let page = b.get("/signin?return=%2Fapp%2Fpage%3Fx%3D1");
    b.jar.retain(|name, _| !name.contains("seamless-flow"));
    let done = post(&mut b, &field(&page, "state"), &field(&page, "again"));
    assert!(text(&done).contains("(90011)"), "{}", text(&done));
    assert_eq!(
        start_again_link(&done).as_deref(),
        Some("/signin?return=%2Fapp%2Fpage%3Fx%3D1")
    );

    // A link the provider could not have written is not offered.
    for forged in [
        "https://evil.example/authorize?x=1",
        "//evil.example/authorize?x=1",
        "/\\evil.example/authorize?x=1",
        "/logout?post_logout_redirect_uri=x",
        "/authorize?x=<script>",
        "javascript:alert(1)//authorize?",
    ] {
        let done = post(&mut b, "junk", forged);
        assert!(text(&done).contains("(90011)"), "{}", text(&done));
        assert_eq!(start_again_link(&done), None, "{forged}");
    }
}
