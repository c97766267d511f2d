//! Policy runs, and runs for the real client, on every path that issues
//! something; its documented settings are enforced.

use base64::Engine as _;
use http::{Method, StatusCode};
use seamless_core::backends::{Decision, Policy, PolicyInput, RulePolicy};
use seamless_core::clock::Clock;
use seamless_core::engine::EngineConfig;
use seamless_core::error::Code;
use seamless_core::seal::SealingKey;
use seamless_core::testkit::{PacSpec, TicketSpec, WINDOWS_GSS_FLAGS};

use crate::common::browser::*;
use crate::common::{
    DOMAIN, PASSWORD_CHANGED_AT, T0, World, completed, extract_assertion, fallback_reason, rst_13,
    world, world_custom,
};

fn frank_ticket(w: &World, auth_time: i64) -> String {
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1110).with_upn("frank@ad.test");
    let mut spec = TicketSpec::new("frank", w.now()).with_pac(pac);
    spec.auth_time = auth_time;
    spec.start_time = Some(w.clock.unix());
    w.kdc.mint(&spec).expect("mint").token
}

#[test]
fn a_ticket_from_before_the_password_change_falls_back() {
    let w = world(RulePolicy::default());
    w.clock.advance(std::time::Duration::from_secs(7200));
    let step = w.start(Some("frank@ad.test"));
    let stale = w.negotiate(&step, Some(&frank_ticket(&w, T0)));
    assert_eq!(fallback_reason(&stale), Some(Code::TicketInvalid));
    let step = w.start(Some("frank@ad.test"));
    completed(&w.negotiate(&step, Some(&frank_ticket(&w, PASSWORD_CHANGED_AT + 1))));
}

#[test]
fn authtime_after_password_change_can_be_switched_off() {
    let w = world(RulePolicy {
        authtime_after_password_change: false,
        ..RulePolicy::default()
    });
    w.clock.advance(std::time::Duration::from_secs(7200));
    let step = w.start(Some("frank@ad.test"));
    completed(&w.negotiate(&step, Some(&frank_ticket(&w, T0))));
}

/// Denies one application to everyone.
struct DenyApplication(&'static str);

impl Policy for DenyApplication {
    fn decide(&self, input: &PolicyInput<'_>) -> Decision {
        if input.application == self.0 {
            Decision::Deny(Code::PolicyDenied)
        } else {
            Decision::Allow
        }
    }
}

fn deny_web() -> World {
    world_custom(
        RulePolicy::default(),
        EngineConfig::default(),
        vec![SealingKey::new(1, [7; 32])],
        |b| {
            b.web(web())
                .client(seamless_core::http::Client::public("spa", SPA_CB))
                .client(seamless_core::http::Client::confidential(
                    "web", "s3cret", WEB_CB,
                ))
                .policy(std::sync::Arc::new(DenyApplication("web")))
        },
    )
}

#[test]
fn silent_sign_in_from_a_session_is_decided_for_the_new_client() {
    let w = deny_web();
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    assert_eq!(
        seamless(&mut b, &page, &w.token("alice", 1105)).status(),
        StatusCode::SEE_OTHER
    );
    // The session signs alice in to spa silently...
    let spa = b.get(&authorize_uri("spa", &[("prompt", "none")]));
    assert!(query_of(header(&spa, "location").expect("location")).contains_key("code"));
    // ...but not to the client policy refuses her.
    let web = b.get(&authorize_uri("web", &[("prompt", "none")]));
    let q = query_of(header(&web, "location").expect("location"));
    assert!(!q.contains_key("code"), "{q:?}");
    assert_eq!(q.get("error").map(String::as_str), Some("login_required"));
    // A denial for one client does not end the session the others use.
    w.clock.advance(seamless_core::http::REVOCATION_CACHE * 2);
    let spa = b.get(&authorize_uri("spa", &[("prompt", "none")]));
    assert!(query_of(header(&spa, "location").expect("location")).contains_key("code"));
}

#[test]
fn a_native_assertion_is_decided_for_the_client_that_redeems_it() {
    let w = deny_web();
    let mut b = Browser::new(&w);
    let assertion = |b: &mut Browser<'_>| {
        let auth = format!("Negotiate {}", w.token("alice", 1105));
        let r = b.send(
            Method::POST,
            "/winauth/trust/13/windowstransport",
            &[
                ("content-type", "application/soap+xml; charset=utf-8"),
                ("authorization", &auth),
            ],
            &rst_13(),
        );
        assert_eq!(r.status(), StatusCode::OK, "{}", text(&r));
        base64::engine::general_purpose::STANDARD
            .encode(extract_assertion(text(&r)).expect("assertion"))
    };
    let grant = |b: &mut Browser<'_>, assertion: &str, client: &[(&str, &str)]| {
        let mut pairs = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:saml1_1-bearer",
            ),
            ("assertion", assertion),
            ("scope", "openid"),
        ];
        pairs.extend_from_slice(client);
        token_request(b, &pairs)
    };
    let a = assertion(&mut b);
    let web = grant(
        &mut b,
        &a,
        &[("client_id", "web"), ("client_secret", "s3cret")],
    );
    assert_eq!(web.status(), StatusCode::BAD_REQUEST, "{}", text(&web));
    assert_eq!(json(&web)["error"], "invalid_grant");
    let a = assertion(&mut b);
    assert_eq!(
        grant(&mut b, &a, &[("client_id", "spa")]).status(),
        StatusCode::OK
    );
}

#[test]
fn windows_transport_answers_with_the_ap_rep_for_mutual_authentication() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
    let mut spec = TicketSpec::new("alice", w.now()).with_pac(pac);
    spec.gss_flags = Some(WINDOWS_GSS_FLAGS);
    let minted = w.kdc.mint(&spec).expect("mint");
    let r = b.send(
        Method::POST,
        "/winauth/trust/13/windowstransport",
        &[
            ("content-type", "application/soap+xml; charset=utf-8"),
            ("authorization", &format!("Negotiate {}", minted.token)),
        ],
        &rst_13(),
    );
    assert_eq!(r.status(), StatusCode::OK, "{}", text(&r));
    let final_token = header(&r, "www-authenticate")
        .and_then(|v| v.strip_prefix("Negotiate "))
        .expect("a final Negotiate token");
    let (ctime, cusec) = seamless_core::testkit::verify_response(final_token, &minted.session_key)
        .expect("an AP-REP under the session key");
    assert_eq!((ctime, cusec), minted.ctime_cusec);
}
