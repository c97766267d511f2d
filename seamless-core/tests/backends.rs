//! The built-in backends on their own: memory store, static directory (TOML,
//! JSON, reload), TOTP, argon2, rule policy, principal mapping.

use std::sync::Arc;
use std::time::Duration;

use seamless_core::backends::{
    Argon2Verifier, Decision, Directory, MemoryStore, Method, MfaMethod, MfaVerifier,
    NegotiateContext, Password, PasswordVerifier, Policy, PolicyInput, PrincipalMapping,
    RulePolicy, StaticDirectory, Store, TicketFacts, TotpVerifier, User, UserQuery, hash_password,
    totp_code,
};
use seamless_core::clock::{Clock, ManualClock};
use seamless_core::error::Code;
use seamless_core::testkit::sim::block_on;

const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

#[test]
fn memory_store_is_atomic_expiring_and_bounded() {
    let clock = Arc::new(ManualClock::new(1000));
    let store = MemoryStore::new(3, clock.clone());
    block_on(async {
        assert!(
            store
                .insert_if_absent("a", b"1", Duration::from_secs(10))
                .await
                .expect("ok")
        );
        assert!(
            !store
                .insert_if_absent("a", b"2", Duration::from_secs(10))
                .await
                .expect("ok")
        );
        assert_eq!(store.take("a").await.expect("ok"), Some(b"1".to_vec()));
        assert_eq!(store.take("a").await.expect("ok"), None, "single use");
        assert_eq!(
            store
                .increment("c", Duration::from_secs(5))
                .await
                .expect("ok"),
            1
        );
        assert_eq!(
            store
                .increment("c", Duration::from_secs(5))
                .await
                .expect("ok"),
            2
        );
        store
            .put("p", b"x", Duration::from_secs(1))
            .await
            .expect("ok");
        store
            .put("q", b"y", Duration::from_secs(100))
            .await
            .expect("ok");
        assert!(
            store
                .put("r", b"z", Duration::from_secs(100))
                .await
                .is_err(),
            "full of live entries: refused"
        );
        clock.advance(Duration::from_secs(6));
        assert_eq!(store.get("p").await.expect("ok"), None);
        assert_eq!(
            store
                .increment("c", Duration::from_secs(5))
                .await
                .expect("ok"),
            1,
            "window restarted"
        );
        store
            .put("r", b"z", Duration::from_secs(100))
            .await
            .expect("expired entries make room");
    });
}

