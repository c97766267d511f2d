//! The second acceptor backend: the system's GSSAPI (MIT or Heimdal) through
//! cross-krb5. It accepts what the system library accepts and reports the client
//! principal only (GSSAPI does not expose the PAC). The keytab comes from
//! `KRB5_KTNAME`, the configuration from `KRB5_CONFIG`, as for any GSSAPI server.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use cross_krb5::{AcceptFlags, K5ServerCtx, ServerCtx, Step};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::oid::{GSS_MECH_KRB5, GSS_MECH_SPNEGO, OidSet};

use super::acceptor::{authenticator_replay_key, decode_token, unix_seconds};
use super::{
    Accepted, KerberosError, KeyRing, NegotiateAcceptor, PrincipalName, ReplayEntry, spnego,
};

/// Acceptor on the system GSSAPI.
#[derive(Clone)]
pub struct GssapiAcceptor {
    max_token_bytes: usize,
    max_skew_secs: i64,
}

impl fmt::Debug for GssapiAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GssapiAcceptor").finish_non_exhaustive()
    }
}

impl Default for GssapiAcceptor {
    fn default() -> Self {
        Self {
            max_token_bytes: super::DEFAULT_MAX_TOKEN_BYTES,
            max_skew_secs: 300,
        }
    }
}

impl GssapiAcceptor {
    /// An acceptor using the default keytab (`KRB5_KTNAME`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts one Negotiate token (base64).
    pub fn accept_b64(&self, token_b64: &[u8], now: SystemTime) -> Result<Accepted, KerberosError> {
        let token = decode_token(token_b64, self.max_token_bytes)?;
        // NTLM and NegoEx get the same coded refusal as from the pure-Rust backend,
        // before the system library sees them.
        if let Err(e) = spnego::parse_initial(&token) {
            match e {
                spnego::FramingError::Ntlm => return Err(KerberosError::Ntlm),
                spnego::FramingError::NegoEx => return Err(KerberosError::NegoEx),
                _ => {}
            }
        }
        let mut mechs = OidSet::new();
        for mech in [GSS_MECH_KRB5, GSS_MECH_SPNEGO] {
            mechs
                .add(mech)
                .map_err(|_| KerberosError::Gssapi("cannot build mechanism set".into()))?;
        }
        let cred = Cred::acquire(None, None, CredUsage::Accept, Some(&mechs)).map_err(gss_error)?;
        let flags = AcceptFlags::DISABLE_MUTUAL_AUTH | AcceptFlags::DISABLE_CONFIDENTIALITY;
        let pending = ServerCtx::new_with_cred(flags, cross_krb5::Cred::from(cred), None)
            .map_err(anyhow_error)?;
        let (mut ctx, response) = match pending.step(&token).map_err(anyhow_error)? {
            Step::Finished((ctx, response)) => (ctx, response.map(|t| t.to_vec())),
            Step::Continue(_) => {
                return Err(KerberosError::Malformed("GSSAPI wants another round trip"));
            }
        };
        let name = ctx.client().map_err(anyhow_error)?;
        let client: PrincipalName = name
            .parse()
            .map_err(|_| KerberosError::Gssapi(format!("unparsable client name {name:?}")))?;
        let now = unix_seconds(now);
        // The same authenticated bytes as the pure-Rust backend: the system
        // library accepted the token, so its authenticator ciphertext is
        // authentic, and no re-encoding of the cleartext changes the key.
        let replay_key = authenticator_replay_key(&token, &client)
            .ok_or(KerberosError::Malformed("no Kerberos AP-REQ"))?;
        Ok(Accepted {
            client,
            response_token: response.map(|t| base64::engine::general_purpose::STANDARD.encode(t)),
            replay: ReplayEntry {
                key: replay_key,
                ctime: now,
                expires_at: now + self.max_skew_secs,
            },
            ticket: None,
        })
    }
}

fn gss_error(e: libgssapi::error::Error) -> KerberosError {
    KerberosError::Gssapi(e.to_string())
}

fn anyhow_error(e: impl fmt::Display) -> KerberosError {
    KerberosError::Gssapi(e.to_string())
}

impl NegotiateAcceptor for GssapiAcceptor {
    fn accept_token(
        &self,
        token_b64: &[u8],
        _keys: &KeyRing,
        now: SystemTime,
    ) -> Result<Accepted, KerberosError> {
        self.accept_b64(token_b64, now)
    }

    fn backend(&self) -> &'static str {
        "gssapi"
    }
}
