//! The Redis store against a real `redis-server`: the same contract the memory
//! store passes, two engines sharing one Redis, and Redis killed mid-run.
#![cfg(feature = "redis")]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use seamless_core::backends::{
    Entry, MemoryKeyStore, Password, RedisConfig, RedisStore, StaticDirectory, Store, TakeOnce,
    Taken,
};
use seamless_core::engine::View;
use seamless_core::engine::{Durability, Engine, EngineConfig};
use seamless_core::error::Code;
use seamless_core::flow::SignInRequest;
use seamless_core::kerberos::{Etype, Key};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::store_contract::Pass;
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use seamless_core::testkit::{Shown, StepExt as _};
use seamless_interop::redis_server::{LosingRelay, RedisCluster, RedisSentinelGroup, RedisServer};

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig {
        url: server.url(),
        key_prefix: "test:".into(),
        timeout_ms: 500,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The store contract on a store connected on a multi-threaded runtime, run
/// there or, with `from`, on the runtime it makes.
fn run_from<F: Future<Output = ()>>(
    case: fn(Arc<dyn Store>, Pass) -> F,
    from: Option<fn() -> tokio::runtime::Runtime>,
) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let connecting = runtime();
    let store: Arc<dyn Store> = Arc::new(
        connecting
            .block_on(RedisStore::connect(&config(&server)))
            .expect("connect"),
    );
    let pass: Pass = Arc::new(|d| Box::pin(tokio::time::sleep(d)));
    match from {
        None => connecting.block_on(case(store, pass)),
        Some(make) => make().block_on(case(store, pass)),
    }
}

fn run<F: Future<Output = ()>>(case: fn(Arc<dyn Store>, Pass) -> F) {
    run_from(case, None);
}

mod contract {
    use super::run;
    seamless_core::store_contract_tests!(run);
}

/// A single-threaded runtime on this thread, as each of `seamless serve`'s.
fn single_threaded() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The contract from a single-threaded runtime, on a store connected on
/// another runtime's threads: the first commands go over the shared
/// connection, the rest over the runtime's own once it is made.
fn run_single_threaded<F: Future<Output = ()>>(case: fn(Arc<dyn Store>, Pass) -> F) {
    run_from(case, Some(single_threaded));
}

mod contract_single_threaded {
    use super::run_single_threaded;
    seamless_core::store_contract_tests!(run_single_threaded);
}

/// A single-threaded runtime's commands go over a connection of its own,
/// driven on its thread: one more client at Redis once it has used the store,
/// and every command still answered after the runtime that connected, which
/// drove the shared connection, is gone.
#[test]
fn a_single_threaded_runtime_gets_a_connection_of_its_own() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let connecting = runtime();
    let store = connecting
        .block_on(RedisStore::connect(&config(&server)))
        .expect("connect");
    let before = server.clients();
    let own = single_threaded();
    own.block_on(async {
        store
            .put("warm", b"1", Duration::from_secs(60))
            .await
            .expect("put over the shared connection");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while server.clients() < before + 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no connection of its own"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Accepted is not yet answered: let the handshake finish here.
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    drop(connecting);
    own.block_on(async {
        for i in 0..20 {
            let key = format!("after-{i}");
            assert!(
                store
                    .insert_if_absent(&key, b"v", Duration::from_secs(60))
                    .await
                    .expect("insert on its own connection"),
            );
            assert_eq!(
                store.take(&key).await.expect("take").as_deref(),
                Some(&b"v"[..])
            );
        }
    });
}

/// A restart of Redis loses no request: the first command after it finds its
/// connection dropped, and is sent again as the connection manager reconnects.
#[test]
fn the_first_command_after_redis_restarts_is_answered() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let rt = runtime();
    let store = rt
        .block_on(RedisStore::connect(&config(&server)))
        .expect("connect");
    rt.block_on(async {
        store
            .put("before", b"1", Duration::from_secs(60))
            .await
            .expect("put");
    });
    server.stop();
    server.restart();
    let before = store.round_trips().expect("counted");
    rt.block_on(async {
        assert!(
            store
                .insert_if_absent("after", b"1", Duration::from_secs(60))
                .await
                .expect("the first command after the restart"),
        );
    });
    assert_eq!(
        store.round_trips(),
        Some(before + 2),
        "the command sent again counts again"
    );
}

