//! The cases. Each is a function of a [`Fixture`] and a [`Harness`]; `cases!`
//! defines them and the `conformance_tests!` macro that runs every one of them.

use base64::Engine as _;
use seamless_core::grants::s256_challenge;
use seamless_core::testkit::{Flaw, PacSpec, TicketSpec, WINDOWS_GSS_FLAGS};

use crate::fixture::{DOMAIN, ORIGIN, SPA_CB, VERIFIER, WEB_CB};
use crate::{ANONYMOUS, APP_DENIED, Client, Fixture, HOME, Harness, PlainRequest, PlainResponse};

/// An authorization request for `client` with PKCE, state and nonce.
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
        ("code_challenge", challenge.as_str()),
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

fn hinted(c: &mut Client<'_>, user: &str) -> PlainResponse {
    let page = c.get(&authorize_uri(
        "spa",
        &[("login_hint", &format!("{user}@ad.test"))],
    ));
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.field("step"), "fallback", "the Negotiate page");
    page
}

/// The seamless part of a sign-in: challenge, Negotiate, sign-in token, login post.
fn seamless(c: &mut Client<'_>, page: &PlainResponse, token: &str) -> PlainResponse {
    let challenge = c.sso(page, None);
    assert_eq!(
        (challenge.status, challenge.header("www-authenticate")),
        (401, Some("Negotiate"))
    );
    let answer = c.sso(page, Some(&format!("Negotiate {token}")));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let sign_in_token = answer.json()["token"].as_str().expect("token").to_string();
    c.post(
        "/login",
        &[
            ("step", "sso"),
            ("state", &page.field("state")),
            ("token", &sign_in_token),
        ],
    )
}

fn redeem(c: &mut Client<'_>, done: &PlainResponse, verifier: &str) -> PlainResponse {
    let q = done.location_query();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", SPA_CB),
            ("client_id", "spa"),
            ("code_verifier", verifier),
        ])
        .finish();
    c.send(
        "POST",
        "/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

fn refused(fx: &Fixture, h: &mut dyn Harness, user: &str, authorization: &str) -> PlainResponse {
    let mut c = Client::new(h);
    let page = hinted(&mut c, user);
    let _ = fx;
    c.sso(&page, Some(authorization))
}

fn assert_fallback(r: &PlainResponse, code: u32) {
    assert!((400..500).contains(&r.status), "{}: {}", r.status, r.text());
    let body = r.json();
    assert_eq!(body["code"], code, "{}", r.text());
    assert!(
        body["state"].is_string(),
        "the page can fall back: {}",
        r.text()
    );
    assert!(r.header("www-authenticate").is_none());
}

fn payload_b64(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("b64"),
    )
    .expect("json")
}

