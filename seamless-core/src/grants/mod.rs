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

use crate::backends::{Entry, Store, TakeOnce, Taken};
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

/// The entry of a code or a refresh token: the same shape for both, since
/// the family's first refresh token is a copy of its code's entry, made in the
/// step that takes the code (the challenge is then spent and never read again).
#[derive(Serialize, Deserialize)]
struct StoredCode {
    grant: Grant,
    #[serde(default)]
    code_challenge: Option<String>,
}

/// [`StoredCode`] borrowed, to write a new code without copying the sign-in.
#[derive(Serialize)]
struct StoredCodeRef<'a> {
    grant: GrantRef<'a>,
    code_challenge: Option<&'a str>,
}

/// [`Grant`] borrowed: the same fields, written the same way.
#[derive(Serialize)]
struct GrantRef<'a> {
    completion: &'a Completion,
    client_id: &'a str,
    redirect_uri: &'a str,
    nonce: Option<&'a str>,
    scope: &'a str,
    family: &'a str,
    family_ends_at: i64,
}

/// A single-use value spent by issuing a code ([`Grants::issue_code`]): the
/// marker's key and lifetime, and the family the code starts, which is the
/// marker's hash tag.
#[derive(Debug, Clone)]
pub(crate) struct Spend {
    pub(crate) marker: String,
    pub(crate) ttl: Duration,
    pub(crate) family: String,
}

/// The key of `kind`'s entry `h` in `family`. The family is the key's hash tag,
/// so a Redis Cluster keeps every entry of a family in one slot and each step
/// on them is one atomic script.
fn key(kind: &str, family: &str, h: &str) -> String {
    format!("{kind}:{{{family}}}{h}")
}

/// The key of `family`'s revocation mark.
fn revoked_key(family: &str) -> String {
    format!("family-revoked:{{{family}}}")
}

