//! Password verification for the fallback form.

use std::fmt;
use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use async_trait::async_trait;
use zeroize::Zeroizing;

use super::directory::User;
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

/// Argon2 hashes (password hash sync).
pub struct Argon2Verifier {
    hashes: Arc<dyn PasswordHashes>,
}

impl fmt::Debug for Argon2Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Verifier").finish_non_exhaustive()
    }
}

impl Argon2Verifier {
    /// A verifier reading hashes from `hashes`.
    pub fn new(hashes: Arc<dyn PasswordHashes>) -> Self {
        Self { hashes }
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
        let (hash, real) = match &stored {
            Some(h) => (h.as_str(), true),
            None => (decoy(), false),
        };
        let parsed = PasswordHash::new(hash)
            .map_err(|_| BackendError::corrupt("password hash is not in PHC format"))?;
        let ok = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(ok && real)
    }
}
