//! The pure-Rust acceptor: `Authorization: Negotiate` token in, validated ticket out.
//!
//! Sans-IO: the caller passes the key ring and the time; the replay check is a
//! separate step against a [`ReplayCache`](super::ReplayCache) so that the store can
//! be shared by every instance. The checks follow RFC 4120 §3.2.3 in order, and
//! each failure has its own [`KerberosError`].
//!
//! `mod.rs` holds the settings and the pipeline ([`Acceptor::validate`]);
//! `stages.rs` its stages; `ticket.rs` what comes out; `token.rs` the base64,
//! framing and replay-key helpers the GSSAPI backend shares.

mod stages;
mod ticket;
mod token;

pub use ticket::{ChannelBindingState, ValidatedTicket};
#[cfg(feature = "gssapi")]
pub(crate) use token::authenticator_replay_key;
pub(crate) use token::decode_token;

/// The framing stage alone (SPNEGO or raw GSS, then the AP-REQ): for the fuzz
/// entry points.
#[cfg(feature = "testkit")]
pub(crate) fn frame_only(token: &[u8]) -> Result<(), KerberosError> {
    stages::frame(token).map(|_| ())
}
pub use token::reject_token;
use token::{framing_error, replay_key};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::Digest;

use super::crypto::{Entropy, Etype, OsEntropy};
use super::error::KerberosError;
use super::keyring::KeyRing;
use super::messages::{self, Authenticator, EncTicketPart};
use super::principal::PrincipalName;
use super::replay::{Freshness, ReplayCache, ReplayEntry};
use super::spnego::{self, NegState};

/// Key usage of the authenticator (RFC 4120 §7.5.1).
const USAGE_AUTHENTICATOR: u32 = 11;
/// Key usage of EncAPRepPart.
const USAGE_AP_REP: u32 = 12;
/// The GSS-API authenticator checksum type (RFC 4121 §4.1.1).
const GSS_CHECKSUM: i32 = 0x8003;
/// Ticket flag INVALID (bit 7).
const FLAG_INVALID: u32 = 1 << (31 - 7);

/// The default maximum Negotiate token: 64 KiB decoded, enough for AD users in
/// well over a thousand groups.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 64 * 1024;

/// What to do about channel bindings (RFC 4121 §4.1.1.2, MS-KILE 3.4.5.x).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBindingPolicy {
    /// Accept whatever the client sent without checking (no TLS binding known).
    #[default]
    Ignore,
    /// Check non-zero bindings against `expected`; accept absent (zero) ones.
    Verify {
        /// MD5 of the expected `gss_channel_bindings_struct`.
        expected: [u8; 16],
    },
    /// Require bindings equal to `expected`.
    Require {
        /// MD5 of the expected `gss_channel_bindings_struct`.
        expected: [u8; 16],
    },
}

impl fmt::Debug for ChannelBindingPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChannelBindingPolicy::Ignore => "Ignore",
            ChannelBindingPolicy::Verify { .. } => "Verify",
            ChannelBindingPolicy::Require { .. } => "Require",
        })
    }
}

/// The MD5 `Bnd` value a client computes for `tls-server-end-point` bindings
/// (RFC 5929) of a certificate whose hash is `certificate_hash`.
pub fn tls_server_end_point_bindings(certificate_hash: &[u8]) -> [u8; 16] {
    use md5::Md5;
    let mut app = b"tls-server-end-point:".to_vec();
    app.extend_from_slice(certificate_hash);
    let mut h = Md5::new();
    // initiator addrtype + length, acceptor addrtype + length: all zero.
    h.update([0u8; 16]);
    h.update((app.len() as u32).to_le_bytes());
    h.update(&app);
    h.finalize().into()
}

