//! A strict, zero-copy DER reader and a small DER writer.
//!
//! Kerberos (RFC 4120) and SPNEGO (RFC 4178) are DER on the wire. The reader only
//! knows what those need: low-number tags, definite minimal lengths, and the handful
//! of universal types Kerberos uses. Every read is bounds-checked and returns an
//! error on the first byte that does not fit, so no input can make it panic, loop or
//! allocate more than its own size. Schema depth is fixed by the callers; the one
//! recursive structure (authorization data) carries its own depth bound.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fmt;

/// Why a DER value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DerError {
    /// What was being read when the input ran out or did not fit.
    pub(crate) what: &'static str,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed DER ({})", self.what)
    }
}

pub(crate) type DerResult<T> = Result<T, DerError>;

fn err<T>(what: &'static str) -> DerResult<T> {
    Err(DerError { what })
}

/// Tag bytes used by Kerberos and SPNEGO (all low-number form).
pub(crate) mod tag {
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const ENUMERATED: u8 = 0x0A;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const GENERAL_STRING: u8 = 0x1B;
    pub(crate) const SEQUENCE: u8 = 0x30;

    /// `[n]` context-specific, constructed (explicit tagging).
    pub(crate) const fn context(n: u8) -> u8 {
        0xA0 | n
    }

    /// `[APPLICATION n]`, constructed.
    pub(crate) const fn application(n: u8) -> u8 {
        0x60 | n
    }
}

