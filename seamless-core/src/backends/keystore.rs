//! Where the service keys come from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use super::watched::WatchedFile;
use crate::error::BackendError;
use crate::kerberos::manifest::{self, RingManifest};
use crate::kerberos::{KeyRing, KeyState, PrincipalName, keytab};

/// Supplies the current key ring.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The key ring to validate tickets with now.
    async fn key_ring(&self) -> Result<Arc<KeyRing>, BackendError>;

    /// A newer ring than [`KeyStore::key_ring`] gave, read from the source now.
    ///
    /// The engine asks when a ticket names a key version the ring does not hold:
    /// a rollover has just changed the account's password in AD, and the next
    /// key may already be in the keytab. `Ok(None)`: nothing newer. Anyone can
    /// send such a ticket, so an implementation must rate-limit the work. The
    /// default has no source to re-read.
    async fn reload(&self) -> Result<Option<Arc<KeyRing>>, BackendError> {
        Ok(None)
    }
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

/// One alias written `ACCOUNT=SPN` (`HTTP/app@CONTOSO.COM=HTTP/app-lb@CONTOSO.COM`).
pub fn parse_alias(text: &str) -> Result<(PrincipalName, PrincipalName), String> {
    let (account, spn) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected ACCOUNT=SPN"))?;
    let parse = |p: &str| {
        p.trim()
            .parse::<PrincipalName>()
            .map_err(|e| format!("{text:?}: {p:?}: {e}"))
    };
    Ok((parse(account)?, parse(spn)?))
}

/// Keys from an MIT keytab file, re-read when the file changes.
///
/// The content is checked at most once per `check_interval` (default 5 s), and at
/// once (at most once per [`FORCED_RELOAD_GAP`]) when a ticket names a key version
/// the ring does not hold ([`KeyStore::reload`]), so a ticket issued the instant a
/// rollover changes the password is accepted. A changed file is parsed completely
/// before the ring is swapped; a file that fails to parse keeps the last good ring
/// and logs an error, so a half-written keytab never takes sign-in down.
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

    /// Opens `path` with SPN aliases and a change-check interval. The key-ring
    /// manifest `<path>.ring.json`, when present, supplies rollover states.
    pub fn open_with(
        path: impl AsRef<Path>,
        aliases: Aliases,
        check_interval: Duration,
    ) -> Result<Self, BackendError> {
        let path = path.as_ref();
        let companion = Some(manifest_path(path));
        let file = WatchedFile::open_with_companion(
            path,
            companion,
            "keytab",
            check_interval,
            move |bytes, manifest| ring(bytes, manifest, &aliases),
        )?;
        Ok(Self { file })
    }

    /// The ring now, re-reading the file if it changed (synchronous).
    pub fn current(&self) -> Arc<KeyRing> {
        self.file.current()
    }
}

/// How often at most [`KeytabFileKeyStore`] re-reads its file out of turn.
pub const FORCED_RELOAD_GAP: Duration = Duration::from_secs(1);

#[async_trait]
impl KeyStore for KeytabFileKeyStore {
    async fn key_ring(&self) -> Result<Arc<KeyRing>, BackendError> {
        Ok(self.current())
    }

    async fn reload(&self) -> Result<Option<Arc<KeyRing>>, BackendError> {
        Ok(self.file.reload_now(FORCED_RELOAD_GAP))
    }
}

/// Where the key-ring manifest of a keytab lives: `<keytab>.ring.json`.
pub fn manifest_path(keytab: &Path) -> PathBuf {
    let mut name = keytab.as_os_str().to_os_string();
    name.push(".ring.json");
    PathBuf::from(name)
}

/// Keys older than this get a warning when loaded (Microsoft: roll at least every 30 days).
const STALE_KEY_SECS: i64 = 30 * 86_400;

fn ring(bytes: &[u8], manifest: Option<&[u8]>, aliases: &Aliases) -> Result<KeyRing, BackendError> {
    let entries =
        keytab::parse(bytes).map_err(|e| BackendError::corrupt(e.to_string()).with_source(e))?;
    let manifest: Option<RingManifest> = manifest
        .map(|m| {
            serde_json::from_slice(m)
                .map_err(|e| BackendError::corrupt(format!("key-ring manifest: {e}")))
        })
        .transpose()?;
    let mut ring = manifest::key_ring(&entries, manifest.as_ref())
        .map_err(|e| BackendError::corrupt(e.to_string()).with_source(e))?;
    warn_if_stale(&ring, &entries);
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

fn warn_if_stale(ring: &KeyRing, entries: &[keytab::KeytabEntry]) {
    let now = crate::clock::unix_now();
    for account in ring.accounts() {
        let current = account
            .keys()
            .iter()
            .find(|k| k.state() == KeyState::Current);
        let Some(key) = current else { continue };
        let installed = entries
            .iter()
            .filter(|e| e.kvno == key.kvno())
            .map(|e| i64::from(e.timestamp))
            .max()
            .unwrap_or(now);
        if installed > 0 && now - installed > STALE_KEY_SECS {
            tracing::warn!(
                account = %account.names().first().map(ToString::to_string).unwrap_or_default(),
                kvno = key.kvno(),
                age_days = (now - installed) / 86_400,
                "service key older than 30 days: run `seamless ad rollover`"
            );
        }
    }
}