/// The channel-binding value (`Bnd`, RFC 4121 §4.1.1.2) clients compute for the
/// TLS server certificate `cert` (PEM or DER): `tls-server-end-point` (RFC 5929
/// §4.1) hashes the certificate with its signature's hash function, SHA-256 for
/// MD5 and SHA-1. A signature whose hash RFC 5929 leaves undefined (Ed25519,
/// RSA-PSS) is an error.
pub fn certificate_bindings(cert: &[u8]) -> Result<[u8; 16], String> {
    use sha2::Digest as _;
    let der = certificate_der(cert)?;
    let oid = signature_algorithm(&der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03];
    let hash: Vec<u8> = match oid {
        // md5WithRSA, sha1WithRSA, sha256WithRSA; ecdsa-with-SHA1, -SHA256
        [.., 4 | 5 | 11] if oid.starts_with(RSA) && oid.len() == RSA.len() + 1 => {
            sha2::Sha256::digest(&der).to_vec()
        }
        [.., 12] if oid.starts_with(RSA) && oid.len() == RSA.len() + 1 => {
            sha2::Sha384::digest(&der).to_vec()
        }
        [.., 13] if oid.starts_with(RSA) && oid.len() == RSA.len() + 1 => {
            sha2::Sha512::digest(&der).to_vec()
        }
        [.., 2] if oid.starts_with(ECDSA) && oid.len() == ECDSA.len() + 1 => {
            sha2::Sha256::digest(&der).to_vec()
        }
        [.., 3] if oid.starts_with(ECDSA) && oid.len() == ECDSA.len() + 1 => {
            sha2::Sha384::digest(&der).to_vec()
        }
        [.., 4] if oid.starts_with(ECDSA) && oid.len() == ECDSA.len() + 1 => {
            sha2::Sha512::digest(&der).to_vec()
        }
        [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01] => sha2::Sha256::digest(&der).to_vec(),
        _ => {
            return Err(
                "the certificate's signature algorithm has no RFC 5929 hash (Ed25519 or RSA-PSS): \
                 use an RSA or ECDSA certificate signed with SHA-256, -384 or -512"
                    .into(),
            );
        }
    };
    Ok(tls_server_end_point_bindings(&hash))
}

/// The DER of a certificate given as DER or as PEM (the first `CERTIFICATE`).
fn certificate_der(cert: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let Ok(text) = std::str::from_utf8(cert) else {
        return Ok(cert.to_vec());
    };
    let Some(start) = text.find("-----BEGIN CERTIFICATE-----") else {
        return Err("no -----BEGIN CERTIFICATE----- block".into());
    };
    let body = &text[start + "-----BEGIN CERTIFICATE-----".len()..];
    let end = body
        .find("-----END CERTIFICATE-----")
        .ok_or("no -----END CERTIFICATE----- line")?;
    let b64: String = body[..end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("the PEM block is not base64: {e}"))
}

/// The signatureAlgorithm OID's content bytes.
fn signature_algorithm(der: &[u8]) -> Result<&[u8], crate::kerberos::der::DerError> {
    use crate::kerberos::der::{Reader, tag};
    let mut outer = Reader::new(der);
    let mut cert = outer.enter(tag::SEQUENCE, "Certificate")?;
    cert.expect(tag::SEQUENCE, "tbsCertificate")?;
    let mut algorithm = cert.enter(tag::SEQUENCE, "signatureAlgorithm")?;
    algorithm.expect(tag::OID, "algorithm")
}

/// Acceptor settings. The defaults are the secure ones.
#[derive(Debug, Clone)]
pub struct AcceptorConfig {
    /// Allowed clock difference (default 5 minutes).
    pub max_skew: Duration,
    /// Accept RC4-HMAC tickets and session keys (default false).
    pub allow_rc4: bool,
    /// Refuse tickets without a PAC (default false, so non-AD KDCs work; identity
    /// then comes from the principal name only).
    pub require_pac: bool,
    /// Refuse tickets whose lifetime (end − start) is longer than this; forged
    /// tickets often carry years. `None` disables the check.
    pub max_ticket_lifetime: Option<Duration>,
    /// Largest accepted token, in decoded bytes (default 64 KiB).
    pub max_token_bytes: usize,
    /// Channel-binding checks.
    pub channel_bindings: ChannelBindingPolicy,
}

