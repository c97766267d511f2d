//! Shared short-lived state: replay keys, single-use tokens, counters.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::error::BackendError;
use crate::kerberos::{Freshness, ReplayCache, ReplayCacheError, ReplayEntry};

/// A key-value store with expiry. Every operation is atomic on its key, so one
/// store shared by several instances (Redis) gives cluster-wide guarantees.
#[async_trait]
pub trait Store: Send + Sync {
    /// Stores `value` under `key` for `ttl` unless the key exists. True if stored.
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, BackendError>;
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Stores `value` under `key` for `ttl`, replacing any value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BackendError>;
    /// Removes `key` and returns what it held (single-use tokens).
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Adds one to the counter under `key` (created with `ttl` if absent) and
    /// returns the new count.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BackendError>;
    /// The counter under `key` (0 if absent or expired). Counters are read only
    /// through this: their stored form is the store's business.
    async fn count(&self, key: &str) -> Result<u64, BackendError>;
    /// Takes one back from the counter under `key`, never below zero, keeping its
    /// window; nothing when it is absent or expired. Rate limits count an attempt
    /// before checking it ([`Store::increment`] first, so concurrent attempts
    /// cannot all see the old count) and give the slot back when it succeeds.
    async fn release(&self, key: &str) -> Result<(), BackendError>;
    /// Stores `marker` (value `1`) for `ttl` unless it exists and, only when it
    /// was stored, `then` too: a single-use value spent and what it buys written
    /// in one step (a sign-in token and its authorization code). True if
    /// stored. The stores of this crate do it atomically in one round trip; the
    /// keys share a hash tag (`{...}`), so a Redis Cluster holds them in one
    /// slot. This default does it in two operations: a failure after the first
    /// leaves the marker spent and nothing bought (fail closed).
    async fn claim(
        &self,
        marker: &str,
        ttl: Duration,
        then: Option<Entry<'_>>,
    ) -> Result<bool, BackendError> {
        if !self.insert_if_absent(marker, b"1", ttl).await? {
            return Ok(false);
        }
        if let Some(entry) = then {
            self.put(entry.key, entry.value, entry.ttl).await?;
        }
        Ok(true)
    }

    /// Takes a single-use value that may be presented twice (an authorization
    /// code, a refresh token), recognising the second use; see [`TakeOnce`].
    /// The stores of this crate do it atomically in one round trip (the keys
    /// share a hash tag); this default does it in a few operations, each
    /// atomic, in an order that errs towards refusing.
    async fn take_once(&self, op: TakeOnce<'_>) -> Result<Taken, BackendError> {
        let Some(value) = self.take(op.key).await? else {
            if self.get(op.spent.key).await?.is_some() {
                self.put(op.revoked.0, b"1", op.revoked.1).await?;
                return Ok(Taken::Reused);
            }
            return Ok(Taken::Unknown);
        };
        self.put(op.spent.key, op.spent.value, op.spent.ttl).await?;
        if self.get(op.revoked.0).await?.is_some() {
            return Ok(Taken::Revoked);
        }
        if let Some((key, ttl)) = op.keep_as {
            self.put(key, &value, ttl).await?;
        }
        Ok(Taken::Value(value))
    }

    /// How full the store is, by kind of entry, when it can tell (the memory
    /// store); empty otherwise.
    fn usage(&self) -> Vec<KindUsage> {
        Vec::new()
    }

    /// Requests sent to a remote store since it was made (its round trips), when
    /// it has any (Redis); `None` for an in-process store.
    fn round_trips(&self) -> Option<u64> {
        None
    }
}

/// One value to write, with its lifetime.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The key.
    pub key: &'a str,
    /// The value.
    pub value: &'a [u8],
    /// How long it lives.
    pub ttl: Duration,
}

/// A single-use value taken with reuse detection ([`Store::take_once`]):
/// - `key` present: it is removed and `spent` stored; then, if `revoked` is
///   present, the answer is [`Taken::Revoked`]; otherwise the value is copied
///   under `keep_as` (if any: the next refresh token, so issuing it costs no
///   round trip) and returned.
/// - `key` absent but `spent` present: a second use, taken as theft; `revoked`
///   is stored and the answer is [`Taken::Reused`].
/// - neither: [`Taken::Unknown`] (never issued, or expired).
#[derive(Debug, Clone, Copy)]
pub struct TakeOnce<'a> {
    /// The value's key.
    pub key: &'a str,
    /// The mark that the value was used.
    pub spent: Entry<'a>,
    /// The family's revocation mark (value `1`) and how long it lives.
    pub revoked: (&'a str, Duration),
    /// Where a copy of the value goes when it is taken, and for how long.
    pub keep_as: Option<(&'a str, Duration)>,
}

/// What [`Store::take_once`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The value, now used.
    Value(Vec<u8>),
    /// The value was there but its family is revoked; it is used up all the same.
    Revoked,
    /// The value was used before; its family is now revoked.
    Reused,
    /// No such value (never issued, or expired).
    Unknown,
}

