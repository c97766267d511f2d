//! The contract every [`Store`] must meet, as async cases; [`store_contract_tests!`]
//! expands to one `#[test]` per case for a given store. The memory store and the
//! Redis store run the same cases.
//!
//! [`store_contract_tests!`]: crate::store_contract_tests

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::backends::{Entry, Store, TakeOnce, Taken};

/// Lets time pass (advances a manual clock, or sleeps for a real server).
pub type Pass = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// `insert_if_absent` stores once; a second insert loses until expiry.
pub async fn insert_if_absent_is_exclusive(store: Arc<dyn Store>, _: Pass) {
    assert_eq!(
        store
            .insert_if_absent("c:ins", b"one", Duration::from_secs(60))
            .await
            .ok(),
        Some(true)
    );
    assert_eq!(
        store
            .insert_if_absent("c:ins", b"two", Duration::from_secs(60))
            .await
            .ok(),
        Some(false)
    );
    assert_eq!(
        store.get("c:ins").await.ok().flatten(),
        Some(b"one".to_vec()),
        "the loser does not overwrite"
    );
}

/// `take` returns the value once.
pub async fn take_is_single_use(store: Arc<dyn Store>, _: Pass) {
    store
        .put("c:take", b"code", Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(
        store.take("c:take").await.ok().flatten(),
        Some(b"code".to_vec())
    );
    assert_eq!(store.take("c:take").await.ok().flatten(), None);
    assert_eq!(store.get("c:take").await.ok().flatten(), None);
    assert_eq!(store.take("c:never").await.ok().flatten(), None);
}

/// `put` replaces; `get` reads without consuming; binary values survive.
pub async fn put_replaces_and_get_reads(store: Arc<dyn Store>, _: Pass) {
    let binary: Vec<u8> = (0..=255u8).collect();
    store
        .put("c:put", &binary, Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(
        store.get("c:put").await.ok().flatten(),
        Some(binary.clone())
    );
    assert_eq!(store.get("c:put").await.ok().flatten(), Some(binary));
    store
        .put("c:put", b"new", Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(
        store.get("c:put").await.ok().flatten(),
        Some(b"new".to_vec())
    );
}

/// Entries vanish after their time to live, and a key can then be inserted again.
pub async fn entries_expire(store: Arc<dyn Store>, pass: Pass) {
    store
        .put("c:exp-put", b"x", Duration::from_millis(300))
        .await
        .expect("put");
    assert!(
        store
            .insert_if_absent("c:exp-ins", b"x", Duration::from_millis(300))
            .await
            .expect("insert")
    );
    assert!(
        store
            .insert_if_absent("c:exp-long", b"x", Duration::from_secs(60))
            .await
            .expect("insert")
    );
    pass(Duration::from_millis(600)).await;
    assert_eq!(store.get("c:exp-put").await.ok().flatten(), None);
    assert_eq!(store.take("c:exp-ins").await.ok().flatten(), None);
    assert!(
        store
            .insert_if_absent("c:exp-ins", b"y", Duration::from_secs(60))
            .await
            .expect("insert"),
        "expired key is free"
    );
    assert!(
        !store
            .insert_if_absent("c:exp-long", b"y", Duration::from_secs(60))
            .await
            .expect("insert"),
        "live key is not"
    );
}

/// Counters count, keep the window of their first increment, then start over;
/// `count` reads them.
pub async fn counters_count_within_their_window(store: Arc<dyn Store>, pass: Pass) {
    assert_eq!(store.count("c:cnt").await.ok(), Some(0));
    for n in 1..=3u64 {
        assert_eq!(
            store
                .increment("c:cnt", Duration::from_millis(500))
                .await
                .ok(),
            Some(n)
        );
        assert_eq!(store.count("c:cnt").await.ok(), Some(n));
    }
    pass(Duration::from_millis(300)).await;
    assert_eq!(
        store
            .increment("c:cnt", Duration::from_millis(500))
            .await
            .ok(),
        Some(4),
        "later increments do not extend the window"
    );
    pass(Duration::from_millis(400)).await;
    assert_eq!(store.count("c:cnt").await.ok(), Some(0), "expired");
    assert_eq!(
        store
            .increment("c:cnt", Duration::from_millis(500))
            .await
            .ok(),
        Some(1),
        "a new window"
    );
    assert_eq!(
        store
            .increment("c:other", Duration::from_secs(60))
            .await
            .ok(),
        Some(1),
        "counters are separate"
    );
}

/// `release` takes one back, never below zero, keeps the window, and does not
/// create a counter that was not there.
pub async fn release_gives_a_slot_back(store: Arc<dyn Store>, pass: Pass) {
    for _ in 0..3 {
        store
            .increment("c:rel", Duration::from_millis(500))
            .await
            .expect("increment");
    }
    store.release("c:rel").await.expect("release");
    assert_eq!(store.count("c:rel").await.ok(), Some(2));
    for _ in 0..5 {
        store.release("c:rel").await.expect("release");
    }
    assert_eq!(store.count("c:rel").await.ok(), Some(0), "never below zero");
    assert_eq!(
        store.increment("c:rel", Duration::from_secs(60)).await.ok(),
        Some(1)
    );
    pass(Duration::from_millis(700)).await;
    assert_eq!(
        store.count("c:rel").await.ok(),
        Some(0),
        "the first window still applies after a release"
    );
    store.release("c:absent").await.expect("release");
    assert_eq!(store.count("c:absent").await.ok(), Some(0));
    assert_eq!(
        store
            .increment("c:absent", Duration::from_millis(300))
            .await
            .ok(),
        Some(1),
        "no counter was left behind"
    );
    pass(Duration::from_millis(500)).await;
    assert_eq!(
        store.count("c:absent").await.ok(),
        Some(0),
        "and it expires"
    );
}

/// `claim` stores its marker once and, only then, what goes with it; a second
/// claim writes nothing. (Keys share a hash tag, as the crate's keys do.)
pub async fn claim_spends_once_and_writes_with_it(store: Arc<dyn Store>, pass: Pass) {
    let ttl = Duration::from_secs(60);
    let then = |value: &'static [u8]| {
        Some(Entry {
            key: "c:{claim}code",
            value,
            ttl: Duration::from_secs(2),
        })
    };
    assert_eq!(
        store.claim("c:{claim}marker", ttl, then(b"one")).await.ok(),
        Some(true)
    );
    assert_eq!(
        store.claim("c:{claim}marker", ttl, then(b"two")).await.ok(),
        Some(false),
        "spent"
    );
    assert_eq!(
        store.get("c:{claim}code").await.ok().flatten(),
        Some(b"one".to_vec()),
        "the second claim wrote nothing"
    );
    assert_eq!(
        store.claim("c:{claim}bare", ttl, None).await.ok(),
        Some(true)
    );
    assert_eq!(
        store.claim("c:{claim}bare", ttl, None).await.ok(),
        Some(false)
    );
    pass(Duration::from_millis(2_100)).await;
    assert_eq!(
        store.get("c:{claim}code").await.ok().flatten(),
        None,
        "what was written lives its own ttl"
    );
    assert_eq!(
        store
            .claim("c:{claim}marker", ttl, then(b"three"))
            .await
            .ok(),
        Some(false),
        "the marker lives its own"
    );
}

fn take_op<'a>(
    key: &'a str,
    spent: &'a str,
    revoked: &'a str,
    keep: Option<&'a str>,
) -> TakeOnce<'a> {
    TakeOnce {
        key,
        spent: Entry {
            key: spent,
            value: b"fam",
            ttl: Duration::from_secs(60),
        },
        revoked: (revoked, Duration::from_secs(60)),
        keep_as: keep.map(|k| (k, Duration::from_secs(60))),
    }
}