impl Default for AcceptorConfig {
    fn default() -> Self {
        Self {
            max_skew: Duration::from_secs(300),
            allow_rc4: false,
            require_pac: false,
            max_ticket_lifetime: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            channel_bindings: ChannelBindingPolicy::Ignore,
        }
    }
}

/// GSS context flags the client asked for (RFC 4121 §4.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GssFlags(pub u32);

impl GssFlags {
    /// The client delegated a TGT.
    pub fn delegation(self) -> bool {
        self.0 & 1 != 0
    }
    /// The client wants mutual authentication.
    pub fn mutual(self) -> bool {
        self.0 & 2 != 0
    }
}

/// The pure-Rust Kerberos acceptor.
#[derive(Clone)]
pub struct Acceptor {
    config: AcceptorConfig,
    entropy: Arc<dyn Entropy>,
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Acceptor {
    fn default() -> Self {
        Self::new(AcceptorConfig::default())
    }
}

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

impl Acceptor {
    /// An acceptor with `config` and the operating system's randomness.
    pub fn new(config: AcceptorConfig) -> Self {
        Self {
            config,
            entropy: Arc::new(OsEntropy),
        }
    }

    /// Replaces the randomness source (deterministic tests).
    pub fn with_entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = entropy;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &AcceptorConfig {
        &self.config
    }

    /// Validates the base64 token that followed `Negotiate ` in the Authorization
    /// header, at time `now`. Does not consult a replay cache: see [`Acceptor::accept`].
    /// The stages follow RFC 4120 §3.2.3 in order (`stages.rs`).
    ///
    /// ```
    /// use seamless_core::kerberos::{Acceptor, KeyRing, KerberosError};
    /// let acceptor = Acceptor::default();
    /// let err = acceptor.validate(b"TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==", &KeyRing::default(), std::time::SystemTime::now());
    /// assert_eq!(err.unwrap_err(), KerberosError::Ntlm);
    /// ```
    pub fn validate(
        &self,
        token_b64: &[u8],
        ring: &KeyRing,
        now: SystemTime,
    ) -> Result<ValidatedTicket, KerberosError> {
        let now = unix_seconds(now);
        let token = decode_token(token_b64, self.config.max_token_bytes)?;
        let (init, ap_req) = stages::frame(&token)?;
        let ticket = &ap_req.ticket;
        let account = stages::account(ring, ticket)?;
        let (etype, ring_key, plain) = self.decrypt_ticket(account, ticket, now)?;
        let part = EncTicketPart::decode(&plain).map_err(|e| KerberosError::Malformed(e.what))?;
        let (session_key, auth_plain) = self.open_authenticator(&part, &ap_req)?;
        let auth =
            Authenticator::decode(&auth_plain).map_err(|e| KerberosError::Malformed(e.what))?;
        if auth.crealm != part.crealm || auth.cname.components != part.cname.components {
            return Err(KerberosError::BadMatch);
        }
        let start = self.check_times(&auth, &part, now)?;
        let (gss_flags, channel_bindings) = self.gss_checksum(&auth)?;
        let pac = self.pac(&part, ring_key.etype(), &ring_key.pac)?;
        stages::check_domain(account, pac.as_ref())?;
        stages::warn_downgrade(account, etype, ticket, ring_key.kvno());
        let mutual =
            gss_flags.mutual() || ap_req.ap_options & messages::AP_OPTION_MUTUAL_REQUIRED != 0;
        let ap_rep = if mutual {
            Some(self.ap_rep(&session_key, &auth)?)
        } else {
            None
        };
        let response_token =
            spnego::response(init.mechanism, NegState::AcceptCompleted, ap_rep.as_deref())
                .map(|t| base64::engine::general_purpose::STANDARD.encode(t));
        let skew = self.config.max_skew.as_secs() as i64;
        let replay = ReplayEntry {
            key: replay_key(
                auth.crealm,
                &auth.cname.components,
                auth.ctime,
                auth.cusec,
                ap_req.authenticator.cipher,
            ),
            ctime: auth.ctime,
            expires_at: auth.ctime + skew,
        };
        Ok(ValidatedTicket {
            client: stages::principal(part.cname.name_type, &part.cname.components, part.crealm),
            service: stages::principal(
                ticket.sname.name_type,
                &ticket.sname.components,
                ticket.realm,
            ),
            mechanism: init.mechanism,
            etype,
            kvno: ring_key.kvno(),
            key_state: ring_key.state(),
            session_etype: session_key.etype(),
            auth_time: part.authtime,
            start_time: start,
            end_time: part.endtime,
            renew_till: part.renew_till,
            flags: part.flags,
            has_addresses: part.has_caddr,
            gss_flags,
            channel_bindings,
            pac,
            replay,
            response_token,
            session_key,
        })
    }