/// What an entry of the store is for, read from its key. Each kind has its own
/// budget in the [`MemoryStore`]; only [`EntryKind::Refresh`] may lose a live
/// entry, every other kind guards something and refuses new entries when full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// `replay:`: Kerberos authenticators seen (replay detection).
    Replay,
    /// `sign-in-token:`, `code:`, `totp-used:`: values usable once.
    SingleUse,
    /// `pw-fail:`, `mfa-try:`: attempt counters (rate limits, lockout).
    Counter,
    /// `session-revoked:`, `family-revoked:`: revocations.
    Revocation,
    /// `refresh:`, `refresh-spent:`, `code-spent:`: refresh tokens and the
    /// markers that recognise a reused one. Losing one costs the user a silent
    /// sign-in, never a guarantee: when full, the oldest is evicted.
    Refresh,
    /// Any other key (an application's own use of the store).
    Other,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 6] = [
        Self::Replay,
        Self::SingleUse,
        Self::Counter,
        Self::Revocation,
        Self::Refresh,
        Self::Other,
    ];

    /// The kind of the entry under `key`.
    pub fn of(key: &str) -> Self {
        let prefix = key.split_once(':').map_or("", |(p, _)| p);
        match prefix {
            "replay" => Self::Replay,
            "sign-in-token" | "code" | "totp-used" => Self::SingleUse,
            "pw-fail" | "mfa-try" => Self::Counter,
            "session-revoked" | "family-revoked" => Self::Revocation,
            "refresh" | "refresh-spent" | "code-spent" => Self::Refresh,
            _ => Self::Other,
        }
    }

    /// The kind's name in configuration, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::SingleUse => "single_use",
            Self::Counter => "counters",
            Self::Revocation => "revocations",
            Self::Refresh => "refresh",
            Self::Other => "other",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Replay => 0,
            Self::SingleUse => 1,
            Self::Counter => 2,
            Self::Revocation => 3,
            Self::Refresh => 4,
            Self::Other => 5,
        }
    }

    /// Whether a live entry of this kind may be dropped to make room.
    fn evictable(self) -> bool {
        self == Self::Refresh
    }
}

/// How many live entries of each kind the [`MemoryStore`] holds (`[store.memory]`
/// in the configuration file). The defaults come from measured sizes (`cargo
/// bench -p seamless-core --bench store`; README, "One instance: the memory
/// store"): about 320 MiB when every kind is full, half of it refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryBudgets {
    /// Replay entries (one per Kerberos sign-in, kept for the clock-skew
    /// window): 262,144 by default, 279 bytes each.
    pub replay: usize,
    /// Sign-in tokens, authorization codes, used TOTP codes (minutes each):
    /// 65,536, about 230 bytes each (a code holds its grant: about 1.3 KB).
    pub single_use: usize,
    /// Attempt counters (one per user and per address with failures): 65,536,
    /// 247 bytes each.
    pub counters: usize,
    /// Session and refresh-family revocations (kept as long as what they
    /// revoke): 131,072, 263 bytes each.
    pub revocations: usize,
    /// Refresh tokens and their reuse markers (days each; three per sign-in
    /// with one refresh); the oldest go first: 131,072, about 1.3 KB each (the
    /// token holds its grant, groups included).
    pub refresh: usize,
    /// Keys of no kind above: 65,536.
    pub other: usize,
}

impl Default for MemoryBudgets {
    fn default() -> Self {
        Self {
            replay: 1 << 18,
            single_use: 1 << 16,
            counters: 1 << 16,
            revocations: 1 << 17,
            refresh: 1 << 17,
            other: 1 << 16,
        }
    }
}

impl MemoryBudgets {
    /// The same budget for every kind.
    pub fn uniform(entries: usize) -> Self {
        Self {
            replay: entries,
            single_use: entries,
            counters: entries,
            revocations: entries,
            refresh: entries,
            other: entries,
        }
    }

    /// The budget of `kind`.
    pub fn of(&self, kind: EntryKind) -> usize {
        match kind {
            EntryKind::Replay => self.replay,
            EntryKind::SingleUse => self.single_use,
            EntryKind::Counter => self.counters,
            EntryKind::Revocation => self.revocations,
            EntryKind::Refresh => self.refresh,
            EntryKind::Other => self.other,
        }
    }
}

