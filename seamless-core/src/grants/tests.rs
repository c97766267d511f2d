//! Authorization codes and refresh-token families in the store (unit tests:
//! minting codes and refresh tokens is the crate's alone).

use std::sync::Arc;
use std::time::Duration;

use super::{
    CODE_TTL, CodeRequest, GrantError, Grants, RefreshLifetimes, family_of, s256_challenge,
};
use crate::backends::{MemoryStore, Store, User};
use crate::clock::ManualClock;
use crate::error::BackendError;
use crate::flow::{AuthFacts, SignInRequest};
use crate::model::Completion;
use crate::testkit::sim::{SeededEntropy, block_on};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn completion() -> Completion {
    Completion {
        flow_id: "f1".into(),
        user: User::new("u-alice", "alice@ad.test"),
        auth: AuthFacts {
            methods: vec![crate::backends::Method::Kerberos],
            auth_time: 1_800_000_000,
            not_after: Some(1_800_036_000),
            ticket: None,
        },
        request: SignInRequest {
            client_id: "app".into(),
            ..Default::default()
        },
    }
}

fn setup() -> (Grants, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let store = Arc::new(MemoryStore::new(1000, clock.clone()));
    (
        Grants::new(
            store,
            Arc::new(SeededEntropy::new(3)),
            clock.clone(),
            RefreshLifetimes {
                idle: Duration::from_secs(86_400),
                absolute: Duration::from_secs(90 * 86_400),
            },
        ),
        clock,
    )
}

/// A code for the test user, with a PKCE challenge or without.
async fn issued(g: &Grants, challenge: bool) -> String {
    g.issue_code(&completion(), &request(challenge), None)
        .await
        .expect("code")
}

/// `code` redeemed by `app` at its redirect URI.
async fn redeem(
    g: &Grants,
    code: &str,
    verifier: Option<&str>,
) -> Result<(super::Grant, String), GrantError> {
    g.redeem_code(code, "app", "https://app.example/cb", verifier)
        .await
}

fn request(challenge: bool) -> CodeRequest {
    CodeRequest {
        client_id: "app".into(),
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: challenge.then(|| s256_challenge(VERIFIER)),
        nonce: Some("n-0S6_WzA2Mj".into()),
        scope: "openid".into(),
    }
}

