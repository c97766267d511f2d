//! Second factors: the `MfaVerifier` trait and RFC 6238 TOTP.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use totp_rs::{Builder, Secret};
use zeroize::Zeroizing;

use super::directory::{MfaMethod, User};
use super::store::Store;
use crate::clock::Clock;
use crate::error::BackendError;

/// Checks a second-factor code.
#[async_trait]
pub trait MfaVerifier: Send + Sync {
    /// Whether `code` is a valid, unused code of `method` for `user`.
    async fn verify(
        &self,
        user: &User,
        method: MfaMethod,
        code: &str,
    ) -> Result<bool, BackendError>;
}

/// Where TOTP secrets come from.
#[async_trait]
pub trait TotpSecrets: Send + Sync {
    /// The base32 secret of `user`, if enrolled.
    async fn totp_secret(&self, user: &User) -> Result<Option<Zeroizing<String>>, BackendError>;
}

/// TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step). A code is accepted once:
/// the step it matched is recorded in the store until it can no longer match.
pub struct TotpVerifier {
    secrets: Arc<dyn TotpSecrets>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TotpVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpVerifier").finish_non_exhaustive()
    }
}

impl TotpVerifier {
    /// A verifier reading secrets from `secrets` and recording used steps in `store`.
    pub fn new(
        secrets: Arc<dyn TotpSecrets>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            secrets,
            store,
            clock,
        }
    }
}

/// The code for `secret_base32` at `unix_time` (for enrolment screens and tests).
pub fn totp_code(secret_base32: &str, unix_time: u64) -> Result<String, BackendError> {
    Ok(totp(secret_base32)?.generate(unix_time).to_string())
}

fn totp(secret_base32: &str) -> Result<totp_rs::Totp, BackendError> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|_| BackendError::corrupt("TOTP secret is not base32"))?;
    Builder::new()
        .with_secret(secret)
        .with_skew(1)
        .build()
        .map_err(|_| BackendError::corrupt("TOTP secret too short (at least 128 bits)"))
}

#[async_trait]
impl MfaVerifier for TotpVerifier {
    async fn verify(
        &self,
        user: &User,
        method: MfaMethod,
        code: &str,
    ) -> Result<bool, BackendError> {
        if method != MfaMethod::Totp || code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(false);
        }
        let Some(secret) = self.secrets.totp_secret(user).await? else {
            return Ok(false);
        };
        let now = self.clock.unix().max(0) as u64;
        let Some(step) = totp(&secret)?.check(code, now) else {
            return Ok(false);
        };
        // Three steps (±1) is the longest a code can match; remember it that long.
        let key = format!("totp-used:{}:{step}", user.id);
        self.store
            .insert_if_absent(&key, b"1", Duration::from_secs(90))
            .await
    }
}
