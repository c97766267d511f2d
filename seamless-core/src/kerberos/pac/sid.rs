//! Windows security identifiers (MS-DTYP §2.4.2).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fmt;
use std::str::FromStr;

/// The most sub-authorities a SID may have.
pub(crate) const MAX_SUB_AUTHORITIES: usize = 15;

/// A security identifier such as `S-1-5-21-1004336348-1177238915-682003330-512`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    revision: u8,
    authority: u64,
    /// The sub-authorities, inline (a SID has at most 15): a user's groups are
    /// many SIDs, and none of them allocates. Unused slots stay zero, so the
    /// derived comparisons order SIDs as their sub-authority slices do.
    subs: [u32; MAX_SUB_AUTHORITIES],
    count: u8,
}

/// Why a SID could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed SID")]
pub struct SidError;

impl Sid {
    /// Builds a SID from its parts.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Result<Self, SidError> {
        if sub_authorities.len() > MAX_SUB_AUTHORITIES || authority >= 1 << 48 {
            return Err(SidError);
        }
        Ok(Self::from_parts(1, authority, sub_authorities))
    }

    /// A SID from parts already checked (at most 15 sub-authorities).
    fn from_parts(revision: u8, authority: u64, sub_authorities: &[u32]) -> Self {
        let mut subs = [0; MAX_SUB_AUTHORITIES];
        subs.iter_mut()
            .zip(sub_authorities)
            .for_each(|(slot, s)| *slot = *s);
        Self {
            revision,
            authority,
            subs,
            count: sub_authorities.len().min(MAX_SUB_AUTHORITIES) as u8,
        }
    }

    /// Decodes the binary form (revision, count, 48-bit big-endian authority,
    /// little-endian sub-authorities). Returns the SID and the bytes it used.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, usize), SidError> {
        let (header, rest) = bytes.split_at_checked(8).ok_or(SidError)?;
        let [revision, count, a0, a1, a2, a3, a4, a5] = header.try_into().map_err(|_| SidError)?;
        let count = usize::from(count);
        if revision != 1 || count > MAX_SUB_AUTHORITIES {
            return Err(SidError);
        }
        let authority = u64::from_be_bytes([0, 0, a0, a1, a2, a3, a4, a5]);
        let raw = rest.get(..count * 4).ok_or(SidError)?;
        let mut subs = [0; MAX_SUB_AUTHORITIES];
        for (slot, c) in subs.iter_mut().zip(raw.chunks_exact(4)) {
            *slot = <[u8; 4]>::try_from(c)
                .map(u32::from_le_bytes)
                .map_err(|_| SidError)?;
        }
        Ok((
            Self {
                revision,
                authority,
                subs,
                count: count as u8,
            },
            8 + count * 4,
        ))
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.revision, self.count];
        out.extend_from_slice(self.authority.to_be_bytes().get(2..).unwrap_or_default());
        for s in self.sub_authorities() {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// This SID with one more sub-authority (domain SID + RID).
    pub fn with_rid(&self, rid: u32) -> Result<Self, SidError> {
        let mut sid = self.clone();
        let slot = sid.subs.get_mut(usize::from(self.count)).ok_or(SidError)?;
        *slot = rid;
        sid.count += 1;
        Ok(sid)
    }

    /// The last sub-authority (the RID of an account SID).
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities().last().copied()
    }

    /// The SID without its last sub-authority (the domain of an account SID).
    pub fn domain(&self) -> Option<Sid> {
        let (_, head) = self.sub_authorities().split_last()?;
        Some(Self::from_parts(self.revision, self.authority, head))
    }

    /// The sub-authorities.
    pub fn sub_authorities(&self) -> &[u32] {
        self.subs.get(..usize::from(self.count)).unwrap_or_default()
    }
}

/// The longest text form: `S-255-0x` and 12 hex digits, then 15 times `-` and
/// 10 digits.
const MAX_TEXT: usize = 8 + 12 + MAX_SUB_AUTHORITIES * 11;

/// A SID's text, built on the stack: a user's groups are formatted on every
/// sign-in (claims, sealed states), and one `write_str` costs far less than a
/// formatting call per part.
struct Text {
    bytes: [u8; MAX_TEXT],
    len: usize,
}

impl Text {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_str(&mut self, s: &str) {
        s.bytes().for_each(|b| self.push(b));
    }

