//! Every limit and lifetime a deployment can set is read: each test sets a
//! value other than the default and sees its effect, so a setting that code
//! stopped reading fails here.

use std::time::Duration;

use http::{Method, StatusCode};
use seamless_core::backends::RulePolicy;
use seamless_core::clock::Clock;
use seamless_core::engine::EngineConfig;
use seamless_core::engine::View;
use seamless_core::error::Code;
use seamless_core::http::WebConfig;
use seamless_core::kerberos::AcceptorConfig;
use seamless_core::seal::SealingKey;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::{PacSpec, TicketSpec};
use seamless_core::testkit::{Shown, StepExt as _};

use crate::common::browser::*;
use crate::common::{DOMAIN, World, fallback_reason, world_custom};

fn world_with(config: EngineConfig, web: WebConfig) -> World {
    world_custom(
        RulePolicy {
            mfa_groups: vec!["mfa".into()],
            ..RulePolicy::default()
        },
        config,
        vec![SealingKey::new(1, [7; 32])],
        move |b| {
            b.web(web).client(
                seamless_core::http::Client::public("spa", SPA_CB)
                    .with_audience(API)
                    .with_algorithm(seamless_core::token::SigningAlgorithm::Es256),
            )
        },
    )
}

fn engine_config(edit: impl FnOnce(&mut EngineConfig)) -> World {
    let mut config = EngineConfig::default();
    edit(&mut config);
    world_with(config, web())
}

fn web_config(edit: impl FnOnce(&mut WebConfig)) -> World {
    let mut w = web();
    edit(&mut w);
    world_with(EngineConfig::default(), w)
}

#[test]
fn acceptor_max_token_bytes() {
    let w = engine_config(|c| {
        c.acceptor = AcceptorConfig {
            max_token_bytes: 512,
            ..AcceptorConfig::default()
        }
    });
    let step = w.start(Some("alice@ad.test"));
    let r = w.negotiate(&step, Some(&w.token("alice", 1105)));
    assert_eq!(fallback_reason(&r), Some(Code::TicketTooLarge));
}

#[test]
fn acceptor_max_skew() {
    let w = engine_config(|c| c.acceptor.max_skew = Duration::from_secs(10));
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
    let mut spec = TicketSpec::new("alice", w.now()).with_pac(pac);
    spec.ctime -= 60;
    let step = w.start(Some("alice@ad.test"));
    let r = w.negotiate(&step, Some(&w.kdc.mint(&spec).expect("mint").token));
    assert_eq!(
        fallback_reason(&r),
        Some(Code::TicketInvalid),
        "60 s off, 10 s allowed"
    );
}

fn password_attempt(w: &World, user: &str, addr: &str) -> Shown {
    let step = block_on(w.engine.start(
        crate::common::request(Some(user)),
        Some(addr.parse().expect("ip")),
        false,
    ));
    let form = block_on(
        w.engine
            .give_up(step.sealed().expect("sealed"), step.flow_id()),
    );
    w.password(&form, user, "guess").shown()
}

fn is_limited(view: &Shown) -> bool {
    matches!(
        view,
        Shown::Page(View::Password {
            error: Some(Code::RateLimited),
            ..
        })
    )
}

#[test]
fn limits_password_per_address_counts_ipv6_per_64() {
    let w = engine_config(|c| c.limits.password_per_address = 2);
    assert!(!is_limited(&password_attempt(
        &w,
        "alice@ad.test",
        "2001:db8:1:2::10"
    )));
    assert!(!is_limited(&password_attempt(
        &w,
        "bob@ad.test",
        "2001:db8:1:2::20"
    )));
    assert!(
        is_limited(&password_attempt(
            &w,
            "erin@ad.test",
            "2001:db8:1:2:ffff::1"
        )),
        "a third account from the same /64"
    );
    assert!(!is_limited(&password_attempt(
        &w,
        "erin@ad.test",
        "2001:db8:1:3::1"
    )));
}

#[test]
fn limits_window() {
    let w = engine_config(|c| {
        c.limits.password_per_user = 1;
        c.limits.window = Duration::from_secs(60);
    });
    assert!(!is_limited(&password_attempt(
        &w,
        "alice@ad.test",
        "192.0.2.1"
    )));
    assert!(is_limited(&password_attempt(
        &w,
        "alice@ad.test",
        "192.0.2.1"
    )));
    w.clock.advance(Duration::from_secs(61));
    assert!(!is_limited(&password_attempt(
        &w,
        "alice@ad.test",
        "192.0.2.1"
    )));
}