/// `take_once`: the value once (kept under its new key), then a second use
/// recognised and its family revoked; a revoked family's value is refused.
pub async fn take_once_recognises_the_second_use(store: Arc<dyn Store>, _: Pass) {
    let ttl = Duration::from_secs(60);
    store.put("c:{fam}code", b"grant", ttl).await.expect("put");
    assert_eq!(
        store
            .take_once(take_op(
                "c:{fam}code",
                "c:{fam}code-spent",
                "c:{fam}revoked",
                Some("c:{fam}next")
            ))
            .await
            .ok(),
        Some(Taken::Value(b"grant".to_vec()))
    );
    assert_eq!(
        store.get("c:{fam}next").await.ok().flatten(),
        Some(b"grant".to_vec()),
        "kept under the new key"
    );
    assert_eq!(
        store.get("c:{fam}revoked").await.ok().flatten(),
        None,
        "a first use revokes nothing"
    );
    assert_eq!(
        store
            .take_once(take_op(
                "c:{fam}code",
                "c:{fam}code-spent",
                "c:{fam}revoked",
                Some("c:{fam}other")
            ))
            .await
            .ok(),
        Some(Taken::Reused)
    );
    assert!(
        store.get("c:{fam}revoked").await.ok().flatten().is_some(),
        "a second use revokes the family"
    );
    assert_eq!(
        store.get("c:{fam}other").await.ok().flatten(),
        None,
        "and keeps nothing"
    );
    // The family is revoked: its next value is used up and refused, not kept.
    assert_eq!(
        store
            .take_once(take_op(
                "c:{fam}next",
                "c:{fam}next-spent",
                "c:{fam}revoked",
                Some("c:{fam}after")
            ))
            .await
            .ok(),
        Some(Taken::Revoked)
    );
    assert_eq!(store.get("c:{fam}next").await.ok().flatten(), None);
    assert_eq!(store.get("c:{fam}after").await.ok().flatten(), None);
    assert_eq!(
        store
            .take_once(take_op(
                "c:{fam}never",
                "c:{fam}never-spent",
                "c:{fam}revoked",
                None
            ))
            .await
            .ok(),
        Some(Taken::Unknown),
        "never issued: unknown"
    );
}

