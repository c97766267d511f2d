//! The memory store: what one entry of each kind costs in memory, and what one
//! more insert costs when the store is full, for a kind that fails closed
//! (replay: refused) and for refresh tokens (the oldest is evicted), at a
//! million entries.
//!
//! The sizes: real sign-ins of a realistic AD user (`PacSpec::ad_benchmark_user`,
//! 40 groups) through the provider give each kind's key and value bytes; a fresh
//! store filled with 200,000 entries of those sizes gives the bytes each entry
//! really takes (key, value, map and index
//! overhead), as the growth of the process's resident memory. Printed before
//! the timings.

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;
use seamless_core::backends::{EntryKind, MemoryStore, Store};
use seamless_core::clock::ManualClock;
use seamless_core::http::{Client, WebConfig};
use seamless_core::testkit::PacSpec;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::world::World;
use support::{code_for, send};

/// The resident memory of this process, in bytes (Linux: `/proc/self/statm`).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

const ENTRIES: usize = 1 << 20;
const LONG: Duration = Duration::from_secs(14 * 86_400);
const CB: &str = "https://app.example/cb";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_800_000_000))
}

/// Key and value bytes per entry of each kind after real sign-ins: each one
/// authorize → Negotiate → code → tokens → one refresh.
fn measured_payloads() -> Vec<(EntryKind, usize, usize)> {
    let world = World::builder()
        .no_faults()
        .provider(|b| {
            b.web(WebConfig::new("https://login.example"))
                .client(Client::confidential("ES256", "secret", CB))
        })
        .build();
    let engine = world.provider.clone();
    let pac = PacSpec::ad_benchmark_user();
    for _ in 0..200 {
        let ticket = world.ticket("alice", pac.clone());
        let code = code_for(&engine, "ES256", &format!("Negotiate {ticket}"));
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=ES256&client_secret=secret"
        );
        let tokens = send(&engine, Method::POST, "/token", &[], body);
        let tokens: serde_json::Value = serde_json::from_slice(tokens.body()).expect("json");
        let refresh = tokens["refresh_token"].as_str().expect("refresh token");
        let body = format!(
            "grant_type=refresh_token&refresh_token={refresh}&client_id=ES256&client_secret=secret"
        );
        assert_eq!(
            send(&engine, Method::POST, "/token", &[], body).status(),
            200
        );
    }
    world
        .store
        .usage()
        .into_iter()
        .filter(|u| u.entries > 0)
        .map(|u| (u.kind, u.entries, u.payload_bytes))
        .collect()
}

/// Resident bytes per entry when a fresh store holds 200,000 entries under keys
/// `prefix{i}` padded to `key_len`, each holding `value_len` bytes.
/// The store is returned: kept alive, its memory is not reused by the next fill.
fn bytes_per_entry(prefix: &str, key_len: usize, value_len: usize) -> (f64, MemoryStore) {
    const N: usize = 200_000;
    let value = vec![b'v'; value_len];
    let keys: Vec<String> = (0..N)
        .map(|i| {
            format!(
                "{prefix}{i:0>width$}",
                width = key_len.saturating_sub(prefix.len())
            )
        })
        .collect();
    let before = resident_bytes();
    let store = MemoryStore::new(N, clock());
    for key in &keys {
        block_on(store.put(key, &value, LONG)).expect("room");
    }
    let after = resident_bytes();
    (after.saturating_sub(before) as f64 / N as f64, store)
}

fn report_sizes() {
    let prefixes = [
        (EntryKind::Replay, "replay:"),
        (EntryKind::SingleUse, "code:"),
        (EntryKind::Counter, "pw-fail:user:"),
        (EntryKind::Revocation, "session-revoked:"),
        (EntryKind::Refresh, "refresh:"),
    ];
    eprintln!("memory store, per entry (200 sign-ins of a 40-group AD user):");
    let mut kept = Vec::new();
    eprintln!(
        "{:<12} {:>8} {:>14} {:>16}",
        "kind", "entries", "key+value B", "resident B"
    );
    for (kind, entries, payload) in measured_payloads() {
        let per = payload / entries;
        let prefix = prefixes
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or("x:", |(_, p)| *p);
        // Keys are about 50-80 bytes: split the payload as a 64-byte key and the rest.
        let key_len = 64.min(per);
        let (allocated, store) = bytes_per_entry(prefix, key_len, per - key_len);
        kept.push(store);
        eprintln!(
            "{:<12} {entries:>8} {per:>14} {allocated:>16.0}",
            kind.name()
        );
    }
    // Kinds the sign-ins above do not write: counters and revocations.
    for (kind, prefix, key_len, value_len) in [
        (EntryKind::Counter, "pw-fail:user:", 45, 8),
        (EntryKind::Revocation, "session-revoked:", 48, 1),
    ] {
        let (allocated, store) = bytes_per_entry(prefix, key_len, value_len);
        kept.push(store);
        eprintln!(
            "{:<12} {:>8} {:>14} {allocated:>16.0}",
            kind.name(),
            "-",
            key_len + value_len
        );
    }
}

/// A store of `ENTRIES` per kind, full of live `prefix` entries holding `value`.
fn full_store(prefix: &str, value: &[u8]) -> MemoryStore {
    let store = MemoryStore::new(ENTRIES, clock());
    for i in 0..ENTRIES {
        let stored = block_on(store.insert_if_absent(&format!("{prefix}{i:064x}"), value, LONG));
        assert!(matches!(stored, Ok(true)), "filling");
    }
    store
}

fn bench(c: &mut Criterion) {
    report_sizes();
    let mut group = c.benchmark_group("memory_store_full");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));

    let replay = full_store("replay:", b"1");
    let next = AtomicU64::new(0);
    group.bench_function("insert_replay_refused", |b| {
        b.iter(|| {
            let key = format!("replay:new{}", next.fetch_add(1, Ordering::Relaxed));
            black_box(block_on(replay.insert_if_absent(&key, b"1", LONG)).is_err())
        })
    });
    drop(replay);

    let grant = vec![b'x'; 700];
    let refresh = full_store("refresh:", &grant);
    group.bench_function("insert_refresh", |b| {
        b.iter(|| {
            let key = format!("refresh:new{}", next.fetch_add(1, Ordering::Relaxed));
            black_box(block_on(refresh.put(&key, &grant, LONG)).is_ok())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