#[test]
fn limits_mfa_per_user_across_flows() {
    let w = engine_config(|c| c.limits.mfa_per_user = 2);
    let mfa_step = || {
        let step = w.start(Some("bob@ad.test"));
        w.negotiate(&step, Some(&w.token("bob", 1106)))
    };
    let first = mfa_step();
    let _ = w.mfa(&first, "000000");
    let _ = w.mfa(&first, "000000");
    let second = mfa_step();
    assert_eq!(
        w.mfa(&second, &w.totp()).shown(),
        Shown::Denied {
            code: Code::MfaFailed
        },
        "the user's tries are spent, whatever the flow"
    );
}

#[test]
fn flow_ttl() {
    let w = engine_config(|c| c.flow_ttl = Duration::from_secs(60));
    let step = w.start(Some("alice@ad.test"));
    w.clock.advance(Duration::from_secs(61));
    let late = w.negotiate(&step, Some(&w.token("alice", 1105)));
    assert_eq!(
        late.shown(),
        Shown::Restart {
            code: Code::FlowExpired
        }
    );
}

#[test]
fn token_lifetimes_and_group_cap() {
    let w = engine_config(|c| {
        c.tokens.id_token_ttl = Duration::from_secs(120);
        c.tokens.access_token_ttl = Duration::from_secs(90);
        c.tokens.max_groups = 0;
    });
    let tokens = oidc_tokens(&w, &mut Browser::new(&w));
    let id = decode_id_token(
        &w,
        &mut Browser::new(&w),
        tokens["id_token"].as_str().expect("id"),
    );
    let access = w
        .provider
        .tokens()
        .verify_access_for(
            tokens["access_token"].as_str().expect("at"),
            w.clock.unix(),
            &[API],
        )
        .expect("access token");
    assert_eq!(
        id["exp"].as_i64().expect("exp") - id["iat"].as_i64().expect("iat"),
        120
    );
    assert_eq!(access.exp - access.iat, 90);
    assert_eq!(
        id["hasgroups"], true,
        "alice's one group is over a cap of 0"
    );
}

#[test]
fn web_session_ttl() {
    let w = web_config(|c| c.session_ttl = Duration::from_secs(3600));
    let mut b = Browser::new(&w);
    let page = b.get("/signin?return=%2F&login_hint=alice%40ad.test");
    seamless(&mut b, &page, &w.token("alice", 1105));
    let cookie = b.session_cookie();
    let head = http::Request::builder()
        .header("cookie", cookie)
        .body(())
        .expect("request")
        .into_parts()
        .0;
    let who = block_on(w.provider.authenticate(&head)).expect("signed in");
    assert_eq!(who.expires_at, w.clock.unix() + 3600);
}

#[test]
fn web_max_body_and_header_block() {
    let w = web_config(|c| {
        c.max_body = 1024;
        c.max_header_block = 2048;
    });
    let mut b = Browser::new(&w);
    let big = "x".repeat(2000);
    let r = b.send(
        Method::POST,
        "/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &big,
    );
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let filler = "y".repeat(3000);
    let state = field(&page, "state");
    let r = b.send(
        Method::GET,
        "/winauth/sso",
        &[
            ("seamless-flow", state.as_str()),
            ("x-filler", filler.as_str()),
        ],
        "",
    );
    assert_eq!(json(&r)["code"], 81001);
}

/// A body that never sends anything.
struct Silent;

impl http_body::Body for Silent {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

#[test]
fn a_body_still_missing_at_the_deadline_is_answered_400_and_the_deadline_bounds_only_the_body() {
    let w = web_config(|_| {});
    fn post<B>(body: B) -> http::Request<B> {
        http::Request::builder()
            .method(Method::POST)
            .uri("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .expect("request")
    }
    // The deadline has passed: what the body has not sent is not waited for.
    let r = block_on(
        w.provider
            .serve_within(post(Silent), std::future::ready(())),
    );
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(text(&r).contains("could not be read"), "{}", text(&r));
    // A body that has arrived is answered whatever the deadline does.
    let full = http_body_util::Full::new(bytes::Bytes::from_static(b"grant_type=nothing"));
    let r = block_on(w.provider.serve_within(post(full), std::future::pending()));
    assert_eq!(json(&r)["error"], "invalid_client", "read and routed");
}

#[test]
fn web_sso_timeout_reaches_the_page() {
    let w = web_config(|c| c.sso_timeout = Duration::from_millis(1234));
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    assert!(
        text(&page).contains("1234"),
        "the page's script waits 1234 ms"
    );
}