#[test]
fn static_directory_reads_toml_and_json_and_reloads() {
    let dir = std::env::temp_dir().join(format!("seamless-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("users.toml");
    std::fs::write(&path, "[[users]]\nid = \"1\"\nupn = \"alice@ad.test\"\nsid = \"S-1-5-21-1-2-3-1105\"\nalternate_logins = [\"AD\\\\alice\"]\n").expect("write");
    let d = StaticDirectory::open_with(&path, Duration::ZERO).expect("open");
    block_on(async {
        let by_sid = d
            .find(&UserQuery::Sid("S-1-5-21-1-2-3-1105".parse().expect("sid")))
            .await
            .expect("ok");
        assert_eq!(by_sid.map(|u| u.upn), Some("alice@ad.test".into()));
        for login in ["ALICE@AD.TEST", "ad\\alice", "alice"] {
            assert!(
                d.find(&UserQuery::Logins(vec![login.into()]))
                    .await
                    .expect("ok")
                    .is_some(),
                "{login}"
            );
        }
        assert!(
            d.find(&UserQuery::Logins(vec!["bob".into()]))
                .await
                .expect("ok")
                .is_none()
        );
        assert!(
            d.find(&UserQuery::Logins(vec!["OTHER\\alice".into()]))
                .await
                .expect("ok")
                .is_none(),
            "other domain"
        );
    });
    std::fs::write(&path, "[[users]]\nid = \"2\"\nupn = \"bob@ad.test\"\n").expect("rewrite");
    assert!(
        block_on(d.find(&UserQuery::Logins(vec!["bob@ad.test".into()])))
            .expect("ok")
            .is_some(),
        "reloaded"
    );
    std::fs::write(&path, "[[users]]\nbroken").expect("corrupt");
    assert!(
        block_on(d.find(&UserQuery::Logins(vec!["bob@ad.test".into()])))
            .expect("ok")
            .is_some(),
        "last good kept"
    );
    let json =
        StaticDirectory::from_text(r#"{"users":[{"id":"2","upn":"bob@ad.test","enabled":false}]}"#)
            .expect("json");
    let bob = block_on(json.find(&UserQuery::Logins(vec!["bob@ad.test".into()])))
        .expect("ok")
        .expect("bob");
    assert_eq!(bob.refusal(), Some(Code::AccountDisabled));
    assert!(
        StaticDirectory::from_text(
            "[[users]]\nid=\"1\"\nupn=\"a\"\n[[users]]\nid=\"1\"\nupn=\"b\"\n"
        )
        .is_err(),
        "duplicate ids"
    );
    assert!(
        StaticDirectory::from_text("[[users]]\nid=\"1\"\nupn=\"a\"\nsid=\"S-x\"\n").is_err(),
        "bad SID"
    );
    assert!(
        StaticDirectory::from_text("[[users]]\nid=\"1\"\nupn=\"a\"\nunknown=1\n").is_err(),
        "unknown field"
    );
    let _ = std::fs::remove_dir_all(dir);
}

struct Secrets;

#[async_trait::async_trait]
impl seamless_core::backends::TotpSecrets for Secrets {
    async fn totp_secret(
        &self,
        _: &User,
    ) -> Result<Option<zeroize::Zeroizing<String>>, seamless_core::error::BackendError> {
        Ok(Some(zeroize::Zeroizing::new(SECRET.into())))
    }
}

#[test]
fn totp_accepts_the_window_once_and_nothing_else() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let store = Arc::new(MemoryStore::new(100, clock.clone()));
    let v = TotpVerifier::new(Arc::new(Secrets), store, clock.clone());
    let user = User::new("u", "alice@ad.test");
    let now = clock.unix() as u64;
    block_on(async {
        assert!(
            v.verify(
                &user,
                MfaMethod::Totp,
                &totp_code(SECRET, now - 30).expect("code")
            )
            .await
            .expect("ok"),
            "previous step"
        );
        assert!(
            !v.verify(
                &user,
                MfaMethod::Totp,
                &totp_code(SECRET, now - 30).expect("code")
            )
            .await
            .expect("ok"),
            "reuse"
        );
        assert!(
            v.verify(
                &user,
                MfaMethod::Totp,
                &totp_code(SECRET, now + 30).expect("code")
            )
            .await
            .expect("ok"),
            "next step"
        );
        assert!(
            !v.verify(
                &user,
                MfaMethod::Totp,
                &totp_code(SECRET, now - 90).expect("code")
            )
            .await
            .expect("ok"),
            "too old"
        );
        for bad in ["", "12345", "1234567", "abcdef", "12 456"] {
            assert!(
                !v.verify(&user, MfaMethod::Totp, bad).await.expect("ok"),
                "{bad:?}"
            );
        }
    });
}

struct Hashes(String);

#[async_trait::async_trait]
impl seamless_core::backends::PasswordHashes for Hashes {
    async fn password_hash(
        &self,
        _: &User,
    ) -> Result<Option<zeroize::Zeroizing<String>>, seamless_core::error::BackendError> {
        Ok(Some(zeroize::Zeroizing::new(self.0.clone())))
    }
}

#[test]
fn argon2_verifies_and_unknown_users_never_pass() {
    let v = Argon2Verifier::new(Arc::new(Hashes(
        hash_password("correct horse").expect("hash"),
    )));
    let user = User::new("u", "alice@ad.test");
    block_on(async {
        assert!(
            v.verify(Some(&user), &Password::new("correct horse"))
                .await
                .expect("ok")
        );
        assert!(
            !v.verify(Some(&user), &Password::new("Correct horse"))
                .await
                .expect("ok")
        );
        assert!(
            !v.verify(None, &Password::new("correct horse"))
                .await
                .expect("ok")
        );
    });
    let corrupt = Argon2Verifier::new(Arc::new(Hashes("plaintext".into())));
    assert!(block_on(corrupt.verify(Some(&user), &Password::new("x"))).is_err());
    assert_eq!(
        format!("{:?}", Password::new("hunter2")),
        "Password(<redacted>)"
    );
}

fn facts(weak: bool, auth_time: i64) -> TicketFacts {
    TicketFacts {
        principal: "alice@AD.TEST".into(),
        realm: "AD.TEST".into(),
        sid: None,
        group_sids: vec![],
        upn: None,
        etype: if weak {
            "rc4-hmac"
        } else {
            "aes256-cts-hmac-sha1-96"
        }
        .into(),
        weak_etype: weak,
        kvno: 2,
        auth_time,
        end_time: auth_time + 36_000,
    }
}

#[test]
fn rule_policy_orders_its_rules() {
    let policy: RulePolicy = toml::from_str(
        "rollout_groups = [\"pilot\"]\nintranet = [\"10.0.0.0/8\", \"fd00::/8\"]\nmfa_groups = [\"admins\"]\n\
         deny_groups = [\"blocked\"]\nrc4_requires_mfa = true\nmax_ticket_age_secs = 3600\n",
    )
    .expect("config");
    let input = |user: &User, ticket: Option<&TicketFacts>| -> Decision {
        let method = if ticket.is_some() {
            Method::Kerberos
        } else {
            Method::Password
        };
        policy.decide(&PolicyInput {
            user,
            method,
            ticket,
            client_addr: None,
            application: "app",
            now: 10_000,
        })
    };
    let pilot = User::new("1", "a@x").with_groups(&["pilot"]);
    let admin = User::new("2", "b@x").with_groups(&["pilot", "admins"]);
    let blocked = User::new("3", "c@x").with_groups(&["pilot", "blocked", "admins"]);
    let other = User::new("4", "d@x");
    let fresh = facts(false, 9_000);
    assert_eq!(input(&pilot, Some(&fresh)), Decision::Allow);
    assert_eq!(
        input(&admin, Some(&fresh)),
        Decision::RequireMfa(vec![MfaMethod::Totp])
    );
    assert_eq!(
        input(&blocked, Some(&fresh)),
        Decision::Deny(Code::PolicyDenied)
    );
    assert_eq!(
        input(&other, Some(&fresh)),
        Decision::Fallback(Code::SeamlessNotEnabled)
    );
    assert_eq!(
        input(&other, None),
        Decision::Allow,
        "rollout only limits seamless sign-in"
    );
    assert_eq!(
        input(&pilot, Some(&facts(true, 9_000))),
        Decision::RequireMfa(vec![MfaMethod::Totp])
    );
    assert_eq!(
        input(&pilot, Some(&facts(false, 1_000))),
        Decision::Fallback(Code::TicketInvalid)
    );
    let ctx = |ip: &str| NegotiateContext {
        client_addr: Some(ip.parse().expect("ip")),
        application: "app",
    };
    assert_eq!(policy.allow_negotiate(&ctx("10.9.8.7")), Ok(()));
    assert_eq!(policy.allow_negotiate(&ctx("fd12::1")), Ok(()));
    assert_eq!(
        policy.allow_negotiate(&ctx("192.0.2.1")),
        Err(Code::SeamlessNotEnabled)
    );
    assert_eq!(
        policy.allow_negotiate(&NegotiateContext {
            client_addr: None,
            application: "app"
        }),
        Err(Code::SeamlessNotEnabled)
    );
}

#[test]
fn principal_mapping_strips_realms_and_refuses_untrusted_ones() {
    let mapping: PrincipalMapping = toml::from_str(
        "trusted_realms = [\"AD.TEST\", \"CHILD.AD.TEST\"]\n[upn_suffixes]\n\"AD.TEST\" = \"contoso.com\"\n",
    )
    .expect("config");
    let p = |s: &str| s.parse().expect("principal");
    assert_eq!(
        mapping.logins(&p("alice@AD.TEST")),
        Some(vec!["alice@contoso.com".into(), "alice".into()])
    );
    assert_eq!(
        mapping.logins(&p("bob@child.ad.test")),
        Some(vec!["bob@child.ad.test".into(), "bob".into()])
    );
    assert_eq!(
        mapping.logins(&p("alice\\@contoso.com@AD.TEST")),
        Some(vec!["alice@contoso.com".into()])
    );
    assert_eq!(mapping.logins(&p("alice@EVIL.TEST")), None);
}

mod memory_store_contract {
    use std::future::Future;
    use std::sync::Arc;

    use seamless_core::backends::{MemoryStore, Store};
    use seamless_core::clock::ManualClock;
    use seamless_core::testkit::sim::block_on;
    use seamless_core::testkit::store_contract::Pass;

    fn run<F: Future<Output = ()>>(case: fn(Arc<dyn Store>, Pass) -> F) {
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(1000, clock.clone()));
        let pass: Pass = Arc::new(move |d| {
            clock.advance(d);
            Box::pin(async {})
        });
        block_on(case(store, pass));
    }

    seamless_core::store_contract_tests!(run);
}

/// A store outside this crate that implements only the single-key operations:
/// the trait's default `claim` and `take_once` meet the same contract.
mod default_compound_steps_contract {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    use seamless_core::backends::{MemoryStore, Store};
    use seamless_core::clock::ManualClock;
    use seamless_core::error::BackendError;
    use seamless_core::testkit::sim::block_on;
    use seamless_core::testkit::store_contract::Pass;

    struct SingleKeyOnly(MemoryStore);

    #[async_trait::async_trait]
    impl Store for SingleKeyOnly {
        async fn insert_if_absent(
            &self,
            key: &str,
            value: &[u8],
            ttl: Duration,
        ) -> Result<bool, BackendError> {
            self.0.insert_if_absent(key, value, ttl).await
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
            self.0.get(key).await
        }
        async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BackendError> {
            self.0.put(key, value, ttl).await
        }
        async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
            self.0.take(key).await
        }
        async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BackendError> {
            self.0.increment(key, ttl).await
        }
        async fn count(&self, key: &str) -> Result<u64, BackendError> {
            self.0.count(key).await
        }
        async fn release(&self, key: &str) -> Result<(), BackendError> {
            self.0.release(key).await
        }
    }

    fn run<F: Future<Output = ()>>(case: fn(Arc<dyn Store>, Pass) -> F) {
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let store: Arc<dyn Store> = Arc::new(SingleKeyOnly(MemoryStore::new(1000, clock.clone())));
        let pass: Pass = Arc::new(move |d| {
            clock.advance(d);
            Box::pin(async {})
        });
        block_on(case(store, pass));
    }

    seamless_core::store_contract_tests!(run);
}