/// A command that ran on Redis but whose answer was lost with its connection
/// is the one case where the store's second send runs a command twice. Each
/// operation then errs toward refusal: a claimed single-use marker is not
/// claimed again (the sign-in token buys nothing), a code taken once is not
/// taken again (the second take sees its own spent mark: reuse, and the family
/// ends), a limit's counter counts twice.
#[test]
fn a_command_whose_answer_is_lost_errs_toward_refusal() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let relay = LosingRelay::start(server.port);
    let rt = runtime();
    rt.block_on(async {
        let store = RedisStore::connect(&RedisConfig {
            url: format!("redis://127.0.0.1:{}/0", relay.port),
            key_prefix: "lost:".into(),
            timeout_ms: 2_000,
        })
        .await
        .expect("connect through the relay");
        let ttl = Duration::from_secs(60);
        let entry = |key, value| Entry { key, value, ttl };

        // A sign-in token spent and its code stored, in one step.
        let before = store.round_trips().expect("counted");
        relay.arm("{a}marker");
        let claimed = store
            .claim("{a}marker", ttl, Some(entry("{a}code", b"bought")))
            .await;
        assert_eq!(relay.lost(), 1, "the relay lost the answer");
        assert_eq!(
            store.round_trips(),
            Some(before + 2),
            "and the step went twice"
        );
        // Sent again on a new connection, the step finds its own marker.
        assert_eq!(claimed.ok(), Some(false), "refused, not an error");
        let code = store.get("{a}code").await.expect("get");
        assert_eq!(
            code.as_deref(),
            Some(&b"bought"[..]),
            "the step ran on Redis"
        );
        let again = store.claim("{a}marker", ttl, None).await;
        assert_eq!(again.ok(), Some(false), "and is never bought twice");

        // A code or refresh token taken with reuse detection.
        store.put("{b}value", b"v", ttl).await.expect("put");
        let op = TakeOnce {
            key: "{b}value",
            spent: entry("{b}spent", b"family"),
            revoked: ("{b}revoked", ttl),
            keep_as: None,
        };
        relay.arm("{b}value");
        let taken = store.take_once(op).await;
        assert_eq!(relay.lost(), 2);
        assert!(matches!(taken, Ok(Taken::Reused)), "{taken:?}");
        let revoked = store.get("{b}revoked").await.expect("get");
        assert!(revoked.is_some(), "reuse ends the family");
        let again = store.take_once(op).await;
        assert!(!matches!(again, Ok(Taken::Value(_))), "{again:?}");

        // A limit's counter.
        relay.arm("{c}count");
        let counted = store.increment("{c}count", ttl).await;
        assert_eq!(relay.lost(), 3);
        assert_eq!(counted.ok(), Some(2), "counted twice");
        assert_eq!(store.count("{c}count").await.ok(), Some(2));
    });
}

/// The same contract on a Redis Cluster of three masters.
fn run_on_cluster<F: Future<Output = ()>>(case: fn(Arc<dyn Store>, Pass) -> F) {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(
            RedisStore::connect(&RedisConfig {
                url: cluster.url(),
                key_prefix: "test:".into(),
                timeout_ms: 500,
            })
            .await
            .expect("connect to the cluster"),
        );
        let pass: Pass = Arc::new(|d| Box::pin(tokio::time::sleep(d)));
        case(store, pass).await;
    });
}

mod cluster_contract {
    use super::run_on_cluster;
    seamless_core::store_contract_tests!(run_on_cluster);
}

/// The KDC of the shared-store tests.
fn shared_kdc() -> TestKdc {
    TestKdc::with_key(
        "AD.TEST",
        "HTTP/app.ad.test",
        Key::new(Etype::Aes256CtsHmacSha196, &[3; 32]).expect("key"),
        2,
    )
}

/// A new ticket for alice.
fn fresh_token(kdc: &TestKdc) -> String {
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105);
    kdc.mint(&TicketSpec::new("alice", SystemTime::now()).with_pac(pac))
        .expect("mint")
        .token
}