#[test]
fn rfc7636_appendix_b_challenge() {
    assert_eq!(
        s256_challenge(VERIFIER),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn codes_are_single_use_bound_and_pkce_checked() {
    let (g, _) = setup();
    block_on(async {
        let code = issued(&g, true).await;
        let (grant, _) = redeem(&g, &code, Some(VERIFIER)).await.expect("redeem");
        assert_eq!(
            (grant.completion.user.id.as_str(), grant.nonce.as_deref()),
            ("u-alice", Some("n-0S6_WzA2Mj"))
        );
        assert!(matches!(
            redeem(&g, &code, Some(VERIFIER)).await,
            Err(GrantError::InvalidGrant(_))
        ));

        for (client, redirect, verifier, expected) in [
            ("other", "https://app.example/cb", Some(VERIFIER), "client"),
            ("app", "https://app.example/cb/", Some(VERIFIER), "redirect"),
            (
                "app",
                "https://app.example/cb",
                Some("x".repeat(43).as_str()),
                "pkce",
            ),
            ("app", "https://app.example/cb", None, "pkce"),
            ("app", "https://app.example/cb", Some("short"), "pkce"),
        ] {
            let code = issued(&g, true).await;
            let err = g
                .redeem_code(&code, client, redirect, verifier)
                .await
                .expect_err(expected);
            match expected {
                "pkce" => assert_eq!(err, GrantError::Pkce),
                _ => assert!(matches!(err, GrantError::InvalidGrant(_)), "{err:?}"),
            }
            assert!(
                redeem(&g, &code, Some(VERIFIER)).await.is_err(),
                "a failed try burns the code"
            );
        }
        let plain = issued(&g, false).await;
        assert_eq!(
            redeem(&g, &plain, Some(VERIFIER)).await.err(),
            Some(GrantError::Pkce),
            "no verifier without challenge"
        );
    });
}

/// A code is written from the sign-in and request borrowed and read back as a
/// whole [`super::Grant`]: every field comes back as it went in.
#[test]
fn a_code_reads_back_the_grant_it_was_issued_for() {
    let (g, _) = setup();
    block_on(async {
        let mut completion = completion();
        completion.user.groups = vec!["Staff".into(), "Sales \"EU\"".into()];
        completion.request.login_hint = Some("alice@ad.test".into());
        let code = g
            .issue_code(&completion, &request(true), None)
            .await
            .expect("code");
        let (grant, _) = redeem(&g, &code, Some(VERIFIER)).await.expect("redeem");
        let expected = super::Grant {
            completion: completion.clone(),
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            scope: "openid".into(),
            family: family_of(&code).expect("family").to_string(),
            family_ends_at: g.family_deadline(&completion),
        };
        assert_eq!(grant, expected);
        assert!(grant.family_ends_at > completion.auth.auth_time);
    });
}

#[test]
fn codes_expire() {
    let (g, clock) = setup();
    block_on(async {
        let code = issued(&g, false).await;
        clock.advance(CODE_TTL + Duration::from_secs(1));
        assert!(matches!(
            redeem(&g, &code, None).await,
            Err(GrantError::InvalidGrant(_))
        ));
    });
}

/// A code whose family was revoked before it was redeemed (a reply lost to a
/// failover and the step retried finds its own spent mark and revokes it) is
/// refused, and no refresh token of the family is left behind.
#[test]
fn a_code_of_a_revoked_family_is_refused() {
    let (g, _) = setup();
    block_on(async {
        let code = issued(&g, false).await;
        let family = family_of(&code).expect("family").to_string();
        g.revoke(&family).await.expect("revoke");
        match redeem(&g, &code, None).await {
            Err(GrantError::InvalidGrant(why)) => assert_eq!(why, "session revoked"),
            other => panic!("{other:?}"),
        }
        let kept = g.store.usage();
        let refresh = kept
            .iter()
            .find(|u| u.kind == crate::backends::EntryKind::Refresh)
            .expect("kind");
        // The code's spent mark (so a second presentation is a reuse), and no
        // refresh token: a redemption that succeeds leaves two.
        assert_eq!(refresh.entries, 1, "the spent mark only");
        assert!(matches!(
            redeem(&g, &code, None).await,
            Err(GrantError::InvalidGrant(_))
        ));
    });
}

#[test]
fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let (g, _) = setup();
    block_on(async {
        let code = issued(&g, false).await;
        let (grant, r1) = redeem(&g, &code, None).await.expect("redeem");
        let (_, r2) = g.rotate_refresh(&r1, "app").await.expect("rotate");
        let (_, r3) = g.rotate_refresh(&r2, "app").await.expect("rotate");
        assert!(
            matches!(
                g.rotate_refresh(&r3, "other").await,
                Err(GrantError::InvalidGrant(_))
            ),
            "another client"
        );
        let (_, r4) = {
            // r3 was consumed by the wrong client's attempt; start from a new one.
            let r = g.issue_refresh(&grant).await.expect("refresh");
            g.rotate_refresh(&r, "app").await.expect("rotate")
        };
        // An attacker replays r1: the whole family dies, including the newest token.
        assert!(matches!(
            g.rotate_refresh(&r1, "app").await,
            Err(GrantError::InvalidGrant(_))
        ));
        assert!(g.is_revoked(&grant.family).await.expect("ok"));
        assert!(
            matches!(
                g.rotate_refresh(&r4, "app").await,
                Err(GrantError::InvalidGrant(_))
            ),
            "revoked family"
        );
    });
}

#[test]
fn reusing_a_code_revokes_what_it_issued() {
    let (g, _) = setup();
    block_on(async {
        let code = issued(&g, false).await;
        let (grant, refresh) = redeem(&g, &code, None).await.expect("redeem");
        assert!(redeem(&g, &code, None).await.is_err());
        assert!(g.is_revoked(&grant.family).await.expect("ok"));
        assert!(
            g.rotate_refresh(&refresh, "app").await.is_err(),
            "tokens from the reused code are dead"
        );
    });
}

struct Down;

#[async_trait::async_trait]
impl Store for Down {
    async fn insert_if_absent(&self, _: &str, _: &[u8], _: Duration) -> Result<bool, BackendError> {
        Err(BackendError::unavailable("down"))
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(BackendError::unavailable("down"))
    }
    async fn put(&self, _: &str, _: &[u8], _: Duration) -> Result<(), BackendError> {
        Err(BackendError::unavailable("down"))
    }
    async fn take(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(BackendError::unavailable("down"))
    }
    async fn increment(&self, _: &str, _: Duration) -> Result<u64, BackendError> {
        Err(BackendError::unavailable("down"))
    }
    async fn count(&self, _: &str) -> Result<u64, BackendError> {
        Err(BackendError::unavailable("down"))
    }
    async fn release(&self, _: &str) -> Result<(), BackendError> {
        Err(BackendError::unavailable("down"))
    }
}

#[test]
fn an_unreachable_store_issues_and_accepts_nothing() {
    let g = Grants::new(
        Arc::new(Down),
        Arc::new(SeededEntropy::new(1)),
        Arc::new(ManualClock::new(1_800_000_000)),
        RefreshLifetimes::default(),
    );
    block_on(async {
        assert_eq!(
            g.issue_code(&completion(), &request(false), None)
                .await
                .err(),
            Some(GrantError::StoreUnavailable)
        );
        assert_eq!(
            g.redeem_code("family.x", "app", "https://app.example/cb", None)
                .await
                .err(),
            Some(GrantError::StoreUnavailable)
        );
        assert_eq!(
            g.rotate_refresh("family.x", "app").await.err(),
            Some(GrantError::StoreUnavailable)
        );
    });
}

proptest::proptest! {
    /// Any presented code or refresh token: `family_of` never panics, and a
    /// family it accepts is a short run of base64url characters, so the keys
    /// built from it carry exactly one hash tag, the family (an attacker's
    /// braces never pick another slot or another family's keys).
    #[test]
    fn a_presented_token_names_a_family_only_when_well_formed(token in "\\PC{0,120}") {
        if let Some(family) = super::family_of(&token) {
            proptest::prop_assert!(token.starts_with(family) && (1..=64).contains(&family.len()));
            proptest::prop_assert!(family.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let key = super::key("code", family, "h");
            proptest::prop_assert_eq!(key.matches('{').count(), 1);
            proptest::prop_assert_eq!(key, format!("code:{{{family}}}h"));
        }
    }
}

#[test]
fn hostile_family_parts_are_refused() {
    for token in [
        "",
        ".",
        "x.",
        ".x",
        "{a}.x",
        "a}{b.x",
        "a b.x",
        &"a".repeat(65),
        "é.x",
    ] {
        let token = if token.len() == 65 {
            format!("{token}.x")
        } else {
            token.to_string()
        };
        assert_eq!(super::family_of(&token), None, "{token:?}");
    }
    assert_eq!(
        super::family_of("fam_1-A.secret.with.dots"),
        Some("fam_1-A")
    );
}
