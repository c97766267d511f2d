//! The NDR (DCE/RPC type serialization version 1) decoding of LOGON_INFO's
//! `KERB_VALIDATION_INFO` (MS-PAC §2.5), bounds-checked at every read.
//!
//! Only the little-endian form with 32-bit unique pointers is accepted, which is
//! what every KDC writes. Deferred pointees are read in the order NDR places them:
//! the fixed part first, then each non-null pointer's data in field order, with an
//! array's own embedded pointees right after the array.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::sid::{MAX_SUB_AUTHORITIES, Sid};
use super::{LogonInfo, PacError, filetime_to_unix};

/// A little-endian cursor that fails instead of reading past the end.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], PacError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(PacError::Malformed("length overflow"))?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or(PacError::Malformed("truncated"))?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PacError> {
        self.take(N)?
            .try_into()
            .map_err(|_| PacError::Malformed("truncated"))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, PacError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, PacError> {
        self.array().map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, PacError> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, PacError> {
        self.array().map(u64::from_le_bytes)
    }

    fn align(&mut self, n: usize) -> Result<(), PacError> {
        let pad = (n - self.pos % n) % n;
        self.take(pad).map(|_| ())
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }
}

/// RPC_UNICODE_STRING's inline part: lengths in bytes and a referent id.
#[derive(Clone, Copy)]
struct UnicodeString {
    length: u16,
    max_length: u16,
    pointer: u32,
}

fn unicode_header(c: &mut Cursor<'_>) -> Result<UnicodeString, PacError> {
    let length = c.u16()?;
    let max_length = c.u16()?;
    let pointer = c.u32()?;
    if length % 2 != 0 || length > max_length {
        return Err(PacError::Malformed("RPC_UNICODE_STRING lengths"));
    }
    Ok(UnicodeString {
        length,
        max_length,
        pointer,
    })
}

fn unicode_body(c: &mut Cursor<'_>, header: UnicodeString) -> Result<String, PacError> {
    unicode_raw(c, header).and_then(utf16le)
}

/// A string's body checked as UTF-16 and not decoded (the fields nothing reads).
fn skip_unicode_body(c: &mut Cursor<'_>, header: UnicodeString) -> Result<(), PacError> {
    let raw = unicode_raw(c, header)?;
    if char::decode_utf16(units(raw)).all(|unit| unit.is_ok()) {
        Ok(())
    } else {
        Err(PacError::Malformed("UTF-16 string"))
    }
}

/// A string's body: its UTF-16LE bytes, after its conformance counts.
fn unicode_raw<'a>(c: &mut Cursor<'a>, header: UnicodeString) -> Result<&'a [u8], PacError> {
    if header.pointer == 0 {
        return Ok(&[]);
    }
    c.align(4)?;
    let max_count = c.u32()? as usize;
    let offset = c.u32()?;
    let actual = c.u32()? as usize;
    if offset != 0
        || actual * 2 != usize::from(header.length)
        || max_count * 2 != usize::from(header.max_length)
    {
        return Err(PacError::Malformed("conformant string counts"));
    }
    c.take(actual * 2)
}

fn units(raw: &[u8]) -> impl Iterator<Item = u16> + '_ {
    raw.chunks_exact(2)
        .map(|p| p.try_into().map_or(0, u16::from_le_bytes))
}

/// UTF-16LE bytes as a string (an odd last byte is ignored), in one allocation.
pub(crate) fn utf16le(raw: &[u8]) -> Result<String, PacError> {
    let mut text = String::with_capacity(raw.len() / 2);
    for unit in char::decode_utf16(units(raw)) {
        text.push(unit.map_err(|_| PacError::Malformed("UTF-16 string"))?);
    }
    Ok(text)
}

fn rpc_sid(c: &mut Cursor<'_>) -> Result<Sid, PacError> {
    c.align(4)?;
    let max_count = c.u32()? as usize;
    if max_count > MAX_SUB_AUTHORITIES {
        return Err(PacError::Malformed("SID sub-authority count"));
    }
    let start = c.pos;
    let rest = c
        .bytes
        .get(start..)
        .ok_or(PacError::Malformed("truncated"))?;
    let (sid, used) = Sid::from_bytes(rest).map_err(|_| PacError::Malformed("SID"))?;
    if sid.sub_authorities().len() != max_count {
        return Err(PacError::Malformed("SID conformance"));
    }
    c.take(used)?;
    Ok(sid)
}

/// Relative ids with attributes (GROUP_MEMBERSHIP arrays).
fn group_rids(c: &mut Cursor<'_>, count: u32) -> Result<Vec<u32>, PacError> {
    c.align(4)?;
    if c.u32()? != count {
        return Err(PacError::Malformed("group array conformance"));
    }
    let count = count as usize;
    if count.saturating_mul(8) > c.remaining() {
        return Err(PacError::Malformed("group array truncated"));
    }
    let mut rids = Vec::with_capacity(count);
    for _ in 0..count {
        rids.push(c.u32()?);
        c.u32()?; // attributes
    }
    Ok(rids)
}