/// Two instances on the store at `url`.
async fn two_engines_on(url: &str, kdc: &TestKdc) -> (Engine, Engine) {
    let config = RedisConfig {
        url: url.into(),
        key_prefix: "seamless:".into(),
        timeout_ms: 500,
    };
    let a = RedisStore::connect(&config).await.expect("a");
    let b = RedisStore::connect(&config).await.expect("b");
    (
        engine(Arc::new(a), kdc, true).await,
        engine(Arc::new(b), kdc, true).await,
    )
}

/// What a replayed ticket gets: the password form with 81010.
fn is_replay(view: &Shown) -> bool {
    matches!(
        view,
        Shown::Page(View::Password {
            reason: Some(Code::TicketInvalid),
            ..
        })
    )
}

#[test]
fn two_engines_on_a_cluster_share_replays_and_spread_keys_over_the_masters() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let kdc = shared_kdc();
        let (a, b) = two_engines_on(&cluster.url(), &kdc).await;
        let mut tokens = Vec::new();
        for _ in 0..30 {
            let t = fresh_token(&kdc);
            assert!(matches!(sign_in(&a, &t).await, Shown::Completed(_)));
            tokens.push(t);
        }
        // Every one of them is a replay at the other instance.
        for t in &tokens {
            assert!(
                is_replay(&sign_in(&b, t).await),
                "a replay through the cluster"
            );
        }
        let spread = cluster.keys_per_node();
        assert!(
            spread.iter().all(|&n| n > 0) && spread.iter().sum::<u64>() >= 30,
            "replay keys on every master: {spread:?}"
        );
    });
}

const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";

async fn engine(store: Arc<dyn Store>, kdc: &TestKdc, passwords: bool) -> Engine {
    let hash = seamless_core::backends::hash_password("alice-pw").expect("hash");
    let directory = Arc::new(
        StaticDirectory::from_text(&format!(
            "[[users]]\nid = \"u-alice\"\nupn = \"alice@ad.test\"\nsid = \"{DOMAIN}-1105\"\npassword_hash = \"{hash}\"\n"
        ))
        .expect("directory"),
    );
    let mut config = EngineConfig::default();
    config.limits.password_per_user = 3;
    let builder = Engine::builder()
        .config(config)
        .keys(Arc::new(MemoryKeyStore::new(kdc.key_ring())))
        .directory(directory.clone())
        .store(store, Durability::Shared)
        .sealing_keys(vec![SealingKey::new(1, [5; 32])]);
    let builder = if passwords {
        builder.passwords(seamless_core::backends::Argon2Verifier::new(directory))
    } else {
        builder.dangerous().no_passwords()
    };
    builder.build().expect("engine")
}

fn request() -> SignInRequest {
    SignInRequest {
        client_id: "app".into(),
        login_hint: Some("alice@ad.test".into()),
        ..Default::default()
    }
}

/// A hinted sign-in at `engine` answered with the Negotiate `token`: where it ends.
async fn sign_in(engine: &Engine, token: &str) -> Shown {
    let step = engine.start(request(), None, false).await;
    engine
        .negotiate(
            step.sealed().expect("s"),
            step.flow_id(),
            Some(token.as_bytes()),
        )
        .await
        .shown()
}

