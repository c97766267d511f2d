//! Stable codes for every sign-in outcome that is not a success, and the error
//! type backends return.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a sign-in did not complete the way it started. Stable: the numbers appear
/// in logs, JSON bodies and the support desk's notes. The 810xx family follows
/// Entra's Seamless SSO codes; the 50xxx family follows its password and policy
/// codes where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Code {
    /// 81001: the Kerberos ticket is too large.
    TicketTooLarge,
    /// 81004: the ticket is not acceptable for this service.
    TicketNotAcceptable,
    /// 81005: the client offered NTLM or NegoEx, not Kerberos.
    PackageNotSupported,
    /// 81006: no Negotiate token arrived (the browser did not answer the challenge,
    /// or the page's background request timed out).
    NoTicket,
    /// 81009: the Negotiate token was malformed.
    MalformedTicket,
    /// 81010: the ticket was invalid, expired, replayed or under an unknown key.
    TicketInvalid,
    /// 81011: no user has the SID in the ticket.
    UserNotFoundBySid,
    /// 81012: the ticket's user is not the user who is signing in.
    UserMismatch,
    /// 81013: no user matches the ticket's principal (tickets without a SID).
    UserNotFoundByPrincipal,
    /// 50126: wrong user name or password (uniform: does not say which).
    InvalidCredentials,
    /// 50053: too many attempts; try again later.
    RateLimited,
    /// 50057: the account is disabled.
    AccountDisabled,
    /// 50055: the account or its password has expired.
    AccountExpired,
    /// 50058 (ours: account locked in the directory).
    AccountLocked,
    /// 50076: a second factor is required but the user has none enrolled.
    MfaNotEnrolled,
    /// 500121: the second factor failed too many times.
    MfaFailed,
    /// 53003: policy blocks this sign-in.
    PolicyDenied,
    /// 53001 (ours: seamless sign-in is not enabled for this user, network or app).
    SeamlessNotEnabled,
    /// 50079 (ours: interaction required — MFA cannot be done non-interactively).
    InteractionRequired,
    /// 90001: the directory could not be reached; the sign-in fails closed.
    DirectoryUnavailable,
    /// 90002: the shared store could not be reached; the sign-in fails closed.
    StoreUnavailable,
    /// 90003: the second-factor or password backend could not be reached.
    VerifierUnavailable,
    /// 90004: the key store could not be read.
    KeysUnavailable,
    /// 90010: the sign-in state expired; start again.
    FlowExpired,
    /// 90011: the sign-in state was tampered with, belongs to another browser, or
    /// was already used.
    FlowInvalid,
    /// 90012: the input does not fit this step (malformed user name, wrong step).
    BadRequest,
}

impl Code {
    /// The number.
    pub fn number(self) -> u32 {
        use Code::*;
        match self {
            TicketTooLarge => 81001,
            TicketNotAcceptable => 81004,
            PackageNotSupported => 81005,
            NoTicket => 81006,
            MalformedTicket => 81009,
            TicketInvalid => 81010,
            UserNotFoundBySid => 81011,
            UserMismatch => 81012,
            UserNotFoundByPrincipal => 81013,
            InvalidCredentials => 50126,
            RateLimited => 50053,
            AccountDisabled => 50057,
            AccountExpired => 50055,
            AccountLocked => 50058,
            MfaNotEnrolled => 50076,
            MfaFailed => 500121,
            PolicyDenied => 53003,
            SeamlessNotEnabled => 53001,
            InteractionRequired => 50079,
            DirectoryUnavailable => 90001,
            StoreUnavailable => 90002,
            VerifierUnavailable => 90003,
            KeysUnavailable => 90004,
            FlowExpired => 90010,
            FlowInvalid => 90011,
            BadRequest => 90012,
        }
    }

    /// The code for a Kerberos refusal.
    pub fn from_kerberos(e: &crate::kerberos::KerberosError) -> Self {
        match e.code() {
            81001 => Code::TicketTooLarge,
            81004 => Code::TicketNotAcceptable,
            81005 => Code::PackageNotSupported,
            81006 => Code::NoTicket,
            81009 => Code::MalformedTicket,
            _ if matches!(e, crate::kerberos::KerberosError::ReplayCacheUnavailable) => {
                Code::StoreUnavailable
            }
            _ => Code::TicketInvalid,
        }
    }

    /// Whether this refusal of a known account ends the sessions it has: the
    /// account itself is disabled, locked, expired or gone. A policy denial is
    /// not: it may concern one application only, and the others' sessions stand.
    pub fn ends_sessions(self) -> bool {
        matches!(
            self,
            Code::AccountDisabled
                | Code::AccountLocked
                | Code::AccountExpired
                | Code::UserNotFoundBySid
        )
    }

    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Code::DirectoryUnavailable
                | Code::StoreUnavailable
                | Code::VerifierUnavailable
                | Code::KeysUnavailable
                | Code::RateLimited
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.number(), self)
    }
}

impl std::error::Error for Code {}

/// Why an engine or provider could not be built: each names what to give.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No key store.
    #[error(
        "no Kerberos keys: give the service account's keys with `.keys(...)` (a `KeytabFileKeyStore`)"
    )]
    NoKeys,
    /// No directory.
    #[error(
        "no directory: give one with `.directory(...)` (a `StaticDirectory` or an `LdapDirectory`)"
    )]
    NoDirectory,
    /// No password verifier.
    #[error(
        "no password verifier: give one with `.passwords(...)`, or choose `.dangerous().no_passwords()`"
    )]
    NoPasswords,
    /// The sealing key ring is empty.
    #[error("no sealing key")]
    NoSealingKey,
    /// The operating system's randomness failed.
    #[error("randomness unavailable: {0}")]
    Entropy(String),
    /// The token signing keys could not be loaded or made.
    #[error("token signing keys: {0}")]
    SigningKeys(String),
}

/// What kind of failure a backend had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// Could not be reached, timed out, or refused service.
    Unavailable,
    /// Answered with something that cannot be used.
    Corrupt,
}

/// A backend failure: its kind, a message without secrets, and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct BackendError {
    /// The kind.
    pub kind: BackendErrorKind,
    /// What happened.
    pub message: String,
    /// The cause.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// An `Unavailable` error.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: BackendErrorKind::Unavailable,
            message: message.into(),
            source: None,
        }
    }

    /// A `Corrupt` error.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self {
            kind: BackendErrorKind::Corrupt,
            message: message.into(),
            source: None,
        }
    }

    /// With a cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}
