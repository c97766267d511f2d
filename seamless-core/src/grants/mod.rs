//! OAuth grants in the shared [`Store`]: authorization codes and refresh tokens.
//!
//! Both are opaque random values; only their SHA-256 is stored. A code is
//! single-use, short-lived, bound to its client and redirect URI, and checks PKCE
//! (S256). Every code starts a *family*; refresh tokens rotate within it. Using a
//! spent code or a rotated-out refresh token is treated as theft (RFC 6749 §10.5,
//! OAuth 2.0 Security BCP §4.14): the whole family is revoked.
//!
//! A family ends: after [`RefreshLifetimes::idle`] without a refresh, and in any
//! case [`RefreshLifetimes::absolute`] after the original authentication; rotation
//! never extends the absolute deadline. Whoever redeems a refresh token must look
//! the user up again before issuing anything (`Grants::peek_refresh` then
//! `Grants::redeem_refresh`, inside the crate).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::backends::Store;
use crate::clock::Clock;
use crate::kerberos::Entropy;
use crate::model::Completion;

/// How long an authorization code lives.
pub const CODE_TTL: Duration = Duration::from_secs(60);

/// Why a grant was refused (maps to OAuth `invalid_grant` / `invalid_client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// Unknown, expired, spent, revoked, or not this client's / redirect URI's.
    #[error("invalid grant: {0}")]
    InvalidGrant(&'static str),
    /// The PKCE verifier is missing, malformed or does not match.
    #[error("PKCE verification failed")]
    Pkce,
    /// The store could not answer; nothing was issued (fail closed).
    #[error("grant store unavailable")]
    StoreUnavailable,
}

/// What a code or refresh token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The finished sign-in.
    pub completion: Completion,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// OIDC nonce, for the ID token.
    pub nonce: Option<String>,
    /// Granted scope.
    pub scope: String,
    /// The family all tokens from one code share.
    pub family: String,
    /// When the family ends whatever happens (Unix seconds): the original
    /// authentication plus [`RefreshLifetimes::absolute`]. Grants stored before
    /// this field existed read as 0, already ended.
    #[serde(default)]
    pub family_ends_at: i64,
}

/// How long refresh-token families live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshLifetimes {
    /// A refresh token unused this long is forgotten (default 14 days).
    pub idle: Duration,
    /// No family outlives its original authentication by more than this, however
    /// often it is refreshed (default 90 days).
    pub absolute: Duration,
}

impl Default for RefreshLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(14 * 24 * 3600),
            absolute: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// What the authorization request carried besides the sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeRequest {
    /// The client.
    pub client_id: String,
    /// The (already exact-matched) redirect URI.
    pub redirect_uri: String,
    /// `code_challenge` (S256 only).
    pub code_challenge: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// Requested scope.
    pub scope: String,
}

#[derive(Serialize, Deserialize)]
struct StoredCode {
    grant: Grant,
    code_challenge: Option<String>,
}

