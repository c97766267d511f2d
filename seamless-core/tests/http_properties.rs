//! Hostile requests to the HTTP surface: random methods, paths, headers, cookies
//! and bodies, and mutations of a real flow's state and cookie. The property: a
//! response for every request, never a panic, never a 5xx (no backend is down
//! here), never a Negotiate challenge outside the background endpoint, and never
//! a session cookie without valid credentials.

mod common;

use bytes::Bytes;
use common::*;
use http::Method;
use proptest::prelude::*;
use seamless_core::backends::RulePolicy;
use seamless_core::engine::EngineConfig;
use seamless_core::http::{Client, SIGN_IN_PATHS, WebConfig};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::sim::block_on;

fn cases() -> u32 {
    std::env::var("SEAMLESS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|n: u32| n / 10)
        .unwrap_or(300)
        .max(100)
}

/// Every sign-in path, and a few that are not ours.
fn paths() -> Vec<&'static str> {
    let mut paths = SIGN_IN_PATHS.to_vec();
    paths.extend(["/app", "/login/../token", "/common/userrealm/a%40b.c"]);
    paths
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::HEAD),
        Just(Method::PUT),
        Just(Method::OPTIONS)
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,80}",
        "(step|state|token|code|username|password|client_id|redirect_uri|grant_type|code_verifier|refresh_token)=[A-Za-z0-9%&=._-]{0,60}(&(step|state|token|code|grant_type)=[a-z_]{0,20}){0,3}",
        "Negotiate [A-Za-z0-9+/=]{0,200}",
        "(NTLM|Basic|Bearer|Negotiate) [ -~]{0,60}",
        // Flow cookies, many, with the attacker's spellings of names and ids.
        "((__Host-)?seamless-flow(-[0-9a-f]{0,10})?=\"?[0-9a-f,]{0,40}\"?; ?){0,40}",
    ]
}

fn world_for_fuzz() -> World {
    world_custom(
        RulePolicy::default(),
        EngineConfig::default(),
        vec![SealingKey::new(1, [7; 32])],
        |b| {
            b.web(WebConfig::new("https://login.example"))
                .client(Client::public("spa", "https://spa.example/cb"))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_get_coded_answers(
        method in method(),
        path in prop::sample::select(paths()),
        query in text(),
        authorization in prop::option::of(text()),
        cookie in prop::option::of(text()),
        flow in prop::option::of(text()),
        body in prop::collection::vec(any::<u8>(), 0..300),
        form in prop::option::of(text()),
    ) {
        let w = world_for_fuzz();
        let uri = format!("{path}?{}", query.replace(' ', "%20").replace('#', ""));
        let mut builder = http::Request::builder().method(method).uri(uri.as_str());
        if http::Uri::try_from(uri.as_str()).is_err() {
            builder = http::Request::builder().uri(path);
        }
        for (name, value) in [("authorization", &authorization), ("cookie", &cookie), ("seamless-flow", &flow)] {
            if let Some(v) = value {
                builder = builder.header(name, v.as_str());
            }
        }
        let body = form.map(String::into_bytes).unwrap_or(body);
        let Ok(request) = builder.body(Bytes::from(body)) else { return Ok(()); };
        match block_on(w.handle(request)) {
            Outcome::Respond(r) => {
                prop_assert!(!r.status().is_server_error(), "{} for {path}", r.status());
                if !path.starts_with("/winauth/") {
                    prop_assert!(r.headers().get("www-authenticate").is_none_or(|v| !v.as_bytes().starts_with(b"Negotiate")));
                }
                for c in r.headers().get_all("set-cookie") {
                    prop_assert!(!c.as_bytes().starts_with(b"__Host-seamless-session=") || c.as_bytes().ends_with(b"Max-Age=0"));
                }
            }
            Outcome::Continue(c) => prop_assert!(c.identity.is_none()),
        }
    }

    #[test]
    fn mutated_flow_state_and_cookie_never_sign_in(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        cookie_flip in prop::option::of((any::<usize>(), any::<u8>())),
        step in prop::sample::select(vec!["sso", "resume", "fallback", "username", "password", "mfa"]),
        token in "[A-Za-z0-9_-]{0,120}",
        again in prop::option::of(prop_oneof![
            prop::sample::select(vec![
                "/authorize?client_id=spa", "//evil.example/authorize?x=1", "https://evil.example/",
                "/authorize?x=\"><script>", "/signin?return=%2F", "javascript:alert(1)", "/authorize?a=b#c",
            ]).prop_map(String::from),
            "[ -~]{0,80}",
        ]),
    ) {
        let w = world_for_fuzz();
        let page = match block_on(w.handle(
            http::Request::builder()
                .uri("/authorize?client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&login_hint=alice%40ad.test")
                .body(Bytes::new())
                .expect("request"),
        )) {
            Outcome::Respond(r) => r,
            other => panic!("{other:?}"),
        };
        let html = String::from_utf8(page.body().to_vec()).expect("utf-8");
        let start = html.find("name=\"state\" value=\"").expect("state") + 20;
        let end = start + html[start..].find('"').expect("end");
        let mut state = html.as_bytes()[start..end].to_vec();
        for (i, v) in &flips {
            let len = state.len();
            state[i % len] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[usize::from(*v) % 64];
        }
        let set = page.headers().get("set-cookie").expect("flow cookie").to_str().expect("ascii");
        let mut cookie = set.split(';').next().expect("pair").as_bytes().to_vec();
        if let Some((i, v)) = cookie_flip {
            // A character of the value (the flow id), after the name's `=`.
            let value = cookie.iter().position(|b| *b == b'=').expect("pair") + 1;
            let len = cookie.len();
            cookie[value + i % (len - value)] = b"0123456789abcdef"[usize::from(v) % 16];
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("step", step), ("state", std::str::from_utf8(&state).expect("ascii")), ("token", &token), ("username", "alice@ad.test"), ("password", "wrong"), ("code", "123456")])
            .extend_pairs(again.as_deref().map(|a| ("again", a)))
            .finish();
        let request = http::Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header("cookie", cookie)
            .body(Bytes::from(body))
            .expect("request");
        match block_on(w.handle(request)) {
            Outcome::Respond(r) => {
                prop_assert!(!r.status().is_server_error());
                prop_assert!(r.headers().get("location").is_none(), "no completion without credentials");
                // A posted start-again address shows only if it is ours.
                let html = String::from_utf8_lossy(r.body());
                if let Some(at) = html.find("<a href=\"") {
                    let href = &html[at + 9..];
                    prop_assert!(
                        href.starts_with("/authorize?") || href.starts_with("/signin?"),
                        "{href}"
                    );
                    let href = &href[..href.find('"').expect("end")];
                    prop_assert!(!href.contains(['<', '>', ' ', '#']), "{href}");
                }
            }
            other => panic!("{other:?}"),
        }
    }
}
