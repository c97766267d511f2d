//! The pure-Rust acceptor: `Authorization: Negotiate` token in, validated ticket out.
//!
//! Sans-IO: the caller passes the key ring and the time; the replay check is a
//! separate step against a [`ReplayCache`](super::ReplayCache) so that the store can
//! be shared by every instance. The checks follow RFC 4120 §3.2.3 in order, and
//! each failure has its own [`KerberosError`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::crypto::{Entropy, Etype, Key, OsEntropy};
use super::error::KerberosError;
use super::keyring::{KeyRing, KeyState};
use super::messages::{self, AD_WIN2K_PAC, ApReq, ApReqError, Authenticator, EncTicketPart};
use super::pac::{self, Pac};
use super::principal::PrincipalName;
use super::replay::{Freshness, ReplayCache, ReplayEntry, ReplayKey};
use super::spnego::{self, FramingError, Mechanism, NegState};

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

/// What was learnt about channel bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBindingState {
    /// The client sent none (zero Bnd, or no GSS checksum).
    Absent,
    /// The client sent bindings and they matched.
    Verified,
    /// The client sent bindings that were not checked (policy `Ignore`).
    Unchecked,
}

/// A ticket that passed every check. Identity comes from `pac` when present
/// (SID), otherwise from `client`.
#[derive(Clone)]
#[non_exhaustive]
pub struct ValidatedTicket {
    /// The client principal (`cname@crealm`).
    pub client: PrincipalName,
    /// The service principal the ticket was issued for.
    pub service: PrincipalName,
    /// How the token was wrapped.
    pub mechanism: Mechanism,
    /// The ticket's encryption type.
    pub etype: Etype,
    /// The kvno of the key that decrypted the ticket.
    pub kvno: u32,
    /// The state of that key (a `Previous` key means the client holds an old ticket).
    pub key_state: KeyState,
    /// The session key's encryption type.
    pub session_etype: Etype,
    /// When the user authenticated to the KDC (Unix seconds).
    pub auth_time: i64,
    /// Start of validity (Unix seconds).
    pub start_time: i64,
    /// End of validity (Unix seconds); sessions must not outlive it.
    pub end_time: i64,
    /// Renewable until (Unix seconds).
    pub renew_till: Option<i64>,
    /// Ticket flags (RFC 4120 numbering, bit 0 = most significant).
    pub flags: u32,
    /// The ticket lists client addresses. They are not checked: behind proxies and
    /// NAT the peer address says nothing, and AD does not issue them.
    pub has_addresses: bool,
    /// GSS context flags from the authenticator checksum.
    pub gss_flags: GssFlags,
    /// Channel bindings.
    pub channel_bindings: ChannelBindingState,
    /// The verified PAC, if the ticket had one.
    pub pac: Option<Pac>,
    /// What the replay cache must record.
    pub replay: ReplayEntry,
    /// The token to send back in `WWW-Authenticate: Negotiate <token>` (base64):
    /// an AP-REP when mutual authentication was requested, and for SPNEGO the
    /// accept-completed answer.
    pub response_token: Option<String>,
    session_key: Key,
}

impl ValidatedTicket {
    /// The ticket session key (for delegation or message protection).
    pub fn session_key(&self) -> &Key {
        &self.session_key
    }
}

