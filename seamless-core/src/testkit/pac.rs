//! AD-style PACs for the test kit: LOGON_INFO in NDR, CLIENT_INFO, UPN_DNS_INFO,
//! REQUESTOR, an unknown buffer (type 19, as AD adds), and both signatures.

use crate::kerberos::crypto::{CryptoError, Etype, Key, OsEntropy};
use crate::kerberos::pac::Sid;
use crate::kerberos::pac::unix_to_filetime;

/// Defects in a minted PAC.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacFlaw {
    /// Corrupt the server signature.
    BadServerSignature,
    /// CLIENT_INFO names someone else.
    ClientInfoName(String),
    /// CLIENT_INFO time differs from authtime by this many seconds.
    ClientInfoTime(i64),
    /// UPN_DNS_INFO carries another SID than LOGON_INFO.
    UpnSidMismatch,
    /// REQUESTOR carries another SID than the other buffers.
    RequestorSidMismatch,
    /// Sign with the checksum type of another encryption type.
    SignatureType(Etype),
    /// Leave the server signature out.
    NoServerSignature,
    /// Truncate LOGON_INFO to this many bytes.
    TruncateLogonInfo(usize),
}

/// What the PAC says. Defaults look like an AD user in a few groups.
#[derive(Debug, Clone)]
pub struct PacSpec {
    /// The domain SID.
    pub domain_sid: Sid,
    /// The user's RID.
    pub user_rid: u32,
    /// Group RIDs in the user's domain.
    pub group_rids: Vec<u32>,
    /// ExtraSids.
    pub extra_sids: Vec<Sid>,
    /// Resource groups: domain SID and RIDs.
    pub resource_groups: Option<(Sid, Vec<u32>)>,
    /// sAMAccountName (defaults to the client name).
    pub effective_name: Option<String>,
    /// Display name.
    pub full_name: String,
    /// NetBIOS domain.
    pub logon_domain_name: String,
    /// UPN for UPN_DNS_INFO; `None` leaves the buffer out.
    pub upn: Option<String>,
    /// DNS domain for UPN_DNS_INFO.
    pub dns_domain: String,
    /// Write the extended UPN_DNS_INFO (SAM name + SID).
    pub upn_sid: bool,
    /// Include CLIENT_INFO.
    pub client_info: bool,
    /// Include a REQUESTOR buffer with the user's SID.
    pub requestor: bool,
    /// Include an unknown buffer type 19 (must be skipped).
    pub unknown_buffer: bool,
    /// Include LOGON_INFO (AD always does; MIT never).
    pub logon_info: bool,
    /// Defects.
    pub flaws: Vec<PacFlaw>,
}

impl PacSpec {
    /// The benchmarks' user: alice (RID 1105) of `S-1-5-21-1004336348-1177238915-682003330`
    /// with UPN `alice@ad.test` and 40 group memberships, like a typical AD account.
    pub fn ad_benchmark_user() -> Self {
        let domain = "S-1-5-21-1004336348-1177238915-682003330"
            .parse()
            .unwrap_or_else(|_| unreachable!("a valid SID literal"));
        let mut pac = Self::new(domain, 1105).with_upn("alice@ad.test");
        pac.group_rids = (500..540).collect();
        pac
    }

    /// A PAC for RID `user_rid` in domain `domain_sid`.
    pub fn new(domain_sid: Sid, user_rid: u32) -> Self {
        Self {
            domain_sid,
            user_rid,
            group_rids: vec![513, 1104],
            extra_sids: Vec::new(),
            resource_groups: None,
            effective_name: None,
            full_name: "Test User".into(),
            logon_domain_name: "EXAMPLE".into(),
            upn: None,
            dns_domain: "example.test".into(),
            upn_sid: true,
            client_info: true,
            requestor: false,
            unknown_buffer: true,
            logon_info: true,
            flaws: Vec::new(),
        }
    }

    /// With a UPN (adds UPN_DNS_INFO).
    pub fn with_upn(mut self, upn: &str) -> Self {
        self.upn = Some(upn.to_string());
        self
    }

    /// With a defect.
    pub fn with_flaw(mut self, flaw: PacFlaw) -> Self {
        self.flaws.push(flaw);
        self
    }

