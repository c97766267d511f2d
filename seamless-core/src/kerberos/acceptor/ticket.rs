//! What an accepted ticket is: everything the checks learnt.

use std::fmt;

use super::GssFlags;
use crate::kerberos::crypto::{Etype, Key};
use crate::kerberos::keyring::KeyState;
use crate::kerberos::pac::Pac;
use crate::kerberos::principal::PrincipalName;
use crate::kerberos::replay::ReplayEntry;
use crate::kerberos::spnego::Mechanism;

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
    pub(super) session_key: Key,
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
