//! Shared short-lived state: replay keys, single-use tokens, counters.

use std::collections::HashMap;
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
}

struct Entry {
    value: Vec<u8>,
    expires_ms: i64,
}

/// An in-process store, bounded in size. Expired entries are purged as the map
/// fills; a full map of live entries refuses new ones (fail closed).
pub struct MemoryStore {
    map: Mutex<HashMap<String, Entry>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store of at most `capacity` live entries.
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity,
            clock,
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn with_map<R>(
        &self,
        f: impl FnOnce(&mut HashMap<String, Entry>, i64) -> Result<R, BackendError>,
    ) -> Result<R, BackendError> {
        let now = self.now_ms();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut map, now)
    }

    fn room(&self, map: &mut HashMap<String, Entry>, now: i64) -> Result<(), BackendError> {
        if map.len() >= self.capacity {
            map.retain(|_, e| e.expires_ms > now);
            if map.len() >= self.capacity {
                return Err(BackendError::unavailable(format!(
                    "memory store full ({} live entries)",
                    map.len()
                )));
            }
        }
        Ok(())
    }
}

fn expiry(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64)
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        self.with_map(|map, now| {
            if map.get(key).is_some_and(|e| e.expires_ms > now) {
                return Ok(false);
            }
            self.room(map, now)?;
            map.insert(
                key.to_string(),
                Entry {
                    value: value.to_vec(),
                    expires_ms: expiry(now, ttl),
                },
            );
            Ok(true)
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.with_map(|map, now| {
            Ok(map
                .get(key)
                .filter(|e| e.expires_ms > now)
                .map(|e| e.value.clone()))
        })
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BackendError> {
        self.with_map(|map, now| {
            if !map.contains_key(key) {
                self.room(map, now)?;
            }
            map.insert(
                key.to_string(),
                Entry {
                    value: value.to_vec(),
                    expires_ms: expiry(now, ttl),
                },
            );
            Ok(())
        })
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.with_map(|map, now| {
            Ok(map
                .remove(key)
                .filter(|e| e.expires_ms > now)
                .map(|e| e.value))
        })
    }

    async fn count(&self, key: &str) -> Result<u64, BackendError> {
        self.with_map(|map, now| {
            Ok(map
                .get(key)
                .filter(|e| e.expires_ms > now)
                .and_then(|e| e.value.as_slice().try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0))
        })
    }

    async fn release(&self, key: &str) -> Result<(), BackendError> {
        self.with_map(|map, now| {
            if let Some(entry) = map.get_mut(key).filter(|e| e.expires_ms > now)
                && let Ok(bytes) = <[u8; 8]>::try_from(entry.value.as_slice())
            {
                let count = u64::from_be_bytes(bytes).saturating_sub(1);
                entry.value = count.to_be_bytes().to_vec();
            }
            Ok(())
        })
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BackendError> {
        self.with_map(|map, now| {
            let live = map
                .get(key)
                .filter(|e| e.expires_ms > now)
                .and_then(|e| e.value.as_slice().try_into().ok());
            let count = live.map(u64::from_be_bytes).unwrap_or(0).saturating_add(1);
            let expires_ms = match map.get(key) {
                Some(e) if e.expires_ms > now => e.expires_ms,
                _ => {
                    self.room(map, now)?;
                    expiry(now, ttl)
                }
            };
            map.insert(
                key.to_string(),
                Entry {
                    value: count.to_be_bytes().to_vec(),
                    expires_ms,
                },
            );
            Ok(count)
        })
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
