//! Where the service keys come from.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use super::watched::WatchedFile;
use crate::error::BackendError;
use crate::kerberos::keytab;
use crate::kerberos::{KeyRing, PrincipalName};

/// Supplies the current key ring.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The key ring to validate tickets with now.
    async fn key_ring(&self) -> Result<Arc<KeyRing>, BackendError>;
}

/// A key ring held in memory, replaceable at run time.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    ring: RwLock<Arc<KeyRing>>,
}

impl MemoryKeyStore {
    /// A store holding `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self {
            ring: RwLock::new(Arc::new(ring)),
        }
    }

    /// Atomically replaces the ring.
    pub fn replace(&self, ring: KeyRing) {
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
    }

    /// The ring now (synchronous).
    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn key_ring(&self) -> Result<Arc<KeyRing>, BackendError> {
        Ok(self.current())
    }
}

/// Extra principal names for a keytab account: (account, SPN sharing its key).
pub type Aliases = Vec<(PrincipalName, PrincipalName)>;

/// Keys from an MIT keytab file, re-read when the file changes.
///
/// The content is checked at most once per `check_interval` (default 5 s). A
/// changed file is parsed completely before the ring is swapped; a file that fails
/// to parse keeps the last good ring and logs an error, so a half-written keytab
/// never takes sign-in down.
pub struct KeytabFileKeyStore {
    file: WatchedFile<KeyRing>,
}

impl fmt::Debug for KeytabFileKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeytabFileKeyStore").finish_non_exhaustive()
    }
}

impl KeytabFileKeyStore {
    /// Opens `path`; fails if the keytab cannot be read now.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        Self::open_with(path, Aliases::new(), Duration::from_secs(5))
    }

    /// Opens `path` with SPN aliases and a change-check interval.
    pub fn open_with(
        path: impl AsRef<Path>,
        aliases: Aliases,
        check_interval: Duration,
    ) -> Result<Self, BackendError> {
        let file = WatchedFile::open(path.as_ref(), "keytab", check_interval, move |bytes| {
            ring(bytes, &aliases)
        })?;
        Ok(Self { file })
    }

    /// The ring now, re-reading the file if it changed (synchronous).
    pub fn current(&self) -> Arc<KeyRing> {
        self.file.current()
    }
}

#[async_trait]
impl KeyStore for KeytabFileKeyStore {
    async fn key_ring(&self) -> Result<Arc<KeyRing>, BackendError> {
        Ok(self.current())
    }
}

fn ring(bytes: &[u8], aliases: &Aliases) -> Result<KeyRing, BackendError> {
    let entries =
        keytab::parse(bytes).map_err(|e| BackendError::corrupt(e.to_string()).with_source(e))?;
    let mut ring = KeyRing::from_keytab(&entries)
        .map_err(|e| BackendError::corrupt("unusable key").with_source(e))?;
    if ring.accounts().is_empty() {
        return Err(BackendError::corrupt("no usable keys"));
    }
    for (account, alias) in aliases {
        if !ring.add_alias(account, alias.clone()) {
            return Err(BackendError::corrupt(format!(
                "no account {account} for alias {alias}"
            )));
        }
    }
    Ok(ring)
}
