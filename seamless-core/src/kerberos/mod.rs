//! The Kerberos acceptor: SPNEGO and GSS framing, AP-REQ, ticket and authenticator
//! decryption, RFC 4120 §3.2.3 checks, PAC, AP-REP, keytabs and the key ring.
//!
//! Everything here is sans-IO and synchronous except the [`ReplayCache`] trait.
//! Start at [`Acceptor::validate`].

pub(crate) mod acceptor;
pub mod crypto;
pub(crate) mod der;
mod error;
pub mod inspect;
pub mod keyring;
pub mod keytab;
pub mod manifest;
pub(crate) mod messages;
pub mod pac;
mod principal;
mod replay;
pub(crate) mod spnego;

#[cfg(feature = "gssapi")]
pub mod gssapi;

pub use acceptor::{
    Accepted, Acceptor, AcceptorConfig, ChannelBindingPolicy, ChannelBindingState,
    DEFAULT_MAX_TOKEN_BYTES, GssFlags, NegotiateAcceptor, ValidatedTicket, certificate_bindings,
    reject_token, tls_server_end_point_bindings,
};
pub use crypto::{CryptoError, Entropy, Etype, Key, OsEntropy};
pub use error::KerberosError;
pub use keyring::{KeyRing, KeyState, RingKey, ServiceAccount};
pub use keytab::{KeytabEntry, KeytabError};
pub use pac::{Pac, PacError, Sid};
pub use principal::{
    NT_ENTERPRISE, NT_PRINCIPAL, NT_SRV_HST, NT_SRV_INST, PrincipalName, PrincipalParseError,
};
pub use replay::{
    Freshness, MemoryReplayCache, ReplayCache, ReplayCacheError, ReplayEntry, ReplayKey,
};
pub use spnego::Mechanism;

/// Salt for an Active Directory computer account's AES keys (MS-KILE 3.1.1.2):
/// `UPPER(realm) + "host" + lower(account without $) + "." + lower(realm)`.
///
/// ```
/// assert_eq!(
///     seamless_core::kerberos::ad_computer_salt("contoso.com", "AZUREADSSOACC$"),
///     "CONTOSO.COMhostazureadssoacc.contoso.com"
/// );
/// ```
pub fn ad_computer_salt(realm: &str, account: &str) -> String {
    let name = account.strip_suffix('$').unwrap_or(account);
    format!(
        "{}host{}.{}",
        realm.to_uppercase(),
        name.to_lowercase(),
        realm.to_lowercase()
    )
}

/// Salt for a user (or service) principal's keys: the realm followed by the
/// principal's components, as MIT and AD user accounts use.
pub fn principal_salt(principal: &PrincipalName) -> String {
    let mut salt = principal.realm.clone();
    for c in &principal.components {
        salt.push_str(c);
    }
    salt
}
