//! The sign-in engine in a deterministic simulator: a hand-advanced clock, seeded
//! randomness, test-KDC tickets, scripted backends with failure injection, and a
//! sleep-free executor (no tokio). Every state and every failure path.

mod common;

use std::time::Duration;

use common::*;
use seamless_core::backends::{Method, MfaMethod, RulePolicy};
use seamless_core::engine::View;
use seamless_core::engine::{EngineConfig, Step};
use seamless_core::error::Code;
use seamless_core::kerberos::{Etype, Key};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::{Flaw, PacSpec, TicketSpec};
use seamless_core::testkit::{Shown, StepExt as _};

#[test]
fn hinted_seamless_sign_in_completes_with_kerberos_facts() {
    let w = world(RulePolicy::default());
    let step = w.start(Some("alice@ad.test"));
    assert_eq!(
        step.shown(),
        Shown::Page(View::Challenge {
            username: Some("alice@ad.test".into())
        })
    );
    let done = w.negotiate(&step, Some(&w.token("alice", 1105)));
    let c = completed(&done);
    assert_eq!(c.user.id, "u-alice");
    assert_eq!(c.auth.methods, vec![Method::Kerberos]);
    assert_eq!(c.auth.auth_time, T0);
    assert_eq!(c.auth.not_after, Some(T0 + 10 * 3600));
    assert_eq!(
        c.auth
            .ticket
            .as_ref()
            .and_then(|t| t.sid.as_ref())
            .map(ToString::to_string),
        Some(format!("{DOMAIN}-1105"))
    );
    assert_eq!(c.request.redirect_uri, "https://app.example/cb");
    assert!(done.sealed().is_none(), "no state survives a completion");
}

#[test]
fn username_step_then_challenge_without_token_asks_for_negotiate() {
    let w = world(RulePolicy::default());
    let step = w.start(None);
    assert_eq!(step.shown(), Shown::Page(View::Username { error: None }));
    let bad = block_on(w.engine.submit_username(
        step.sealed().expect("sealed"),
        step.flow_id(),
        " \u{7} ",
    ));
    assert_eq!(
        bad.shown(),
        Shown::Page(View::Username {
            error: Some(Code::BadRequest)
        })
    );
    let step = block_on(w.engine.submit_username(
        bad.sealed().expect("sealed"),
        bad.flow_id(),
        "AD\\alice",
    ));
    assert_eq!(
        step.shown(),
        Shown::Page(View::Challenge {
            username: Some("AD\\alice".into())
        })
    );
    let challenged = w.negotiate(&step, None);
    assert!(challenged.challenged());
    assert_eq!(challenged.shown(), step.shown());
    assert_eq!(
        completed(&w.negotiate(&challenged, Some(&w.token("alice", 1105))))
            .user
            .id,
        "u-alice"
    );
}

#[test]
fn kerberos_problems_fall_back_to_the_password_form_with_their_code() {
    let w = world(RulePolicy::default());
    let wrong = Key::new(Etype::Aes256CtsHmacSha196, &[0x22; 32]).expect("key");
    let bad_ticket = w
        .kdc
        .mint(&TicketSpec::new("alice", w.now()).with_flaw(Flaw::WrongServiceKey(wrong)))
        .expect("mint")
        .token;
    let cases: Vec<(String, Code)> = vec![
        (
            "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==".into(),
            Code::PackageNotSupported,
        ),
        ("%%%".into(), Code::MalformedTicket),
        (bad_ticket, Code::TicketInvalid),
        ("A".repeat(100_000), Code::TicketTooLarge),
        (w.token("mallory", 1999), Code::UserNotFoundBySid),
    ];
    for (token, code) in cases {
        let step = w.start(Some("alice@ad.test"));
        let next = w.negotiate(&step, Some(&token));
        assert_eq!(fallback_reason(&next), Some(code), "{code:?}");
        assert!(
            next.sealed().is_some(),
            "the password form continues the flow"
        );
    }
    let step = w.start(Some("alice@ad.test"));
    let next = block_on(
        w.engine
            .give_up(step.sealed().expect("sealed"), step.flow_id()),
    );
    assert_eq!(fallback_reason(&next), Some(Code::NoTicket));
}

#[test]
fn replayed_ticket_falls_back_and_skewed_clock_is_refused() {
    let w = world(RulePolicy::default());
    let token = w.token("alice", 1105);
    completed(&w.negotiate(&w.start(Some("alice@ad.test")), Some(&token)));
    let again = w.negotiate(&w.start(Some("alice@ad.test")), Some(&token));
    assert_eq!(fallback_reason(&again), Some(Code::TicketInvalid));
    let step = w.start(Some("alice@ad.test"));
    w.clock.advance(Duration::from_secs(301));
    let late = w.negotiate(&step, Some(&token));
    assert_eq!(fallback_reason(&late), Some(Code::TicketInvalid));
}