    fn push_decimal(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut n = 0;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
            n += 1;
            if v == 0 {
                break;
            }
        }
        digits.iter().skip(20 - n).for_each(|&d| self.push(d));
    }

    fn push_hex12(&mut self, v: u64) {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        for shift in (0..12).rev() {
            let nibble = ((v >> (shift * 4)) & 0xf) as usize;
            self.push(DIGITS.get(nibble).copied().unwrap_or(b'0'));
        }
    }

    fn as_str(&self) -> &str {
        self.bytes
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl Sid {
    /// The string form as an exactly sized `String` (what `to_string` gives,
    /// without the formatter's growing buffer: a sign-in writes every group).
    pub fn to_text(&self) -> String {
        self.text().as_str().to_owned()
    }

    fn text(&self) -> Text {
        let mut text = Text {
            bytes: [0; MAX_TEXT],
            len: 0,
        };
        text.push_str("S-");
        text.push_decimal(u64::from(self.revision));
        text.push(b'-');
        if self.authority >= 1 << 32 {
            text.push_str("0x");
            text.push_hex12(self.authority);
        } else {
            text.push_decimal(self.authority);
        }
        for s in self.sub_authorities() {
            text.push(b'-');
            text.push_decimal(u64::from(*s));
        }
        text
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Sid {
    type Err = SidError;

    fn from_str(s: &str) -> Result<Self, SidError> {
        let mut parts = s.split('-');
        if !parts.next().is_some_and(|p| p.eq_ignore_ascii_case("S")) || parts.next() != Some("1") {
            return Err(SidError);
        }
        let authority = match parts.next() {
            Some(a) if a.starts_with("0x") || a.starts_with("0X") => {
                u64::from_str_radix(a.get(2..).unwrap_or_default(), 16).map_err(|_| SidError)?
            }
            Some(a) => a.parse().map_err(|_| SidError)?,
            None => return Err(SidError),
        };
        let subs = parts
            .map(|p| p.parse::<u32>().map_err(|_| SidError))
            .collect::<Result<Vec<_>, _>>()?;
        Sid::new(authority, &subs)
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid SID {text:?}")))
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The text form as MS-DTYP §2.4.2.1 writes it, with `format!`.
    fn reference(authority: u64, subs: &[u32]) -> String {
        let authority = if authority >= 1 << 32 {
            format!("0x{authority:012X}")
        } else {
            authority.to_string()
        };
        let subs: String = subs.iter().map(|s| format!("-{s}")).collect();
        format!("S-1-{authority}{subs}")
    }

    #[test]
    fn the_text_form_matches_the_reference_at_every_edge() {
        for authority in [0, 5, 9, 10, (1 << 32) - 1, 1 << 32, (1 << 48) - 1] {
            for subs in [
                vec![],
                vec![0],
                vec![u32::MAX; MAX_SUB_AUTHORITIES],
                vec![21, 1_004_336_348, 1_177_238_915, 682_003_330, 512],
            ] {
                let sid = Sid::new(authority, &subs).unwrap();
                let text = sid.to_string();
                assert_eq!(text, reference(authority, &subs));
                assert_eq!(text.parse::<Sid>().unwrap(), sid, "{text}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_sid_formats_as_the_reference_and_parses_back(
            authority in 0u64..(1 << 48),
            subs in proptest::collection::vec(proptest::num::u32::ANY, 0..=MAX_SUB_AUTHORITIES),
        ) {
            let sid = Sid::new(authority, &subs).unwrap();
            let text = sid.to_string();
            proptest::prop_assert_eq!(&text, &reference(authority, &subs));
            proptest::prop_assert_eq!(&sid.to_text(), &text);
            proptest::prop_assert_eq!(text.parse::<Sid>().unwrap(), sid.clone());
            let bytes = sid.to_bytes();
            proptest::prop_assert_eq!(Sid::from_bytes(&bytes).unwrap(), (sid, bytes.len()));
        }

        /// Held inline, SIDs still compare as their sub-authority lists do.
        #[test]
        fn sids_order_as_their_sub_authorities(
            a in proptest::collection::vec(0u32..3, 0..=MAX_SUB_AUTHORITIES),
            b in proptest::collection::vec(0u32..3, 0..=MAX_SUB_AUTHORITIES),
        ) {
            let (x, y) = (Sid::new(5, &a).unwrap(), Sid::new(5, &b).unwrap());
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
        }
    }

    #[test]
    fn text_and_binary_forms_round_trip() {
        let text = "S-1-5-21-1004336348-1177238915-682003330-512";
        let sid: Sid = text.parse().expect("parses");
        assert_eq!(sid.to_string(), text);
        let (back, used) = Sid::from_bytes(&sid.to_bytes()).expect("binary");
        assert_eq!((back, used), (sid.clone(), 8 + 5 * 4));
        assert_eq!(sid.rid(), Some(512));
        assert_eq!(
            sid.domain().expect("domain").with_rid(512).expect("rid"),
            sid
        );
        assert!("S-1-5-x".parse::<Sid>().is_err());
        assert!(Sid::from_bytes(&[1, 16, 0, 0, 0, 0, 0, 5]).is_err());
        assert!(Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0]).is_err());
    }
}