#[test]
fn two_engines_share_replay_flows_and_limits_and_fail_closed_when_redis_dies() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let kdc = TestKdc::with_key(
            "AD.TEST",
            "HTTP/app.ad.test",
            Key::new(Etype::Aes256CtsHmacSha196, &[3; 32]).expect("key"),
            2,
        );
        let token = |kdc: &TestKdc| {
            let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105);
            kdc.mint(&TicketSpec::new("alice", SystemTime::now()).with_pac(pac))
                .expect("mint")
                .token
        };
        let a = engine(
            Arc::new(RedisStore::connect(&config(&server)).await.expect("a")),
            &kdc,
            true,
        )
        .await;
        let b = engine(
            Arc::new(RedisStore::connect(&config(&server)).await.expect("b")),
            &kdc,
            true,
        )
        .await;

        // A ticket used at A is a replay at B; the same header with the realm
        // re-cased (cleartext nothing authenticates) is the same authenticator:
        // a replay at A and at B too.
        let t = token(&kdc);
        assert!(matches!(sign_in(&a, &t).await, Shown::Completed(_)));
        let recased = {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut raw = b64.decode(&t).expect("base64");
            let at = raw
                .windows(7)
                .position(|w| w == b"AD.TEST")
                .expect("realm in cleartext");
            raw[at] = b'a';
            b64.encode(raw)
        };
        for (engine, presented) in [(&b, &t), (&a, &recased), (&b, &recased)] {
            let view = sign_in(engine, presented).await;
            assert!(
                matches!(
                    view,
                    Shown::Page(View::Password {
                        reason: Some(Code::TicketInvalid),
                        ..
                    })
                ),
                "{view:?}"
            );
        }

        // A flow started at A finishes at B (no sticky sessions).
        let step = a.start(request(), None, false).await;
        let done = b
            .negotiate(
                step.sealed().expect("s"),
                step.flow_id(),
                Some(token(&kdc).as_bytes()),
            )
            .await;
        assert!(
            matches!(done.shown(), Shown::Completed(_)),
            "{:?}",
            done.shown()
        );

        // Password failures count across both instances.
        for (i, engine) in [&a, &b, &a].into_iter().enumerate() {
            let step = engine.start(request(), None, false).await;
            let form = engine
                .give_up(step.sealed().expect("s"), step.flow_id())
                .await;
            let wrong = engine
                .submit_password(
                    form.sealed().expect("s"),
                    form.flow_id(),
                    "alice@ad.test",
                    &Password::new("nope"),
                )
                .await;
            assert!(
                matches!(
                    wrong.shown(),
                    Shown::Page(View::Password {
                        error: Some(Code::InvalidCredentials),
                        ..
                    })
                ),
                "attempt {i}: {:?}",
                wrong.shown()
            );
        }
        let step = b.start(request(), None, false).await;
        let form = b.give_up(step.sealed().expect("s"), step.flow_id()).await;
        let locked = b
            .submit_password(
                form.sealed().expect("s"),
                form.flow_id(),
                "alice@ad.test",
                &Password::new("alice-pw"),
            )
            .await;
        assert!(
            matches!(
                locked.shown(),
                Shown::Page(View::Password {
                    error: Some(Code::RateLimited),
                    ..
                })
            ),
            "{:?}",
            locked.shown()
        );

        // Redis dies: no replay check can run, so no ticket passes; then it returns.
        let step = a.start(request(), None, false).await;
        server.stop();
        let down = a
            .negotiate(
                step.sealed().expect("s"),
                step.flow_id(),
                Some(token(&kdc).as_bytes()),
            )
            .await;
        assert_eq!(
            down.shown(),
            Shown::Denied {
                code: Code::StoreUnavailable
            }
        );
        server.restart();
        let mut recovered = false;
        for _ in 0..50 {
            let step = a.start(request(), None, false).await;
            let r = a
                .negotiate(
                    step.sealed().expect("s"),
                    step.flow_id(),
                    Some(token(&kdc).as_bytes()),
                )
                .await;
            if matches!(r.shown(), Shown::Completed(_)) {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(recovered, "the store reconnects by itself");
    });
}

#[test]
fn concurrent_inserts_have_exactly_one_winner() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let store = Arc::new(
            RedisStore::connect(&config(&server))
                .await
                .expect("connect"),
        );
        let mut tasks = Vec::new();
        for i in 0..32u8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .insert_if_absent("race", &[i], Duration::from_secs(60))
                    .await
                    .expect("insert")
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.expect("task"));
        }
        assert_eq!(winners, 1);
        assert!(
            format!(
                "{:?}",
                RedisConfig {
                    url: "redis://:hunter2@127.0.0.1:1/0".into(),
                    key_prefix: "x".into(),
                    timeout_ms: 1
                }
            )
            .contains("<redacted>")
        );
        assert!(
            !format!(
                "{:?}",
                RedisConfig {
                    url: "redis://:hunter2@127.0.0.1:1/0".into(),
                    key_prefix: "x".into(),
                    timeout_ms: 1
                }
            )
            .contains("hunter2")
        );
    });
}