mod static_directory_contract {
    use std::future::Future;
    use std::sync::Arc;

    use seamless_core::backends::{Directory, StaticDirectory};
    use seamless_core::testkit::directory_contract::POPULATION;
    use seamless_core::testkit::sim::block_on;

    fn run<F: Future<Output = ()>>(case: fn(Arc<dyn Directory>) -> F) {
        let directory = StaticDirectory::from_text(POPULATION).expect("population");
        block_on(case(Arc::new(directory)));
    }

    seamless_core::directory_contract_tests!(run);
}

mod memory_store_budgets {
    use std::sync::Arc;
    use std::time::Duration;

    use seamless_core::backends::{EntryKind, MemoryBudgets, MemoryStore, Store};
    use seamless_core::clock::ManualClock;
    use seamless_core::testkit::sim::block_on;

    const HOUR: Duration = Duration::from_secs(3600);

    fn store(budgets: MemoryBudgets) -> (MemoryStore, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        (MemoryStore::with_budgets(budgets, clock.clone()), clock)
    }

    fn entries(store: &MemoryStore, kind: EntryKind) -> usize {
        store
            .usage()
            .into_iter()
            .find(|u| u.kind == kind)
            .map_or(0, |u| u.entries)
    }

    #[test]
    fn every_key_the_library_writes_has_its_kind() {
        for (key, kind) in [
            ("replay:00ff", EntryKind::Replay),
            ("sign-in-token:j", EntryKind::SingleUse),
            ("code:h", EntryKind::SingleUse),
            ("totp-used:u:123", EntryKind::SingleUse),
            ("pw-fail:user:u", EntryKind::Counter),
            ("pw-fail:addr:10.0.0.0", EntryKind::Counter),
            ("mfa-try:flow:f", EntryKind::Counter),
            ("session-revoked:s", EntryKind::Revocation),
            ("family-revoked:f", EntryKind::Revocation),
            ("refresh:h", EntryKind::Refresh),
            ("refresh-spent:h", EntryKind::Refresh),
            ("code-spent:h", EntryKind::Refresh),
            ("my-app:thing", EntryKind::Other),
            ("replay", EntryKind::Other),
        ] {
            assert_eq!(EntryKind::of(key), kind, "{key}");
        }
    }

