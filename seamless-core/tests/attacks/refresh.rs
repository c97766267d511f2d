//! Refresh tokens and sessions end with the account, and have lifetimes that
//! no amount of refreshing or silent sign-in extends.

use http::StatusCode;
use seamless_core::backends::RulePolicy;
use seamless_core::clock::Clock;
use seamless_core::http::Response;
use seamless_core::testkit::{PacSpec, TicketSpec};

use crate::common::DOMAIN;
use crate::common::browser::*;

const DAY: u64 = 24 * 3600;

fn refresh(b: &mut Browser<'_>, token: &str) -> Response {
    token_request(
        b,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", "spa"),
        ],
    )
}

fn refresh_token(tokens: &serde_json::Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string()
}

fn assert_invalid_grant(r: &Response) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", text(r));
    assert_eq!(json(r)["error"], "invalid_grant", "{}", text(r));
}

#[test]
fn refresh_after_the_account_is_disabled_is_refused_and_ends_the_family() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let tokens = oidc_tokens(&w, &mut b);
    let r1 = refresh_token(&tokens);
    w.edit_user("alice@ad.test", |u| u.enabled = false);
    assert_invalid_grant(&refresh(&mut b, &r1));
    // Enabled again, the same family stays dead: it was revoked, not paused.
    w.edit_user("alice@ad.test", |u| u.enabled = true);
    assert_invalid_grant(&refresh(&mut b, &r1));
}

#[test]
fn refresh_after_the_account_is_locked_expired_or_deleted_is_refused() {
    for edit in ["locked", "expired", "deleted"] {
        let w = http_world(RulePolicy::default());
        let mut b = Browser::new(&w);
        let r1 = refresh_token(&oidc_tokens(&w, &mut b));
        match edit {
            "locked" => w.edit_user("alice@ad.test", |u| u.locked = true),
            "expired" => w.edit_user("alice@ad.test", |u| u.expired = true),
            _ => w.delete_user("u-alice"),
        }
        assert_invalid_grant(&refresh(&mut b, &r1));
    }
}

#[test]
fn refresh_after_policy_denies_the_account_is_refused() {
    let w = http_world(RulePolicy {
        deny_groups: vec!["leavers".into()],
        ..RulePolicy::default()
    });
    let mut b = Browser::new(&w);
    let r1 = refresh_token(&oidc_tokens(&w, &mut b));
    w.edit_user("alice@ad.test", |u| u.groups.push("leavers".into()));
    assert_invalid_grant(&refresh(&mut b, &r1));
}

#[test]
fn refresh_carries_the_groups_the_directory_has_now() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let tokens = oidc_tokens(&w, &mut b);
    w.edit_user("alice@ad.test", |u| u.groups = vec!["finance".into()]);
    let next = refresh(&mut b, &refresh_token(&tokens));
    assert_eq!(next.status(), StatusCode::OK, "{}", text(&next));
    let claims = decode_id_token(&w, &mut b, json(&next)["id_token"].as_str().expect("id"));
    assert_eq!(claims["groups"], serde_json::json!(["finance"]));
}

#[test]
fn a_directory_outage_during_refresh_keeps_the_token_usable() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let r1 = refresh_token(&oidc_tokens(&w, &mut b));
    w.directory_outage(true);
    let down = refresh(&mut b, &r1);
    assert_eq!(
        down.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        text(&down)
    );
    w.directory_outage(false);
    assert_eq!(refresh(&mut b, &r1).status(), StatusCode::OK);
}

#[test]
fn an_idle_refresh_family_ends() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let r1 = refresh_token(&oidc_tokens(&w, &mut b));
    w.clock
        .advance(std::time::Duration::from_secs(14 * DAY + 1));
    assert_invalid_grant(&refresh(&mut b, &r1));
}

#[test]
fn refreshing_never_outlives_the_absolute_lifetime() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    let mut token = refresh_token(&oidc_tokens(&w, &mut b));
    let signed_in_at = w.clock.unix();
    // Every 10 days, well inside the idle timeout, until day 90.
    while w.clock.unix() + 10 * DAY as i64 <= signed_in_at + 90 * DAY as i64 - 60 {
        w.clock.advance(std::time::Duration::from_secs(10 * DAY));
        let next = refresh(&mut b, &token);
        assert_eq!(
            next.status(),
            StatusCode::OK,
            "day {}: {}",
            (w.clock.unix() - signed_in_at) / DAY as i64,
            text(&next)
        );
        token = refresh_token(&json(&next));
    }
    w.clock
        .advance(std::time::Duration::from_secs(10 * DAY + 1));
    assert!(w.clock.unix() > signed_in_at + 90 * DAY as i64);
    assert_invalid_grant(&refresh(&mut b, &token));
}

#[test]
fn silent_sign_ins_do_not_extend_a_session_past_its_absolute_lifetime() {
    let w = http_world(RulePolicy::default());
    let mut b = Browser::new(&w);
    // A ticket valid for a week, so only the session's own limits apply.
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
    let mut spec = TicketSpec::new("alice", w.now()).with_pac(pac);
    spec.end_time = w.clock.unix() + 7 * DAY as i64;
    let ticket = w.kdc.mint(&spec).expect("mint").token;
    let page = b.get(&authorize_uri("spa", &[("login_hint", "alice@ad.test")]));
    assert_eq!(
        seamless(&mut b, &page, &ticket).status(),
        StatusCode::SEE_OTHER
    );
    let silent = |b: &mut Browser<'_>| b.get(&authorize_uri("spa", &[("prompt", "none")]));
    // Every 7 hours (inside the 8-hour cookie) a silent sign-in re-issues the cookie.
    for hours in [7, 14] {
        w.clock.advance(std::time::Duration::from_secs(7 * 3600));
        let r = silent(&mut b);
        let q = query_of(header(&r, "location").expect("location"));
        if hours < 12 {
            assert!(q.contains_key("code"), "hour {hours}: {q:?}");
        } else {
            assert_eq!(
                q.get("error").map(String::as_str),
                Some("login_required"),
                "hour {hours}"
            );
        }
    }
}
