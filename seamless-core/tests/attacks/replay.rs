//! Replay: no re-encoding of a captured `Negotiate` token's cleartext makes a
//! second replay-cache entry for the same authenticator.

use base64::Engine as _;
use proptest::prelude::*;
use seamless_core::kerberos::{
    Acceptor, Etype, KerberosError, MemoryReplayCache, PrincipalName, ReplayKey,
};
use seamless_core::testkit::{TestKdc, TicketSpec, Wrapping, spnego_wrap};

use crate::common::{T0, world};

const REALM: &str = "AD.TEST";
const SPN: &str = "HTTP/app.ad.test";

fn now() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(T0 as u64)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(token: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("base64")
}

/// `token` with the first cleartext occurrence of `from` replaced by `to` (same
/// length, so the DER stays well formed).
fn rewrite(token: &str, from: &str, to: &str) -> String {
    assert_eq!(from.len(), to.len());
    let mut raw = unb64(token);
    let at = raw
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from} not in the token's cleartext"));
    raw[at..at + to.len()].copy_from_slice(to.as_bytes());
    b64(&raw)
}

fn kdc() -> TestKdc {
    TestKdc::new(REALM, SPN, Etype::Aes256CtsHmacSha196)
}

/// Accepts `first`, then asserts `second` (the same authenticator, re-encoded)
/// decrypts but is refused as a replay with code 81010.
fn assert_replay(
    kdc: &TestKdc,
    ring: &seamless_core::kerberos::KeyRing,
    first: &str,
    second: &str,
) {
    let acceptor = Acceptor::default();
    let variant = acceptor
        .validate(second.as_bytes(), ring, now())
        .expect("the re-encoded token still decrypts: this is the attack");
    let original = acceptor
        .validate(first.as_bytes(), ring, now())
        .expect("valid");
    assert_eq!(
        variant.replay.key, original.replay.key,
        "same authenticator, same key"
    );
    let cache = MemoryReplayCache::new(100, T0 - 10);
    seamless_core::testkit::sim::block_on(async {
        acceptor
            .accept(first.as_bytes(), ring, &cache, now())
            .await
            .expect("first use");
        let err = acceptor
            .accept(second.as_bytes(), ring, &cache, now())
            .await
            .expect_err("replay");
        assert_eq!((err.clone(), err.code()), (KerberosError::Replay, 81010));
    });
    let _ = kdc;
}

#[test]
fn replay_with_case_flipped_realm_is_refused() {
    let kdc = kdc();
    let token = kdc
        .mint(&TicketSpec::new("alice", now()))
        .expect("mint")
        .token;
    let flipped = rewrite(&token, "AD.TEST", "aD.TEST");
    assert_replay(&kdc, &kdc.key_ring(), &token, &flipped);
}

#[test]
fn replay_with_case_flipped_service_name_is_refused() {
    let kdc = kdc();
    let token = kdc
        .mint(&TicketSpec::new("alice", now()))
        .expect("mint")
        .token;
    let flipped = rewrite(&token, "app.ad.test", "APP.ad.test");
    assert_replay(&kdc, &kdc.key_ring(), &token, &flipped);
    let service = rewrite(&token, "HTTP", "http");
    assert_replay(&kdc, &kdc.key_ring(), &token, &service);
}

#[test]
fn replay_under_an_alias_spn_of_the_same_account_is_refused() {
    let kdc = kdc();
    let mut ring = kdc.key_ring();
    assert!(
        ring.add_alias(
            kdc.service(),
            "HTTP/xpp.ad.test@AD.TEST"
                .parse::<PrincipalName>()
                .expect("spn")
        )
    );
    let token = kdc
        .mint(&TicketSpec::new("alice", now()))
        .expect("mint")
        .token;
    let alias = rewrite(&token, "app.ad.test", "xpp.ad.test");
    assert_replay(&kdc, &ring, &token, &alias);
}

#[test]
fn replay_in_other_framing_is_refused() {
    let kdc = kdc();
    let mut spec = TicketSpec::new("alice", now());
    spec.wrapping = Wrapping::Raw;
    let raw = kdc.mint(&spec).expect("mint").token;
    let gss = unb64(&raw);
    for ms_first in [true, false] {
        let framed = b64(&spnego_wrap(ms_first, &gss));
        assert_replay(&kdc, &kdc.key_ring(), &raw, &framed);
        assert_replay(&kdc, &kdc.key_ring(), &framed, &raw);
    }
}

#[test]
fn replay_with_case_flipped_realm_is_refused_by_the_engine() {
    let w = world(Default::default());
    let token = w.token("alice", 1105);
    let step = w.start(Some("alice@ad.test"));
    crate::common::completed(&w.negotiate(&step, Some(&token)));
    let flipped = rewrite(&token, "AD.TEST", "ad.test");
    let again = w.start(Some("alice@ad.test"));
    let refused = w.negotiate(&again, Some(&flipped));
    assert_eq!(
        crate::common::fallback_reason(&refused).map(|c| c.number()),
        Some(81010)
    );
}

fn key_of(token: &[u8], ring: &seamless_core::kerberos::KeyRing) -> Option<ReplayKey> {
    Acceptor::default()
        .validate(token, ring, now())
        .ok()
        .map(|t| t.replay.key)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("SEAMLESS_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(512) / 20
    ))]

    /// Any change to the bytes of a valid token (a flipped byte, a re-cased
    /// letter) is refused, or accepted with the same replay key.
    #[test]
    fn any_change_to_a_token_is_refused_or_keeps_its_replay_key(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..4),
    ) {
        static FIXTURE: std::sync::OnceLock<(TestKdc, Vec<u8>, ReplayKey)> = std::sync::OnceLock::new();
        let (kdc, raw, key) = FIXTURE.get_or_init(|| {
            let kdc = kdc();
            let token = kdc.mint(&TicketSpec::new("alice", now())).expect("mint").token;
            let key = key_of(token.as_bytes(), &kdc.key_ring()).expect("valid");
            (kdc, unb64(&token), key)
        });
        let mut mutated = raw.clone();
        for (at, byte, recase) in edits {
            if recase {
                // Re-case one of the token's letters: the cheap edit that keeps a
                // token valid when it lands on cleartext the key ring matches
                // case-insensitively (realm, service name).
                let letters: Vec<usize> = (0..mutated.len())
                    .filter(|&i| mutated[i].is_ascii_alphabetic())
                    .collect();
                let i = letters[at.index(letters.len())];
                mutated[i] ^= 0x20;
            } else {
                let i = at.index(mutated.len());
                mutated[i] = byte;
            }
        }
        if let Some(k) = key_of(b64(&mutated).as_bytes(), &kdc.key_ring()) {
            prop_assert_eq!(k, *key);
        }
    }
}
