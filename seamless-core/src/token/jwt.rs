//! ID tokens and access tokens (RFC 9068 `at+jwt`), signed with the current key
//! of the client's algorithm; access-token verification for the middleware.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};

use super::keys::TokenType;
use super::{KeyError, SigningAlgorithm, SigningKeys};
use crate::backends::Method;
use crate::backends::watched::WatchedFile;
use crate::model::Completion;

/// Token lifetimes and names.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss`: the issuer URL, exactly as discovery publishes it (no trailing
    /// slash). Empty: the engine's [`WebConfig::issuer`](crate::http::WebConfig::issuer).
    pub issuer: String,
    /// ID token lifetime.
    pub id_token_ttl: Duration,
    /// Access token lifetime. Access tokens are not revocable; keep this short.
    pub access_token_ttl: Duration,
    /// The `aud` of access tokens: the API that accepts them (default: the issuer).
    pub api_audience: Option<String>,
    /// More groups than this are left out of tokens, which then say `hasgroups`
    /// (as Entra does), so a user in many groups cannot make tokens huge.
    pub max_groups: usize,
    /// How often a key file (see [`TokenIssuer::from_file`]) is checked for changes.
    pub key_file_check: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            id_token_ttl: Duration::from_secs(3600),
            access_token_ttl: Duration::from_secs(600),
            api_audience: None,
            max_groups: 150,
            key_file_check: Duration::from_secs(10),
        }
    }
}

/// Why a token could not be made or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No key for the algorithm.
    #[error("no signing key for {0}")]
    NoKey(&'static str),
    /// Signing failed.
    #[error("signing failed")]
    Signing,
    /// The token is malformed, not ours, badly signed, expired or for another API.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
}

/// Claims both token kinds carry about the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// Stable subject: the directory's immutable id.
    pub sub: String,
    /// When the user authenticated (the ticket's authtime for Kerberos).
    pub auth_time: i64,
    /// How: `kerberos`, `pwd`, `otp`, and `mfa` with two factors (RFC 8176).
    pub amr: Vec<String>,
    /// User principal name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub upn: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The on-premises SID (Entra's claim name; OIDC's `sid` means the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onprem_sid: Option<String>,
    /// Groups, at most [`TokenSettings::max_groups`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// True when the user has more groups than fit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hasgroups: bool,
}

impl UserClaims {
    /// The claims for a finished sign-in.
    pub fn from_completion(completion: &Completion, max_groups: usize) -> Self {
        UserClaimsRef::new(completion, max_groups).into()
    }
}

/// [`UserClaims`] borrowed from a sign-in, to sign or seal without copying it:
/// the same claims, written the same way. The rules (which groups, which `amr`)
/// are here only; [`UserClaims::from_completion`] copies this.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UserClaimsRef<'a> {
    sub: &'a str,
    auth_time: i64,
    amr: Amr<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    upn: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    onprem_sid: Option<&'a crate::kerberos::Sid>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub(crate) groups: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) hasgroups: bool,
}

impl<'a> UserClaimsRef<'a> {
    /// The claims for a finished sign-in: at most `max_groups` groups, and
    /// `hasgroups` instead of any when there are more.
    pub(crate) fn new(completion: &'a Completion, max_groups: usize) -> Self {
        let user = &completion.user;
        let (groups, hasgroups) = if user.groups.len() > max_groups {
            (&[][..], true)
        } else {
            (&user.groups[..], false)
        };
        Self {
            sub: &user.id,
            auth_time: completion.auth.auth_time,
            amr: Amr(&completion.auth.methods),
            upn: &user.upn,
            name: &user.display_name,
            onprem_sid: user.sid.as_ref(),
            groups,
            hasgroups,
        }
    }
}

impl From<UserClaimsRef<'_>> for UserClaims {
    fn from(user: UserClaimsRef<'_>) -> Self {
        Self {
            sub: user.sub.to_string(),
            auth_time: user.auth_time,
            amr: user.amr.names().map(String::from).collect(),
            upn: user.upn.to_string(),
            name: user.name.to_string(),
            onprem_sid: user.onprem_sid.map(ToString::to_string),
            groups: user.groups.to_vec(),
            hasgroups: user.hasgroups,
        }
    }
}

/// RFC 8176 method references for the factors used, written as a list.
#[derive(Debug, Clone, Copy)]
struct Amr<'a>(&'a [Method]);

impl Amr<'_> {
    /// Each factor's name, then `mfa` when there were two or more.
    fn names(self) -> impl Iterator<Item = &'static str> {
        self.0
            .iter()
            .map(|m| match m {
                Method::Kerberos => "kerberos",
                Method::Password => "pwd",
                Method::Otp => "otp",
            })
            .chain((self.0.len() > 1).then_some("mfa"))
    }
}

impl Serialize for Amr<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

/// RFC 8176 method references for the factors used.
pub fn amr(methods: &[Method]) -> Vec<String> {
    Amr(methods).names().map(String::from).collect()
}