/// One kind's use of a store, for metrics and capacity planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindUsage {
    /// The kind.
    pub kind: EntryKind,
    /// Live (and not yet swept) entries.
    pub entries: usize,
    /// The kind's budget.
    pub budget: usize,
    /// Bytes of keys and values of those entries.
    pub payload_bytes: usize,
    /// Live entries evicted to make room since the store was made.
    pub evicted: u64,
}

struct Slot {
    value: Vec<u8>,
    expires_ms: i64,
    /// Insertion order (the eviction order of evictable kinds).
    seq: u64,
    kind: EntryKind,
}

/// Entries swept per write on top of what the write needs: expiry keeps up
/// with insertion without a pass over the whole map.
const SWEEP_PER_WRITE: usize = 2;

/// At most one warning about evictions per this many milliseconds.
const EVICTION_WARNING_GAP_MS: i64 = 60_000;

#[derive(Default)]
struct Inner {
    map: HashMap<Arc<str>, Slot>,
    /// Every entry by (expiry, seq): expired ones are at the front.
    by_expiry: BTreeMap<(i64, u64), Arc<str>>,
    /// Evictable entries by seq: the oldest is at the front.
    by_age: BTreeMap<u64, Arc<str>>,
    live: [usize; 6],
    payload: [usize; 6],
    evicted: [u64; 6],
    next_seq: u64,
    /// When the last eviction warning was logged (0: never).
    warned_ms: i64,
    /// Evictions since that warning.
    unwarned: u64,
}

impl Inner {
    fn remove(&mut self, key: &str) -> Option<Slot> {
        let (key, slot) = self.map.remove_entry(key)?;
        self.by_expiry.remove(&(slot.expires_ms, slot.seq));
        if slot.kind.evictable() {
            self.by_age.remove(&slot.seq);
        }
        let k = slot.kind.index();
        self.live[k] -= 1;
        self.payload[k] -= key.len() + slot.value.len();
        Some(slot)
    }

    fn insert(&mut self, key: &str, value: Vec<u8>, expires_ms: i64) {
        let kind = EntryKind::of(key);
        let seq = self.next_seq;
        self.next_seq += 1;
        let key: Arc<str> = Arc::from(key);
        self.by_expiry.insert((expires_ms, seq), key.clone());
        if kind.evictable() {
            self.by_age.insert(seq, key.clone());
        }
        let k = kind.index();
        self.live[k] += 1;
        self.payload[k] += key.len() + value.len();
        self.map.insert(
            key,
            Slot {
                value,
                expires_ms,
                seq,
                kind,
            },
        );
    }

    /// Replaces the value of a live entry, keeping its place in the eviction
    /// order; `expires_ms` moves it in the expiry index when it changes.
    fn update(&mut self, key: &str, value: Vec<u8>, expires_ms: i64) {
        let Some(slot) = self.map.get_mut(key) else {
            return;
        };
        let k = slot.kind.index();
        self.payload[k] = self.payload[k] + value.len() - slot.value.len();
        slot.value = value;
        if slot.expires_ms != expires_ms {
            let old = (slot.expires_ms, slot.seq);
            slot.expires_ms = expires_ms;
            let new = (expires_ms, slot.seq);
            if let Some(key) = self.by_expiry.remove(&old) {
                self.by_expiry.insert(new, key);
            }
        }
    }

    /// Removes up to `limit` expired entries, oldest expiry first.
    fn sweep(&mut self, now: i64, limit: usize) {
        for _ in 0..limit {
            let Some(key) = self
                .by_expiry
                .first_key_value()
                .filter(|((expires, _), _)| *expires <= now)
                .map(|(_, key)| key.clone())
            else {
                return;
            };
            self.remove(&key);
        }
    }
}

