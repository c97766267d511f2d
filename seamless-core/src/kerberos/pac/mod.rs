//! The Privilege Attribute Certificate (MS-PAC) carried in AD and MIT tickets.
//!
//! A service holding only its own key can verify the *server* signature (buffer 6)
//! and check the buffers against each other and against the ticket; it cannot
//! verify the KDC signature (that needs the krbtgt key). Unknown buffer types are
//! skipped, as MS-PAC requires (AD adds type 19, Samba and MIT others).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod ndr;
mod sid;

pub use sid::{Sid, SidError};

use super::crypto::{ChecksumKey, Etype};
use ndr::Cursor;

/// Buffer types (MS-PAC §2.4).
pub(crate) mod buffer {
    pub(crate) const LOGON_INFO: u32 = 1;
    pub(crate) const SERVER_CHECKSUM: u32 = 6;
    pub(crate) const PRIVSVR_CHECKSUM: u32 = 7;
    pub(crate) const CLIENT_INFO: u32 = 10;
    pub(crate) const UPN_DNS_INFO: u32 = 12;
    pub(crate) const REQUESTOR: u32 = 18;
}

/// Real PACs have under a dozen buffers.
const MAX_BUFFERS: u32 = 64;
/// FILETIME of the Unix epoch.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// Why a PAC was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacError {
    /// Structure or NDR could not be read.
    #[error("malformed PAC: {0}")]
    Malformed(&'static str),
    /// No server signature buffer.
    #[error("PAC has no server signature")]
    NoServerSignature,
    /// The server signature's type does not belong to the service key's type.
    #[error("PAC server signature type {found} does not match the service key")]
    SignatureType {
        /// The checksum type in the PAC.
        found: i32,
    },
    /// The server signature did not verify with the service key.
    #[error("PAC server signature does not verify")]
    BadServerSignature,
    /// A buffer that must appear at most once appeared twice.
    #[error("PAC buffer {0} appears more than once")]
    Duplicate(u32),
    /// CLIENT_INFO names another client, or another authentication time.
    #[error("PAC CLIENT_INFO does not match the ticket ({0})")]
    ClientInfoMismatch(&'static str),
    /// LOGON_INFO, UPN_DNS_INFO and REQUESTOR disagree on the user's SID.
    #[error("PAC SIDs disagree ({0})")]
    SidMismatch(&'static str),
    /// The user's domain is not one this service account may sign in.
    #[error("the user's domain is not allowed for this service account")]
    DomainNotAllowed,
}

/// What the PAC says about the user, after the server signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pac {
    /// KERB_VALIDATION_INFO (AD; absent in MIT's PAC).
    pub logon_info: Option<LogonInfo>,
    /// CLIENT_INFO.
    pub client_info: Option<ClientInfo>,
    /// UPN_DNS_INFO (AD).
    pub upn_dns_info: Option<UpnDnsInfo>,
    /// PAC_REQUESTOR SID (newer AD).
    pub requestor_sid: Option<Sid>,
    /// The checksum type of the server signature.
    pub server_checksum_type: i32,
    /// Whether a KDC (privsvr) signature is present. It cannot be verified here.
    pub has_kdc_signature: bool,
    /// Every buffer type, in order, for diagnostics.
    pub buffer_types: Vec<u32>,
}

impl Pac {
    /// The user's SID: LOGON_INFO first, then UPN_DNS_INFO, then REQUESTOR.
    pub fn user_sid(&self) -> Option<&Sid> {
        self.logon_info
            .as_ref()
            .map(|l| &l.user_sid)
            .or_else(|| self.upn_dns_info.as_ref().and_then(|u| u.sid.as_ref()))
            .or(self.requestor_sid.as_ref())
    }

    /// All group SIDs: domain groups, extra SIDs and resource groups.
    pub fn group_sids(&self) -> Vec<Sid> {
        self.logon_info
            .as_ref()
            .map(|l| {
                l.group_sids
                    .iter()
                    .chain(&l.extra_sids)
                    .chain(&l.resource_group_sids)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// KERB_VALIDATION_INFO (MS-PAC §2.5), the fields identity decisions use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogonInfo {
    /// When the user logged on (Unix seconds).
    pub logon_time: Option<i64>,
    /// When the password was last set (Unix seconds).
    pub password_last_set: Option<i64>,
    /// sAMAccountName.
    pub effective_name: String,
    /// Display name.
    pub full_name: String,
    /// The DC that authenticated the user.
    pub logon_server: String,
    /// NetBIOS domain name.
    pub logon_domain_name: String,
    /// The user's RID.
    pub user_id: u32,
    /// The primary group's RID.
    pub primary_group_id: u32,
    /// UserFlags.
    pub user_flags: u32,
    /// userAccountControl bits (MS-SAMR).
    pub user_account_control: u32,
    /// LogonDomainId.
    pub domain_sid: Sid,
    /// LogonDomainId + UserId.
    pub user_sid: Sid,
    /// LogonDomainId + each GroupIds RID.
    pub group_sids: Vec<Sid>,
    /// ExtraSids (universal groups from other domains, SID history, asserted identity).
    pub extra_sids: Vec<Sid>,
    /// ResourceGroupDomainSid + each ResourceGroupIds RID.
    pub resource_group_sids: Vec<Sid>,
}

/// PAC_CLIENT_INFO (MS-PAC §2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The ticket's authtime as the KDC recorded it (Unix seconds).
    pub auth_time: Option<i64>,
    /// The client name (no realm for AD, may include it for MIT).
    pub name: String,
}

/// UPN_DNS_INFO (MS-PAC §2.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpnDnsInfo {
    /// The user principal name.
    pub upn: String,
    /// The DNS domain name.
    pub dns_domain: String,
    /// The UPN was constructed from sAMAccountName and the domain, not set on the account.
    pub upn_constructed: bool,
    /// sAMAccountName (extended form, flag S).
    pub sam_name: Option<String>,
    /// The user's SID (extended form, flag S).
    pub sid: Option<Sid>,
}

pub(crate) fn filetime_to_unix(ft: u64) -> Option<i64> {
    if ft == 0 || ft >= 0x7FFF_FFFF_FFFF_FFFF {
        return None;
    }
    Some(((ft as i128 - FILETIME_UNIX_EPOCH as i128) / 10_000_000) as i64)
}

/// Converts Unix seconds to a FILETIME (for the test kit).
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) fn unix_to_filetime(secs: i64) -> u64 {
    (secs as i128 * 10_000_000 + FILETIME_UNIX_EPOCH as i128) as u64
}

struct BufferRef {
    kind: u32,
    start: usize,
    end: usize,
}

/// What the ticket says, to check the PAC against.
pub(crate) struct TicketView<'a> {
    pub(crate) client_components: &'a [&'a str],
    pub(crate) client_realm: &'a str,
    pub(crate) authtime: i64,
}

