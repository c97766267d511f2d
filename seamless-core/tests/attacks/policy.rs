//! Policy runs, and runs for the real client, on every path that issues
//! something; its documented settings are enforced.

use base64::Engine as _;
use http::{Method, StatusCode};
use seamless_core::backends::{Decision, EntryKind, Policy, PolicyInput, RulePolicy};
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

/// Allows only users whose PAC names `group`.
struct RequirePacGroup(seamless_core::kerberos::Sid);

impl Policy for RequirePacGroup {
    fn decide(&self, input: &PolicyInput<'_>) -> Decision {
        match input.ticket {
            Some(t) if t.group_sids.contains(&self.0) => Decision::Allow,
            _ => Decision::Deny(Code::PolicyDenied),
        }
    }
}

/// A user in 1,500 groups (large enterprises have them; the ticket is then
/// near AD's default size limit) signs in seamlessly. Policy sees every group
/// SID; after its decision they are not carried in the sign-in token, the code
/// or the session, so none of those outgrows its limit. Before, the sign-in
/// token was 99 KB and the login post was refused with 413.
#[test]
fn a_user_in_fifteen_hundred_groups_is_decided_on_all_of_them_and_signs_in() {
    let last: seamless_core::kerberos::Sid = format!("{DOMAIN}-11499").parse().expect("sid");
    let w = world_custom(
        RulePolicy::default(),
        EngineConfig::default(),
        vec![SealingKey::new(1, [7; 32])],
        move |b| {
            b.web(web())
                .client(seamless_core::http::Client::public("spa", SPA_CB))
                .policy(std::sync::Arc::new(RequirePacGroup(last.clone())))
        },
    );
    let ticket = |groups: std::ops::Range<u32>| {
        let mut pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
        pac.group_rids = groups.collect();
        w.ticket("alice", pac)
    };
    let mut b = Browser::new(&w);

    // Without the last group, policy refuses: it is not reading a prefix.
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let refused = b.sso(
        &page,
        Some(&format!("Negotiate {}", ticket(10_000..11_499))),
    );
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "{}",
        text(&refused)
    );

    let big = ticket(10_000..11_500);
    assert!(big.len() > 16_000, "a big ticket: {} bytes", big.len());
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    let answer = b.sso(&page, Some(&format!("Negotiate {big}")));
    assert_eq!(answer.status(), StatusCode::OK, "{}", text(&answer));
    let sign_in_token = json(&answer)["token"].as_str().expect("token").to_string();
    assert!(
        sign_in_token.len() < 4_096,
        "the sign-in token does not grow with the PAC: {} bytes",
        sign_in_token.len()
    );
    let done = b.post(
        "/login",
        &[
            ("step", "sso"),
            ("state", &field(&page, "state")),
            ("token", &sign_in_token),
        ],
    );
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    let claims = decode_id_token(&w, &mut b, json(&tokens)["id_token"].as_str().expect("id"));
    assert_eq!(claims["upn"], "alice@ad.test", "{claims}");
}

/// The same from the directory: bob is in 1,500 groups there, one of them
/// `mfa`, the last. Policy sees them all and asks for a second factor; the MFA
/// page's sealed state, the code and the tokens carry at most `max_groups + 1`
/// of them, enough for the tokens to say `hasgroups`, and so does the code a
/// silent sign-in stores after reading the directory again. Before, the MFA
/// state alone outgrew the sealed-value limit, and the silent sign-in's code
/// was 31 KB.
#[test]
fn a_user_in_fifteen_hundred_directory_groups_passes_mfa_and_gets_hasgroups() {
    let w = http_world(mfa_policy());
    w.edit_user("bob@ad.test", |u| {
        u.groups = (0..1_499).map(|i| format!("Group number {i:04}")).collect();
        u.groups.push("mfa".into());
    });
    let mut b = Browser::new(&w);
    let page = b.get(&authorize_uri("spa", &[("login_hint", "bob@ad.test")]));
    let r = b.sso(&page, Some(&format!("Negotiate {}", w.token("bob", 1106))));
    assert_eq!(r.status(), StatusCode::OK, "{}", text(&r));
    let state = json(&r)["state"].as_str().expect("mfa state").to_string();
    assert!(state.len() < 16_384, "the MFA state: {} bytes", state.len());
    let mfa = b.post("/login", &[("step", "resume"), ("state", &state)]);
    assert_eq!(step_of(&mfa), "mfa", "{}", text(&mfa));
    let done = b.post(
        "/login",
        &[
            ("step", "mfa"),
            ("state", &field(&mfa, "state")),
            ("code", &w.totp()),
        ],
    );
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));
    let tokens = redeem(&mut b, header(&done, "location").expect("location"));
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    let claims = decode_id_token(&w, &mut b, json(&tokens)["id_token"].as_str().expect("id"));
    assert_eq!(claims["hasgroups"], true, "{claims}");
    assert!(claims.get("groups").is_none(), "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["kerberos", "otp", "mfa"]));

    // A silent sign-in from the session reads the directory again; the code
    // it stores is as slim.
    let silent = b.get(&authorize_uri("spa", &[("prompt", "none")]));
    let location = header(&silent, "location").expect("location");
    assert!(query_of(location).contains_key("code"), "{location}");
    let single_use = w
        .store
        .usage()
        .into_iter()
        .find(|u| u.kind == EntryKind::SingleUse)
        .expect("single-use values");
    assert!(
        single_use.payload_bytes < 16_384,
        "codes and markers stored: {} bytes in {} entries",
        single_use.payload_bytes,
        single_use.entries
    );
}
