//! A store that fails on demand, for outage tests: every operation answers
//! `Unavailable` while its switch is on. It also counts the operations asked of
//! it, each of which is one round trip to a remote store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::backends::{Entry, KindUsage, Store, TakeOnce, Taken};
use crate::error::BackendError;

/// Wraps a store; [`FlakyStore::switch`] turns the outage on and off.
pub struct FlakyStore<S> {
    inner: S,
    down: Arc<AtomicBool>,
    operations: Arc<AtomicU64>,
}

impl<S: Store> FlakyStore<S> {
    /// `inner`, up.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            down: Arc::default(),
            operations: Arc::default(),
        }
    }

    /// The outage switch (`true`: every operation fails).
    pub fn switch(&self) -> Arc<AtomicBool> {
        self.down.clone()
    }

    /// The count of operations asked of the store so far (failed ones too).
    pub fn operations(&self) -> Arc<AtomicU64> {
        self.operations.clone()
    }

    fn check(&self) -> Result<(), BackendError> {
        self.operations.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(BackendError::unavailable("scripted store outage"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl<S: Store> Store for FlakyStore<S> {
    async fn insert_if_absent(
        &self,
        k: &str,
        v: &[u8],
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        self.check()?;
        self.inner.insert_if_absent(k, v, ttl).await
    }
    async fn get(&self, k: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.check()?;
        self.inner.get(k).await
    }
    async fn put(&self, k: &str, v: &[u8], ttl: Duration) -> Result<(), BackendError> {
        self.check()?;
        self.inner.put(k, v, ttl).await
    }
    async fn take(&self, k: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.check()?;
        self.inner.take(k).await
    }
    async fn increment(&self, k: &str, ttl: Duration) -> Result<u64, BackendError> {
        self.check()?;
        self.inner.increment(k, ttl).await
    }
    async fn count(&self, k: &str) -> Result<u64, BackendError> {
        self.check()?;
        self.inner.count(k).await
    }
    async fn release(&self, k: &str) -> Result<(), BackendError> {
        self.check()?;
        self.inner.release(k).await
    }
    async fn claim(
        &self,
        marker: &str,
        ttl: Duration,
        then: Option<Entry<'_>>,
    ) -> Result<bool, BackendError> {
        self.check()?;
        self.inner.claim(marker, ttl, then).await
    }
    async fn take_once(&self, op: TakeOnce<'_>) -> Result<Taken, BackendError> {
        self.check()?;
        self.inner.take_once(op).await
    }
    fn usage(&self) -> Vec<KindUsage> {
        self.inner.usage()
    }
    fn round_trips(&self) -> Option<u64> {
        self.inner.round_trips()
    }
}