/// An ID token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Issuer.
    pub iss: String,
    /// The client.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// The authorization request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The user.
    #[serde(flatten)]
    pub user: UserClaims,
}

/// An access token's claims (RFC 9068).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The API.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before (we never set it; a token that carries one in the future is
    /// refused until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique id.
    pub jti: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Granted scope.
    #[serde(default)]
    pub scope: String,
    /// The user.
    #[serde(flatten)]
    pub user: UserClaims,
}

/// [`IdClaims`] borrowed, for signing.
#[derive(Serialize)]
struct IdClaimsRef<'a> {
    iss: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(flatten)]
    user: UserClaimsRef<'a>,
}

/// [`AccessClaims`] borrowed, for signing.
#[derive(Serialize)]
struct AccessClaimsRef<'a> {
    iss: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    client_id: &'a str,
    scope: &'a str,
    #[serde(flatten)]
    user: UserClaimsRef<'a>,
}

impl AccessClaimsRef<'_> {
    /// The same claims, owned.
    fn into_owned(self) -> AccessClaims {
        AccessClaims {
            iss: self.iss.to_string(),
            aud: self.aud.to_string(),
            exp: self.exp,
            iat: self.iat,
            nbf: None,
            jti: self.jti.to_string(),
            client_id: self.client_id.to_string(),
            scope: self.scope.to_string(),
            user: self.user.into(),
        }
    }
}

/// Signs and verifies tokens with the current key set; keys can be swapped live,
/// or follow a key file.
pub struct TokenIssuer {
    settings: TokenSettings,
    keys: RwLock<Arc<SigningKeys>>,
    file: Option<WatchedFile<SigningKeys>>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("settings", &self.settings)
            .field("keys", &self.keys())
            .finish()
    }
}

impl TokenIssuer {
    /// An issuer with these settings and keys.
    pub fn new(settings: TokenSettings, keys: SigningKeys) -> Self {
        super::install_provider();
        Self {
            settings,
            keys: RwLock::new(Arc::new(keys)),
            file: None,
        }
    }

    /// An issuer whose keys follow a key file: created with a key per algorithm in
    /// `algs` if absent (see [`SigningKeys::load_or_generate`]), then re-read when it
    /// changes (checked every [`TokenSettings::key_file_check`]), so `seamless signing-keys rotate`
    /// takes effect without a restart. A file that stops parsing keeps the last
    /// good keys.
    pub fn from_file(
        settings: TokenSettings,
        path: &Path,
        algs: &[SigningAlgorithm],
        now: i64,
    ) -> Result<Self, KeyError> {
        SigningKeys::load_or_generate(path, algs, now)?;
        let name = path.display().to_string();
        let watched = WatchedFile::open(
            path,
            "signing key file",
            settings.key_file_check,
            move |bytes| {
                SigningKeys::from_json(bytes, &name)
                    .map_err(|e| crate::error::BackendError::corrupt(e.to_string()))
            },
        )
        .map_err(|e| KeyError::Invalid {
            kid: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut issuer = Self::new(settings, SigningKeys::default());
        issuer.file = Some(watched);
        Ok(issuer)
    }

    /// The settings.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The current keys.
    pub fn keys(&self) -> Arc<SigningKeys> {
        if let Some(file) = &self.file {
            return file.current();
        }
        self.keys
            .read()
            .map(|k| k.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Swaps in a new key set (after a rotation). No effect on an issuer that
    /// follows a key file: rotate the file instead.
    pub fn replace_keys(&self, keys: SigningKeys) {
        let mut guard = self.keys.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(keys);
    }

    /// The audience access tokens carry.
    pub fn api_audience(&self) -> &str {
        self.settings
            .api_audience
            .as_deref()
            .unwrap_or(&self.settings.issuer)
    }

    fn sign<C: Serialize>(
        &self,
        alg: SigningAlgorithm,
        typ: TokenType,
        claims: &C,
    ) -> Result<String, TokenError> {
        let keys = self.keys();
        let key = keys.signer(alg).ok_or(TokenError::NoKey(alg.name()))?;
        let header = key.header(typ);
        let claims = serde_json::to_vec(claims).map_err(|_| TokenError::Signing)?;
        let mut message = String::with_capacity(header.len() + claims.len() * 4 / 3 + 350);
        message.push_str(header);
        message.push('.');
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(claims, &mut message);
        let signature = super::sign(key, message.as_bytes()).map_err(|_| TokenError::Signing)?;
        message.push('.');
        message.push_str(&signature);
        Ok(message)
    }

    /// An ID token for `client_id`.
    pub fn id_token(
        &self,
        completion: &Completion,
        client_id: &str,
        nonce: Option<&str>,
        alg: SigningAlgorithm,
        now: i64,
    ) -> Result<String, TokenError> {
        let claims = IdClaimsRef {
            iss: &self.settings.issuer,
            aud: client_id,
            exp: now + self.settings.id_token_ttl.as_secs() as i64,
            iat: now,
            nonce,
            user: UserClaimsRef::new(completion, self.settings.max_groups),
        };
        self.sign(alg, TokenType::Id, &claims)
    }

    /// An access token for the API ([`TokenIssuer::api_audience`]), issued to
    /// `client_id`.
    pub fn access_token(
        &self,
        completion: &Completion,
        client_id: &str,
        scope: &str,
        jti: String,
        alg: SigningAlgorithm,
        now: i64,
    ) -> Result<(String, AccessClaims), TokenError> {
        let audience = self.api_audience().to_string();
        self.access_token_for(&audience, completion, client_id, scope, jti, alg, now)
    }

    /// An access token for the API `audience`, issued to `client_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn access_token_for(
        &self,
        audience: &str,
        completion: &Completion,
        client_id: &str,
        scope: &str,
        jti: String,
        alg: SigningAlgorithm,
        now: i64,
    ) -> Result<(String, AccessClaims), TokenError> {
        let signed = self.access_claims(audience, completion, client_id, scope, &jti, now);
        let token = self.sign(alg, TokenType::Access, &signed)?;
        Ok((token, signed.into_owned()))
    }

    /// An access token as [`TokenIssuer::access_token_for`] makes it, and its
    /// expiry, without copying the claims out.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn signed_access_token(
        &self,
        audience: &str,
        completion: &Completion,
        client_id: &str,
        scope: &str,
        jti: &str,
        alg: SigningAlgorithm,
        now: i64,
    ) -> Result<(String, i64), TokenError> {
        let claims = self.access_claims(audience, completion, client_id, scope, jti, now);
        Ok((self.sign(alg, TokenType::Access, &claims)?, claims.exp))
    }

    fn access_claims<'a>(
        &'a self,
        audience: &'a str,
        completion: &'a Completion,
        client_id: &'a str,
        scope: &'a str,
        jti: &'a str,
        now: i64,
    ) -> AccessClaimsRef<'a> {
        AccessClaimsRef {
            iss: &self.settings.issuer,
            aud: audience,
            exp: now + self.settings.access_token_ttl.as_secs() as i64,
            iat: now,
            jti,
            client_id,
            scope,
            user: UserClaimsRef::new(completion, self.settings.max_groups),
        }
    }