/// The family of a presented code or refresh token (`family.secret`), when it
/// is well formed. Nothing else is trusted from it: its entry is found by the
/// hash of the whole token.
fn family_of(token: &str) -> Option<&str> {
    let (family, secret) = token.split_once('.')?;
    let ok = (1..=64).contains(&family.len())
        && !secret.is_empty()
        && family
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(family)
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
            .put(&revoked_key(family), b"1", self.lifetimes.absolute)
            .await
            .map_err(|_| GrantError::StoreUnavailable)
    }

    /// Whether tokens of `family` have been revoked.
    #[cfg(test)]
    pub(crate) async fn is_revoked(&self, family: &str) -> Result<bool, GrantError> {
        self.store
            .get(&revoked_key(family))
            .await
            .map(|v| v.is_some())
            .map_err(|_| GrantError::StoreUnavailable)
    }

    /// Issues an authorization code for a finished sign-in. With `spend`, the
    /// single-use value the sign-in came with (a sign-in token) is spent in the
    /// same store step, and the code starts that value's family: a value spent
    /// before issues nothing (`InvalidGrant`).
    pub(crate) async fn issue_code(
        &self,
        completion: &Completion,
        request: &CodeRequest,
        spend: Option<&Spend>,
    ) -> Result<String, GrantError> {
        let family = match spend {
            Some(spend) => spend.family.clone(),
            None => self.random()?,
        };
        let code = format!("{family}.{}", self.random()?);
        let stored = serde_json::to_vec(&StoredCodeRef {
            grant: GrantRef {
                completion,
                client_id: &request.client_id,
                redirect_uri: &request.redirect_uri,
                nonce: request.nonce.as_deref(),
                scope: &request.scope,
                family: &family,
                family_ends_at: self.family_deadline(completion),
            },
            code_challenge: request.code_challenge.as_deref(),
        })
        .map_err(|_| GrantError::StoreUnavailable)?;
        let entry = Entry {
            key: &key("code", &family, &hash(&code)),
            value: &stored,
            ttl: CODE_TTL,
        };
        let stored = match spend {
            Some(spend) => {
                self.store
                    .claim(&spend.marker, spend.ttl, Some(entry))
                    .await
            }
            None => self
                .store
                .put(entry.key, entry.value, entry.ttl)
                .await
                .map(|()| true),
        };
        match stored {
            Ok(true) => Ok(code),
            Ok(false) => Err(GrantError::InvalidGrant("sign-in token already used")),
            Err(_) => Err(GrantError::StoreUnavailable),
        }
    }

    /// Redeems a code once, and returns its grant with the family's first
    /// refresh token (stored in the same step). A second redemption revokes
    /// everything issued from the code.
    pub(crate) async fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<(Grant, String), GrantError> {
        const UNKNOWN: &str = "unknown or expired authorization code";
        let family = family_of(code).ok_or(GrantError::InvalidGrant(UNKNOWN))?;
        let refresh = format!("{family}.{}", self.random()?);
        let kept = key("refresh", family, &hash(&refresh));
        let raw = self
            .take_once(
                "code",
                family,
                code,
                Some((&kept, self.lifetimes.idle)),
                // Past the idle timeout nothing from the code is alive.
                self.lifetimes.idle,
                (
                    "authorization code already used; its tokens are revoked",
                    UNKNOWN,
                ),
            )
            .await?;
        let checked = serde_json::from_slice::<StoredCode>(&raw)
            .map_err(|_| GrantError::InvalidGrant("corrupt code"))
            .and_then(|stored| self.check_code(stored, client_id, redirect_uri, code_verifier));
        match checked {
            Ok(grant) => Ok((grant, refresh)),
            Err(e) => {
                // No token goes out: the one kept for it goes too.
                let _ = self.store.take(&kept).await;
                Err(e)
            }
        }
    }

    /// What a taken code must satisfy before its tokens go out.
    fn check_code(
        &self,
        stored: StoredCode,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<Grant, GrantError> {
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
        if self.left(grant.family_ends_at).is_none() {
            return Err(GrantError::InvalidGrant(
                "the session reached its maximum lifetime",
            ));
        }
        Ok(grant)
    }

    /// How long the next refresh token of `grant` lives: the idle timeout, never
    /// past the family's end; `None` once the family has ended.
    fn refresh_ttl(&self, grant: &Grant) -> Option<Duration> {
        self.left(grant.family_ends_at)
            .map(|left| left.min(self.lifetimes.idle))
    }

    /// Issues a refresh token in `grant`'s family, living the idle timeout but
    /// never past the family's end.
    pub(crate) async fn issue_refresh(&self, grant: &Grant) -> Result<String, GrantError> {
        let ttl = self.refresh_ttl(grant).ok_or(GrantError::InvalidGrant(
            "the session reached its maximum lifetime",
        ))?;
        let token = format!("{}.{}", grant.family, self.random()?);
        // The shape of `StoredCode`, borrowed.
        #[derive(Serialize)]
        struct Stored<'a> {
            grant: &'a Grant,
        }
        let value =
            serde_json::to_vec(&Stored { grant }).map_err(|_| GrantError::StoreUnavailable)?;
        self.store
            .put(&key("refresh", &grant.family, &hash(&token)), &value, ttl)
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        Ok(token)
    }

    /// The grant a refresh token stands for, without using it up: for looking the
    /// user up before [`Grants::redeem_refresh`], so an outage during that look-up
    /// does not cost the client its token. `None`: unknown or expired (a reused
    /// token is found out by `redeem_refresh`).
    pub(crate) async fn peek_refresh(&self, token: &str) -> Result<Option<Grant>, GrantError> {
        let Some(family) = family_of(token) else {
            return Ok(None);
        };
        let raw = self
            .store
            .get(&key("refresh", family, &hash(token)))
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        Ok(raw.and_then(|r| {
            serde_json::from_slice::<StoredCode>(&r)
                .ok()
                .map(|s| s.grant)
        }))
    }

    /// Takes the single-use `token` of `kind` in `family` in one store step,
    /// keeping a copy as `keep` (the next refresh token). When it is gone but
    /// its `{kind}-spent` marker is there, it was used before: its whole family
    /// is revoked (`reused`). Otherwise it never was or has expired (`unknown`).
    async fn take_once(
        &self,
        kind: &str,
        family: &str,
        token: &str,
        keep: Option<(&str, Duration)>,
        spent_for: Duration,
        (reused, unknown): (&'static str, &'static str),
    ) -> Result<Vec<u8>, GrantError> {
        let h = hash(token);
        let taken = self
            .store
            .take_once(TakeOnce {
                key: &key(kind, family, &h),
                spent: Entry {
                    key: &key(&format!("{kind}-spent"), family, &h),
                    value: family.as_bytes(),
                    ttl: spent_for,
                },
                revoked: (&revoked_key(family), self.lifetimes.absolute),
                keep_as: keep,
            })
            .await
            .map_err(|_| GrantError::StoreUnavailable)?;
        match taken {
            Taken::Value(raw) => Ok(raw),
            Taken::Revoked => Err(GrantError::InvalidGrant("session revoked")),
            Taken::Reused => Err(GrantError::InvalidGrant(reused)),
            Taken::Unknown => Err(GrantError::InvalidGrant(unknown)),
        }
    }

    /// Uses a refresh token up and returns its grant. Presenting a token that was
    /// already rotated revokes the family. The caller re-checks the account
    /// before anything goes out. With `next` (the grant [`Grants::peek_refresh`]
    /// saw), the next refresh token is stored in the same step and returned;
    /// otherwise the caller issues it with [`Grants::issue_refresh`].
    pub(crate) async fn redeem_refresh(
        &self,
        token: &str,
        client_id: &str,
        next: Option<&Grant>,
    ) -> Result<(Grant, Option<String>), GrantError> {
        const UNKNOWN: &str = "unknown or expired refresh token";
        let family = family_of(token).ok_or(GrantError::InvalidGrant(UNKNOWN))?;
        let peeked = next.filter(|g| g.family == family);
        let spent_for = peeked
            .and_then(|g| self.left(g.family_ends_at))
            .unwrap_or(self.lifetimes.absolute);
        let next = match peeked.map(|g| self.refresh_ttl(g)) {
            Some(Some(ttl)) => {
                let token = format!("{family}.{}", self.random()?);
                let key = key("refresh", family, &hash(&token));
                Some((token, key, ttl))
            }
            _ => None,
        };
        let raw = self
            .take_once(
                "refresh",
                family,
                token,
                next.as_ref().map(|(_, key, ttl)| (key.as_str(), *ttl)),
                // Reuse must be recognised for as long as the family could
                // live: until its end when the peeked grant tells it.
                spent_for,
                ("refresh token reused; the session is revoked", UNKNOWN),
            )
            .await?;
        let checked = serde_json::from_slice::<StoredCode>(&raw)
            .map_err(|_| GrantError::InvalidGrant("corrupt refresh token"))
            .and_then(|StoredCode { grant, .. }| {
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
            });
        match checked {
            Ok(grant) => Ok((grant, next.map(|(token, _, _)| token))),
            Err(e) => {
                if let Some((_, key, _)) = &next {
                    let _ = self.store.take(key).await;
                }
                Err(e)
            }
        }
    }

    /// [`Grants::redeem_refresh`] then [`Grants::issue_refresh`] with the same
    /// grant, for the tests (the token endpoint re-checks the account between).
    #[cfg(test)]
    pub(crate) async fn rotate_refresh(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<(Grant, String), GrantError> {
        let (grant, _) = self.redeem_refresh(token, client_id, None).await?;
        let next = self.issue_refresh(&grant).await?;
        Ok((grant, next))
    }
}

#[cfg(test)]
mod tests;
