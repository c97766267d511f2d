//! Why a Negotiate token was refused, with stable codes.

use super::pac::PacError;

/// Why the acceptor refused a Negotiate token.
///
/// Each variant has a stable Entra-style code ([`KerberosError::code`]) and, where
/// one exists, the RFC 4120 error name ([`KerberosError::rfc_name`]). Messages never
/// contain key material, ticket bytes or decrypted content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KerberosError {
    /// The Negotiate token is larger than the configured limit.
    #[error("Negotiate token of {len} bytes exceeds the {limit}-byte limit")]
    TokenTooLarge {
        /// Encoded length received.
        len: usize,
        /// Configured limit.
        limit: usize,
    },
    /// No token at all.
    #[error("empty Negotiate token")]
    Empty,
    /// The token is not base64.
    #[error("Negotiate token is not valid base64")]
    Base64,
    /// The token or a Kerberos message in it is not well-formed.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The client sent NTLM (raw, or first in SPNEGO). Never processed.
    #[error("NTLM is not accepted; only Kerberos")]
    Ntlm,
    /// The client preferred NegoEx.
    #[error("NegoEx is not accepted; only Kerberos")]
    NegoEx,
    /// Kerberos was offered but not first, which would need a second round trip.
    #[error("the client did not offer Kerberos as its first mechanism")]
    KerberosNotPreferred,
    /// No Kerberos mechanism in the token at all.
    #[error("no Kerberos mechanism offered")]
    NoKerberos,
    /// Wrong protocol version number.
    #[error("not a Kerberos 5 AP-REQ")]
    BadVersion,
    /// Not an AP-REQ.
    #[error("Kerberos message is not an AP-REQ")]
    MessageType,
    /// The ticket is for a service principal this ring does not serve.
    #[error("ticket is for {service}, which is not a configured service principal")]
    NotUs {
        /// `sname@realm` from the ticket.
        service: String,
    },
    /// The ticket's encryption type is not allowed (RC4 when disabled, DES, unknown).
    #[error("ticket encryption type {etype} is not allowed")]
    EtypeNotAllowed {
        /// IANA etype number.
        etype: i32,
    },
    /// No key of the ticket's etype (and kvno) is held.
    #[error("no key for etype {etype} kvno {kvno:?}")]
    NoKey {
        /// IANA etype number.
        etype: i32,
        /// The ticket's kvno.
        kvno: Option<u32>,
    },
    /// The ticket did not decrypt with any held key (wrong key or modified ticket).
    #[error("ticket did not decrypt with any held key (kvno {kvno:?})")]
    TicketIntegrity {
        /// The ticket's kvno.
        kvno: Option<u32>,
    },
    /// The authenticator did not decrypt with the ticket's session key.
    #[error("authenticator did not decrypt with the session key")]
    AuthenticatorIntegrity,
    /// Authenticator client differs from the ticket's client.
    #[error("authenticator client does not match the ticket")]
    BadMatch,
    /// The authenticator's time is outside the allowed clock skew.
    #[error("clock skew too great ({skew_secs} s)")]
    Skew {
        /// Authenticator time minus now, in seconds.
        skew_secs: i64,
    },
    /// The ticket is not valid yet (or carries the INVALID flag).
    #[error("ticket not yet valid")]
    TicketNotYetValid,
    /// The ticket has expired.
    #[error("ticket expired")]
    TicketExpired,
    /// The ticket's lifetime exceeds the configured maximum (a forgery sign).
    #[error("ticket lifetime {secs} s exceeds the configured maximum")]
    TicketLifetime {
        /// Lifetime in seconds.
        secs: i64,
    },
    /// The authenticator was seen before.
    #[error("replayed authenticator")]
    Replay,
    /// The replay cache could not answer; the token is refused (fail closed).
    #[error("replay cache unavailable")]
    ReplayCacheUnavailable,
    /// A PAC is required by configuration but the ticket has none.
    #[error("ticket carries no PAC")]
    PacMissing,
    /// The PAC is invalid.
    #[error("invalid PAC: {0}")]
    Pac(PacError),
    /// Channel bindings are missing or do not match.
    #[error("channel bindings {0}")]
    ChannelBindings(&'static str),
    /// Building the AP-REP failed (random number generator unavailable).
    #[error("could not build the mutual-authentication reply")]
    Reply,
    /// The system GSSAPI refused the token (the `gssapi` backend); its message.
    #[error("GSSAPI: {0}")]
    Gssapi(String),
}