    /// Decodes a token of ours of type `typ`: known `kid`, that key's algorithm
    /// only, our issuer, and the audience `audiences` (`None`: any). Times are
    /// the caller's to check, against the engine's clock.
    fn decode<C: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        typ: TokenType,
        audiences: Option<&[&str]>,
    ) -> Result<C, TokenError> {
        if token.len() > 16 * 1024 {
            return Err(TokenError::Invalid("too long"));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid("header"))?;
        if header.typ.as_deref() != Some(typ.typ()) {
            return Err(TokenError::Invalid("wrong token type"));
        }
        let keys = self.keys();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| keys.by_kid(kid))
            .ok_or(TokenError::Invalid("unknown key"))?;
        if header.alg != key.algorithm().jwt() {
            return Err(TokenError::Invalid("algorithm"));
        }
        let mut validation = Validation::new(key.algorithm().jwt());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[&self.settings.issuer]);
        match audiences {
            Some(audiences) => validation.set_audience(audiences),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<C>(token, key.decoding(), &validation)
            .map(|d| d.claims)
            .map_err(|_| TokenError::Invalid("signature or claims"))
    }

    /// Verifies an ID token we issued, as an `id_token_hint` (OIDC RP-Initiated
    /// Logout §2): our key and its algorithm, our issuer, `typ` JWT; expiry is
    /// not checked (a hint may have expired). The claims say which client (`aud`)
    /// and which user (`sub`) it was for.
    pub fn verify_id_token_hint(&self, token: &str) -> Result<IdClaims, TokenError> {
        self.decode(token, TokenType::Id, None)
    }

    /// Verifies an access token of ours for [`TokenIssuer::api_audience`]: see
    /// [`TokenIssuer::verify_access_for`].
    pub fn verify_access(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        self.verify_access_for(token, now, &[self.api_audience()])
    }

    /// Verifies an access token of ours: known `kid`, that key's algorithm only,
    /// `typ` `at+jwt`, our issuer, an `aud` among `audiences`, not expired and not
    /// before its `nbf` at `now`.
    pub fn verify_access_for(
        &self,
        token: &str,
        now: i64,
        audiences: &[&str],
    ) -> Result<AccessClaims, TokenError> {
        if audiences.is_empty() {
            return Err(TokenError::Invalid("no audience is accepted here"));
        }
        let claims: AccessClaims = self.decode(token, TokenType::Access, Some(audiences))?;
        if claims.exp <= now {
            return Err(TokenError::Invalid("expired"));
        }
        if claims.iat > now + 300 {
            return Err(TokenError::Invalid("issued in the future"));
        }
        if claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(TokenError::Invalid("not yet valid"));
        }
        Ok(claims)
    }
}
