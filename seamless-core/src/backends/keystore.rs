//! Where the service keys come from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::kerberos::keytab::{self, KeytabError};
use crate::kerberos::{KeyRing, PrincipalName};

/// What kind of failure a key store had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStoreErrorKind {
    /// The source could not be reached or read.
    Unavailable,
    /// The source was read but is not a valid key source.
    Corrupt,
}

/// A key store failure, with its cause.
#[derive(Debug, thiserror::Error)]
#[error("key store {kind:?}: {message}")]
pub struct KeyStoreError {
    /// The kind.
    pub kind: KeyStoreErrorKind,
    /// What happened, without key material.
    pub message: String,
    /// The underlying error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Supplies the current key ring.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The key ring to validate tickets with now.
    async fn key_ring(&self) -> Result<Arc<KeyRing>, KeyStoreError>;
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
    async fn key_ring(&self) -> Result<Arc<KeyRing>, KeyStoreError> {
        Ok(self.current())
    }
}

/// Extra principal names for a keytab account (SPNs sharing the account's key).
pub type Aliases = Vec<(PrincipalName, PrincipalName)>;

/// What the file held when last loaded: a digest of its bytes. Keytabs are a few
/// KiB, so reading one per check is cheap, and unlike (mtime, size) it cannot
/// miss a same-size file replaced within one timestamp tick.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp([u8; 32]);

struct Loaded {
    ring: Arc<KeyRing>,
    stamp: Option<Stamp>,
    checked: Instant,
}

/// Keys from an MIT keytab file, re-read when the file changes.
///
/// The file's content is checked at most once per `check_interval` (default 5 s). A changed file is parsed completely before the
/// ring is swapped; a file that fails to parse keeps the last good ring and logs an
/// error, so a half-written keytab never takes sign-in down.
pub struct KeytabFileKeyStore {
    path: PathBuf,
    aliases: Aliases,
    check_interval: Duration,
    state: Mutex<Loaded>,
}

impl fmt::Debug for KeytabFileKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeytabFileKeyStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl KeytabFileKeyStore {
    /// Opens `path`; fails if the keytab cannot be read now.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KeyStoreError> {
        Self::open_with(path, Aliases::new(), Duration::from_secs(5))
    }

    /// Opens `path` with SPN aliases and a change-check interval.
    pub fn open_with(
        path: impl AsRef<Path>,
        aliases: Aliases,
        check_interval: Duration,
    ) -> Result<Self, KeyStoreError> {
        let path = path.as_ref().to_path_buf();
        let (ring, stamp) = load(&path, &aliases)?;
        Ok(Self {
            path,
            aliases,
            check_interval,
            state: Mutex::new(Loaded {
                ring: Arc::new(ring),
                stamp: Some(stamp),
                checked: Instant::now(),
            }),
        })
    }

    /// The ring now, re-reading the file if it changed (synchronous).
    pub fn current(&self) -> Arc<KeyRing> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() < self.check_interval {
            return state.ring.clone();
        }
        state.checked = Instant::now();
        let stamp = stamp_of(&self.path).ok();
        if stamp.is_some() && stamp == state.stamp {
            return state.ring.clone();
        }
        match load(&self.path, &self.aliases) {
            Ok((ring, stamp)) => {
                tracing::info!(path = %self.path.display(), accounts = ring.accounts().len(), "keytab reloaded");
                state.ring = Arc::new(ring);
                state.stamp = Some(stamp);
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "keytab reload failed; keeping the last good keys");
                state.stamp = stamp;
            }
        }
        state.ring.clone()
    }
}

#[async_trait]
impl KeyStore for KeytabFileKeyStore {
    async fn key_ring(&self) -> Result<Arc<KeyRing>, KeyStoreError> {
        Ok(self.current())
    }
}

fn stamp_of(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    if meta.len() > keytab::MAX_KEYTAB_BYTES as u64 {
        return Err(std::io::Error::other("keytab too large"));
    }
    Ok(Stamp(Sha256::digest(std::fs::read(path)?).into()))
}

fn load(path: &Path, aliases: &Aliases) -> Result<(KeyRing, Stamp), KeyStoreError> {
    let unavailable = |e: std::io::Error| KeyStoreError {
        kind: KeyStoreErrorKind::Unavailable,
        message: format!("cannot read keytab {}", path.display()),
        source: Some(Box::new(e)),
    };
    let corrupt =
        |message: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| KeyStoreError {
            kind: KeyStoreErrorKind::Corrupt,
            message,
            source,
        };
    let meta = std::fs::metadata(path).map_err(unavailable)?;
    if meta.len() > keytab::MAX_KEYTAB_BYTES as u64 {
        return Err(corrupt(
            format!("keytab {} is too large", path.display()),
            Some(Box::new(KeytabError::TooLarge)),
        ));
    }
    let bytes = std::fs::read(path).map_err(unavailable)?;
    let stamp = Stamp(Sha256::digest(&bytes).into());
    let entries = keytab::parse(&bytes).map_err(|e| {
        corrupt(
            format!("keytab {} is invalid", path.display()),
            Some(Box::new(e)),
        )
    })?;
    let mut ring = KeyRing::from_keytab(&entries).map_err(|e| {
        corrupt(
            format!("keytab {} holds an unusable key", path.display()),
            Some(Box::new(e)),
        )
    })?;
    if ring.accounts().is_empty() {
        return Err(corrupt(
            format!("keytab {} holds no usable keys", path.display()),
            None,
        ));
    }
    for (account, alias) in aliases {
        if !ring.add_alias(account, alias.clone()) {
            return Err(corrupt(
                format!(
                    "keytab {} has no account {account} for alias {alias}",
                    path.display()
                ),
                None,
            ));
        }
    }
    Ok((ring, stamp))
}
