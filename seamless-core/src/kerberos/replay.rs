//! Replay detection (RFC 4120 §3.2.3): an authenticator may be used once.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

/// Identifies one authenticator: a SHA-256 over authenticated bytes only (the
/// decrypted client name, ctime and cusec, and the integrity-protected
/// authenticator ciphertext), never the ticket's cleartext realm or service name,
/// so no re-encoding of a captured token makes a second entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey(pub [u8; 32]);

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey(")?;
        for b in self.0.iter().take(6) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// What the replay cache records for one accepted authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayEntry {
    /// The authenticator's identity.
    pub key: ReplayKey,
    /// The authenticator's ctime (Unix seconds).
    pub ctime: i64,
    /// When the entry may be forgotten: ctime + skew, after which the authenticator
    /// is refused for skew anyway.
    pub expires_at: i64,
}

/// The answer of a replay cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// First time seen; now recorded.
    Fresh,
    /// Seen before: a replay.
    Replayed,
}

/// Why a replay cache could not answer. The caller must refuse the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayCacheError {
    /// The cache is full of live entries.
    #[error("replay cache full ({0} live entries)")]
    Full(usize),
    /// The backing store is unreachable.
    #[error("replay cache unavailable: {0}")]
    Unavailable(String),
}

/// Records authenticators and says whether one was seen before, atomically.
#[async_trait]
pub trait ReplayCache: Send + Sync {
    /// Records `entry` until it expires unless already present; `now` in Unix seconds.
    async fn check_and_insert(
        &self,
        entry: &ReplayEntry,
        now: i64,
    ) -> Result<Freshness, ReplayCacheError>;
}

/// An in-process replay cache, bounded in size.
///
/// Entries live until the authenticator leaves the skew window. A cache that
/// started empty cannot know what a previous process saw, so authenticators made
/// before it started are refused (RFC 4120 §3.2.3 asks for this after a cache
/// loss); use a shared store (Redis) when several instances serve one SPN.
pub struct MemoryReplayCache {
    inner: Mutex<HashMap<ReplayKey, i64>>,
    capacity: usize,
    started_at: i64,
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryReplayCache {
    /// A cache holding at most `capacity` live entries, started at `now`.
    pub fn new(capacity: usize, now: i64) -> Self {
        Self {
            inner: Mutex::new(HashMap::new()),
            capacity,
            started_at: now,
        }
    }

    /// When this cache started (Unix seconds).
    pub fn started_at(&self) -> i64 {
        self.started_at
    }

    /// Synchronous form of [`ReplayCache::check_and_insert`].
    pub fn check(&self, entry: &ReplayEntry, now: i64) -> Result<Freshness, ReplayCacheError> {
        if entry.ctime < self.started_at {
            return Ok(Freshness::Replayed);
        }
        self.insert(entry.key, entry.expires_at, now)
    }

    fn insert(
        &self,
        key: ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> Result<Freshness, ReplayCacheError> {
        // A poisoned lock only means another thread panicked mid-insert; the map is
        // still a valid map, so keep serving.
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&until) = map.get(&key)
            && until >= now
        {
            return Ok(Freshness::Replayed);
        }
        if map.len() >= self.capacity {
            map.retain(|_, until| *until >= now);
            if map.len() >= self.capacity {
                return Err(ReplayCacheError::Full(map.len()));
            }
        }
        map.insert(key, expires_at);
        Ok(Freshness::Fresh)
    }

    /// Live entries (for metrics and tests).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn check_and_insert(
        &self,
        entry: &ReplayEntry,
        now: i64,
    ) -> Result<Freshness, ReplayCacheError> {
        self.check(entry, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_use_is_a_replay_until_expiry_and_capacity_fails_closed() {
        let cache = MemoryReplayCache::new(2, 1000);
        let entry = |k: u8, ctime: i64| ReplayEntry {
            key: ReplayKey([k; 32]),
            ctime,
            expires_at: ctime + 300,
        };
        assert_eq!(cache.check(&entry(1, 1000), 1000), Ok(Freshness::Fresh));
        assert_eq!(cache.check(&entry(1, 1000), 1001), Ok(Freshness::Replayed));
        assert_eq!(cache.check(&entry(2, 1000), 1001), Ok(Freshness::Fresh));
        assert_eq!(
            cache.check(&entry(3, 1000), 1001),
            Err(ReplayCacheError::Full(2))
        );
        // After expiry the slots are reclaimed.
        assert_eq!(cache.check(&entry(3, 1301), 1301), Ok(Freshness::Fresh));
        assert_eq!(cache.len(), 1);
        // Authenticators older than the cache itself may have been seen by a
        // previous process.
        assert_eq!(cache.check(&entry(9, 999), 1301), Ok(Freshness::Replayed));
    }
}