impl fmt::Debug for ValidatedTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedTicket")
            .field("client", &self.client.to_string())
            .field("service", &self.service.to_string())
            .field("mechanism", &self.mechanism)
            .field("etype", &self.etype)
            .field("kvno", &self.kvno)
            .field("key_state", &self.key_state)
            .field("auth_time", &self.auth_time)
            .field("end_time", &self.end_time)
            .field("user_sid", &self.pac.as_ref().and_then(Pac::user_sid))
            .finish_non_exhaustive()
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
        let init = spnego::parse_initial(&token).map_err(framing_error)?;
        let ap_req = ApReq::decode(init.ap_req).map_err(|e| match e {
            ApReqError::BadVersion => KerberosError::BadVersion,
            ApReqError::MsgType => KerberosError::MessageType,
            ApReqError::Der(d) => KerberosError::Malformed(d.what),
        })?;
        let ticket = &ap_req.ticket;
        let account = ring
            .account_for(ticket.realm, &ticket.sname.components)
            .ok_or_else(|| KerberosError::NotUs {
                service: format!("{}@{}", ticket.sname.joined(), ticket.realm),
            })?;

        let etype_number = ticket.enc_part.etype;
        let etype = self.allowed_etype(etype_number)?;
        let kvno = ticket.enc_part.kvno;
        let candidates = account.candidates(etype, kvno, now);
        if candidates.is_empty() {
            return Err(KerberosError::NoKey {
                etype: etype_number,
                kvno,
            });
        }
        // Keys of other kvnos are tried too (a DC may lag a rollover), but when none
        // has the ticket's kvno the honest diagnosis is "key version not held"
        // (keytab out of date, or rolled twice), not "modified ticket".
        let exact_kvno_held = kvno.is_none() || candidates.iter().any(|k| Some(k.kvno()) == kvno);
        let (ring_key, plain) = candidates
            .iter()
            .find_map(|k| {
                k.ticket
                    .decrypt(ticket.enc_part.cipher)
                    .ok()
                    .map(|p| (*k, p))
            })
            .ok_or(if exact_kvno_held {
                KerberosError::TicketIntegrity { kvno }
            } else {
                KerberosError::NoKey {
                    etype: etype_number,
                    kvno,
                }
            })?;
        let part = EncTicketPart::decode(&plain).map_err(|e| KerberosError::Malformed(e.what))?;

        let session_etype = self.allowed_etype(part.key.keytype)?;
        let session_key = Key::new(session_etype, part.key.value)
            .map_err(|_| KerberosError::Malformed("session key length"))?;
        let auth_plain = session_key
            .decrypt(USAGE_AUTHENTICATOR, ap_req.authenticator.cipher)
            .map_err(|_| KerberosError::AuthenticatorIntegrity)?;
        let auth =
            Authenticator::decode(&auth_plain).map_err(|e| KerberosError::Malformed(e.what))?;
        if auth.crealm != part.crealm || auth.cname.components != part.cname.components {
            return Err(KerberosError::BadMatch);
        }

        let skew = self.config.max_skew.as_secs() as i64;
        if (auth.ctime - now).abs() > skew {
            return Err(KerberosError::Skew {
                skew_secs: auth.ctime - now,
            });
        }
        let start = part.starttime.unwrap_or(part.authtime);
        if start - skew > now || part.flags & FLAG_INVALID != 0 {
            return Err(KerberosError::TicketNotYetValid);
        }
        if now > part.endtime + skew {
            return Err(KerberosError::TicketExpired);
        }
        if let Some(max) = self.config.max_ticket_lifetime
            && part.endtime - start > max.as_secs() as i64
        {
            return Err(KerberosError::TicketLifetime {
                secs: part.endtime - start,
            });
        }

        let (gss_flags, channel_bindings) = self.gss_checksum(&auth)?;
        let pac = self.pac(&part, ring_key.etype(), &ring_key.pac)?;
        let allowed = account.domain_sids();
        if !allowed.is_empty() {
            let domain = pac
                .as_ref()
                .and_then(Pac::user_sid)
                .and_then(|sid| sid.domain());
            if !domain.is_some_and(|d| allowed.contains(&d)) {
                return Err(KerberosError::Pac(pac::PacError::DomainNotAllowed));
            }
        }
        if etype.is_weak() && account.keys().iter().any(|k| !k.etype().is_weak()) {
            // R7: an RC4 ticket for an account that has AES keys is a downgrade
            // (an old KDC setting, or a forger using the NT hash).
            tracing::warn!(
                target: "seamless::kerberos",
                service = %format!("{}@{}", ticket.sname.joined(), ticket.realm),
                kvno = ring_key.kvno(),
                "RC4 ticket for an account with AES keys"
            );
        }

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
            client: PrincipalName {
                name_type: part.cname.name_type,
                components: part
                    .cname
                    .components
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                realm: part.crealm.to_string(),
            },
            service: PrincipalName {
                name_type: ticket.sname.name_type,
                components: ticket
                    .sname
                    .components
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                realm: ticket.realm.to_string(),
            },
            mechanism: init.mechanism,
            etype,
            kvno: ring_key.kvno(),
            key_state: ring_key.state(),
            session_etype,
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

    fn gss_checksum(
        &self,
        auth: &Authenticator<'_>,
    ) -> Result<(GssFlags, ChannelBindingState), KerberosError> {
        // MS-KILE 3.4.5: without the 0x8003 checksum all flags are clear and no
        // bindings were sent.
        let Some(cksum) = auth.cksum.filter(|c| c.cksumtype == GSS_CHECKSUM) else {
            return match self.config.channel_bindings {
                ChannelBindingPolicy::Require { .. } => {
                    Err(KerberosError::ChannelBindings("required but absent"))
                }
                _ => Ok((GssFlags::default(), ChannelBindingState::Absent)),
            };
        };
        let c = cksum.checksum;
        let (len, rest) = c
            .split_at_checked(4)
            .ok_or(KerberosError::Malformed("GSS checksum"))?;
        let (bnd, rest) = rest
            .split_at_checked(16)
            .ok_or(KerberosError::Malformed("GSS checksum"))?;
        let (flags, _) = rest
            .split_at_checked(4)
            .ok_or(KerberosError::Malformed("GSS checksum"))?;
        let len = u32::from_le_bytes(
            len.try_into()
                .map_err(|_| KerberosError::Malformed("GSS checksum"))?,
        );
        if len != 16 {
            return Err(KerberosError::Malformed("GSS checksum Lgth"));
        }
        let flags = GssFlags(u32::from_le_bytes(
            flags
                .try_into()
                .map_err(|_| KerberosError::Malformed("GSS checksum"))?,
        ));
        let zero = bnd.iter().all(|&b| b == 0);
        let state = match (self.config.channel_bindings, zero) {
            (ChannelBindingPolicy::Require { .. }, true) => {
                return Err(KerberosError::ChannelBindings("required but absent"));
            }
            (_, true) => ChannelBindingState::Absent,
            (ChannelBindingPolicy::Ignore, false) => ChannelBindingState::Unchecked,
            (
                ChannelBindingPolicy::Verify { expected }
                | ChannelBindingPolicy::Require { expected },
                false,
            ) => {
                if !bool::from(subtle::ConstantTimeEq::ct_eq(bnd, &expected[..])) {
                    return Err(KerberosError::ChannelBindings("do not match"));
                }
                ChannelBindingState::Verified
            }
        };
        Ok((flags, state))
    }

    fn pac(
        &self,
        part: &EncTicketPart<'_>,
        service_etype: Etype,
        server_key: &super::crypto::ChecksumKey,
    ) -> Result<Option<Pac>, KerberosError> {
        let elements = match part.authorization_data {
            Some(field) => {
                let inner = super::der::Reader::new(field).remaining();
                messages::decode_authorization_data(inner)
                    .map_err(|e| KerberosError::Malformed(e.what))?
            }
            None => Vec::new(),
        };
        let mut pacs = elements.iter().filter(|e| e.ad_type == AD_WIN2K_PAC);
        let Some(raw) = pacs.next() else {
            return if self.config.require_pac {
                Err(KerberosError::PacMissing)
            } else {
                Ok(None)
            };
        };
        if pacs.next().is_some() {
            return Err(KerberosError::Pac(pac::PacError::Duplicate(0)));
        }
        let view = pac::TicketView {
            client_components: &part.cname.components,
            client_realm: part.crealm,
            authtime: part.authtime,
        };
        Ok(Some(pac::verify(
            raw.data,
            service_etype,
            server_key,
            &view,
        )?))
    }

    fn ap_rep(
        &self,
        session_key: &Key,
        auth: &Authenticator<'_>,
    ) -> Result<Vec<u8>, KerberosError> {
        let mut seq = [0u8; 4];
        self.entropy
            .fill(&mut seq)
            .map_err(|_| KerberosError::Reply)?;
        let seq = u32::from_be_bytes(seq) & 0x3FFF_FFFF;
        let plain = messages::encode_enc_ap_rep_part(auth.ctime, auth.cusec, None, Some(seq));
        let cipher = session_key
            .encrypt(USAGE_AP_REP, &plain, self.entropy.as_ref())
            .map_err(|_| KerberosError::Reply)?;
        Ok(messages::encode_ap_rep(
            session_key.etype().number(),
            &cipher,
        ))
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

/// Base64-decodes a Negotiate token, refusing anything over `max_bytes` decoded
/// (checked on the encoded length first, so an oversized header is never decoded).
pub(crate) fn decode_token(token_b64: &[u8], max_bytes: usize) -> Result<Vec<u8>, KerberosError> {
    let trimmed = token_b64.trim_ascii();
    if trimmed.is_empty() {
        return Err(KerberosError::Empty);
    }
    let limit = max_bytes.div_ceil(3) * 4;
    if trimmed.len() > limit {
        return Err(KerberosError::TokenTooLarge {
            len: trimmed.len(),
            limit,
        });
    }
    let token = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map_err(|_| KerberosError::Base64)?;
    if token.len() > max_bytes {
        return Err(KerberosError::TokenTooLarge {
            len: token.len(),
            limit: max_bytes,
        });
    }
    Ok(token)
}

fn framing_error(e: FramingError) -> KerberosError {
    match e {
        FramingError::Ntlm => KerberosError::Ntlm,
        FramingError::NegoEx => KerberosError::NegoEx,
        FramingError::KerberosNotPreferred => KerberosError::KerberosNotPreferred,
        FramingError::NoKerberos => KerberosError::NoKerberos,
        FramingError::NoMechToken => {
            KerberosError::Malformed("SPNEGO without an optimistic Kerberos token")
        }
        FramingError::Malformed(what) => KerberosError::Malformed(what),
    }
}

/// The replay key of one authenticator, from authenticated bytes only.
///
/// The ticket's realm and service name travel in cleartext and the key ring
/// matches them case-insensitively (and through aliases), so nothing derived from
/// them may tell two uses apart: a re-cased realm would otherwise make a second
/// entry for the same ticket. The authenticator ciphertext is integrity-protected
/// under the session key (any change fails decryption) and carries a random
/// confounder, so its digest names one use of one ticket however the cleartext
/// around it is re-encoded or re-framed. The client name and time come from the
/// decrypted authenticator, so they are authenticated too.
fn replay_key(
    crealm: &str,
    cname: &[&str],
    ctime: i64,
    cusec: u32,
    authenticator_cipher: &[u8],
) -> ReplayKey {
    let mut h = Sha256::new();
    h.update(b"seamless/replay/v2\0");
    let mut field = |part: &str| {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part.as_bytes());
    };
    field(crealm);
    cname.iter().for_each(|c| field(c));
    h.update(ctime.to_be_bytes());
    h.update(cusec.to_be_bytes());
    h.update(Sha256::digest(authenticator_cipher));
    ReplayKey(h.finalize().into())
}

/// The replay key of an accepted token for a backend that does not expose the
/// authenticator (GSSAPI): the authenticated client and the authenticator
/// ciphertext read from the token's framing. `None` when the token holds no AP-REQ.
#[cfg(feature = "gssapi")]
pub(crate) fn authenticator_replay_key(token: &[u8], client: &PrincipalName) -> Option<ReplayKey> {
    let init = spnego::parse_initial(token).ok()?;
    let ap_req = ApReq::decode(init.ap_req).ok()?;
    let components: Vec<&str> = client.components.iter().map(String::as_str).collect();
    Some(replay_key(
        &client.realm,
        &components,
        0,
        0,
        ap_req.authenticator.cipher,
    ))
}

/// The reject answer for `WWW-Authenticate: Negotiate <token>` (base64), for
/// callers that want to tell an SPNEGO client it failed.
pub fn reject_token() -> String {
    base64::engine::general_purpose::STANDARD.encode(spnego::reject())
}
