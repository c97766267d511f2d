//! Hostile input to the engine: mutated and random sealed states, bindings, user
//! names, passwords and codes. The property: a coded outcome, never a panic, and
//! never a completion without valid credentials.

mod common;

use common::*;
use proptest::prelude::*;
use seamless_core::backends::{Password, RulePolicy};
use seamless_core::engine::View;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::{Shown, StepExt as _};

fn cases() -> u32 {
    std::env::var("SEAMLESS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|n: u32| n / 10)
        .unwrap_or(500)
        .max(100)
}

fn is_completed(view: &Shown) -> bool {
    matches!(view, Shown::Completed(_))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_sealed_state_never_opens(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        let w = world(RulePolicy::default());
        let step = w.start(Some("alice@ad.test"));
        let sealed = step.sealed().map(str::to_string).unwrap_or_default();
        let mut bytes = sealed.clone().into_bytes();
        for (i, v) in &flips {
            let len = bytes.len();
            if let Some(b) = bytes.get_mut(i % len.max(1)) {
                // Stay in the base64url alphabet half the time, so decoding gets past it.
                *b = if v % 2 == 0 { b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[usize::from(*v) % 64] } else { *v };
            }
        }
        if cut % 3 == 0 {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        let mutated = String::from_utf8_lossy(&bytes).to_string();
        prop_assume!(mutated != sealed);
        let out = block_on(w.engine.negotiate(&mutated, step.flow_id(), Some(w.token("alice", 1105).as_bytes())));
        prop_assert!(matches!(out.shown(), Shown::Restart { .. }), "{:?}", out.shown());
    }

}

proptest! {
    // Each case checks a password with argon2 (deliberately slow): a fixed count.
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_form_input_gets_a_coded_answer(name in prop_oneof!["[a-zA-Z.]{1,20}(@ad\\.test)?", ".{0,300}"], pw in ".{0,100}", code in ".{0,12}", binding in "[0-9a-f]{0,40}") {
        let w = world(RulePolicy { mfa_groups: vec!["mfa".into()], ..Default::default() });
        let step = w.start(None);
        let sealed = step.sealed().map(str::to_string).unwrap_or_default();
        let a = block_on(w.engine.submit_username(&sealed, step.flow_id(), &name));
        prop_assert!(!is_completed(&a.shown()));
        let b = block_on(w.engine.submit_username(&sealed, &binding, &name));
        let restarted = matches!(b.shown(), Shown::Restart { .. });
        prop_assert!(binding == step.flow_id() || restarted, "{:?}", b.shown());
        let form = block_on(w.engine.give_up(w.start(Some("bob@ad.test")).sealed().unwrap_or_default(), "x"));
        let restarted = matches!(form.shown(), Shown::Restart { .. });
        prop_assert!(restarted, "{:?}", form.shown());
        let start = w.start(Some("bob@ad.test"));
        let form = block_on(w.engine.give_up(start.sealed().unwrap_or_default(), start.flow_id()));
        let on_form = matches!(form.shown(), Shown::Page(View::Password { .. }));
        prop_assert!(on_form, "{:?}", form.shown());
        let c = block_on(w.engine.submit_password(form.sealed().unwrap_or_default(), form.flow_id(), &name, &Password::new(pw.clone())));
        prop_assert!(!is_completed(&c.shown()), "a completion from random credentials");
        let answered = matches!(c.shown(), Shown::Page(View::Password { error: Some(_), .. }));
        prop_assert!(answered, "{:?}", c.shown());
        if let Some(sealed) = c.sealed() {
            let d = block_on(w.engine.submit_mfa(sealed, c.flow_id(), &code));
            prop_assert!(!is_completed(&d.shown()));
        }
    }
}