macro_rules! cases {
    ($d:tt $( $(#[doc = $doc:literal])* fn $name:ident($fx:ident, $h:ident) $body:block )*) => {
        $(
            $(#[doc = $doc])*
            pub fn $name($fx: &Fixture, $h: &mut dyn Harness) $body
        )*

        /// The names of every case, in order.
        pub const ALL: &[&str] = &[$(stringify!($name)),*];

        /// Expands to one `#[test]` per case. `$make` turns the fixture's
        /// [`Provider`](seamless_core::Provider) into the adapter's harness.
        #[macro_export]
        macro_rules! conformance_tests {
            ($d make:expr) => {
                $(
                    // Spelled out: an adapter's scope may hold another `test` macro.
                    #[::core::prelude::v1::test]
                    fn $name() {
                        let mut fx = $d crate::Fixture::new();
                        let make = $d make;
                        let mut harness = make(fx.provider.clone());
                        fx.set_harness_maker(Box::new(move |provider| {
                            Box::new(make(provider)) as Box<dyn $d crate::Harness>
                        }));
                        $d crate::cases::$name(&fx, &mut harness);
                    }
                )*
            };
        }
    };
}

cases! { $
    /// Authorize with a hint → Negotiate → code → tokens; the ID token's claims.
    fn full_browser_flow(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        assert!(c.has_flow_cookie());
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(done.status, 303);
        let q = done.location_query();
        assert_eq!((q["state"].as_str(), q["iss"].as_str()), ("st-1", ORIGIN));
        assert!(done.header("location").is_some_and(|l| l.starts_with(SPA_CB)));
        let tokens = redeem(&mut c, &done, VERIFIER);
        assert_eq!(tokens.status, 200, "{}", tokens.text());
        assert_eq!(tokens.header("cache-control"), Some("no-store"));
        let body = tokens.json();
        let claims = payload_b64(body["id_token"].as_str().expect("id token"));
        assert_eq!(claims["sub"], "u-alice");
        assert_eq!(claims["aud"], "spa");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["amr"], serde_json::json!(["kerberos"]));
        assert_eq!(claims["onprem_sid"], format!("{DOMAIN}-1105"));
        assert_eq!(claims["iss"], ORIGIN);
        assert_eq!(claims["upn"], "alice@ad.test");
        assert_eq!(claims["groups"], serde_json::json!(["staff"]));
        assert_eq!(claims["auth_time"], crate::fixture::T0, "the ticket's authtime");
        assert_eq!((body["token_type"].as_str(), body["expires_in"].as_u64()), (Some("Bearer"), Some(600)));
        let id_header = body["id_token"].as_str().and_then(|t| t.split('.').next()).expect("header");
        let id_header: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_header).expect("b64"),
        )
        .expect("json");
        assert_eq!(id_header["alg"], "ES256", "the client's algorithm");
        assert!(c.has_cookie("__Host-seamless-session"));
        assert!(!c.has_flow_cookie(), "the flow cookie is spent");
        // The access token opens /userinfo.
        let access = body["access_token"].as_str().expect("access token");
        let info = c.get_with("/userinfo", &[("authorization", &format!("Bearer {access}"))]);
        assert_eq!((info.status, info.json()["sub"].as_str()), (200, Some("u-alice")));
    }

    /// `login_hint` skips the user-name form.
    fn login_hint_starts_negotiate_at_once(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        hinted(&mut c, "alice");
    }

    /// `domain_hint` also skips it.
    fn domain_hint_starts_negotiate_at_once(fx, h) {
        let mut c = Client::new(h);
        let page = c.get(&authorize_uri("spa", &[("domain_hint", "ad.test")]));
        assert_eq!(page.field("step"), "fallback");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(done.status, 303);
    }

    /// No hint: user name first, then Negotiate.
    fn user_name_first_without_a_hint(fx, h) {
        let mut c = Client::new(h);
        let page = c.get(&authorize_uri("spa", &[]));
        assert_eq!(page.field("step"), "username");
        let next = c.post("/login", &[("step", "username"), ("state", &page.field("state")), ("username", "alice@ad.test")]);
        assert_eq!(next.field("step"), "fallback");
        assert_eq!(seamless(&mut c, &next, &fx.token("alice", 1105)).status, 303);
    }

    /// Pages never challenge; the background request does.
    fn only_background_endpoints_challenge(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        let page = c.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
        assert!(page.header("www-authenticate").is_none());
        assert!(page.header("content-security-policy").is_some_and(|v| v.contains("frame-ancestors 'none'")));
        assert_eq!(page.headers_named("x-frame-options").collect::<Vec<_>>(), ["DENY"]);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        let r = c.sso(&page, None);
        assert_eq!((r.status, r.header("www-authenticate")), (401, Some("Negotiate")));
    }

    /// NTLM, bare or inside Negotiate: 81005 and the password form.
    fn ntlm_falls_back_with_81005(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        let _ = fx;
        let r = c.sso(&page, Some("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="));
        assert_fallback(&r, 81005);
        let form = c.post("/login", &[("step", "resume"), ("state", r.json()["state"].as_str().expect("state"))]);
        assert_eq!(form.field("step"), "password");
        assert!(form.text().contains("(81005)"));
    }

    /// A header block over 64 KiB: 81001.
    fn oversized_negotiate_header_gets_81001(fx, h) {
        let r = refused(fx, h, "alice", &format!("Negotiate {}", "A".repeat(70 * 1024)));
        assert_fallback(&r, 81001);
    }

    /// Not base64: 81009.
    fn bad_base64_gets_81009(fx, h) {
        assert_fallback(&refused(fx, h, "alice", "Negotiate !!!not-base64!!!"), 81009);
    }

    /// Half a token: 81009.
    fn truncated_token_gets_81009(fx, h) {
        let token = fx.token("alice", 1105);
        assert_fallback(&refused(fx, h, "alice", &format!("Negotiate {}", &token[..token.len() / 2])), 81009);
    }

    /// A ticket under another key: 81010.
    fn wrong_key_gets_81010(fx, h) {
        let other = seamless_core::kerberos::Key::new(seamless_core::kerberos::Etype::Aes256CtsHmacSha196, &[0x42; 32]).expect("key");
        let token = fx.mint(TicketSpec::new("alice", fx.now()).with_flaw(Flaw::WrongServiceKey(other)));
        assert_fallback(&refused(fx, h, "alice", &format!("Negotiate {token}")), 81010);
    }

    /// An expired ticket: 81010.
    fn expired_ticket_gets_81010(fx, h) {
        let token = fx.token("alice", 1105);
        fx.advance(11 * 3600);
        assert_fallback(&refused(fx, h, "alice", &format!("Negotiate {token}")), 81010);
    }

    /// An authenticator ten minutes old: 81010.
    fn clock_skew_gets_81010(fx, h) {
        let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
        let mut spec = TicketSpec::new("alice", fx.now()).with_pac(pac);
        spec.ctime -= 600;
        let token = fx.mint(spec);
        assert_fallback(&refused(fx, h, "alice", &format!("Negotiate {token}")), 81010);
    }

    /// The same authenticator twice: the second is a replay.
    fn replayed_ticket_gets_81010(fx, h) {
        let token = fx.token("alice", 1105);
        {
            let mut c = Client::new(&mut *h);
            let page = hinted(&mut c, "alice");
            assert_eq!(seamless(&mut c, &page, &token).status, 303);
        }
        assert_fallback(&refused(fx, h, "alice", &format!("Negotiate {token}")), 81010);
    }

    /// A SID nobody has: 81011.
    fn unknown_sid_gets_81011(fx, h) {
        assert_fallback(&refused(fx, h, "alice", &format!("Negotiate {}", fx.token("ghost", 9999))), 81011);
    }

    /// A disabled account is refused for good: 50057, no password form.
    fn disabled_user_is_denied(fx, h) {
        let r = refused(fx, h, "carol", &format!("Negotiate {}", fx.token("carol", 1107)));
        assert_eq!(r.status, 403);
        assert_eq!(r.json()["code"], 50057);
        assert!(r.json().get("state").is_none());
    }

    /// The hint names alice, the ticket is dave's: 81012.
    fn hint_mismatch_gets_81012(fx, h) {
        assert_fallback(&refused(fx, h, "alice", &format!("Negotiate {}", fx.token("dave", 1108))), 81012);
    }

    /// A second factor after Negotiate, then success.
    fn mfa_after_negotiate(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "bob");
        let r = c.sso(&page, Some(&format!("Negotiate {}", fx.token("bob", 1106))));
        assert_eq!(r.status, 200);
        let mfa = c.post("/login", &[("step", "resume"), ("state", r.json()["state"].as_str().expect("state"))]);
        assert_eq!(mfa.field("step"), "mfa");
        let done = c.post("/login", &[("step", "mfa"), ("state", &mfa.field("state")), ("code", &fx.totp())]);
        assert_eq!(done.status, 303);
        let tokens = redeem(&mut c, &done, VERIFIER);
        let claims = payload_b64(tokens.json()["id_token"].as_str().expect("id"));
        assert_eq!(claims["amr"], serde_json::json!(["kerberos", "otp", "mfa"]));
    }

    /// Five wrong codes end the flow: 500121.
    fn mfa_lockout(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "bob");
        let r = c.sso(&page, Some(&format!("Negotiate {}", fx.token("bob", 1106))));
        let mut form = c.post("/login", &[("step", "resume"), ("state", r.json()["state"].as_str().expect("state"))]);
        for _ in 0..4 {
            form = c.post("/login", &[("step", "mfa"), ("state", &form.field("state")), ("code", "000000")]);
            assert_eq!(form.status, 200);
            assert!(form.text().contains("(500121)"));
        }
        let last = c.post("/login", &[("step", "mfa"), ("state", &form.field("state")), ("code", "000000")]);
        assert_eq!(last.status, 403);
        assert!(last.text().contains("(500121)"));
    }

    /// No Kerberos: the page gives up, the password signs in.
    fn password_fallback(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        let page = hinted(&mut c, "alice");
        let form = c.post("/login", &[("step", "fallback"), ("state", &page.field("state"))]);
        assert_eq!(form.field("step"), "password");
        let bad = c.post("/login", &[("step", "password"), ("state", &form.field("state")), ("username", "alice@ad.test"), ("password", "nope")]);
        assert!(bad.text().contains("(50126)"), "a wrong password first");
        let done = c.post("/login", &[("step", "password"), ("state", &bad.field("state")), ("username", "alice@ad.test"), ("password", "alice-pw")]);
        assert_eq!(done.status, 303);
        let claims = payload_b64(redeem(&mut c, &done, VERIFIER).json()["id_token"].as_str().expect("id"));
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    }

    /// A wrong password: 50126, the form again.
    fn wrong_password_gets_50126(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        let page = hinted(&mut c, "alice");
        let form = c.post("/login", &[("step", "fallback"), ("state", &page.field("state"))]);
        let bad = c.post("/login", &[("step", "password"), ("state", &form.field("state")), ("username", "alice@ad.test"), ("password", "nope")]);
        assert_eq!((bad.status, bad.field("step").as_str()), (200, "password"));
        assert!(bad.text().contains("(50126)"));
    }

    /// After sign-out, Negotiate waits for an explicit user name.
    fn sign_out_suppresses_seamless(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        seamless(&mut c, &page, &fx.token("alice", 1105));
        let confirm = c.get("/logout");
        assert!(c.has_cookie("__Host-seamless-session"), "a GET without id_token_hint only asks");
        assert!(confirm.text().contains("method=\"post\""));
        let out = c.post("/logout", &[]);
        assert_eq!(out.status, 200);
        assert!(!c.has_cookie("__Host-seamless-session"));
        assert!(c.has_cookie("__Host-seamless-signed-out"));
        let page = c.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
        assert_eq!(page.field("step"), "username", "no automatic Negotiate after sign-out");
        // Typing the name explicitly starts it, and signing in clears the marker.
        let next = c.post("/login", &[("step", "username"), ("state", &page.field("state")), ("username", "alice@ad.test")]);
        fx.advance(1);
        let done = seamless(&mut c, &next, &fx.token("alice", 1105));
        assert_eq!(done.status, 303);
        assert!(!c.has_cookie("__Host-seamless-signed-out"));
    }

    /// Cross-site form posts are refused.
    fn cross_site_post_is_refused(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        let page = c.get(&authorize_uri("spa", &[]));
        let body = format!("step=username&state={}&username=alice%40ad.test", page.field("state"));
        let r = c.send("POST", "/login", &[("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "cross-site")], body.as_bytes());
        assert_eq!(r.status, 403);
        for origin in ["https://evil.example", "null"] {
            let r = c.send("POST", "/login", &[("content-type", "application/x-www-form-urlencoded"), ("origin", origin)], body.as_bytes());
            assert_eq!(r.status, 403, "{origin}");
        }
    }

    /// Another browser's sealed state does not open here.
    fn foreign_state_is_refused(fx, h) {
        let state = {
            let mut c = Client::new(&mut *h);
            c.get(&authorize_uri("spa", &[])).field("state")
        };
        let mut other = Client::new(h);
        let _ = fx;
        // Without a flow cookie, and with its own.
        for own_flow in [false, true] {
            if own_flow {
                other.get(&authorize_uri("spa", &[]));
            }
            let r = other.post("/login", &[("step", "username"), ("state", &state), ("username", "alice@ad.test")]);
            assert_eq!(r.status, 400);
            assert!(r.text().contains("(90011)"), "flow invalid");
        }
    }

    /// Unregistered redirect URIs (and unknown or repeated clients) get an error
    /// page, never a redirect; errors for a registered URI go back to it.
    fn unregistered_redirect_uri_is_never_followed(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        for uri in [
            "/authorize?client_id=spa&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code",
            "/authorize?client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb%2Fx&response_type=code",
            "/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fspa.example%2Fcb&response_type=code",
            "/authorize?client_id=spa&client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb",
            "/authorize",
        ] {
            let r = c.get(uri);
            assert_eq!(r.status, 400, "{uri}");
            assert!(r.header("location").is_none(), "{uri}");
        }
        let r = c.get("/authorize?client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb&response_type=token&state=s");
        let q = r.location_query();
        assert_eq!((q["error"].as_str(), q["state"].as_str()), ("unsupported_response_type", "s"));
        let r = c.get("/authorize?client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb&response_type=code");
        assert_eq!(r.location_query()["error"], "invalid_request", "public client without PKCE");
    }

    /// The middleware sign-in returns only to local paths.
    fn return_path_cannot_leave_the_site(fx, h) {
        let mut c = Client::new(h);
        let page = c.get("/signin?return=%2F%2Fevil.example%2Fx&login_hint=alice%40ad.test");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(done.header("location"), Some("/"));
        // What a browser would resolve to `//evil.example` is normalised first.
        let mut c = Client::new(h);
        let page = c.get("/signin?return=%2F.%2F%2Fevil.example%2Fx&login_hint=alice%40ad.test");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(done.header("location"), Some("/evil.example/x"));
    }

    /// A wrong PKCE verifier spends the code.
    fn pkce_failure(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        let r = redeem(&mut c, &done, &"x".repeat(43));
        assert_eq!((r.status, r.json()["error"].clone()), (400, "invalid_grant".into()));
        assert_eq!(redeem(&mut c, &done, VERIFIER).json()["error"], "invalid_grant");
    }

    /// A code used twice revokes the refresh token issued for it.
    fn code_reuse_revokes(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        let rt = redeem(&mut c, &done, VERIFIER).json()["refresh_token"].as_str().expect("rt").to_string();
        assert_eq!(redeem(&mut c, &done, VERIFIER).json()["error"], "invalid_grant");
        let r = c.send("POST", "/token", &[], format!("grant_type=refresh_token&client_id=spa&refresh_token={rt}").as_bytes());
        assert_eq!(r.json()["error"], "invalid_grant");
    }

    /// Refresh tokens rotate; presenting an old one revokes the family.
    fn refresh_rotation_and_reuse(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        let rt1 = redeem(&mut c, &done, VERIFIER).json()["refresh_token"].as_str().expect("rt").to_string();
        let mut refresh = |rt: &str| c.send("POST", "/token", &[], format!("grant_type=refresh_token&client_id=spa&refresh_token={rt}").as_bytes());
        let r2 = refresh(&rt1);
        assert_eq!(r2.status, 200);
        let rt2 = r2.json()["refresh_token"].as_str().expect("rt2").to_string();
        assert_eq!(refresh(&rt1).json()["error"], "invalid_grant");
        assert_eq!(refresh(&rt2).json()["error"], "invalid_grant");
    }

    /// A browser without a session is sent to sign in, and comes back.
    fn protected_page_redirects_browsers(fx, h) {
        let mut c = Client::new(h);
        let r = c.get("/me");
        assert_eq!((r.status, r.header("location")), (303, Some("/signin?return=%2Fme")));
        let page = c.get("/signin?return=%2Fme&login_hint=alice%40ad.test");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(done.header("location"), Some("/me"));
        let me = c.get("/me");
        assert_eq!(me.status, 200);
        assert_eq!(me.json()["upn"], "alice@ad.test");
        assert_eq!(me.json()["amr"], serde_json::json!(["kerberos"]));
    }

    /// An API client without credentials gets 401 with a Bearer challenge.
    fn protected_api_answers_401(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        let r = c.send("GET", "/api/me", &[("accept", "application/json")], b"");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"https://app.example\""));
        assert!(r.body.is_empty(), "no error information without credentials (RFC 6750 §3.1)");
        let r = c.send("GET", "/api/me", &[("authorization", "Bearer forged")], b"");
        assert_eq!(r.status, 401);
        assert!(r.header("www-authenticate").is_some_and(|v| v.contains("invalid_token")));
    }

    /// Our access token opens the API.
    fn bearer_token_opens_the_api(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        let access = redeem(&mut c, &done, VERIFIER).json()["access_token"].as_str().expect("at").to_string();
        let r = c.harness().send(PlainRequest {
            method: "GET".into(),
            uri: "/api/me".into(),
            headers: vec![("authorization".into(), format!("Bearer {access}"))],
            body: Vec::new(),
            peer: None,
        });
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["sub"], "u-alice");
    }

    /// `MaybeSignedIn` sees nobody, then the user; public pages pass.
    fn maybe_signed_in_and_public_pages(fx, h) {
        let mut c = Client::new(h);
        assert_eq!(c.get("/").text(), HOME);
        assert_eq!(c.get("/maybe").text(), ANONYMOUS);
        let page = c.get("/signin?return=%2Fmaybe&login_hint=alice%40ad.test");
        seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(c.get("/maybe").json()["sub"], "u-alice");
    }

    /// A forged session cookie is nobody, and is cleared.
    fn forged_session_is_cleared(fx, h) {
        let _ = fx;
        let r = h.send(PlainRequest {
            method: "GET".into(),
            uri: "/maybe".into(),
            headers: vec![("cookie".into(), "__Host-seamless-session=AAAA".into())],
            body: Vec::new(),
            peer: None,
        });
        assert_eq!(r.text(), ANONYMOUS);
        assert!(r.headers_named("set-cookie").any(|v| v.starts_with("__Host-seamless-session=;") && v.contains("Max-Age=0")));
    }

    /// The core's answers on its own paths go out as the core made them: the
    /// middleware that clears a dead session cookie on the application's
    /// responses adds nothing to a sign-in's (nor spends a session check on
    /// them), and a sign-in over a dead session ends with the new one.
    fn sign_in_answers_are_the_cores_alone(fx, h) {
        let mut c = Client::new(h);
        c.set_cookie("__Host-seamless-session", "AAAA");
        let page = hinted(&mut c, "alice");
        let cookies: Vec<&str> = page.headers_named("set-cookie").collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        assert!(cookies[0].starts_with("__Host-seamless-flow-"), "{cookies:?}");
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(done.status, 303, "{}", done.text());
        let sessions: Vec<&str> = done
            .headers_named("set-cookie")
            .filter(|v| v.starts_with("__Host-seamless-session="))
            .collect();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        assert!(!sessions[0].contains("Max-Age=0"), "{sessions:?}");
        let me = c.get("/me");
        assert_eq!(me.status, 200, "signed in: {}", me.text());
    }

    /// `SignedIn` without the middleware is a loud error (a 500 that says so,
    /// or an app that refuses to start), never a pass.
    fn extractor_without_middleware_is_an_error(fx, h) {
        let _ = fx;
        let outcome = h.send_unguarded(PlainRequest {
            method: "GET".into(),
            uri: "/me".into(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: None,
        });
        match outcome {
            Ok(r) => {
                assert_eq!(r.status, 500);
                assert!(r.text().contains("middleware"), "{}", r.text());
            }
            Err(refused) => assert!(refused.contains("SignedIn"), "{refused}"),
        }
    }

    /// A body over 64 KiB: 413.
    fn oversized_body_gets_413(fx, h) {
        let _ = fx;
        let r = h.send(PlainRequest {
            method: "POST".into(),
            uri: "/token".into(),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            body: vec![b'a'; 70 * 1024],
            peer: None,
        });
        assert_eq!(r.status, 413);
    }

    /// A method a sign-in route does not serve: the core's `405` with `Allow`
    /// through every adapter (not the framework's `404`).
    fn wrong_method_gets_405_with_allow(fx, h) {
        let _ = fx;
        for (method, path, allow) in [
            ("DELETE", "/token", "POST"),
            ("PUT", "/jwks", "GET, HEAD"),
            ("PATCH", "/login", "POST"),
        ] {
            let r = h.send(PlainRequest {
                method: method.into(),
                uri: path.into(),
                headers: Vec::new(),
                body: Vec::new(),
                peer: None,
            });
            assert_eq!((r.status, r.header("allow")), (405, Some(allow)), "{method} {path}");
        }
    }

    /// `HEAD` is answered as `GET` would be, without the body.
    fn head_is_answered_like_get_without_a_body(fx, h) {
        let _ = fx;
        for path in ["/jwks", "/.well-known/openid-configuration"] {
            let r = h.send(PlainRequest {
                method: "HEAD".into(),
                uri: path.into(),
                headers: Vec::new(),
                body: Vec::new(),
                peer: None,
            });
            assert_eq!(r.status, 200, "HEAD {path}");
            assert_eq!(r.header("content-type"), Some("application/json"), "HEAD {path}");
            assert!(r.body.is_empty(), "HEAD {path}: no body");
        }
    }

    /// A path the sign-in surface does not serve is the application's: its own
    /// status and body, not the core's.
    fn the_applications_own_responses_are_untouched(fx, h) {
        let _ = fx;
        let mut c = Client::new(h);
        let home = c.get("/");
        assert_eq!((home.status, home.text()), (200, HOME));
        let missing = c.get("/no-such-page");
        assert_eq!(missing.status, 404);
        assert!(!missing.text().contains("not_found"), "the app's 404, not the core's");
        // A path that only starts like one of ours is the application's too.
        let lookalike = c.get("/tokenizer");
        assert_eq!(lookalike.status, 404);
        assert!(!lookalike.text().contains("not_found"));
    }

    /// Repeated headers survive both ways: every `Set-Cookie` of a finished
    /// sign-in arrives, and cookies sent in separate `Cookie` headers are all read.
    fn repeated_headers_survive(fx, h) {
        let mut c = Client::new(h).one_cookie_header_each();
        let page = c.get("/signin?return=%2Fme&login_hint=alice%40ad.test");
        assert_eq!(page.field("step"), "fallback", "{}", page.text());
        let done = seamless(&mut c, &page, &fx.token("alice", 1105));
        assert_eq!(done.status, 303, "{}", done.text());
        let set: Vec<&str> = done.headers_named("set-cookie").collect();
        assert_eq!(set.len(), 3, "session, flow cleared, sign-out marker cleared: {set:?}");
        assert!(set.iter().any(|v| v.starts_with("__Host-seamless-session=")));
        // The session and the (cleared) others now travel as separate headers.
        let me = c.get("/me");
        assert_eq!(me.status, 200, "{}", me.text());
    }

    /// Non-ASCII header bytes are data, never a 500: a Negotiate header with
    /// them gets a coded refusal, a cookie with them is no session.
    fn non_ascii_header_bytes_get_coded_answers(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        let _ = fx;
        let r = c.sso(&page, Some("Negotiate caf\u{e9}"));
        assert!(r.status == 400 || r.status == 403, "{} {}", r.status, r.text());
        assert!(r.json()["code"].as_u64().is_some(), "{}", r.text());
        let mut anon = Client::new(c.harness());
        let maybe = anon.get_with("/maybe", &[("cookie", "__Host-seamless-session=caf\u{e9}")]);
        assert_eq!((maybe.status, maybe.text()), (200, ANONYMOUS));
    }

    /// The application's own refusals stay its own: a `401` it answers (in rocket
    /// through its own catcher) reaches the client unchanged.
    fn the_applications_own_401_is_untouched(fx, h) {
        let _ = fx;
        let r = Client::new(h).get("/denied");
        assert_eq!((r.status, r.text()), (401, APP_DENIED));
        assert!(r.header("www-authenticate").is_none(), "no challenge added");
    }

    /// A non-root `base_path`: the sign-in surface lives under it (discovery,
    /// keys, `HEAD`, middleware sign-in, the redirect to sign in), and the same
    /// paths at the root are the application's.
    fn a_non_root_base_path_is_served_under_it(fx, h) {
        let _ = h;
        let under = Fixture::under("/sso");
        let mut harness = fx.harness_for(&under);
        let mut c = Client::new(harness.as_mut());
        let discovery = c.get("/sso/.well-known/openid-configuration");
        assert_eq!(discovery.status, 200, "{}", discovery.text());
        assert_eq!(discovery.json()["issuer"], format!("{ORIGIN}/sso"));
        assert_eq!(discovery.json()["jwks_uri"], format!("{ORIGIN}/sso/jwks"));
        assert_eq!(c.get("/sso/jwks").status, 200);
        let head = c.send("HEAD", "/sso/jwks", &[], b"");
        assert_eq!((head.status, head.body.len()), (200, 0));
        let at_root = c.get("/.well-known/openid-configuration");
        assert_eq!(at_root.status, 404, "the root is the application's");
        assert!(!at_root.text().contains("issuer"));
        let to_sign_in = c.get_with("/me", &[("accept", "text/html")]);
        assert_eq!(to_sign_in.status, 303);
        assert_eq!(to_sign_in.header("location"), Some("/sso/signin?return=%2Fme"));
        let page = c.get("/sso/signin?return=%2Fme&login_hint=alice%40ad.test");
        assert_eq!(page.field("step"), "fallback", "{}", page.text());
        let wrong = c.send("DELETE", "/sso/token", &[], b"");
        assert_eq!((wrong.status, wrong.header("allow")), (405, Some("POST")));
    }

    /// `/healthz` answers while the process does; `/readyz` is 503 naming the
    /// component (never its address) while the store or the directory is down,
    /// and 200 again once it is back. One answer serves a second.
    fn health_and_readiness(fx, h) {
        let mut c = Client::new(h);
        let alive = c.get("/healthz");
        assert_eq!((alive.status, alive.json()["status"].as_str()), (200, Some("alive")));
        assert_eq!(c.get("/readyz").json()["status"], "ready");
        fx.store_outage(true);
        assert_eq!(c.get("/readyz").status, 200, "the answer of this second");
        fx.advance(1);
        let down = c.get("/readyz");
        assert_eq!(down.status, 503);
        assert_eq!(down.json()["problems"], serde_json::json!(["store: unavailable"]));
        fx.store_outage(false);
        fx.directory_outage(true);
        fx.advance(1);
        let down = c.get("/readyz");
        assert_eq!((down.status, down.json()["problems"].clone()), (503, serde_json::json!(["directory: unavailable"])));
        assert_eq!(c.get("/healthz").status, 200, "alive while not ready");
        fx.directory_outage(false);
        fx.advance(1);
        assert_eq!(c.get("/readyz").status, 200);
        let head = c.send("HEAD", "/readyz", &[], b"");
        assert_eq!((head.status, head.body.len()), (200, 0));
    }

    /// `prompt=none` without a session: `login_required` to the client.
    fn prompt_none_without_session(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        let r = c.get(&authorize_uri("spa", &[("prompt", "none")]));
        let q = r.location_query();
        assert_eq!((q["error"].as_str(), q["state"].as_str()), ("login_required", "st-1"));
    }

    /// Discovery and the JWKS.
    fn discovery_and_jwks(fx, h) {
        let mut c = Client::new(h);
        let _ = fx;
        let d = c.get("/.well-known/openid-configuration").json();
        assert_eq!(d["issuer"], ORIGIN);
        assert_eq!(d["token_endpoint"], format!("{ORIGIN}/token"));
        assert_eq!(d["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256", "EdDSA"]));
        assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        let jwks = c.get("/jwks").json();
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 3, "one key per algorithm");
        assert!(keys.iter().all(|k| k["kid"].is_string()), "every key has a kid");
        assert!(!jwks.to_string().contains("\"d\""), "no private parts");
    }

    /// Mutual authentication: the AP-REP arrives in the final header.
    fn mutual_authentication_ap_rep(fx, h) {
        let mut c = Client::new(h);
        let page = hinted(&mut c, "alice");
        let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
        let mut spec = TicketSpec::new("alice", fx.now()).with_pac(pac);
        spec.gss_flags = Some(WINDOWS_GSS_FLAGS);
        spec.cusec = 999_999;
        let minted = fx.kdc.mint(&spec).expect("mint");
        let r = c.sso(&page, Some(&format!("Negotiate {}", minted.token)));
        let header = r.header("www-authenticate").expect("final header");
        let ap_rep = header.strip_prefix("Negotiate ").expect("Negotiate");
        let echoed = seamless_core::testkit::verify_response(ap_rep, &minted.session_key)
            .expect("the AP-REP verifies with the session key");
        assert_eq!(echoed, minted.ctime_cusec);
        // Without mutual authentication the final token (SPNEGO accept-completed,
        // if any) carries no AP-REP.
        let mut other = Client::new(c.harness());
        let page = hinted(&mut other, "alice");
        fx.advance(1);
        let r = other.sso(&page, Some(&format!("Negotiate {}", fx.token("alice", 1105))));
        assert_eq!(r.status, 200);
        if let Some(h) = r.header("www-authenticate") {
            let token = h.strip_prefix("Negotiate ").expect("Negotiate <token>");
            assert!(seamless_core::testkit::verify_response(token, &minted.session_key).is_err());
        }
    }

    /// The native client: realm, MEX, RST with Negotiate, assertion, grant.
    fn native_client_flow(fx, h) {
        let mut c = Client::new(h);
        let realm = c.get("/common/userrealm/alice@ad.test?api-version=1.0").json();
        assert_eq!(realm["account_type"], "Federated");
        let mex = c.get("/winauth/trust/mex");
        assert!(mex.text().contains("NegotiateAuthentication"));
        let rst = native_rst();
        let path = "/winauth/trust/13/windowstransport";
        let soap = [("content-type", "application/soap+xml; charset=utf-8")];
        let challenge = c.send("POST", path, &soap, rst.as_bytes());
        assert_eq!((challenge.status, challenge.header("www-authenticate")), (401, Some("Negotiate")));
        let auth = format!("Negotiate {}", fx.token("alice", 1105));
        let answer = c.send("POST", path, &[soap[0], ("authorization", &auth)], rst.as_bytes());
        assert_eq!(answer.status, 200, "{}", answer.text());
        let text = answer.text();
        let start = text.find("<saml:Assertion").expect("assertion");
        let end = text.find("</saml:Assertion>").expect("end") + "</saml:Assertion>".len();
        let assertion = base64::engine::general_purpose::STANDARD.encode(&text[start..end]);
        let grant = |c: &mut Client<'_>| {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("grant_type", "urn:ietf:params:oauth:grant-type:saml1_1-bearer"), ("assertion", assertion.as_str()), ("client_id", "spa"), ("scope", "openid")])
                .finish();
            c.send("POST", "/token", &[("content-type", "application/x-www-form-urlencoded")], body.as_bytes())
        };
        let tokens = grant(&mut c);
        assert_eq!(tokens.status, 200, "{}", tokens.text());
        assert_eq!(payload_b64(tokens.json()["id_token"].as_str().expect("id"))["sub"], "u-alice");
        assert_eq!(grant(&mut c).json()["error"], "invalid_grant", "single use");
    }

    /// Native refusals are SOAP faults with the code, never a 500.
    fn native_refusals_are_faults(fx, h) {
        let mut c = Client::new(h);
        let path = "/winauth/trust/13/windowstransport";
        let auth = format!("Negotiate {}", fx.token("bob", 1106));
        let r = c.send("POST", path, &[("authorization", &auth)], native_rst().as_bytes());
        assert_eq!(r.status, 403);
        assert!(r.text().contains("<psf:code>50079</psf:code>"), "MFA needs interaction");
        let r = c.send("POST", path, &[("authorization", &auth)], br#"<!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>"#);
        assert_eq!(r.status, 400);
        assert!(r.text().contains("<psf:code>90012</psf:code>"));
    }

    /// The socket peer reaches policy: `[policy] intranet` allows Negotiate from
    /// inside and sends everyone else to the password form (53001).
    fn peer_address_reaches_policy(fx, h) {
        let _ = fx;
        {
            let mut inside = Client::new(&mut *h).from_peer("10.9.8.7:5000");
            hinted(&mut inside, "alice");
        }
        let mut outside = Client::new(h).from_peer("192.0.2.7:5000");
        assert_outside(&outside_page(&mut outside, &[]));
    }

    /// A forwarded header from a peer that is not a trusted proxy is ignored.
    fn forwarded_header_from_an_untrusted_peer_is_ignored(fx, h) {
        let _ = fx;
        let mut c = Client::new(h).from_peer("192.0.2.7:5000");
        assert_outside(&outside_page(&mut c, &[("x-forwarded-for", "10.1.2.3")]));
        assert_outside(&outside_page(&mut c, &[("forwarded", "for=10.1.2.3")]));
        assert_outside(&outside_page(&mut c, &[("x-real-ip", "10.1.2.3")]));
    }

    /// Behind a trusted proxy the rightmost hop it reports is the client; what
    /// the client wrote to its left is not believed.
    fn forwarded_header_from_a_trusted_proxy_is_used(fx, h) {
        let _ = fx;
        {
            let mut c = Client::new(&mut *h).from_peer(TRUSTED_PROXY);
            let page = c.get_with(
                &authorize_uri("spa", &[("login_hint", "alice@ad.test")]),
                &[("x-forwarded-for", "192.0.2.99, 10.1.2.3")],
            );
            assert_eq!(page.field("step"), "fallback", "inside, via the proxy");
        }
        {
            let mut c = Client::new(&mut *h).from_peer(TRUSTED_PROXY);
            let page = c.get_with(
                &authorize_uri("spa", &[("login_hint", "alice@ad.test")]),
                &[("forwarded", "for=192.0.2.99, for=\"10.1.2.3:4444\"")],
            );
            assert_eq!(page.field("step"), "fallback", "Forwarded too");
        }
        let mut c = Client::new(h).from_peer(TRUSTED_PROXY);
        assert_outside(&outside_page(&mut c, &[("x-forwarded-for", "10.1.2.3, 192.0.2.7")]));
    }
}

/// A trusted proxy of the fixture (`[server] trusted_proxies`).
const TRUSTED_PROXY: &str = "198.51.100.4:443";

fn outside_page(c: &mut Client<'_>, headers: &[(&str, &str)]) -> PlainResponse {
    c.get_with(
        &authorize_uri("spa", &[("login_hint", "alice@ad.test")]),
        headers,
    )
}

fn assert_outside(page: &PlainResponse) {
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.field("step"),
        "password",
        "outside the intranet: no Negotiate"
    );
    assert!(page.text().contains("(53001)"), "{}", page.text());
}

/// A WS-Trust 1.3 RST as MSAL sends it.
pub fn native_rst() -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</a:Action><a:MessageID>urn:uuid:0b5e9c6e-8c4f-4a55-9d1b-7a0a6f0e2f11</a:MessageID><a:To s:mustUnderstand="1">{ORIGIN}/winauth/trust/13/windowstransport</a:To></s:Header><s:Body><trust:RequestSecurityToken xmlns:trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>urn:federation:MicrosoftOnline</a:Address></a:EndpointReference></wsp:AppliesTo><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType></trust:RequestSecurityToken></s:Body></s:Envelope>"#
    )
}
