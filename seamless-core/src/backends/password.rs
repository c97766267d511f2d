//! Password verification for the fallback form.

use std::fmt;
use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use async_trait::async_trait;
use zeroize::Zeroizing;

use super::directory::User;
use super::hash_pool::HashPool;
use crate::error::BackendError;

/// A password as typed: zeroized on drop, never printed.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a typed password.
    pub fn new(p: impl Into<String>) -> Self {
        Self(Zeroizing::new(p.into()))
    }

    /// The text. Named so that every use stands out in review.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Checks passwords.
#[async_trait]
pub trait PasswordVerifier: Send + Sync {
    /// Whether `password` is `user`'s. `user` is `None` when no such user exists:
    /// implementations must then spend about the same time and return false, so
    /// timing does not reveal which user names exist.
    async fn verify(&self, user: Option<&User>, password: &Password) -> Result<bool, BackendError>;
}

/// Where password hashes come from.
#[async_trait]
pub trait PasswordHashes: Send + Sync {
    /// The PHC-format hash (`$argon2id$...`) of `user`'s password, if any.
    async fn password_hash(&self, user: &User) -> Result<Option<Zeroizing<String>>, BackendError>;
}

/// Argon2 hashes (password hash sync). Each check runs on a small pool of
/// threads of its own, never on the async worker that called it, so password
/// posts cannot stall the process's other requests; when that pool's queue is
/// full the check answers "unavailable" at once (fail closed, bounded cost).
pub struct Argon2Verifier {
    hashes: Arc<dyn PasswordHashes>,
    pool: Arc<HashPool>,
}

impl fmt::Debug for Argon2Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Verifier").finish_non_exhaustive()
    }
}

impl Argon2Verifier {
    /// A verifier reading hashes from `hashes`, checking on the process's shared
    /// hashing pool (one thread per core, at most 4; 256 checks may wait).
    pub fn new(hashes: Arc<dyn PasswordHashes>) -> Self {
        static SHARED: OnceLock<Arc<HashPool>> = OnceLock::new();
        let pool = SHARED
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                Arc::new(HashPool::new(cores.min(4), 256))
            })
            .clone();
        Self { hashes, pool }
    }

    /// A verifier with a pool of its own: `threads` checks at once, `queue` more
    /// waiting, the rest refused.
    pub fn with_pool(hashes: Arc<dyn PasswordHashes>, threads: usize, queue: usize) -> Self {
        Self {
            hashes,
            pool: Arc::new(HashPool::new(threads, queue)),
        }
    }
}

/// Hashes `password` with Argon2id and a random salt (for directory files).
pub fn hash_password(password: &str) -> Result<String, BackendError> {
    let hash: Result<PasswordHash, _> = Argon2::default().hash_password(password.as_bytes());
    hash.map(|h| h.to_string())
        .map_err(|e| BackendError::unavailable(format!("cannot hash password: {e}")))
}

/// A hash of a random password, checked against when the user does not exist.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 16];
        let _ = getrandom::fill(&mut random);
        let text = crate::kerberos::crypto::hex(&random);
        hash_password(&text).unwrap_or_default()
    })
}

#[async_trait]
impl PasswordVerifier for Argon2Verifier {
    async fn verify(&self, user: Option<&User>, password: &Password) -> Result<bool, BackendError> {
        let stored = match user {
            Some(u) => self.hashes.password_hash(u).await?,
            None => None,
        };
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| Zeroizing::new(decoy().to_string()));
        let typed = password.clone();
        let checked = self
            .pool
            .run(move || -> Result<bool, BackendError> {
                let parsed = PasswordHash::new(&hash)
                    .map_err(|_| BackendError::corrupt("password hash is not in PHC format"))?;
                Ok(Argon2::default()
                    .verify_password(typed.expose_secret().as_bytes(), &parsed)
                    .is_ok())
            })
            .map_err(|_| BackendError::unavailable("password checks are queued to the limit"))?
            .await
            .ok_or_else(|| BackendError::unavailable("password check failed to run"))??;
        Ok(checked && real)
    }
}
