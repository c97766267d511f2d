//! SPNEGO (RFC 4178, MS-SPNG) and GSS-API Kerberos framing (RFC 2743 §3.1, RFC 4121 §4.1).
//!
//! Written here rather than taken from a crate: the framing is small, and every
//! byte comes from the network (picky-krb 0.13 panics on a 12-byte token; see
//! TESTING.md §7). Only single-leg Kerberos is accepted: NTLMSSP and NegoEx are
//! recognised so the caller can fall back, and never processed.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::der::{self, DerError, Reader, Writer, tag};

/// DER contents of the OIDs involved.
pub(crate) mod oid {
    /// 1.3.6.1.5.5.2
    pub(crate) const SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    /// 1.2.840.113554.1.2.2
    pub(crate) const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.2.840.48018.1.2.2, Microsoft's historic mis-encoding of the Kerberos OID.
    pub(crate) const MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.3.6.1.4.1.311.2.2.10
    pub(crate) const NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    /// 1.3.6.1.4.1.311.2.2.30
    pub(crate) const NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];
}

const NTLMSSP_SIGNATURE: &[u8] = b"NTLMSSP\0";
const MAX_MECH_TYPES: usize = 16;
/// TOK_ID of a Kerberos AP-REQ inside GSS framing.
const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
/// TOK_ID of a Kerberos AP-REP.
const TOK_AP_REP: [u8; 2] = [0x02, 0x00];

/// How the Kerberos token reached us; the answer must use the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// SPNEGO with the Microsoft Kerberos OID first (Windows, Chromium on Windows).
    SpnegoMsKrb5,
    /// SPNEGO with the standard Kerberos OID first (MIT/Heimdal clients, curl).
    SpnegoKrb5,
    /// A bare GSS-API Kerberos token without SPNEGO.
    RawKrb5,
}

/// Why the Negotiate token cannot be used for Kerberos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FramingError {
    /// NTLMSSP, raw or inside SPNEGO.
    Ntlm,
    /// NegoEx preferred by the client.
    NegoEx,
    /// Kerberos offered, but not as the client's first choice; a single-leg acceptor
    /// cannot switch mechanisms without a second round trip and a mechListMIC.
    KerberosNotPreferred,
    /// No mechanism we implement.
    NoKerberos,
    /// SPNEGO with Kerberos first but no optimistic mechToken.
    NoMechToken,
    /// Not DER, or not the shape RFC 4178 / RFC 2743 define.
    Malformed(&'static str),
}

impl From<DerError> for FramingError {
    fn from(e: DerError) -> Self {
        FramingError::Malformed(e.what)
    }
}

/// The Kerberos AP-REQ found in a Negotiate token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InitialToken<'a> {
    pub(crate) mechanism: Mechanism,
    pub(crate) ap_req: &'a [u8],
}

/// Unwraps an initial Negotiate token down to the Kerberos AP-REQ.
pub(crate) fn parse_initial(token: &[u8]) -> Result<InitialToken<'_>, FramingError> {
    if token.starts_with(NTLMSSP_SIGNATURE) {
        return Err(FramingError::Ntlm);
    }
    match token.first() {
        Some(0x60) => {}
        // A NegTokenResp from a client continuing another mechanism.
        Some(0xA1) => return Err(continuing_mechanism(token)),
        _ => return Err(FramingError::Malformed("not a GSS-API token")),
    }
    let (this_mech, inner) = gss_unframe(token)?;
    if this_mech == oid::KRB5 || this_mech == oid::MS_KRB5 {
        return Ok(InitialToken {
            mechanism: Mechanism::RawKrb5,
            ap_req: krb5_ap_req(inner)?,
        });
    }
    if this_mech != oid::SPNEGO {
        return Err(FramingError::NoKerberos);
    }
    let mut choice = Reader::new(inner);
    let mut init_field = choice.enter(tag::context(0), "NegTokenInit")?;
    choice.finish("NegotiationToken trailing data")?;
    let mut init = init_field.enter(tag::SEQUENCE, "NegTokenInit")?;
    init_field.finish("NegTokenInit trailing data")?;

    let mut mech_list = init
        .enter(tag::context(0), "mechTypes")?
        .enter(tag::SEQUENCE, "mechTypes")?;
    let mut mechs = Vec::with_capacity(4);
    while !mech_list.is_empty() {
        if mechs.len() == MAX_MECH_TYPES {
            return Err(FramingError::Malformed("too many mechTypes"));
        }
        mechs.push(mech_list.expect(tag::OID, "mechType")?);
    }
    init.optional(tag::context(1))?;
    let mech_token = init.optional_explicit(2, tag::OCTET_STRING, "mechToken")?;
    // [3] mechListMIC may follow. With the client's first mechanism chosen it is
    // optional (RFC 4178 §5); Kerberos is only ever accepted in that position.
    init.skip_rest()?;

    let first = *mechs
        .first()
        .ok_or(FramingError::Malformed("empty mechTypes"))?;
    let mechanism = if first == oid::MS_KRB5 {
        Mechanism::SpnegoMsKrb5
    } else if first == oid::KRB5 {
        Mechanism::SpnegoKrb5
    } else if first == oid::NTLMSSP {
        return Err(FramingError::Ntlm);
    } else if first == oid::NEGOEX {
        return Err(FramingError::NegoEx);
    } else if mechs.iter().any(|m| *m == oid::KRB5 || *m == oid::MS_KRB5) {
        return Err(FramingError::KerberosNotPreferred);
    } else {
        return Err(FramingError::NoKerberos);
    };
    let mech_token = mech_token.ok_or(FramingError::NoMechToken)?;
    if mech_token.starts_with(NTLMSSP_SIGNATURE) {
        return Err(FramingError::Ntlm);
    }
    let (inner_mech, inner) = gss_unframe(mech_token)?;
    if inner_mech != oid::KRB5 && inner_mech != oid::MS_KRB5 {
        return Err(FramingError::Malformed("mechToken is not Kerberos"));
    }
    Ok(InitialToken {
        mechanism,
        ap_req: krb5_ap_req(inner)?,
    })
}