#[test]
fn ticket_user_must_match_the_typed_user() {
    let w = world(RulePolicy::default());
    let step = w.start(Some("bob@ad.test"));
    let next = w.negotiate(&step, Some(&w.token("alice", 1105)));
    assert_eq!(fallback_reason(&next), Some(Code::UserMismatch));
    // The typed user can still sign in with a password.
    assert_eq!(
        completed(&w.password(&next, "bob@ad.test", "bob-pw"))
            .user
            .id,
        "u-bob"
    );
}

#[test]
fn disabled_and_denied_users_are_refused_for_good() {
    let w = world(RulePolicy {
        deny_groups: vec!["blocked".into()],
        ..Default::default()
    });
    let carol = w.negotiate(
        &w.start(None).pipe(|s| submit_name(&w, &s, "carol@ad.test")),
        Some(&w.token("carol", 1107)),
    );
    assert_eq!(
        carol.shown(),
        Shown::Denied {
            code: Code::AccountDisabled
        }
    );
    assert!(carol.sealed().is_none());
    let dave = w.negotiate(&w.start(Some("dave@ad.test")), Some(&w.token("dave", 1108)));
    assert_eq!(
        dave.shown(),
        Shown::Denied {
            code: Code::PolicyDenied
        }
    );
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl Pipe for Step {}

fn submit_name(w: &World, step: &Step, name: &str) -> Step {
    block_on(
        w.engine
            .submit_username(step.sealed().expect("sealed"), step.flow_id(), name),
    )
}

#[test]
fn mfa_group_requires_totp_and_limits_failures() {
    let w = world(RulePolicy {
        mfa_groups: vec!["mfa".into()],
        ..Default::default()
    });
    let step = w.negotiate(&w.start(Some("bob@ad.test")), Some(&w.token("bob", 1106)));
    assert_eq!(
        step.shown(),
        Shown::Page(View::Mfa {
            methods: vec![MfaMethod::Totp],
            error: None
        })
    );
    let wrong = w.mfa(&step, "000000");
    assert_eq!(
        wrong.shown(),
        Shown::Page(View::Mfa {
            methods: vec![MfaMethod::Totp],
            error: Some(Code::MfaFailed)
        })
    );
    let done = w.mfa(&wrong, &w.totp());
    let c = completed(&done);
    assert_eq!(
        (c.user.id.as_str(), c.auth.methods.clone()),
        ("u-bob", vec![Method::Kerberos, Method::Otp])
    );

    // The same code cannot be used twice, even in a new flow.
    let step = w.negotiate(&w.start(Some("bob@ad.test")), Some(&w.token("bob", 1106)));
    assert_eq!(
        w.mfa(&step, &w.totp()).shown(),
        Shown::Page(View::Mfa {
            methods: vec![MfaMethod::Totp],
            error: Some(Code::MfaFailed)
        })
    );

    // Replaying an older sealed state does not reset the failure count: it is in the store.
    let mut last = step.clone();
    for _ in 0..4 {
        last = w.mfa(&step, "111111");
    }
    assert_eq!(
        last.shown(),
        Shown::Denied {
            code: Code::MfaFailed
        }
    );
}

#[test]
fn mfa_without_enrolment_is_denied() {
    let w = world(RulePolicy {
        mfa_groups: vec!["mfa".into()],
        ..Default::default()
    });
    let step = w.negotiate(&w.start(Some("erin@ad.test")), Some(&w.token("erin", 1109)));
    assert_eq!(
        step.shown(),
        Shown::Denied {
            code: Code::MfaNotEnrolled
        }
    );
}

#[test]
fn staged_rollout_sends_others_to_their_own_password() {
    let w = world(RulePolicy {
        rollout_groups: vec!["pilot".into()],
        ..Default::default()
    });
    let step = w.negotiate(
        &w.start(Some("alice@ad.test")),
        Some(&w.token("alice", 1105)),
    );
    assert_eq!(
        step.shown(),
        Shown::Page(View::Password {
            username: Some("alice@ad.test".into()),
            reason: Some(Code::SeamlessNotEnabled),
            error: None
        })
    );
    let other = w.password(&step, "bob@ad.test", "bob-pw");
    assert_eq!(
        other.shown(),
        Shown::Page(View::Password {
            username: Some("alice@ad.test".into()),
            reason: Some(Code::SeamlessNotEnabled),
            error: Some(Code::UserMismatch)
        })
    );
    let done = w.password(&other, "alice@ad.test", "alice-pw");
    assert_eq!(completed(&done).auth.methods, vec![Method::Password]);
    assert_eq!(completed(&done).auth.not_after, None);
}

#[test]
fn outside_the_intranet_negotiate_is_never_attempted() {
    let w = world(RulePolicy {
        intranet: vec!["10.0.0.0/8".parse().expect("net")],
        ..Default::default()
    });
    let outside = Some("203.0.113.9".parse().expect("ip"));
    let step = block_on(
        w.engine
            .start(request(Some("alice@ad.test")), outside, false),
    );
    assert_eq!(fallback_reason(&step), Some(Code::SeamlessNotEnabled));
    let step = block_on(w.engine.start(request(None), outside, false));
    let step = submit_name(&w, &step, "alice@ad.test");
    assert_eq!(fallback_reason(&step), Some(Code::SeamlessNotEnabled));
    let inside = Some("10.1.2.3".parse().expect("ip"));
    let step = block_on(
        w.engine
            .start(request(Some("alice@ad.test")), inside, false),
    );
    assert!(matches!(step.shown(), Shown::Page(View::Challenge { .. })));
}

#[test]
fn sign_out_suppresses_automatic_negotiate_until_the_user_acts() {
    let w = world(RulePolicy::default());
    let step = block_on(w.engine.start(request(Some("alice@ad.test")), None, true));
    assert_eq!(
        step.shown(),
        Shown::Page(View::Username { error: None }),
        "no automatic challenge after sign-out"
    );
    let step = submit_name(&w, &step, "alice@ad.test");
    assert!(
        matches!(step.shown(), Shown::Page(View::Challenge { .. })),
        "an explicit user name starts it"
    );
    let mut prompt = request(Some("alice@ad.test"));
    prompt.prompt_login = true;
    assert_eq!(
        block_on(w.engine.start(prompt, None, false)).shown(),
        Shown::Page(View::Username { error: None })
    );
}

#[test]
fn backend_outages_fail_closed_with_their_own_codes() {
    let w = world(RulePolicy::default());
    w.directory_outage(true);
    let step = w.negotiate(
        &w.start(Some("alice@ad.test")),
        Some(&w.token("alice", 1105)),
    );
    assert_eq!(
        step.shown(),
        Shown::Denied {
            code: Code::DirectoryUnavailable
        }
    );
    w.directory_outage(false);

    let step = w.start(Some("alice@ad.test"));
    w.store_outage(true);
    let refused = w.negotiate(&step, Some(&w.token("alice", 1105)));
    assert_eq!(
        refused.shown(),
        Shown::Denied {
            code: Code::StoreUnavailable
        },
        "a replay check that cannot run must not pass"
    );
    w.store_outage(false);
    // Recovery is automatic.
    assert!(matches!(
        w.negotiate(
            &w.start(Some("alice@ad.test")),
            Some(&w.token("alice", 1105))
        )
        .shown(),
        Shown::Completed(_)
    ));
}

#[test]
fn passwords_have_uniform_errors_and_rate_limits() {
    let mut config = EngineConfig::default();
    config.limits.password_per_user = 3;
    let w = world_with(
        RulePolicy::default(),
        config,
        vec![SealingKey::new(1, [7; 32])],
    );
    let step = block_on(w.engine.give_up(
        w.start(Some("alice@ad.test")).sealed().expect("s"),
        w.start(Some("x")).flow_id(),
    ));
    assert!(
        matches!(
            step.shown(),
            Shown::Restart {
                code: Code::FlowInvalid
            }
        ),
        "binding of another flow"
    );

    let first = w.start(Some("alice@ad.test"));
    let form = block_on(
        w.engine
            .give_up(first.sealed().expect("s"), first.flow_id()),
    );
    let unknown = w.password(&form, "nobody@ad.test", "x");
    let wrong = w.password(&form, "alice@ad.test", "nope");
    let error = |s: &Step| match &s.shown() {
        Shown::Page(View::Password { error, .. }) => *error,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (error(&unknown), error(&wrong)),
        (
            Some(Code::InvalidCredentials),
            Some(Code::InvalidCredentials)
        )
    );
    w.password(&form, "alice@ad.test", "nope");
    w.password(&form, "ALICE@ad.test", "nope");
    let locked = w.password(&form, "alice@ad.test", "alice-pw");
    assert_eq!(
        error(&locked),
        Some(Code::RateLimited),
        "even the right password, once locked"
    );
    w.clock.advance(Duration::from_secs(901));
    let later = w.start(Some("alice@ad.test"));
    let form = block_on(
        w.engine
            .give_up(later.sealed().expect("s"), later.flow_id()),
    );
    assert!(
        matches!(
            w.password(&form, "alice@ad.test", "alice-pw").shown(),
            Shown::Completed(_)
        ),
        "the window passed"
    );
}

#[test]
fn sealed_state_is_bound_expiring_tamper_proof_and_rotatable() {
    let w = world(RulePolicy::default());
    let step = w.start(Some("alice@ad.test"));
    let sealed = step.sealed().map(str::to_string).expect("sealed");
    let restart = |s: Step| match s.shown() {
        Shown::Restart { code } => code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        restart(block_on(w.engine.negotiate(
            &sealed,
            "another-browser",
            None
        ))),
        Code::FlowInvalid
    );
    let mut tampered = sealed.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_eq!(
        restart(block_on(w.engine.negotiate(
            &tampered,
            step.flow_id(),
            None
        ))),
        Code::FlowInvalid
    );
    assert_eq!(
        restart(block_on(w.engine.negotiate(
            "garbage",
            step.flow_id(),
            None
        ))),
        Code::FlowInvalid
    );

    // Rotation: a new engine sealing with key 2 still opens key 1's states.
    let rotated = world_with(
        RulePolicy::default(),
        EngineConfig::default(),
        vec![SealingKey::new(2, [9; 32]), SealingKey::new(1, [7; 32])],
    );
    assert!(matches!(
        block_on(rotated.engine.negotiate(&sealed, step.flow_id(), None)).shown(),
        Shown::Page(View::Challenge { .. })
    ));
    let retired = world_with(
        RulePolicy::default(),
        EngineConfig::default(),
        vec![SealingKey::new(2, [9; 32])],
    );
    assert_eq!(
        restart(block_on(retired.engine.negotiate(
            &sealed,
            step.flow_id(),
            None
        ))),
        Code::FlowInvalid
    );

    w.clock.advance(Duration::from_secs(601));
    assert_eq!(
        restart(block_on(w.engine.negotiate(&sealed, step.flow_id(), None))),
        Code::FlowExpired
    );
}

#[test]
fn a_state_posted_to_the_wrong_step_is_shown_again() {
    let w = world(RulePolicy::default());
    let step = w.start(Some("alice@ad.test"));
    let again = w.mfa(&step, "123456");
    assert_eq!(
        again.shown(),
        Shown::Page(View::Challenge {
            username: Some("alice@ad.test".into())
        })
    );
}

#[test]
fn tickets_without_a_sid_map_through_the_principal() {
    let w = world(RulePolicy::default());
    let token = w
        .kdc
        .mint(&TicketSpec::new("alice", w.now()))
        .expect("mint")
        .token;
    let done = w.negotiate(&w.start(Some("alice@ad.test")), Some(&token));
    assert_eq!(completed(&done).user.id, "u-alice");
    let stranger = w
        .kdc
        .mint(&TicketSpec {
            client_realm: Some("OTHER.TEST".into()),
            ..TicketSpec::new("alice", w.now())
        })
        .expect("mint")
        .token;
    let next = w.negotiate(&w.start(Some("alice@ad.test")), Some(&stranger));
    assert_eq!(
        fallback_reason(&next),
        Some(Code::UserNotFoundByPrincipal),
        "untrusted realm"
    );
}

#[test]
fn native_sign_in_completes_or_refuses_without_interaction() {
    let w = world(RulePolicy {
        mfa_groups: vec!["mfa".into()],
        ..Default::default()
    });
    let done = block_on(w.engine.sign_in_native(
        request(None),
        None,
        w.token("alice", 1105).as_bytes(),
    ))
    .expect("native");
    assert_eq!(done.user.id, "u-alice");
    let mfa = block_on(w.engine.sign_in_native(
        request(None),
        None,
        w.token("bob", 1106).as_bytes(),
    ));
    assert_eq!(mfa.err(), Some(Code::InteractionRequired));
    let ntlm = block_on(w.engine.sign_in_native(
        request(None),
        None,
        b"TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
    ));
    assert_eq!(ntlm.err(), Some(Code::PackageNotSupported));
}

#[test]
fn rc4_tickets_and_old_tickets_follow_policy() {
    let w = world(RulePolicy {
        max_ticket_age_secs: Some(3600),
        ..Default::default()
    });
    let mut spec = TicketSpec::new("alice", w.now())
        .with_pac(PacSpec::new(DOMAIN.parse().expect("sid"), 1105));
    spec.auth_time = T0 - 7200;
    let old = w.kdc.mint(&spec).expect("mint").token;
    assert_eq!(
        fallback_reason(&w.negotiate(&w.start(Some("alice@ad.test")), Some(&old))),
        Some(Code::TicketInvalid)
    );
}