/// An in-process store: for one instance (state is lost on restart: users sign
/// in again, seamlessly; refresh tokens are gone). Each [`EntryKind`] has a
/// budget of live entries ([`MemoryBudgets`]); a full kind refuses new entries
/// (fail closed), except refresh tokens, whose oldest entry is evicted (with a
/// warning log and the `seamless_store_evictions_total` metric). Expired
/// entries are swept a few per write, and all at once only when a kind is full
/// (each entry once): no write walks the map.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    budgets: MemoryBudgets,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("budgets", &self.budgets)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store of at most `capacity` live entries of each kind.
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self::with_budgets(MemoryBudgets::uniform(capacity), clock)
    }

    /// A store with a budget per kind.
    pub fn with_budgets(budgets: MemoryBudgets, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            budgets,
            clock,
        }
    }

    /// Each kind's entries, bytes and evictions now.
    pub fn usage(&self) -> Vec<KindUsage> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        EntryKind::ALL
            .into_iter()
            .map(|kind| {
                let k = kind.index();
                KindUsage {
                    kind,
                    entries: inner.live[k],
                    budget: self.budgets.of(kind),
                    payload_bytes: inner.payload[k],
                    evicted: inner.evicted[k],
                }
            })
            .collect()
    }

    fn now_ms(&self) -> i64 {
        self.clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn with_inner<R>(
        &self,
        f: impl FnOnce(&mut Inner, i64) -> Result<R, BackendError>,
    ) -> Result<R, BackendError> {
        let now = self.now_ms();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner, now)
    }

    /// A write: a little sweeping first, then `f`.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut Inner, i64) -> Result<R, BackendError>,
    ) -> Result<R, BackendError> {
        self.with_inner(|inner, now| {
            inner.sweep(now, SWEEP_PER_WRITE);
            f(inner, now)
        })
    }

    /// Makes room for one more entry of `key`'s kind: sweeps what has expired,
    /// then evicts the oldest entry of an evictable kind, or refuses.
    fn room(&self, inner: &mut Inner, key: &str, now: i64) -> Result<(), BackendError> {
        let kind = EntryKind::of(key);
        let k = kind.index();
        let budget = self.budgets.of(kind);
        if inner.live[k] < budget {
            return Ok(());
        }
        inner.sweep(now, usize::MAX);
        if inner.live[k] < budget {
            return Ok(());
        }
        if kind.evictable()
            && budget > 0
            && let Some(oldest) = inner.by_age.first_key_value().map(|(_, key)| key.clone())
        {
            inner.remove(&oldest);
            inner.evicted[k] += 1;
            inner.unwarned += 1;
            if inner.warned_ms == 0 || now - inner.warned_ms >= EVICTION_WARNING_GAP_MS {
                tracing::warn!(
                    target: "seamless::store",
                    kind = kind.name(),
                    budget,
                    evicted = inner.unwarned,
                    "memory store: {} budget full; evicted the oldest entries (those users \
                     sign in again); raise [store.memory] {} or use Redis",
                    kind.name(),
                    kind.name(),
                );
                inner.warned_ms = now;
                inner.unwarned = 0;
            }
            return Ok(());
        }
        Err(BackendError::unavailable(format!(
            "memory store: {} budget full ({budget} live entries); raise [store.memory] {}",
            kind.name(),
            kind.name()
        )))
    }

    /// Stores a new entry, replacing an expired one under the same key.
    fn insert_new(
        &self,
        inner: &mut Inner,
        key: &str,
        value: Vec<u8>,
        expires_ms: i64,
        now: i64,
    ) -> Result<(), BackendError> {
        inner.remove(key);
        self.room(inner, key, now)?;
        inner.insert(key, value, expires_ms);
        Ok(())
    }
}

impl MemoryStore {
    /// `put` under the lock.
    fn set(
        &self,
        inner: &mut Inner,
        key: &str,
        value: &[u8],
        ttl: Duration,
        now: i64,
    ) -> Result<(), BackendError> {
        if live(inner, key, now) {
            inner.update(key, value.to_vec(), expiry(now, ttl));
            Ok(())
        } else {
            self.insert_new(inner, key, value.to_vec(), expiry(now, ttl), now)
        }
    }
}

fn expiry(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64)
}