fn continuing_mechanism(token: &[u8]) -> FramingError {
    let response_token = (|| -> Result<Option<&[u8]>, DerError> {
        let mut outer = Reader::new(token);
        let mut resp = outer
            .enter(tag::context(1), "NegTokenResp")?
            .enter(tag::SEQUENCE, "NegTokenResp")?;
        resp.optional(tag::context(0))?;
        resp.optional(tag::context(1))?;
        resp.optional_explicit(2, tag::OCTET_STRING, "responseToken")
    })();
    match response_token {
        Ok(Some(t)) if t.starts_with(NTLMSSP_SIGNATURE) => FramingError::Ntlm,
        _ => FramingError::Malformed("unexpected NegTokenResp"),
    }
}

/// Splits RFC 2743 §3.1 framing: `[APPLICATION 0] { thisMech OID, innerToken }`.
fn gss_unframe(token: &[u8]) -> Result<(&[u8], &[u8]), FramingError> {
    let mut outer = Reader::new(token);
    let mut framed = outer.enter(tag::application(0), "GSS framing")?;
    outer.finish("GSS framing trailing data")?;
    let this_mech = framed.expect(tag::OID, "thisMech")?;
    Ok((this_mech, framed.remaining()))
}

fn krb5_ap_req(inner: &[u8]) -> Result<&[u8], FramingError> {
    match inner.split_at_checked(2) {
        Some((tok_id, ap_req)) if tok_id == TOK_AP_REQ => Ok(ap_req),
        Some(_) => Err(FramingError::Malformed("krb5 TOK_ID is not AP-REQ")),
        None => Err(FramingError::Malformed("krb5 token truncated")),
    }
}

/// GSS-frames a Kerberos AP-REP (TOK_ID 02 00) with the standard Kerberos OID.
pub(crate) fn frame_ap_rep(ap_rep: &[u8]) -> Vec<u8> {
    frame_krb5(TOK_AP_REP, ap_rep)
}

/// GSS-frames a Kerberos AP-REQ (used by the test kit).
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) fn frame_ap_req(ap_req: &[u8]) -> Vec<u8> {
    frame_krb5(TOK_AP_REQ, ap_req)
}

fn frame_krb5(tok_id: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut content = der::wrap(tag::OID, oid::KRB5);
    content.extend_from_slice(&tok_id);
    content.extend_from_slice(body);
    der::wrap(tag::application(0), &content)
}

/// negState values (RFC 4178 §4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NegState {
    AcceptCompleted = 0,
    Reject = 2,
}

/// Encodes the acceptor's answer for `WWW-Authenticate: Negotiate <token>`.
///
/// SPNEGO replies are a bare `NegTokenResp` (no APPLICATION 0 framing) echoing the
/// OID the client listed first; a raw Kerberos exchange gets the framed AP-REP.
pub(crate) fn response(
    mechanism: Mechanism,
    state: NegState,
    ap_rep: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let framed = ap_rep.map(frame_ap_rep);
    let supported = match mechanism {
        Mechanism::RawKrb5 => return framed,
        Mechanism::SpnegoMsKrb5 => oid::MS_KRB5,
        Mechanism::SpnegoKrb5 => oid::KRB5,
    };
    let mut w = Writer::new();
    w.field(1, |w| {
        w.nest(tag::SEQUENCE, |w| {
            w.field(0, |w| w.raw(tag::ENUMERATED, &[state as u8]));
            if state == NegState::AcceptCompleted {
                w.field(1, |w| w.raw(tag::OID, supported));
            }
            if let Some(t) = &framed {
                w.field(2, |w| w.octet_string(t));
            }
        })
    });
    Some(w.into_bytes())
}

/// The reject answer (`negState = reject`) for a token we refuse.
pub(crate) fn reject() -> Vec<u8> {
    let mut w = Writer::new();
    w.field(1, |w| {
        w.nest(tag::SEQUENCE, |w| {
            w.field(0, |w| w.raw(tag::ENUMERATED, &[NegState::Reject as u8]))
        })
    });
    w.into_bytes()
}