impl KerberosError {
    /// The stable numeric code, in the style of Entra's 81001–81013.
    ///
    /// | code | meaning |
    /// |---|---|
    /// | 81001 | token too large |
    /// | 81004 | ticket not acceptable for this service (wrong SPN, etype, PAC, client mismatch, bindings) |
    /// | 81005 | authentication package not supported (NTLM, NegoEx) |
    /// | 81006 | no token |
    /// | 81009 | malformed header or token |
    /// | 81010 | ticket invalid or expired (key, integrity, time, replay) |
    pub fn code(&self) -> u32 {
        use KerberosError::*;
        match self {
            TokenTooLarge { .. } => 81001,
            Empty => 81006,
            Base64 | Malformed(_) | BadVersion | MessageType => 81009,
            Ntlm | NegoEx | KerberosNotPreferred | NoKerberos => 81005,
            NotUs { .. }
            | EtypeNotAllowed { .. }
            | BadMatch
            | PacMissing
            | Pac(_)
            | ChannelBindings(_) => 81004,
            NoKey { .. }
            | TicketIntegrity { .. }
            | AuthenticatorIntegrity
            | Skew { .. }
            | TicketNotYetValid
            | TicketExpired
            | TicketLifetime { .. }
            | Replay
            | ReplayCacheUnavailable
            | Reply
            | Gssapi(_) => 81010,
        }
    }

    /// The RFC 4120 §7.5.9 error name this corresponds to, if any.
    pub fn rfc_name(&self) -> Option<&'static str> {
        use KerberosError::*;
        Some(match self {
            BadVersion => "KRB_AP_ERR_BADVERSION",
            MessageType => "KRB_AP_ERR_MSG_TYPE",
            NotUs { .. } => "KRB_AP_ERR_NOT_US",
            EtypeNotAllowed { .. } => "KDC_ERR_ETYPE_NOSUPP",
            NoKey { kvno: Some(_), .. } => "KRB_AP_ERR_BADKEYVER",
            NoKey { kvno: None, .. } => "KRB_AP_ERR_NOKEY",
            TicketIntegrity { .. } | AuthenticatorIntegrity => "KRB_AP_ERR_BAD_INTEGRITY",
            BadMatch => "KRB_AP_ERR_BADMATCH",
            Skew { .. } => "KRB_AP_ERR_SKEW",
            TicketNotYetValid => "KRB_AP_ERR_TKT_NYV",
            TicketExpired => "KRB_AP_ERR_TKT_EXPIRED",
            Replay => "KRB_AP_ERR_REPEAT",
            Malformed(_) => "KRB_ERR_GENERIC",
            _ => return None,
        })
    }

    /// A short stable identifier for logs and JSON (`"replay"`, `"ntlm"`, ...).
    pub fn reason(&self) -> &'static str {
        use KerberosError::*;
        match self {
            TokenTooLarge { .. } => "token_too_large",
            Empty => "no_token",
            Base64 => "bad_base64",
            Malformed(_) => "malformed",
            Ntlm => "ntlm",
            NegoEx => "negoex",
            KerberosNotPreferred => "kerberos_not_preferred",
            NoKerberos => "no_kerberos",
            BadVersion => "bad_version",
            MessageType => "message_type",
            NotUs { .. } => "not_us",
            EtypeNotAllowed { .. } => "etype_not_allowed",
            NoKey { .. } => "no_key",
            TicketIntegrity { .. } => "ticket_integrity",
            AuthenticatorIntegrity => "authenticator_integrity",
            BadMatch => "bad_match",
            Skew { .. } => "skew",
            TicketNotYetValid => "ticket_not_yet_valid",
            TicketExpired => "ticket_expired",
            TicketLifetime { .. } => "ticket_lifetime",
            Replay => "replay",
            ReplayCacheUnavailable => "replay_cache_unavailable",
            PacMissing => "pac_missing",
            Pac(_) => "pac_invalid",
            ChannelBindings(_) => "channel_bindings",
            Reply => "reply",
            Gssapi(_) => "gssapi",
        }
    }
}

impl From<PacError> for KerberosError {
    fn from(e: PacError) -> Self {
        KerberosError::Pac(e)
    }
}