    /// [`Acceptor::validate`] followed by the replay check: the complete acceptance.
    /// A cache that cannot answer refuses the token (fail closed).
    pub async fn accept(
        &self,
        token_b64: &[u8],
        ring: &KeyRing,
        replay_cache: &dyn ReplayCache,
        now: SystemTime,
    ) -> Result<ValidatedTicket, KerberosError> {
        let ticket = self.validate(token_b64, ring, now)?;
        match replay_cache
            .check_and_insert(&ticket.replay, unix_seconds(now))
            .await
        {
            Ok(Freshness::Fresh) => Ok(ticket),
            Ok(Freshness::Replayed) => Err(KerberosError::Replay),
            Err(_) => Err(KerberosError::ReplayCacheUnavailable),
        }
    }

    fn allowed_etype(&self, number: i32) -> Result<Etype, KerberosError> {
        match Etype::from_number(number) {
            Ok(Etype::Rc4Hmac) if !self.config.allow_rc4 => {
                Err(KerberosError::EtypeNotAllowed { etype: number })
            }
            Ok(e) => Ok(e),
            Err(_) => Err(KerberosError::EtypeNotAllowed { etype: number }),
        }
    }
}

/// What any acceptor backend reports for an accepted token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Accepted {
    /// The authenticated client.
    pub client: PrincipalName,
    /// Token for `WWW-Authenticate: Negotiate <token>` (base64), if any.
    pub response_token: Option<String>,
    /// What the replay cache must record.
    pub replay: ReplayEntry,
    /// Everything the pure-Rust backend learnt (PAC, times, kvno); `None` from the
    /// GSSAPI backend, which reports the principal only.
    pub ticket: Option<Box<ValidatedTicket>>,
}

impl From<ValidatedTicket> for Accepted {
    fn from(t: ValidatedTicket) -> Self {
        Self {
            client: t.client.clone(),
            response_token: t.response_token.clone(),
            replay: t.replay,
            ticket: Some(Box::new(t)),
        }
    }
}

/// An acceptor backend: the pure-Rust [`Acceptor`] or, with feature `gssapi`, the
/// system GSSAPI. Both pass the same tests.
pub trait NegotiateAcceptor: Send + Sync {
    /// Validates the base64 token after `Negotiate ` at time `now`. The pure-Rust
    /// backend takes its keys from `keys`; the GSSAPI backend from `KRB5_KTNAME`.
    fn accept_token(
        &self,
        token_b64: &[u8],
        keys: &KeyRing,
        now: SystemTime,
    ) -> Result<Accepted, KerberosError>;

    /// A short name for logs (`"rust"`, `"gssapi"`).
    fn backend(&self) -> &'static str;
}

impl NegotiateAcceptor for Acceptor {
    fn accept_token(
        &self,
        token_b64: &[u8],
        keys: &KeyRing,
        now: SystemTime,
    ) -> Result<Accepted, KerberosError> {
        self.validate(token_b64, keys, now).map(Accepted::from)
    }

    fn backend(&self) -> &'static str {
        "rust"
    }
}