fn live(inner: &Inner, key: &str, now: i64) -> bool {
    inner.map.get(key).is_some_and(|e| e.expires_ms > now)
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        self.write(|inner, now| {
            if live(inner, key, now) {
                return Ok(false);
            }
            self.insert_new(inner, key, value.to_vec(), expiry(now, ttl), now)?;
            Ok(true)
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.with_inner(|inner, now| {
            Ok(inner
                .map
                .get(key)
                .filter(|e| e.expires_ms > now)
                .map(|e| e.value.clone()))
        })
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BackendError> {
        self.write(|inner, now| self.set(inner, key, value, ttl, now))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.write(|inner, now| {
            Ok(inner
                .remove(key)
                .filter(|e| e.expires_ms > now)
                .map(|e| e.value))
        })
    }

    async fn count(&self, key: &str) -> Result<u64, BackendError> {
        self.with_inner(|inner, now| {
            Ok(inner
                .map
                .get(key)
                .filter(|e| e.expires_ms > now)
                .and_then(|e| e.value.as_slice().try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0))
        })
    }

    async fn release(&self, key: &str) -> Result<(), BackendError> {
        self.with_inner(|inner, now| {
            let Some(slot) = inner.map.get(key).filter(|e| e.expires_ms > now) else {
                return Ok(());
            };
            if let Ok(bytes) = <[u8; 8]>::try_from(slot.value.as_slice()) {
                let count = u64::from_be_bytes(bytes).saturating_sub(1);
                let expires_ms = slot.expires_ms;
                inner.update(key, count.to_be_bytes().to_vec(), expires_ms);
            }
            Ok(())
        })
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BackendError> {
        self.write(|inner, now| {
            let current = inner.map.get(key).filter(|e| e.expires_ms > now);
            match current.map(|e| (e.expires_ms, <[u8; 8]>::try_from(e.value.as_slice()))) {
                Some((expires_ms, counted)) => {
                    let count = counted
                        .map(u64::from_be_bytes)
                        .unwrap_or(0)
                        .saturating_add(1);
                    inner.update(key, count.to_be_bytes().to_vec(), expires_ms);
                    Ok(count)
                }
                None => {
                    self.insert_new(
                        inner,
                        key,
                        1u64.to_be_bytes().to_vec(),
                        expiry(now, ttl),
                        now,
                    )?;
                    Ok(1)
                }
            }
        })
    }

    async fn claim(
        &self,
        marker: &str,
        ttl: Duration,
        then: Option<Entry<'_>>,
    ) -> Result<bool, BackendError> {
        self.write(|inner, now| {
            if live(inner, marker, now) {
                return Ok(false);
            }
            self.insert_new(inner, marker, b"1".to_vec(), expiry(now, ttl), now)?;
            if let Some(entry) = then
                && let Err(e) = self.set(inner, entry.key, entry.value, entry.ttl, now)
            {
                // All or nothing: the marker goes with what it would have bought.
                inner.remove(marker);
                return Err(e);
            }
            Ok(true)
        })
    }

    async fn take_once(&self, op: TakeOnce<'_>) -> Result<Taken, BackendError> {
        self.write(|inner, now| {
            let Some(slot) = inner.remove(op.key).filter(|e| e.expires_ms > now) else {
                if live(inner, op.spent.key, now) {
                    self.set(inner, op.revoked.0, b"1", op.revoked.1, now)?;
                    return Ok(Taken::Reused);
                }
                return Ok(Taken::Unknown);
            };
            if let Err(e) = self.set(inner, op.spent.key, op.spent.value, op.spent.ttl, now) {
                // Unused after all: the value stays for a later attempt.
                inner.insert(op.key, slot.value, slot.expires_ms);
                return Err(e);
            }
            if live(inner, op.revoked.0, now) {
                return Ok(Taken::Revoked);
            }
            if let Some((key, ttl)) = op.keep_as {
                // Refresh tokens are evictable: making room never fails but
                // with a zero budget, when no refresh token can be kept at all.
                self.set(inner, key, &slot.value, ttl, now)?;
            }
            Ok(Taken::Value(slot.value))
        })
    }

    fn usage(&self) -> Vec<KindUsage> {
        MemoryStore::usage(self)
    }
}

/// The acceptor's replay cache as one use of a [`Store`]: with a shared store,
/// replay detection is cluster-wide with no other change.
pub struct StoreReplayCache {
    store: Arc<dyn Store>,
    not_before: Option<i64>,
}

impl fmt::Debug for StoreReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreReplayCache").finish_non_exhaustive()
    }
}

impl StoreReplayCache {
    /// A replay cache on a store that outlives this process (Redis).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            not_before: None,
        }
    }

    /// A replay cache on a store that starts empty with this process (the memory
    /// store): authenticators made before `started_at` may have been seen by an
    /// earlier process and are refused (RFC 4120 §3.2.3 after a cache loss).
    pub fn process_local(store: Arc<dyn Store>, started_at: i64) -> Self {
        Self {
            store,
            not_before: Some(started_at),
        }
    }
}

#[async_trait]
impl ReplayCache for StoreReplayCache {
    async fn check_and_insert(
        &self,
        entry: &ReplayEntry,
        now: i64,
    ) -> Result<Freshness, ReplayCacheError> {
        if self.not_before.is_some_and(|t| entry.ctime < t) {
            return Ok(Freshness::Replayed);
        }
        let key = format!("replay:{}", crate::kerberos::crypto::hex(&entry.key.0));
        let ttl = Duration::from_secs(entry.expires_at.saturating_sub(now).max(1) as u64);
        match self.store.insert_if_absent(&key, b"1", ttl).await {
            Ok(true) => Ok(Freshness::Fresh),
            Ok(false) => Ok(Freshness::Replayed),
            Err(e) => Err(ReplayCacheError::Unavailable(e.message)),
        }
    }
}