/// Many concurrent `take_once` of one value: exactly one gets it.
pub async fn concurrent_take_once_has_one_winner(store: Arc<dyn Store>, _: Pass) {
    store
        .put("c:{race}code", b"grant", Duration::from_secs(60))
        .await
        .expect("put");
    let attempts = (0..16).map(|_| {
        let store = store.clone();
        async move {
            store
                .take_once(take_op(
                    "c:{race}code",
                    "c:{race}spent",
                    "c:{race}revoked",
                    None,
                ))
                .await
        }
    });
    let outcomes = crate::testkit::sim::join_all(attempts).await;
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Taken::Value(_))))
        .count();
    let reused = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Taken::Reused)))
        .count();
    assert_eq!((won, reused), (1, 15), "{outcomes:?}");
}

/// Expands to one `#[test]` per contract case. `$run` is a function taking a case
/// (`fn(Arc<dyn Store>, Pass) -> impl Future`) that builds a fresh store, runs the
/// case, and cleans up.
#[macro_export]
macro_rules! store_contract_tests {
    ($run:path) => {
        $crate::store_contract_tests!(@cases $run,
            insert_if_absent_is_exclusive,
            take_is_single_use,
            put_replaces_and_get_reads,
            entries_expire,
            counters_count_within_their_window,
            release_gives_a_slot_back,
            claim_spends_once_and_writes_with_it,
            take_once_recognises_the_second_use,
            concurrent_take_once_has_one_winner
        );
    };
    (@cases $run:path, $($case:ident),+) => {
        $(
            #[test]
            fn $case() {
                $run($crate::testkit::store_contract::$case);
            }
        )+
    };
}