/// Decodes a LOGON_INFO buffer.
pub(crate) fn logon_info(buffer: &[u8]) -> Result<LogonInfo, PacError> {
    let mut c = Cursor::new(buffer);
    // Common type header: version 1, little-endian (0x10), header length 8.
    let (version, endian, header_len) = (c.u8()?, c.u8()?, c.u16()?);
    if version != 1 || endian != 0x10 || header_len != 8 {
        return Err(PacError::Malformed("NDR common header"));
    }
    c.u32()?; // filler
    let object_len = c.u32()? as usize;
    c.u32()?; // filler
    if object_len > c.remaining() {
        return Err(PacError::Malformed("NDR object length"));
    }
    if c.u32()? == 0 {
        return Err(PacError::Malformed("null KERB_VALIDATION_INFO"));
    }

    let logon_time = c.u64()?;
    c.take(8 * 2)?; // LogoffTime, KickOffTime
    let password_last_set = c.u64()?;
    c.take(8 * 2)?; // PasswordCanChange, PasswordMustChange
    let mut names = [UnicodeString {
        length: 0,
        max_length: 0,
        pointer: 0,
    }; 6];
    for n in &mut names {
        *n = unicode_header(&mut c)?;
    }
    c.u16()?; // LogonCount
    c.u16()?; // BadPasswordCount
    let user_id = c.u32()?;
    let primary_group_id = c.u32()?;
    let group_count = c.u32()?;
    let group_ptr = c.u32()?;
    let user_flags = c.u32()?;
    c.take(16)?; // UserSessionKey
    let logon_server = unicode_header(&mut c)?;
    let logon_domain = unicode_header(&mut c)?;
    let domain_id_ptr = c.u32()?;
    c.take(8)?; // Reserved1
    let user_account_control = c.u32()?;
    c.u32()?; // SubAuthStatus
    c.take(16)?; // LastSuccessfulILogon, LastFailedILogon
    c.u32()?; // FailedILogonCount
    c.u32()?; // Reserved3
    let sid_count = c.u32()?;
    let extra_ptr = c.u32()?;
    let resource_domain_ptr = c.u32()?;
    let resource_count = c.u32()?;
    let resource_ptr = c.u32()?;

    let [effective, full, _script, _profile, _home, _drive] = names;
    let effective_name = unicode_body(&mut c, effective)?;
    let full_name = unicode_body(&mut c, full)?;
    for n in [_script, _profile, _home, _drive] {
        skip_unicode_body(&mut c, n)?;
    }
    let group_rid_list = if group_ptr != 0 {
        group_rids(&mut c, group_count)?
    } else {
        Vec::new()
    };
    let logon_server = unicode_body(&mut c, logon_server)?;
    let logon_domain_name = unicode_body(&mut c, logon_domain)?;
    if domain_id_ptr == 0 {
        return Err(PacError::Malformed("LogonDomainId missing"));
    }
    let domain_sid = rpc_sid(&mut c)?;

    let mut extra_sids = Vec::new();
    if extra_ptr != 0 {
        c.align(4)?;
        if c.u32()? != sid_count {
            return Err(PacError::Malformed("ExtraSids conformance"));
        }
        if (sid_count as usize).saturating_mul(8) > c.remaining() {
            return Err(PacError::Malformed("ExtraSids truncated"));
        }
        let mut pointers = Vec::with_capacity(sid_count as usize);
        for _ in 0..sid_count {
            pointers.push(c.u32()?);
            c.u32()?; // attributes
        }
        for p in pointers {
            if p != 0 {
                extra_sids.push(rpc_sid(&mut c)?);
            }
        }
    }
    let mut resource_group_sids = Vec::new();
    if resource_domain_ptr != 0 {
        let resource_domain = rpc_sid(&mut c)?;
        if resource_ptr != 0 {
            let rids = group_rids(&mut c, resource_count)?;
            resource_group_sids.reserve_exact(rids.len());
            for rid in rids {
                resource_group_sids.push(
                    resource_domain
                        .with_rid(rid)
                        .map_err(|_| PacError::Malformed("SID"))?,
                );
            }
        }
    }

    // A domain SID with room for a RID has room for every RID.
    let user_sid = domain_sid
        .with_rid(user_id)
        .map_err(|_| PacError::Malformed("SID"))?;
    let mut group_sids = Vec::with_capacity(group_rid_list.len());
    for rid in group_rid_list {
        group_sids.push(
            domain_sid
                .with_rid(rid)
                .map_err(|_| PacError::Malformed("SID"))?,
        );
    }
    Ok(LogonInfo {
        logon_time: filetime_to_unix(logon_time),
        password_last_set: filetime_to_unix(password_last_set),
        effective_name,
        full_name,
        logon_server,
        logon_domain_name,
        user_id,
        primary_group_id,
        user_flags,
        user_account_control,
        domain_sid,
        user_sid,
        group_sids,
        extra_sids,
        resource_group_sids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(units: &[u16]) -> Vec<u8> {
        units.iter().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// PAC strings decode as `String::from_utf16` does, in one pass: the same
    /// text for any units, and a refusal exactly where it refuses (lone
    /// surrogates).
    #[test]
    fn utf16le_decodes_as_the_standard_library_does() {
        for units in [
            vec![],
            "alice@AD.TEST".encode_utf16().collect::<Vec<_>>(),
            "Zoë Ünïcödé 名前 🎉".encode_utf16().collect(),
            vec![0xD83C],         // a high surrogate alone
            vec![0xDF89, 0x0041], // a low surrogate first
            vec![0x0041, 0xD83C, 0x0042],
        ] {
            let ours = utf16le(&le(&units)).ok();
            assert_eq!(ours, String::from_utf16(&units).ok(), "{units:x?}");
            let skipped = char::decode_utf16(units.iter().copied()).all(|u| u.is_ok());
            assert_eq!(skipped, ours.is_some(), "{units:x?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn utf16le_matches_from_utf16(units in proptest::collection::vec(proptest::num::u16::ANY, 0..64)) {
            proptest::prop_assert_eq!(utf16le(&le(&units)).ok(), String::from_utf16(&units).ok());
        }
    }
}