    /// The user's SID.
    pub fn user_sid(&self) -> Sid {
        self.domain_sid
            .with_rid(self.user_rid)
            .unwrap_or_else(|_| self.domain_sid.clone())
    }
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NDR writer mirroring the reader in `kerberos::pac::ndr`.
struct Ndr {
    out: Vec<u8>,
    next_ref: u32,
}

impl Ndr {
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn align4(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }
    fn pointer(&mut self, present: bool) {
        if present {
            self.next_ref += 4;
            let r = self.next_ref;
            self.u32(r);
        } else {
            self.u32(0);
        }
    }
    fn string_header(&mut self, s: &str) {
        let len = (s.encode_utf16().count() * 2) as u16;
        self.u16(len);
        self.u16(len);
        self.pointer(true);
    }
    fn string_body(&mut self, s: &str) {
        self.align4();
        let n = s.encode_utf16().count() as u32;
        self.u32(n);
        self.u32(0);
        self.u32(n);
        self.out.extend_from_slice(&utf16(s));
    }
    fn sid(&mut self, sid: &Sid) {
        self.align4();
        self.u32(sid.sub_authorities().len() as u32);
        self.out.extend_from_slice(&sid.to_bytes());
    }
}

fn logon_info(spec: &PacSpec, client: &str, auth_time: i64) -> Vec<u8> {
    let name = spec
        .effective_name
        .clone()
        .unwrap_or_else(|| client.to_string());
    let strings = [name.as_str(), spec.full_name.as_str(), "", "", "", ""];
    let mut n = Ndr {
        out: Vec::new(),
        next_ref: 0x0002_0000,
    };
    n.u32(unix_to_filetime(auth_time) as u32);
    n.u32((unix_to_filetime(auth_time) >> 32) as u32);
    n.u64(0x7FFF_FFFF_FFFF_FFFF); // LogoffTime
    n.u64(0x7FFF_FFFF_FFFF_FFFF); // KickOffTime
    n.u64(unix_to_filetime(auth_time - 86_400)); // PasswordLastSet
    n.u64(0);
    n.u64(0x7FFF_FFFF_FFFF_FFFF);
    for s in strings {
        n.string_header(s);
    }
    n.u16(7); // LogonCount
    n.u16(0);
    n.u32(spec.user_rid);
    n.u32(513);
    n.u32(spec.group_rids.len() as u32);
    n.pointer(!spec.group_rids.is_empty());
    n.u32(0x20); // UserFlags: extra SIDs
    n.out.extend_from_slice(&[0; 16]);
    n.string_header("DC1");
    n.string_header(&spec.logon_domain_name);
    n.pointer(true); // LogonDomainId
    n.out.extend_from_slice(&[0; 8]);
    n.u32(0x10); // UserAccountControl: normal account
    n.u32(0);
    n.out.extend_from_slice(&[0; 16]);
    n.u32(0);
    n.u32(0);
    n.u32(spec.extra_sids.len() as u32);
    n.pointer(!spec.extra_sids.is_empty());
    n.pointer(spec.resource_groups.is_some());
    n.u32(
        spec.resource_groups
            .as_ref()
            .map_or(0, |(_, r)| r.len() as u32),
    );
    n.pointer(spec.resource_groups.is_some());

    for s in strings {
        n.string_body(s);
    }
    if !spec.group_rids.is_empty() {
        n.align4();
        n.u32(spec.group_rids.len() as u32);
        for rid in &spec.group_rids {
            n.u32(*rid);
            n.u32(7);
        }
    }
    n.string_body("DC1");
    n.string_body(&spec.logon_domain_name);
    n.sid(&spec.domain_sid);
    if !spec.extra_sids.is_empty() {
        n.align4();
        n.u32(spec.extra_sids.len() as u32);
        for _ in &spec.extra_sids {
            n.pointer(true);
            n.u32(7);
        }
        for sid in &spec.extra_sids {
            n.sid(sid);
        }
    }
    if let Some((domain, rids)) = &spec.resource_groups {
        n.sid(domain);
        n.align4();
        n.u32(rids.len() as u32);
        for rid in rids {
            n.u32(*rid);
            n.u32(7);
        }
    }
    n.align4();
    let body = n.out;
    let mut out = vec![1, 0x10, 8, 0, 0xCC, 0xCC, 0xCC, 0xCC];
    out.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&0x0002_0000u32.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn client_info(name: &str, auth_time: i64) -> Vec<u8> {
    let mut out = unix_to_filetime(auth_time).to_le_bytes().to_vec();
    let raw = utf16(name);
    out.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    out.extend_from_slice(&raw);
    out
}

fn upn_dns_info(upn: &str, dns: &str, sam: Option<(&str, &Sid)>) -> Vec<u8> {
    let header = if sam.is_some() { 24 } else { 16 };
    let upn_raw = utf16(upn);
    let dns_raw = utf16(dns);
    let mut tail = Vec::new();
    let place = |raw: &[u8], tail: &mut Vec<u8>| -> (u16, u16) {
        while !tail.len().is_multiple_of(2) {
            tail.push(0);
        }
        let off = (header + tail.len()) as u16;
        tail.extend_from_slice(raw);
        (raw.len() as u16, off)
    };
    let (ul, uo) = place(&upn_raw, &mut tail);
    let (dl, dof) = place(&dns_raw, &mut tail);
    let mut out = Vec::new();
    for v in [ul, uo, dl, dof] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    match sam {
        Some((sam, sid)) => {
            let (sl, so) = place(&utf16(sam), &mut tail);
            let (il, io) = place(&sid.to_bytes(), &mut tail);
            out.extend_from_slice(&2u32.to_le_bytes());
            for v in [sl, so, il, io] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        None => out.extend_from_slice(&0u32.to_le_bytes()),
    }
    // Windows pads the fixed part to 8 bytes; the offsets above assume it.
    out.resize(header, 0);
    out.extend_from_slice(&tail);
    out
}

/// Builds a signed PAC.
pub(super) fn build(
    spec: &PacSpec,
    client: &str,
    auth_time: i64,
    service_key: &Key,
) -> Result<Vec<u8>, CryptoError> {
    let has = |f: &PacFlaw| spec.flaws.contains(f);
    let mut buffers: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut logon = logon_info(spec, client, auth_time);
    if let Some(n) = spec.flaws.iter().find_map(|f| match f {
        PacFlaw::TruncateLogonInfo(n) => Some(*n),
        _ => None,
    }) {
        logon.truncate(n);
    }
    if spec.logon_info {
        buffers.push((1, logon));
    }
    if spec.client_info {
        let name = spec
            .flaws
            .iter()
            .find_map(|f| match f {
                PacFlaw::ClientInfoName(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_else(|| client.to_string());
        let delta = spec.flaws.iter().find_map(|f| match f {
            PacFlaw::ClientInfoTime(d) => Some(*d),
            _ => None,
        });
        buffers.push((10, client_info(&name, auth_time + delta.unwrap_or(0))));
    }
    let user_sid = spec.user_sid();
    if let Some(upn) = &spec.upn {
        let other = spec
            .domain_sid
            .with_rid(spec.user_rid + 1)
            .unwrap_or_else(|_| user_sid.clone());
        let sid = if has(&PacFlaw::UpnSidMismatch) {
            &other
        } else {
            &user_sid
        };
        let sam = spec
            .effective_name
            .clone()
            .unwrap_or_else(|| client.to_string());
        buffers.push((
            12,
            upn_dns_info(
                upn,
                &spec.dns_domain,
                spec.upn_sid.then_some((sam.as_str(), sid)),
            ),
        ));
    }
    if spec.requestor {
        let other = spec
            .domain_sid
            .with_rid(spec.user_rid + 2)
            .unwrap_or_else(|_| user_sid.clone());
        let sid = if has(&PacFlaw::RequestorSidMismatch) {
            &other
        } else {
            &user_sid
        };
        buffers.push((18, sid.to_bytes()));
    }
    if spec.unknown_buffer {
        buffers.push((19, vec![0x5A; 20]));
    }
    let sig_etype = spec
        .flaws
        .iter()
        .find_map(|f| match f {
            PacFlaw::SignatureType(e) => Some(*e),
            _ => None,
        })
        .unwrap_or(service_key.etype());
    let sig_len = sig_etype.checksum_len();
    let mut sig_buffer = sig_etype.checksum_type().to_le_bytes().to_vec();
    sig_buffer.extend(std::iter::repeat_n(0, sig_len));
    if !has(&PacFlaw::NoServerSignature) {
        buffers.push((6, sig_buffer.clone()));
    }
    // KDC signature: HMAC-SHA1-96 with a throwaway "krbtgt" key; nobody can check it.
    let mut kdc_sig = 16i32.to_le_bytes().to_vec();
    kdc_sig.extend(std::iter::repeat_n(0, 12));
    buffers.push((7, kdc_sig));

    let header = 8 + 16 * buffers.len();
    let mut offsets = Vec::new();
    let mut at = header.next_multiple_of(8);
    for (_, b) in &buffers {
        offsets.push(at);
        at = (at + b.len()).next_multiple_of(8);
    }
    let mut pac = vec![0u8; at];
    pac[..4].copy_from_slice(&(buffers.len() as u32).to_le_bytes());
    for (i, ((kind, body), off)) in buffers.iter().zip(&offsets).enumerate() {
        let e = 8 + 16 * i;
        pac[e..e + 4].copy_from_slice(&kind.to_le_bytes());
        pac[e + 4..e + 8].copy_from_slice(&(body.len() as u32).to_le_bytes());
        pac[e + 8..e + 16].copy_from_slice(&(*off as u64).to_le_bytes());
        pac[*off..*off + body.len()].copy_from_slice(body);
    }
    if let Some(i) = buffers.iter().position(|(k, _)| *k == 6) {
        let sign_key = if sig_etype == service_key.etype() {
            service_key.clone()
        } else {
            Key::random(sig_etype, &OsEntropy)?
        };
        let mut sig = sign_key.checksum(17, &[&pac])?;
        if has(&PacFlaw::BadServerSignature) {
            sig[0] ^= 0xFF;
        }
        let off = offsets[i] + 4;
        pac[off..off + sig.len()].copy_from_slice(&sig);
        // The KDC signature covers the server signature; fill it with something.
        if let Some(k) = buffers.iter().position(|(k, _)| *k == 7) {
            let krbtgt = Key::random(Etype::Aes256CtsHmacSha196, &OsEntropy)?;
            let kdc = krbtgt.checksum(17, &[&sig])?;
            let koff = offsets[k] + 4;
            pac[koff..koff + kdc.len()].copy_from_slice(&kdc);
        }
    }
    Ok(pac)
}
