//! Rate limits count what they protect (the account, the address) and count
//! before they check, so neither spelling nor concurrency nor a replayed state
//! buys more tries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use seamless_core::backends::{Password, PasswordVerifier, RulePolicy, User};
use seamless_core::engine::EngineConfig;
use seamless_core::engine::View;
use seamless_core::error::{BackendError, Code};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::{Shown, StepExt as _};

use crate::common::{World, completed, world, world_custom};

fn password_form(w: &World, hint: &str) -> seamless_core::engine::Step {
    let step = w.start(Some(hint));
    block_on(
        w.engine
            .give_up(step.sealed().expect("sealed"), step.flow_id()),
    )
}

fn error_of(step: &seamless_core::engine::Step) -> Option<Code> {
    match &step.shown() {
        Shown::Page(View::Password { error, .. }) => *error,
        other => panic!("expected the password form, got {other:?}"),
    }
}

fn limited(per_user: u64) -> EngineConfig {
    let mut config = EngineConfig::default();
    config.limits.password_per_user = per_user;
    config
}

#[test]
fn every_spelling_of_an_account_shares_one_password_counter() {
    let w = world_custom(
        RulePolicy::default(),
        limited(3),
        vec![SealingKey::new(1, [7; 32])],
        |b| b,
    );
    for spelling in ["alice@ad.test", "AD\\alice", "ALICE@AD.TEST"] {
        let form = password_form(&w, "alice@ad.test");
        let wrong = w.password(&form, spelling, "guess");
        assert_eq!(
            error_of(&wrong),
            Some(Code::InvalidCredentials),
            "{spelling}"
        );
    }
    let form = password_form(&w, "alice@ad.test");
    let locked = w.password(&form, "Ad\\ALICE", "alice-pw");
    assert_eq!(error_of(&locked), Some(Code::RateLimited));
}

#[test]
fn a_right_password_gives_its_slot_back() {
    let w = world_custom(
        RulePolicy::default(),
        limited(3),
        vec![SealingKey::new(1, [7; 32])],
        |b| b,
    );
    for _ in 0..5 {
        let form = password_form(&w, "alice@ad.test");
        completed_or_mfa(&w.password(&form, "alice@ad.test", "alice-pw"));
    }
}

fn completed_or_mfa(step: &seamless_core::engine::Step) {
    assert!(
        matches!(
            step.shown(),
            Shown::Completed(_) | Shown::Page(View::Mfa { .. })
        ),
        "{:?}",
        step.shown()
    );
}

/// Counts verifications and holds each one long enough for the others to start.
struct Slow {
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl PasswordVerifier for Slow {
    async fn verify(&self, _: Option<&User>, _: &Password) -> Result<bool, BackendError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok(false)
    }
}

#[test]
fn concurrent_wrong_passwords_get_at_most_the_limit_of_checks() {
    let calls = Arc::new(AtomicUsize::new(0));
    let verifier = Arc::new(Slow {
        calls: calls.clone(),
    });
    let w = Arc::new(world_custom(
        RulePolicy::default(),
        limited(4),
        vec![SealingKey::new(1, [7; 32])],
        move |b| b.passwords(verifier),
    ));
    // One thread is enough for the race: every attempt interleaves at its
    // awaits, as on a busy server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let forms: Vec<_> = (0..32)
        .map(|_| password_form(&w, "alice@ad.test"))
        .collect();
    let outcomes = runtime.block_on(async {
        let tasks: Vec<_> = forms
            .into_iter()
            .map(|form| {
                let w = w.clone();
                tokio::spawn(async move {
                    let step = w
                        .engine
                        .submit_password(
                            form.sealed().expect("sealed"),
                            form.flow_id(),
                            "alice@ad.test",
                            &Password::new("guess"),
                        )
                        .await;
                    error_of(&step)
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    });
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "exactly the limit was checked"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|e| **e == Some(Code::RateLimited))
            .count(),
        28
    );
}

#[test]
fn replaying_an_mfa_state_buys_no_more_tries() {
    let w = world(RulePolicy {
        mfa_groups: vec!["mfa".into()],
        ..RulePolicy::default()
    });
    let step = w.start(Some("bob@ad.test"));
    let mfa = w.negotiate(&step, Some(&w.token("bob", 1106)));
    assert!(
        matches!(mfa.shown(), Shown::Page(View::Mfa { .. })),
        "{:?}",
        mfa.shown()
    );
    let max = EngineConfig::default().limits.mfa_per_flow;
    for _ in 0..max {
        // Always the first sealed state, as an attacker replaying it would.
        let _ = w.mfa(&mfa, "000000");
    }
    let last = w.mfa(&mfa, &w.totp());
    assert_eq!(
        last.shown(),
        Shown::Denied {
            code: Code::MfaFailed
        }
    );
    // A fresh flow still works: the cap is per flow.
    let step = w.start(Some("bob@ad.test"));
    let mfa = w.negotiate(&step, Some(&w.token("bob", 1106)));
    completed(&w.mfa(&mfa, &w.totp()));
}