    #[test]
    fn a_full_guarding_kind_refuses_and_a_full_refresh_budget_evicts_the_oldest() {
        let (store, _) = store(MemoryBudgets::uniform(3));
        block_on(async {
            for i in 0..3 {
                assert!(
                    store
                        .insert_if_absent(&format!("replay:{i}"), b"1", HOUR)
                        .await
                        .expect("room")
                );
            }
            // Replay entries guard something: a fourth is refused, none is lost.
            assert!(
                store
                    .insert_if_absent("replay:3", b"1", HOUR)
                    .await
                    .is_err()
            );
            assert!(
                !store
                    .insert_if_absent("replay:0", b"1", HOUR)
                    .await
                    .expect("ok"),
                "still there"
            );
            assert!(
                store.increment("pw-fail:user:u", HOUR).await.is_ok(),
                "other kinds have their own budget"
            );

            for i in 0..3 {
                store
                    .put(&format!("refresh:{i}"), b"grant", HOUR)
                    .await
                    .expect("room");
            }
            // A live token rewritten keeps its place in the eviction order.
            store
                .put("refresh:0", b"grant2", HOUR)
                .await
                .expect("update");
            store
                .put("refresh:3", b"grant", HOUR)
                .await
                .expect("evicts");
            assert_eq!(
                store.get("refresh:0").await.expect("ok"),
                None,
                "the oldest went"
            );
            for i in 1..4 {
                assert!(
                    store
                        .get(&format!("refresh:{i}"))
                        .await
                        .expect("ok")
                        .is_some(),
                    "{i}"
                );
            }
            let refresh = store
                .usage()
                .into_iter()
                .find(|u| u.kind == EntryKind::Refresh)
                .expect("refresh");
            assert_eq!((refresh.entries, refresh.evicted), (3, 1));
        });
    }

