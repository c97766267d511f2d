//! The stages of [`Acceptor::validate`](super::Acceptor::validate), in the order
//! RFC 4120 §3.2.3 gives: framing, the service account, the ticket, the
//! authenticator, times, the GSS checksum, the PAC, the reply.

use super::{
    Acceptor, ChannelBindingPolicy, ChannelBindingState, FLAG_INVALID, GSS_CHECKSUM, GssFlags,
    USAGE_AP_REP, USAGE_AUTHENTICATOR, framing_error,
};
use crate::kerberos::crypto::{Etype, Key};
use crate::kerberos::error::KerberosError;
use crate::kerberos::keyring::{KeyRing, RingKey, ServiceAccount};
use crate::kerberos::messages::{
    self, AD_WIN2K_PAC, ApReq, ApReqError, Authenticator, EncTicketPart, Ticket,
};
use crate::kerberos::pac::{self, Pac};
use crate::kerberos::principal::PrincipalName;
use crate::kerberos::spnego::{self, InitialToken};
use zeroize::Zeroizing;

/// SPNEGO or raw GSS framing, then the AP-REQ.
pub(super) fn frame(token: &[u8]) -> Result<(InitialToken<'_>, ApReq<'_>), KerberosError> {
    let init = spnego::parse_initial(token).map_err(framing_error)?;
    let ap_req = ApReq::decode(init.ap_req).map_err(|e| match e {
        ApReqError::BadVersion => KerberosError::BadVersion,
        ApReqError::MsgType => KerberosError::MessageType,
        ApReqError::Der(d) => KerberosError::Malformed(d.what),
    })?;
    Ok((init, ap_req))
}

/// The service account the ticket is for, or `NotUs`.
pub(super) fn account<'r>(
    ring: &'r KeyRing,
    ticket: &Ticket<'_>,
) -> Result<&'r ServiceAccount, KerberosError> {
    ring.account_for(ticket.realm, &ticket.sname.components)
        .ok_or_else(|| KerberosError::NotUs {
            service: format!("{}@{}", ticket.sname.joined(), ticket.realm),
        })
}

/// A PAC's domain must be one the account allows (when it names any).
pub(super) fn check_domain(
    account: &ServiceAccount,
    pac: Option<&Pac>,
) -> Result<(), KerberosError> {
    let allowed = account.domain_sids();
    if allowed.is_empty() {
        return Ok(());
    }
    let domain = pac.and_then(Pac::user_sid).and_then(|sid| sid.domain());
    if domain.is_some_and(|d| allowed.contains(&d)) {
        Ok(())
    } else {
        Err(KerberosError::Pac(pac::PacError::DomainNotAllowed))
    }
}

/// R7: an RC4 ticket for an account that has AES keys is a downgrade (an old KDC
/// setting, or a forger using the NT hash). Logged, not refused: `allow_rc4` decides.
pub(super) fn warn_downgrade(
    account: &ServiceAccount,
    etype: Etype,
    ticket: &Ticket<'_>,
    kvno: u32,
) {
    if etype.is_weak() && account.keys().iter().any(|k| !k.etype().is_weak()) {
        tracing::warn!(
            target: "seamless::kerberos",
            service = %format!("{}@{}", ticket.sname.joined(), ticket.realm),
            kvno,
            "RC4 ticket for an account with AES keys"
        );
    }
}

/// A principal name as owned strings.
pub(super) fn principal(name_type: i32, components: &[&str], realm: &str) -> PrincipalName {
    PrincipalName {
        name_type,
        components: components.iter().map(|c| c.to_string()).collect(),
        realm: realm.to_string(),
    }
}

impl Acceptor {
    /// Decrypts the ticket with a key of the account: the ticket's etype, its
    /// kvno first, then other live kvnos (a DC may lag a rollover).
    pub(super) fn decrypt_ticket<'a>(
        &self,
        account: &'a ServiceAccount,
        ticket: &Ticket<'_>,
        now: i64,
    ) -> Result<(Etype, &'a RingKey, Zeroizing<Vec<u8>>), KerberosError> {
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
        // When no key has the ticket's kvno the honest diagnosis is "key version
        // not held" (keytab out of date, or rolled twice), not "modified ticket".
        let exact_kvno_held = kvno.is_none() || candidates.iter().any(|k| Some(k.kvno()) == kvno);
        candidates
            .iter()
            .find_map(|k| {
                k.ticket
                    .decrypt(ticket.enc_part.cipher)
                    .ok()
                    .map(|p| (etype, *k, p))
            })
            .ok_or(if exact_kvno_held {
                KerberosError::TicketIntegrity { kvno }
            } else {
                KerberosError::NoKey {
                    etype: etype_number,
                    kvno,
                }
            })
    }

    /// The session key, and the authenticator decrypted with it.
    pub(super) fn open_authenticator(
        &self,
        part: &EncTicketPart<'_>,
        ap_req: &ApReq<'_>,
    ) -> Result<(Key, Zeroizing<Vec<u8>>), KerberosError> {
        let session_etype = self.allowed_etype(part.key.keytype)?;
        let session_key = Key::new(session_etype, part.key.value)
            .map_err(|_| KerberosError::Malformed("session key length"))?;
        let plain = session_key
            .decrypt(USAGE_AUTHENTICATOR, ap_req.authenticator.cipher)
            .map_err(|_| KerberosError::AuthenticatorIntegrity)?;
        Ok((session_key, plain))
    }

    /// Clock skew, validity window and lifetime; the ticket's start time.
    pub(super) fn check_times(
        &self,
        auth: &Authenticator<'_>,
        part: &EncTicketPart<'_>,
        now: i64,
    ) -> Result<i64, KerberosError> {
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
        Ok(start)
    }

    pub(super) fn gss_checksum(
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

    pub(super) fn pac(
        &self,
        part: &EncTicketPart<'_>,
        service_etype: Etype,
        server_key: &crate::kerberos::crypto::ChecksumKey,
    ) -> Result<Option<Pac>, KerberosError> {
        let elements = match part.authorization_data {
            Some(field) => {
                let inner = crate::kerberos::der::Reader::new(field).remaining();
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

    pub(super) fn ap_rep(
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