/// Parses a PAC, verifies its server signature with the service key's checksum key
/// (usage 17) and checks it against the ticket.
pub(crate) fn verify(
    pac: &[u8],
    service_etype: Etype,
    server_key: &ChecksumKey,
    ticket: &TicketView<'_>,
) -> Result<Pac, PacError> {
    verify_inner(pac, service_etype, Some(server_key), ticket)
}

/// Everything [`verify`] does except checking the signature's value, so that fuzzing
/// reaches the buffer decoders with arbitrary content. Test kit only.
#[cfg(feature = "testkit")]
pub(crate) fn decode_unsigned(
    pac: &[u8],
    service_etype: Etype,
    ticket: &TicketView<'_>,
) -> Result<Pac, PacError> {
    verify_inner(pac, service_etype, None, ticket)
}

fn verify_inner(
    pac: &[u8],
    service_etype: Etype,
    server_key: Option<&ChecksumKey>,
    ticket: &TicketView<'_>,
) -> Result<Pac, PacError> {
    let mut c = Cursor::new(pac);
    let count = c.u32()?;
    if c.u32()? != 0 {
        return Err(PacError::Malformed("PAC version"));
    }
    if count == 0 || count > MAX_BUFFERS {
        return Err(PacError::Malformed("PAC buffer count"));
    }
    let mut buffers = Vec::with_capacity(count as usize);
    let header_end = 8 + 16 * count as usize;
    for _ in 0..count {
        let kind = c.u32()?;
        let size = c.u32()? as usize;
        let offset =
            usize::try_from(c.u64()?).map_err(|_| PacError::Malformed("PAC buffer offset"))?;
        let end = offset
            .checked_add(size)
            .ok_or(PacError::Malformed("PAC buffer offset"))?;
        if offset < header_end || end > pac.len() || offset % 8 != 0 {
            return Err(PacError::Malformed("PAC buffer outside the PAC"));
        }
        buffers.push(BufferRef {
            kind,
            start: offset,
            end,
        });
    }
    let body = |b: &BufferRef| {
        pac.get(b.start..b.end)
            .ok_or(PacError::Malformed("PAC buffer outside the PAC"))
    };
    let single = |kind: u32| -> Result<Option<&BufferRef>, PacError> {
        let mut found = buffers.iter().filter(|b| b.kind == kind);
        let first = found.next();
        if found.next().is_some() {
            return Err(PacError::Duplicate(kind));
        }
        Ok(first)
    };

    // Signatures first: nothing else is trusted before the server signature verifies.
    let server = single(buffer::SERVER_CHECKSUM)?.ok_or(PacError::NoServerSignature)?;
    let kdc = single(buffer::PRIVSVR_CHECKSUM)?;
    let (server_type, server_sig) = signature(body(server)?)?;
    if server_type != service_etype.checksum_type()
        || server_sig.len() != service_etype.checksum_len()
    {
        return Err(PacError::SignatureType { found: server_type });
    }
    // The server signature covers the whole PAC with both signature fields zeroed.
    let mut zeroed = vec![(server.start + 4, server.start + 4 + server_sig.len())];
    if let Some(k) = kdc {
        let (_, kdc_sig) = signature(body(k)?)?;
        zeroed.push((k.start + 4, k.start + 4 + kdc_sig.len()));
    }
    zeroed.sort_unstable();
    let zeros = [0u8; 64];
    let mut parts: Vec<&[u8]> = Vec::with_capacity(5);
    let mut at = 0;
    for (start, end) in zeroed {
        if start < at {
            return Err(PacError::Malformed("overlapping signatures"));
        }
        parts.push(
            pac.get(at..start)
                .ok_or(PacError::Malformed("signature range"))?,
        );
        parts.push(
            zeros
                .get(..end - start)
                .ok_or(PacError::Malformed("signature length"))?,
        );
        at = end;
    }
    parts.push(
        pac.get(at..)
            .ok_or(PacError::Malformed("signature range"))?,
    );
    if server_key.is_some_and(|k| !k.verify(&parts, server_sig)) {
        return Err(PacError::BadServerSignature);
    }

    let logon_info = single(buffer::LOGON_INFO)?
        .map(|b| body(b).and_then(ndr::logon_info))
        .transpose()?;
    let client_info = single(buffer::CLIENT_INFO)?
        .map(|b| body(b).and_then(client_info))
        .transpose()?;
    let upn_dns_info = single(buffer::UPN_DNS_INFO)?
        .map(|b| body(b).and_then(upn_dns_info))
        .transpose()?;
    let requestor_sid = single(buffer::REQUESTOR)?
        .map(|b| {
            body(b).and_then(|raw| {
                Sid::from_bytes(raw)
                    .map(|(s, _)| s)
                    .map_err(|_| PacError::Malformed("REQUESTOR SID"))
            })
        })
        .transpose()?;

    if let Some(info) = &client_info {
        if info.auth_time != Some(ticket.authtime) {
            return Err(PacError::ClientInfoMismatch("authtime"));
        }
        if !client_name_matches(&info.name, ticket) {
            return Err(PacError::ClientInfoMismatch("name"));
        }
    }
    // Every buffer that names the user's SID must name the same one, whichever
    // buffers are present.
    let named: [(Option<&Sid>, &'static str); 3] = [
        (logon_info.as_ref().map(|l| &l.user_sid), "LOGON_INFO"),
        (
            upn_dns_info.as_ref().and_then(|u| u.sid.as_ref()),
            "UPN_DNS_INFO",
        ),
        (requestor_sid.as_ref(), "REQUESTOR"),
    ];
    let mut first: Option<&Sid> = None;
    for (sid, buffer) in named {
        let Some(sid) = sid else { continue };
        match first {
            Some(f) if f != sid => return Err(PacError::SidMismatch(buffer)),
            Some(_) => {}
            None => first = Some(sid),
        }
    }

    Ok(Pac {
        logon_info,
        client_info,
        upn_dns_info,
        requestor_sid,
        server_checksum_type: server_type,
        has_kdc_signature: kdc.is_some(),
        buffer_types: buffers.iter().map(|b| b.kind).collect(),
    })
}

/// Case-insensitive: AD canonicalises the case of names, clients do not.
fn client_name_matches(name: &str, ticket: &TicketView<'_>) -> bool {
    let joined = ticket.client_components.join("/");
    if name.eq_ignore_ascii_case(&joined)
        || name.eq_ignore_ascii_case(&format!("{joined}@{}", ticket.client_realm))
    {
        return true;
    }
    // Enterprise principals (name type 10) carry "user@upn.suffix" as one component;
    // AD writes the same text into CLIENT_INFO.
    ticket.client_components.len() == 1
        && name.eq_ignore_ascii_case(ticket.client_components.first().copied().unwrap_or(""))
}

fn signature(raw: &[u8]) -> Result<(i32, &[u8]), PacError> {
    let (ty, rest) = raw
        .split_at_checked(4)
        .ok_or(PacError::Malformed("signature buffer"))?;
    let ty = i32::from_le_bytes(
        ty.try_into()
            .map_err(|_| PacError::Malformed("signature buffer"))?,
    );
    let len = match ty {
        15 | 16 => 12,
        -138 | 19 => 16,
        20 => 24,
        _ => return Err(PacError::SignatureType { found: ty }),
    };
    // An RODC identifier (2 bytes) may follow the signature.
    let sig = rest
        .get(..len)
        .ok_or(PacError::Malformed("signature truncated"))?;
    Ok((ty, sig))
}

fn client_info(raw: &[u8]) -> Result<ClientInfo, PacError> {
    let mut c = Cursor::new(raw);
    let auth_time = filetime_to_unix(c.u64()?);
    let len = usize::from(c.u16()?);
    let name = ndr::utf16le(c.take(len)?)?;
    if len % 2 != 0 {
        return Err(PacError::Malformed("CLIENT_INFO name length"));
    }
    Ok(ClientInfo { auth_time, name })
}

fn upn_dns_info(raw: &[u8]) -> Result<UpnDnsInfo, PacError> {
    let mut c = Cursor::new(raw);
    let (upn_len, upn_off) = (c.u16()?, c.u16()?);
    let (dns_len, dns_off) = (c.u16()?, c.u16()?);
    let flags = c.u32()?;
    let string = |off: u16, len: u16| -> Result<String, PacError> {
        let (off, len) = (usize::from(off), usize::from(len));
        let bytes = raw
            .get(off..off + len)
            .ok_or(PacError::Malformed("UPN_DNS_INFO string outside buffer"))?;
        ndr::utf16le(bytes)
    };
    let upn = string(upn_off, upn_len)?;
    let dns_domain = string(dns_off, dns_len)?;
    let (sam_name, sid) = if flags & 0x2 != 0 {
        let (sam_len, sam_off) = (c.u16()?, c.u16()?);
        let (sid_len, sid_off) = (c.u16()?, c.u16()?);
        let sam = string(sam_off, sam_len)?;
        let sid_bytes = raw
            .get(usize::from(sid_off)..usize::from(sid_off) + usize::from(sid_len))
            .ok_or(PacError::Malformed("UPN_DNS_INFO SID outside buffer"))?;
        let (sid, used) =
            Sid::from_bytes(sid_bytes).map_err(|_| PacError::Malformed("UPN_DNS_INFO SID"))?;
        if used != sid_bytes.len() {
            return Err(PacError::Malformed("UPN_DNS_INFO SID length"));
        }
        (Some(sam), Some(sid))
    } else {
        (None, None)
    };
    Ok(UpnDnsInfo {
        upn,
        dns_domain,
        upn_constructed: flags & 0x1 != 0,
        sam_name,
        sid,
    })
}