    #[test]
    fn expired_entries_are_swept_a_few_per_write_and_all_when_a_kind_is_full() {
        let (store, clock) = store(MemoryBudgets::uniform(200));
        block_on(async {
            for i in 0..100 {
                store
                    .put(&format!("code:{i}"), b"c", Duration::from_secs(60))
                    .await
                    .expect("room");
            }
            clock.advance(Duration::from_secs(61));
            // Ten writes sweep two expired entries each: no pass over the map.
            for i in 0..10 {
                store
                    .insert_if_absent(&format!("replay:{i}"), b"1", HOUR)
                    .await
                    .expect("room");
            }
            assert_eq!(entries(&store, EntryKind::SingleUse), 80);
            // A kind at its budget sweeps everything expired before it refuses.
            let (full, clock) = self::store(MemoryBudgets::uniform(50));
            for i in 0..5 {
                // Expiring first, these are what the per-write sweep takes.
                full.put(&format!("app:{i}"), b"c", Duration::from_secs(30))
                    .await
                    .expect("room");
            }
            for i in 0..50 {
                full.put(&format!("code:{i}"), b"c", Duration::from_secs(60))
                    .await
                    .expect("room");
            }
            assert!(
                full.put("code:late", b"c", Duration::from_secs(60))
                    .await
                    .is_err()
            );
            clock.advance(Duration::from_secs(61));
            full.put("code:next", b"c", Duration::from_secs(60))
                .await
                .expect("swept");
            assert_eq!(entries(&full, EntryKind::SingleUse), 1);
            assert_eq!(entries(&full, EntryKind::Other), 0);
        });
    }

    #[test]
    fn usage_follows_every_operation() {
        let (store, _) = store(MemoryBudgets::uniform(10));
        block_on(async {
            store.put("code:a", b"12345", HOUR).await.expect("put");
            store.put("code:a", b"123", HOUR).await.expect("replace");
            store
                .increment("pw-fail:user:u", HOUR)
                .await
                .expect("count");
            store
                .increment("pw-fail:user:u", HOUR)
                .await
                .expect("count");
            store.release("pw-fail:user:u").await.expect("release");
            assert_eq!(store.count("pw-fail:user:u").await.expect("count"), 1);
            let bytes = |kind| {
                store
                    .usage()
                    .into_iter()
                    .find(|u| u.kind == kind)
                    .map_or(0, |u| u.payload_bytes)
            };
            assert_eq!(bytes(EntryKind::SingleUse), "code:a".len() + 3);
            assert_eq!(bytes(EntryKind::Counter), "pw-fail:user:u".len() + 8);
            store.take("code:a").await.expect("take");
            assert_eq!(
                (
                    entries(&store, EntryKind::SingleUse),
                    bytes(EntryKind::SingleUse)
                ),
                (0, 0)
            );
        });
    }
}