/// Counts checks and holds each long enough for the others to start.
struct Slow(Arc<std::sync::atomic::AtomicUsize>);

#[async_trait::async_trait]
impl seamless_core::backends::PasswordVerifier for Slow {
    async fn verify(
        &self,
        _: Option<&seamless_core::backends::User>,
        _: &Password,
    ) -> Result<bool, seamless_core::error::BackendError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(false)
    }
}

#[test]
fn concurrent_wrong_passwords_on_two_instances_get_at_most_the_limit_of_checks() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let kdc = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut engines = Vec::new();
        for _ in 0..2 {
            let directory = Arc::new(
                StaticDirectory::from_text(&format!(
                    "[[users]]\nid = \"u-alice\"\nupn = \"alice@ad.test\"\nsid = \"{DOMAIN}-1105\"\n"
                ))
                .expect("directory"),
            );
            let mut settings = EngineConfig::default();
            settings.limits.password_per_user = 3;
            engines.push(
                Engine::builder()
                    .config(settings)
                    .keys(Arc::new(MemoryKeyStore::new(kdc.key_ring())))
                    .directory(directory)
                    .passwords(Arc::new(Slow(calls.clone())))
                    .store(
                        Arc::new(RedisStore::connect(&config(&server)).await.expect("redis")),
                        Durability::Shared,
                    )
                    .sealing_keys(vec![SealingKey::new(1, [5; 32])])
                    .build()
                    .expect("engine"),
            );
        }
        let mut tasks = Vec::new();
        for i in 0..16 {
            let engine = engines[i % 2].clone();
            tasks.push(tokio::spawn(async move {
                let step = engine.start(request(), None, false).await;
                let form = engine
                    .give_up(step.sealed().expect("s"), step.flow_id())
                    .await;
                engine
                    .submit_password(
                        form.sealed().expect("s"),
                        form.flow_id(),
                        "alice@ad.test",
                        &Password::new("guess"),
                    )
                    .await
                    .shown()
            }));
        }
        let mut limited = 0;
        for t in tasks {
            if matches!(
                t.await.expect("task"),
                Shown::Page(View::Password {
                    error: Some(Code::RateLimited),
                    ..
                })
            ) {
                limited += 1;
            }
        }
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "the limit, across both instances"
        );
        assert_eq!(limited, 13);
    });
}

/// The master dies under load: sign-ins fail closed (90002) until the sentinels
/// promote the replica, then go on through it; no ticket used before the
/// failover signs in again afterwards (its replay entry was replicated).
#[test]
fn sentinel_failover_refuses_until_the_replica_is_promoted_and_accepts_no_replay() {
    let Some(mut group) = RedisSentinelGroup::start() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let kdc = shared_kdc();
        let (a, b) = two_engines_on(&group.url(), &kdc).await;
        let token = || fresh_token(&kdc);
        let mut used = Vec::new();
        for _ in 0..20 {
            let t = token();
            assert!(matches!(sign_in(&a, &t).await, Shown::Completed(_)));
            used.push(t);
        }
        // Let the last writes reach the replica, then kill the master.
        tokio::time::sleep(Duration::from_millis(200)).await;
        group.master.stop();
        let killed = std::time::Instant::now();
        let mut refused = 0;
        let back = loop {
            let view = sign_in(&a, &token()).await;
            match view {
                Shown::Completed(_) => break killed.elapsed(),
                Shown::Denied {
                    code: Code::StoreUnavailable,
                    ..
                } => refused += 1,
                other => panic!("during the failover only 90002, got {other:?}"),
            }
            assert!(
                killed.elapsed() < Duration::from_secs(30),
                "no failover in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        eprintln!(
            "sentinel failover: sign-ins refused for {:.1} s ({refused} attempts), then served",
            back.as_secs_f64()
        );
        assert!(refused > 0, "the master's death was noticed");
        // Through the promoted replica, at either instance: every ticket used
        // before the failover is still a replay.
        for (i, t) in used.iter().enumerate() {
            let engine = if i % 2 == 0 { &a } else { &b };
            let view = sign_in(engine, t).await;
            assert!(is_replay(&view), "ticket {i} after the failover: {view:?}");
        }
    });
}