/// Wraps a framed Kerberos token in a SPNEGO NegTokenInit (test kit and CLI dev client).
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) fn wrap_init(mechs: &[&[u8]], mech_token: Option<&[u8]>) -> Vec<u8> {
    let mut inner = Writer::new();
    inner.field(0, |w| {
        w.nest(tag::SEQUENCE, |w| {
            w.field(0, |w| {
                w.nest(tag::SEQUENCE, |w| {
                    for m in mechs {
                        w.raw(tag::OID, m);
                    }
                })
            });
            if let Some(t) = mech_token {
                w.field(2, |w| w.octet_string(t));
            }
        })
    });
    let mut content = der::wrap(tag::OID, oid::SPNEGO);
    content.extend_from_slice(&inner.into_bytes());
    der::wrap(tag::application(0), &content)
}

/// Extracts the Kerberos AP-REP from an acceptor answer, for clients and tests.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) fn ap_rep_from_response(token: &[u8]) -> Result<&[u8], FramingError> {
    let framed = if token.first() == Some(&0xA1) {
        let mut outer = Reader::new(token);
        let mut resp = outer
            .enter(tag::context(1), "NegTokenResp")?
            .enter(tag::SEQUENCE, "NegTokenResp")?;
        let state = resp.explicit(0, tag::ENUMERATED, "negState")?;
        if state != [NegState::AcceptCompleted as u8] {
            return Err(FramingError::Malformed("negState is not accept-completed"));
        }
        resp.optional(tag::context(1))?;
        resp.optional_explicit(2, tag::OCTET_STRING, "responseToken")?
            .ok_or(FramingError::Malformed("no responseToken"))?
    } else {
        token
    };
    let (mech, inner) = gss_unframe(framed)?;
    if mech != oid::KRB5 {
        return Err(FramingError::Malformed("AP-REP framing OID"));
    }
    match inner.split_at_checked(2) {
        Some((tok_id, body)) if tok_id == TOK_AP_REP => Ok(body),
        _ => Err(FramingError::Malformed("krb5 TOK_ID is not AP-REP")),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn picky_krb_panic_vector_is_a_clean_error() {
        let token = hex("600a06062b0601050502a000");
        assert!(matches!(
            parse_initial(&token),
            Err(FramingError::Malformed(_))
        ));
    }

    #[test]
    fn raw_ntlm_and_ntlm_first_are_detected() {
        assert_eq!(
            parse_initial(b"NTLMSSP\0\x01\0\0\0").err(),
            Some(FramingError::Ntlm)
        );
        let t = wrap_init(&[oid::NTLMSSP, oid::KRB5], Some(b"NTLMSSP\0\x01\0\0\0"));
        assert_eq!(parse_initial(&t).err(), Some(FramingError::Ntlm));
        let t = wrap_init(&[oid::NEGOEX, oid::MS_KRB5], Some(b"x"));
        assert_eq!(parse_initial(&t).err(), Some(FramingError::NegoEx));
        let t = wrap_init(&[oid::KRB5], Some(b"NTLMSSP\0\x03"));
        assert_eq!(parse_initial(&t).err(), Some(FramingError::Ntlm));
    }

    #[test]
    fn kerberos_later_in_the_list_is_refused_without_a_second_leg() {
        let other: &[u8] = &[0x2a, 0x03];
        let t = wrap_init(&[other, oid::KRB5], Some(b"abc"));
        assert_eq!(
            parse_initial(&t).err(),
            Some(FramingError::KerberosNotPreferred)
        );
        let t = wrap_init(&[other], Some(b"abc"));
        assert_eq!(parse_initial(&t).err(), Some(FramingError::NoKerberos));
    }

    #[test]
    fn ms_oid_is_echoed_and_raw_tokens_are_answered_raw() {
        let ap_req = b"\x6e\x00";
        let t = wrap_init(&[oid::MS_KRB5, oid::KRB5], Some(&frame_ap_req(ap_req)));
        let init = parse_initial(&t).expect("parses");
        assert_eq!(init.mechanism, Mechanism::SpnegoMsKrb5);
        assert_eq!(init.ap_req, ap_req);
        let resp =
            response(init.mechanism, NegState::AcceptCompleted, Some(b"rep")).expect("token");
        assert!(resp.windows(oid::MS_KRB5.len()).any(|w| w == oid::MS_KRB5));
        assert_eq!(ap_rep_from_response(&resp), Ok(&b"rep"[..]));

        let raw = frame_ap_req(ap_req);
        let init = parse_initial(&raw).expect("raw");
        assert_eq!(init.mechanism, Mechanism::RawKrb5);
        let resp =
            response(Mechanism::RawKrb5, NegState::AcceptCompleted, Some(b"rep")).expect("token");
        assert_eq!(ap_rep_from_response(&resp), Ok(&b"rep"[..]));
        assert_eq!(
            response(Mechanism::RawKrb5, NegState::AcceptCompleted, None),
            None
        );
    }

    #[test]
    fn missing_mech_token_is_its_own_error() {
        let t = wrap_init(&[oid::KRB5], None);
        assert_eq!(parse_initial(&t).err(), Some(FramingError::NoMechToken));
    }
}
