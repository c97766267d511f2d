//! The token around the ticket: base64 with a size limit, SPNEGO framing errors,
//! and the replay key of one authenticator.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::kerberos::error::KerberosError;
#[cfg(feature = "gssapi")]
use crate::kerberos::messages::ApReq;
#[cfg(feature = "gssapi")]
use crate::kerberos::principal::PrincipalName;
use crate::kerberos::replay::ReplayKey;
use crate::kerberos::spnego::{self, FramingError};

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

pub(super) fn framing_error(e: FramingError) -> KerberosError {
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
pub(super) fn replay_key(
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