/// A cursor over DER bytes.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The bytes not read yet.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The next tag byte without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one TLV and returns its tag and contents.
    pub(crate) fn any(&mut self) -> DerResult<(u8, &'a [u8])> {
        let (&tag, after_tag) = self.rest.split_first().ok_or(DerError { what: "tag" })?;
        if tag & 0x1F == 0x1F {
            return err("high-number tag");
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(DerError { what: "length" })?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7F);
            if count == 0 {
                return err("indefinite length");
            }
            if count > 4 {
                return err("length too long");
            }
            let (len_bytes, tail) = after_len
                .split_at_checked(count)
                .ok_or(DerError { what: "length" })?;
            if len_bytes.first() == Some(&0) {
                return err("non-minimal length");
            }
            let mut len = 0usize;
            for &b in len_bytes {
                len = (len << 8) | usize::from(b);
            }
            if len < 0x80 {
                return err("non-minimal length");
            }
            after_len = tail;
            len
        };
        let (value, rest) = after_len
            .split_at_checked(len)
            .ok_or(DerError { what: "value" })?;
        self.rest = rest;
        Ok((tag, value))
    }

    /// Reads one TLV whose tag must be `want`; returns its contents.
    pub(crate) fn expect(&mut self, want: u8, what: &'static str) -> DerResult<&'a [u8]> {
        let (tag, value) = self.any()?;
        if tag != want {
            return err(what);
        }
        Ok(value)
    }

    /// Reads a TLV with tag `want` if it is next; `None` otherwise.
    pub(crate) fn optional(&mut self, want: u8) -> DerResult<Option<&'a [u8]>> {
        if self.peek_tag() == Some(want) {
            let (_, value) = self.any()?;
            Ok(Some(value))
        } else {
            Ok(None)
        }
    }

    /// Enters a constructed TLV with tag `want` and returns a reader over its contents.
    pub(crate) fn enter(&mut self, want: u8, what: &'static str) -> DerResult<Reader<'a>> {
        self.expect(want, what).map(Reader::new)
    }

    /// Enters `[n] SEQUENCE` style explicit fields: `[n]` then the inner TLV of `inner`.
    pub(crate) fn explicit(&mut self, n: u8, inner: u8, what: &'static str) -> DerResult<&'a [u8]> {
        let mut field = self.enter(tag::context(n), what)?;
        let value = field.expect(inner, what)?;
        field.finish(what)?;
        Ok(value)
    }

    /// Like [`Reader::explicit`] but the field may be absent.
    pub(crate) fn optional_explicit(
        &mut self,
        n: u8,
        inner: u8,
        what: &'static str,
    ) -> DerResult<Option<&'a [u8]>> {
        if self.peek_tag() == Some(tag::context(n)) {
            self.explicit(n, inner, what).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails unless every byte has been read: DER allows no trailing data.
    pub(crate) fn finish(&self, what: &'static str) -> DerResult<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            err(what)
        }
    }

    /// Skips any remaining fields (for extensible SEQUENCEs read in order).
    pub(crate) fn skip_rest(&mut self) -> DerResult<()> {
        while !self.is_empty() {
            self.any()?;
        }
        Ok(())
    }
}

/// Decodes a DER INTEGER that must fit an `i64`.
pub(crate) fn integer(bytes: &[u8]) -> DerResult<i64> {
    let (&first, rest) = bytes.split_first().ok_or(DerError {
        what: "empty integer",
    })?;
    if bytes.len() > 8 {
        return err("integer too large");
    }
    if let Some(&second) = rest.first()
        && ((first == 0 && second & 0x80 == 0) || (first == 0xFF && second & 0x80 != 0))
    {
        return err("non-minimal integer");
    }
    let mut value: i64 = if first & 0x80 != 0 { -1 } else { 0 };
    for &b in bytes {
        value = (value << 8) | i64::from(b);
    }
    Ok(value)
}

/// Decodes a DER INTEGER that must be a non-negative `u32` (kvno, cusec, ...).
pub(crate) fn uint32(bytes: &[u8], what: &'static str) -> DerResult<u32> {
    u32::try_from(integer(bytes)?).or(err(what))
}

/// Decodes a DER INTEGER that must fit an `i32` (etypes, name types).
pub(crate) fn int32(bytes: &[u8], what: &'static str) -> DerResult<i32> {
    i32::try_from(integer(bytes)?).or(err(what))
}

/// Decodes a KerberosString (GeneralString restricted to IA5 in practice).
///
/// RFC 4120 §5.2.1 allows only IA5 but AD and MIT put UTF-8 there; anything that is
/// not UTF-8 or contains a control character is rejected.
pub(crate) fn kerberos_string(bytes: &[u8]) -> DerResult<&str> {
    let s = std::str::from_utf8(bytes).or(err("string not UTF-8"))?;
    if s.chars().any(char::is_control) {
        return err("control character in string");
    }
    Ok(s)
}

/// Decodes a KerberosTime (`YYYYMMDDHHMMSSZ`) to seconds since the Unix epoch.
pub(crate) fn kerberos_time(bytes: &[u8]) -> DerResult<i64> {
    let b: &[u8; 15] = bytes.try_into().or(err("time length"))?;
    if b[14] != b'Z' {
        return err("time zone");
    }
    let mut digits = [0u32; 14];
    for (d, &c) in digits.iter_mut().zip(b.iter()) {
        if !c.is_ascii_digit() {
            return err("time digit");
        }
        *d = u32::from(c - b'0');
    }
    let num = |i: usize, n: usize| {
        digits
            .iter()
            .skip(i)
            .take(n)
            .fold(0u32, |acc, d| acc * 10 + d)
    };
    let (year, month, day) = (num(0, 4), num(4, 2), num(6, 2));
    let (hour, minute, second) = (num(8, 2), num(10, 2), num(12, 2));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return err("time out of range");
    }
    let days = days_from_civil(i64::from(year), month, day);
    Ok(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

/// Encodes seconds since the Unix epoch as a KerberosTime.
pub(crate) fn format_kerberos_time(secs: i64) -> [u8; 15] {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let text = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        year.clamp(0, 9999),
        month,
        day,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    let mut out = [b'0'; 15];
    for (o, b) in out.iter_mut().zip(text.bytes()) {
        *o = b;
    }
    out
}

// Howard Hinnant's civil-date algorithms (public domain description), proleptic Gregorian.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Decodes KerberosFlags (a BIT STRING of at least 32 bits) to a `u32` with bit 0 as
/// the most significant bit, as RFC 4120 numbers them.
pub(crate) fn kerberos_flags(bytes: &[u8]) -> DerResult<u32> {
    let (&unused, bits) = bytes.split_first().ok_or(DerError { what: "bit string" })?;
    if unused > 7 {
        return err("bit string padding");
    }
    let mut value = 0u32;
    for i in 0..4 {
        value = (value << 8) | u32::from(bits.get(i).copied().unwrap_or(0));
    }
    Ok(value)
}

/// A growable DER writer. Constructed values are written by closures so that
/// lengths are always right.
#[derive(Default)]
pub(crate) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// Writes a TLV with raw contents.
    pub(crate) fn raw(&mut self, tag: u8, value: &[u8]) {
        self.out.push(tag);
        push_len(&mut self.out, value.len());
        self.out.extend_from_slice(value);
    }

    /// Appends an already encoded TLV.
    #[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
    pub(crate) fn raw_tlv(&mut self, encoded: &[u8]) {
        self.out.extend_from_slice(encoded);
    }

    /// Writes a constructed TLV whose contents `f` writes, in place: the length
    /// is written after the contents, moving them only when it needs more than
    /// the one byte kept for it (contents of 128 bytes or more).
    pub(crate) fn nest(&mut self, tag: u8, f: impl FnOnce(&mut Writer)) {
        self.out.push(tag);
        let at = self.out.len();
        self.out.push(0);
        f(self);
        let (header, n) = length(self.out.len() - at - 1);
        let header = header.get(..n).unwrap_or_default();
        match header {
            [short] => {
                if let Some(byte) = self.out.get_mut(at) {
                    *byte = *short;
                }
            }
            _ => drop(self.out.splice(at..=at, header.iter().copied())),
        }
    }

    /// Writes `[n] { f }`.
    pub(crate) fn field(&mut self, n: u8, f: impl FnOnce(&mut Writer)) {
        self.nest(tag::context(n), f);
    }

    pub(crate) fn integer(&mut self, value: i64) {
        let bytes = value.to_be_bytes();
        // Drop leading bytes that only repeat the sign (DER minimal encoding).
        let start = bytes
            .windows(2)
            .take_while(|w| {
                matches!(w, [0x00, n] if n & 0x80 == 0) || matches!(w, [0xFF, n] if n & 0x80 != 0)
            })
            .count();
        self.raw(tag::INTEGER, bytes.get(start..).unwrap_or(&bytes));
    }

    pub(crate) fn octet_string(&mut self, value: &[u8]) {
        self.raw(tag::OCTET_STRING, value);
    }

    #[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
    pub(crate) fn general_string(&mut self, value: &str) {
        self.raw(tag::GENERAL_STRING, value.as_bytes());
    }

    pub(crate) fn time(&mut self, secs: i64) {
        self.raw(tag::GENERALIZED_TIME, &format_kerberos_time(secs));
    }

    #[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
    pub(crate) fn flags(&mut self, value: u32) {
        let b = value.to_be_bytes();
        self.raw(tag::BIT_STRING, &[0, b[0], b[1], b[2], b[3]]);
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    let (bytes, n) = length(len);
    out.extend_from_slice(bytes.get(..n).unwrap_or_default());
}

/// A definite length's encoding, in its first `n` bytes: one byte below 128,
/// else `0x80 | count` and the count's big-endian bytes.
fn length(len: usize) -> ([u8; 5], usize) {
    let mut out = [0u8; 5];
    if len < 0x80 {
        out[0] = len as u8;
        return (out, 1);
    }
    let bytes = (len as u32).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out[0] = 0x80 | (4 - skip) as u8;
    for (o, b) in out.iter_mut().skip(1).zip(bytes.iter().skip(skip)) {
        *o = *b;
    }
    (out, 5 - skip)
}

/// Encodes a TLV header + value into a fresh vector (for framing outside a writer).
pub(crate) fn wrap(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.raw(tag, value);
    w.into_bytes()
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// `nest` as it was: the contents written apart, then wrapped.
    fn nested_apart(tags: &[u8], contents: &[u8]) -> Vec<u8> {
        tags.iter()
            .rev()
            .fold(contents.to_vec(), |inner, &tag| wrap(tag, &inner))
    }

    fn nested_in_place(w: &mut Writer, tags: &[u8], contents: &[u8]) {
        match tags.split_first() {
            Some((&tag, rest)) => w.nest(tag, |w| nested_in_place(w, rest, contents)),
            None => w.out.extend_from_slice(contents),
        }
    }

    proptest::proptest! {
        /// Nesting in place writes what wrapping separately written contents
        /// does, across the one-, two- and three-byte length forms, after
        /// whatever the writer held already.
        #[test]
        fn nest_in_place_writes_what_wrapping_does(
            before in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
            tags in proptest::collection::vec(0x20u8..0xFF, 1..5),
            len in proptest::prop_oneof![0usize..300, 65_400usize..65_700],
            fill in proptest::prelude::any::<u8>(),
        ) {
            let contents = vec![fill; len];
            let mut w = Writer::new();
            w.out.extend_from_slice(&before);
            nested_in_place(&mut w, &tags, &contents);
            let mut expected = before.clone();
            expected.extend(nested_apart(&tags, &contents));
            proptest::prop_assert_eq!(w.into_bytes(), expected);
        }
    }

    #[test]
    fn lengths_must_be_minimal_and_definite() {
        assert!(Reader::new(&[0x04, 0x80]).any().is_err(), "indefinite");
        assert!(
            Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5])
                .any()
                .is_err(),
            "short form fits"
        );
        assert!(
            Reader::new(&[0x04, 0x82, 0x00, 0x90]).any().is_err(),
            "leading zero"
        );
        assert!(
            Reader::new(&[0x04, 0x85, 1, 1, 1, 1, 1]).any().is_err(),
            "5 length bytes"
        );
        assert!(
            Reader::new(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF])
                .any()
                .is_err(),
            "overruns"
        );
        assert!(Reader::new(&[0x1F, 0x01, 0x00]).any().is_err(), "high tag");
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend_from_slice(&[7; 0x80]);
        let (t, v) = Reader::new(&long).any().expect("valid long form");
        assert_eq!((t, v.len()), (0x04, 0x80));
    }

    #[test]
    fn integers_round_trip_and_reject_padding() {
        for v in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            0x7FFF_FFFF,
            -138,
            i64::MAX,
            i64::MIN,
        ] {
            let mut w = Writer::new();
            w.integer(v);
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            let value = r.expect(tag::INTEGER, "int").expect("integer");
            assert_eq!(integer(value), Ok(v));
        }
        assert!(integer(&[0x00, 0x01]).is_err());
        assert!(integer(&[0xFF, 0x80]).is_err());
        assert!(integer(&[]).is_err());
        assert!(uint32(&[0xFF], "neg").is_err());
    }

    #[test]
    fn kerberos_time_round_trips() {
        for secs in [
            0i64,
            951_782_400,
            1_700_000_000,
            4_102_444_799,
            1_709_251_199,
        ] {
            let text = format_kerberos_time(secs);
            assert_eq!(
                kerberos_time(&text),
                Ok(secs),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
        assert_eq!(kerberos_time(b"20240229120000Z"), Ok(1_709_208_000));
        assert!(kerberos_time(b"20241301000000Z").is_err());
        assert!(kerberos_time(b"2024010100000Z").is_err());
        assert!(kerberos_time(b"20240101000000+").is_err());
    }

    #[test]
    fn flags_use_rfc_bit_numbering() {
        // forwardable (bit 1) and pre-authent (bit 10)
        let v = (1u32 << 30) | (1u32 << 21);
        let mut w = Writer::new();
        w.flags(v);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(
            kerberos_flags(r.expect(tag::BIT_STRING, "f").expect("bits")),
            Ok(v)
        );
        assert_eq!(kerberos_flags(&[0, 0x80]), Ok(0x8000_0000));
    }
}