/// Issues and redeems codes and refresh tokens.
#[derive(Clone)]
pub struct Grants {
    store: Arc<dyn Store>,
    entropy: Arc<dyn Entropy>,
    clock: Arc<dyn Clock>,
    lifetimes: RefreshLifetimes,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

fn hash(value: &str) -> String {
    crate::kerberos::crypto::hex(&Sha256::digest(value.as_bytes()))
}

/// `base64url(SHA-256(verifier))`, the S256 code challenge (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl Grants {
    /// Grants in `store`, with families living `lifetimes` by `clock`.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        entropy: Arc<dyn Entropy>,
        clock: Arc<dyn Clock>,
        lifetimes: RefreshLifetimes,
    ) -> Self {
        Self {
            store,
            entropy,
            clock,
            lifetimes,
        }
    }

    /// When a family started by `completion` must end (Unix seconds).
    pub(crate) fn family_deadline(&self, completion: &Completion) -> i64 {
        completion
            .auth
            .auth_time
            .saturating_add(self.lifetimes.absolute.as_secs() as i64)
    }

    /// Time left before `deadline`, or `None` once it has passed.
    fn left(&self, deadline: i64) -> Option<Duration> {
        let left = deadline.saturating_sub(self.clock.unix());
        (left > 0).then(|| Duration::from_secs(left as u64))
    }

    fn random(&self) -> Result<String, GrantError> {
        let mut bytes = [0u8; 32];
        self.entropy
            .fill(&mut bytes)
            .map_err(|_| GrantError::StoreUnavailable)?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Revokes every token of `family` (theft, or an account that may no longer
    /// sign in). The mark outlives any family.
    pub(crate) async fn revoke(&self, family: &str) -> Result<(), GrantError> {
        self.store
            .put(
                &format!("family-revoked:{family}"),
                b"1",
                self.lifetimes.absolute,
            )
            .await
            .map_err(|_| GrantError::StoreUnavailable)
    }

    /// Whether tokens of `family` have been revoked (for introspection too).
    pub(crate) async fn is_revoked(&self, family: &str) -> Result<bool, GrantError> {
        self.store
            .get(&format!("family-revoked:{family}"))
            .await
            .map(|v| v.is_some())
            .map_err(|_| GrantError::StoreUnavailable)
    }

    /// Issues an authorization code for a finished sign-in.
    pub(crate) async fn issue_code(
        &self,
        completion: &Completion,
        request: &CodeRequest,
    ) -> Result<String, GrantError> {
        let code = self.random()?;
        let grant = Grant {
            completion: completion.clone(),
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            nonce: request.nonce.clone(),
            scope: request.scope.clone(),
            family: self.random()?,
            family_ends_at: self.family_deadline(completion),
        };
        let stored = serde_json::to_vec(&StoredCode {
            grant,
            code_challenge: request.code_challenge.clone(),
        })
        .map_err(|_| GrantError::StoreUnavailable)?;
        self.store
            .put(&format!("code:{}", hash(&code)), &stored, CODE_TTL)
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        Ok(code)
    }

    /// Redeems a code once. A second redemption revokes everything issued from it.
    pub(crate) async fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<Grant, GrantError> {
        let h = hash(code);
        let raw = self
            .take_once(
                "code",
                &h,
                "authorization code already used; its tokens are revoked",
                "unknown or expired authorization code",
            )
            .await?;
        let stored: StoredCode =
            serde_json::from_slice(&raw).map_err(|_| GrantError::InvalidGrant("corrupt code"))?;
        self.store
            .put(
                &format!("code-spent:{h}"),
                stored.grant.family.as_bytes(),
                self.lifetimes.idle,
            )
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        let grant = stored.grant;
        if !bool::from(grant.client_id.as_bytes().ct_eq(client_id.as_bytes())) {
            return Err(GrantError::InvalidGrant(
                "code was issued to another client",
            ));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(GrantError::InvalidGrant(
                "redirect_uri differs from the authorization request",
            ));
        }
        match (&stored.code_challenge, code_verifier) {
            (None, None) => {}
            (Some(challenge), Some(verifier)) if valid_verifier(verifier) => {
                if !bool::from(
                    s256_challenge(verifier)
                        .as_bytes()
                        .ct_eq(challenge.as_bytes()),
                ) {
                    return Err(GrantError::Pkce);
                }
            }
            _ => return Err(GrantError::Pkce),
        }
        Ok(grant)
    }

    /// Issues a refresh token in `grant`'s family, living the idle timeout but
    /// never past the family's end.
    pub(crate) async fn issue_refresh(&self, grant: &Grant) -> Result<String, GrantError> {
        let left = self
            .left(grant.family_ends_at)
            .ok_or(GrantError::InvalidGrant(
                "the session reached its maximum lifetime",
            ))?;
        let token = self.random()?;
        let value = serde_json::to_vec(grant).map_err(|_| GrantError::StoreUnavailable)?;
        self.store
            .put(
                &format!("refresh:{}", hash(&token)),
                &value,
                left.min(self.lifetimes.idle),
            )
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        Ok(token)
    }

    /// The grant a refresh token stands for, without using it up: for looking the
    /// user up before [`Grants::redeem_refresh`], so an outage during that look-up
    /// does not cost the client its token. `None`: unknown or expired (a reused
    /// token is found out by `redeem_refresh`).
    pub(crate) async fn peek_refresh(&self, token: &str) -> Result<Option<Grant>, GrantError> {
        let raw = self
            .store
            .get(&format!("refresh:{}", hash(token)))
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        Ok(raw.and_then(|r| serde_json::from_slice(&r).ok()))
    }

    /// Takes the single-use value `{kind}:{h}`. When it is gone but its
    /// `{kind}-spent:{h}` marker is there, it was used before: its whole family
    /// is revoked (`reused`). Otherwise it never was or has expired (`unknown`).
    async fn take_once(
        &self,
        kind: &str,
        h: &str,
        reused: &'static str,
        unknown: &'static str,
    ) -> Result<Vec<u8>, GrantError> {
        let unavailable = |_| GrantError::StoreUnavailable;
        if let Some(raw) = self
            .store
            .take(&format!("{kind}:{h}"))
            .await
            .map_err(unavailable)?
        {
            return Ok(raw);
        }
        let spent = format!("{kind}-spent:{h}");
        if let Some(family) = self.store.get(&spent).await.map_err(unavailable)? {
            self.revoke(&String::from_utf8_lossy(&family)).await?;
            return Err(GrantError::InvalidGrant(reused));
        }
        Err(GrantError::InvalidGrant(unknown))
    }

    /// Uses a refresh token up and returns its grant. Presenting a token that was
    /// already rotated revokes the family. The caller re-checks the account and
    /// then issues the next token with [`Grants::issue_refresh`].
    pub(crate) async fn redeem_refresh(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<Grant, GrantError> {
        let h = hash(token);
        let raw = self
            .take_once(
                "refresh",
                &h,
                "refresh token reused; the session is revoked",
                "unknown or expired refresh token",
            )
            .await?;
        let grant: Grant = serde_json::from_slice(&raw)
            .map_err(|_| GrantError::InvalidGrant("corrupt refresh token"))?;
        // Reuse must be recognised for as long as the family could live.
        let spent_for = self
            .left(grant.family_ends_at)
            .unwrap_or(Duration::from_secs(1));
        self.store
            .put(
                &format!("refresh-spent:{h}"),
                grant.family.as_bytes(),
                spent_for,
            )
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        if self.is_revoked(&grant.family).await? {
            return Err(GrantError::InvalidGrant("session revoked"));
        }
        if !bool::from(grant.client_id.as_bytes().ct_eq(client_id.as_bytes())) {
            return Err(GrantError::InvalidGrant(
                "refresh token was issued to another client",
            ));
        }
        if self.left(grant.family_ends_at).is_none() {
            return Err(GrantError::InvalidGrant(
                "the session reached its maximum lifetime",
            ));
        }
        Ok(grant)
    }

    /// [`Grants::redeem_refresh`] then [`Grants::issue_refresh`] with the same
    /// grant, for the tests (the token endpoint re-checks the account between).
    #[cfg(test)]
    pub(crate) async fn rotate_refresh(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<(Grant, String), GrantError> {
        let grant = self.redeem_refresh(token, client_id).await?;
        let next = self.issue_refresh(&grant).await?;
        Ok((grant, next))
    }
}

#[cfg(test)]
mod tests;
