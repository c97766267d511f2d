//! The RFC 4120 messages an acceptor reads (AP-REQ, Ticket, EncTicketPart,
//! Authenticator) and writes (AP-REP), decoded without copying from the token.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::der::{self, DerError, DerResult, Reader, Writer, tag};

/// Application tags (RFC 4120 §5.10).
pub(crate) mod app {
    pub(crate) const TICKET: u8 = 1;
    pub(crate) const AUTHENTICATOR: u8 = 2;
    pub(crate) const ENC_TICKET_PART: u8 = 3;
    pub(crate) const AP_REQ: u8 = 14;
    pub(crate) const AP_REP: u8 = 15;
    pub(crate) const ENC_AP_REP_PART: u8 = 27;
}

/// Most principal names have 1–3 components; more is hostile.
const MAX_NAME_COMPONENTS: usize = 10;
/// AD-IF-RELEVANT nesting beyond this is hostile.
const MAX_AUTHDATA_DEPTH: u8 = 4;
/// Authorization-data elements across all nesting levels.
const MAX_AUTHDATA_ELEMENTS: usize = 64;

/// A principal name as on the wire (name type and components), without realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireName<'a> {
    pub(crate) name_type: i32,
    pub(crate) components: Vec<&'a str>,
}

impl<'a> WireName<'a> {
    fn decode(bytes: &'a [u8]) -> DerResult<Self> {
        let mut seq = Reader::new(bytes).enter(tag::SEQUENCE, "PrincipalName")?;
        let name_type = der::int32(seq.explicit(0, tag::INTEGER, "name-type")?, "name-type")?;
        let mut list = seq
            .enter(tag::context(1), "name-string")?
            .enter(tag::SEQUENCE, "name-string")?;
        let mut components = Vec::new();
        while !list.is_empty() {
            if components.len() == MAX_NAME_COMPONENTS {
                return Err(DerError {
                    what: "too many name components",
                });
            }
            components.push(der::kerberos_string(
                list.expect(tag::GENERAL_STRING, "name component")?,
            )?);
        }
        if components.is_empty() {
            return Err(DerError {
                what: "empty principal name",
            });
        }
        seq.finish("PrincipalName")?;
        Ok(Self {
            name_type,
            components,
        })
    }

    /// Components joined with `/`.
    pub(crate) fn joined(&self) -> String {
        self.components.join("/")
    }
}

/// EncryptedData (RFC 4120 §5.2.9).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncryptedData<'a> {
    pub(crate) etype: i32,
    pub(crate) kvno: Option<u32>,
    pub(crate) cipher: &'a [u8],
}

impl<'a> EncryptedData<'a> {
    fn decode(bytes: &'a [u8]) -> DerResult<Self> {
        let mut seq = Reader::new(bytes).enter(tag::SEQUENCE, "EncryptedData")?;
        let etype = der::int32(seq.explicit(0, tag::INTEGER, "etype")?, "etype")?;
        let kvno = seq
            .optional_explicit(1, tag::INTEGER, "kvno")?
            .map(|k| der::integer(k).map(|v| v as u32))
            .transpose()?;
        let cipher = seq.explicit(2, tag::OCTET_STRING, "cipher")?;
        seq.finish("EncryptedData")?;
        Ok(Self {
            etype,
            kvno,
            cipher,
        })
    }

    pub(crate) fn encode(w: &mut Writer, etype: i32, kvno: Option<u32>, cipher: &[u8]) {
        w.nest(tag::SEQUENCE, |w| {
            w.field(0, |w| w.integer(i64::from(etype)));
            if let Some(k) = kvno {
                w.field(1, |w| w.integer(i64::from(k)));
            }
            w.field(2, |w| w.octet_string(cipher));
        });
    }
}

/// Ticket (RFC 4120 §5.3).
#[derive(Debug, Clone)]
pub(crate) struct Ticket<'a> {
    pub(crate) realm: &'a str,
    pub(crate) sname: WireName<'a>,
    pub(crate) enc_part: EncryptedData<'a>,
}

impl<'a> Ticket<'a> {
    fn decode(bytes: &'a [u8]) -> DerResult<Self> {
        let mut outer = Reader::new(bytes).enter(tag::application(app::TICKET), "Ticket")?;
        let mut seq = outer.enter(tag::SEQUENCE, "Ticket")?;
        outer.finish("Ticket")?;
        let vno = der::integer(seq.explicit(0, tag::INTEGER, "tkt-vno")?)?;
        if vno != 5 {
            return Err(DerError { what: "tkt-vno" });
        }
        let realm = der::kerberos_string(seq.explicit(1, tag::GENERAL_STRING, "realm")?)?;
        let sname = WireName::decode(seq.enter(tag::context(2), "sname")?.remaining())?;
        let enc_part = EncryptedData::decode(seq.enter(tag::context(3), "enc-part")?.remaining())?;
        seq.finish("Ticket")?;
        Ok(Self {
            realm,
            sname,
            enc_part,
        })
    }
}

/// AP-REQ (RFC 4120 §5.5.1).
#[derive(Debug, Clone)]
pub(crate) struct ApReq<'a> {
    pub(crate) ap_options: u32,
    pub(crate) ticket: Ticket<'a>,
    pub(crate) authenticator: EncryptedData<'a>,
}

/// Failures that have their own Kerberos error name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApReqError {
    BadVersion,
    MsgType,
    Der(DerError),
}

impl From<DerError> for ApReqError {
    fn from(e: DerError) -> Self {
        ApReqError::Der(e)
    }
}

/// ap-options bits (RFC 4120 §5.5.1), numbered from the most significant bit.
pub(crate) const AP_OPTION_MUTUAL_REQUIRED: u32 = 1 << (31 - 2);

impl<'a> ApReq<'a> {
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, ApReqError> {
        let mut outer = Reader::new(bytes);
        let mut app_tagged = outer.enter(tag::application(app::AP_REQ), "AP-REQ")?;
        outer.finish("AP-REQ trailing data")?;
        let mut seq = app_tagged.enter(tag::SEQUENCE, "AP-REQ")?;
        app_tagged.finish("AP-REQ")?;
        if der::integer(seq.explicit(0, tag::INTEGER, "pvno")?)? != 5 {
            return Err(ApReqError::BadVersion);
        }
        if der::integer(seq.explicit(1, tag::INTEGER, "msg-type")?)? != 14 {
            return Err(ApReqError::MsgType);
        }
        let ap_options = der::kerberos_flags(seq.explicit(2, tag::BIT_STRING, "ap-options")?)?;
        let ticket = Ticket::decode(seq.enter(tag::context(3), "ticket")?.remaining())?;
        let authenticator =
            EncryptedData::decode(seq.enter(tag::context(4), "authenticator")?.remaining())?;
        seq.finish("AP-REQ")?;
        Ok(Self {
            ap_options,
            ticket,
            authenticator,
        })
    }
}

/// One element of AuthorizationData.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthData<'a> {
    pub(crate) ad_type: i32,
    pub(crate) data: &'a [u8],
}

/// AuthorizationData, flattened through AD-IF-RELEVANT (type 1) containers.
pub(crate) fn decode_authorization_data(bytes: &[u8]) -> DerResult<Vec<AuthData<'_>>> {
    let mut out = Vec::new();
    flatten_authdata(bytes, 0, &mut out)?;
    Ok(out)
}

fn flatten_authdata<'a>(bytes: &'a [u8], depth: u8, out: &mut Vec<AuthData<'a>>) -> DerResult<()> {
    if depth > MAX_AUTHDATA_DEPTH {
        return Err(DerError {
            what: "authorization data nested too deep",
        });
    }
    let mut list = Reader::new(bytes).enter(tag::SEQUENCE, "AuthorizationData")?;
    while !list.is_empty() {
        if out.len() >= MAX_AUTHDATA_ELEMENTS {
            return Err(DerError {
                what: "too many authorization data elements",
            });
        }
        let mut element = list.enter(tag::SEQUENCE, "AuthorizationData element")?;
        let ad_type = der::int32(element.explicit(0, tag::INTEGER, "ad-type")?, "ad-type")?;
        let data = element.explicit(1, tag::OCTET_STRING, "ad-data")?;
        element.finish("AuthorizationData element")?;
        if ad_type == AD_IF_RELEVANT {
            flatten_authdata(data, depth + 1, out)?;
        } else {
            out.push(AuthData { ad_type, data });
        }
    }
    Ok(())
}

pub(crate) const AD_IF_RELEVANT: i32 = 1;
pub(crate) const AD_WIN2K_PAC: i32 = 128;

/// EncryptionKey (RFC 4120 §5.2.9).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireKey<'a> {
    pub(crate) keytype: i32,
    pub(crate) value: &'a [u8],
}

fn decode_key(bytes: &[u8]) -> DerResult<WireKey<'_>> {
    let mut seq = Reader::new(bytes).enter(tag::SEQUENCE, "EncryptionKey")?;
    let keytype = der::int32(seq.explicit(0, tag::INTEGER, "keytype")?, "keytype")?;
    let value = seq.explicit(1, tag::OCTET_STRING, "keyvalue")?;
    seq.finish("EncryptionKey")?;
    Ok(WireKey { keytype, value })
}

/// EncTicketPart (RFC 4120 §5.3), the decrypted part of a ticket.
#[derive(Debug, Clone)]
pub(crate) struct EncTicketPart<'a> {
    pub(crate) flags: u32,
    pub(crate) key: WireKey<'a>,
    pub(crate) crealm: &'a str,
    pub(crate) cname: WireName<'a>,
    pub(crate) authtime: i64,
    pub(crate) starttime: Option<i64>,
    pub(crate) endtime: i64,
    pub(crate) renew_till: Option<i64>,
    pub(crate) has_caddr: bool,
    pub(crate) authorization_data: Option<&'a [u8]>,
}

impl<'a> EncTicketPart<'a> {
    pub(crate) fn decode(bytes: &'a [u8]) -> DerResult<Self> {
        let mut outer = Reader::new(bytes);
        let mut app_tagged =
            outer.enter(tag::application(app::ENC_TICKET_PART), "EncTicketPart")?;
        // The decrypted plaintext may carry padding after the DER value (RC4 and
        // some encoders); only the value itself is read.
        let mut seq = app_tagged.enter(tag::SEQUENCE, "EncTicketPart")?;
        let flags = der::kerberos_flags(seq.explicit(0, tag::BIT_STRING, "flags")?)?;
        let key = decode_key(seq.enter(tag::context(1), "key")?.remaining())?;
        let crealm = der::kerberos_string(seq.explicit(2, tag::GENERAL_STRING, "crealm")?)?;
        let cname = WireName::decode(seq.enter(tag::context(3), "cname")?.remaining())?;
        seq.enter(tag::context(4), "transited")?;
        let authtime = der::kerberos_time(seq.explicit(5, tag::GENERALIZED_TIME, "authtime")?)?;
        let starttime = seq
            .optional_explicit(6, tag::GENERALIZED_TIME, "starttime")?
            .map(der::kerberos_time)
            .transpose()?;
        let endtime = der::kerberos_time(seq.explicit(7, tag::GENERALIZED_TIME, "endtime")?)?;
        let renew_till = seq
            .optional_explicit(8, tag::GENERALIZED_TIME, "renew-till")?
            .map(der::kerberos_time)
            .transpose()?;
        let has_caddr = seq.optional(tag::context(9))?.is_some();
        let authorization_data = seq.optional(tag::context(10))?;
        seq.skip_rest()?;
        Ok(Self {
            flags,
            key,
            crealm,
            cname,
            authtime,
            starttime,
            endtime,
            renew_till,
            has_caddr,
            authorization_data,
        })
    }
}

/// Checksum (RFC 4120 §5.2.9).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireChecksum<'a> {
    pub(crate) cksumtype: i32,
    pub(crate) checksum: &'a [u8],
}

/// Authenticator (RFC 4120 §5.5.1).
#[derive(Debug, Clone)]
pub(crate) struct Authenticator<'a> {
    pub(crate) crealm: &'a str,
    pub(crate) cname: WireName<'a>,
    pub(crate) cksum: Option<WireChecksum<'a>>,
    pub(crate) cusec: u32,
    pub(crate) ctime: i64,
}

impl<'a> Authenticator<'a> {
    pub(crate) fn decode(bytes: &'a [u8]) -> DerResult<Self> {
        let mut outer = Reader::new(bytes);
        let mut app_tagged = outer.enter(tag::application(app::AUTHENTICATOR), "Authenticator")?;
        let mut seq = app_tagged.enter(tag::SEQUENCE, "Authenticator")?;
        if der::integer(seq.explicit(0, tag::INTEGER, "authenticator-vno")?)? != 5 {
            return Err(DerError {
                what: "authenticator-vno",
            });
        }
        let crealm = der::kerberos_string(seq.explicit(1, tag::GENERAL_STRING, "crealm")?)?;
        let cname = WireName::decode(seq.enter(tag::context(2), "cname")?.remaining())?;
        let cksum = match seq.optional(tag::context(3))? {
            Some(field) => {
                let mut c = Reader::new(field).enter(tag::SEQUENCE, "Checksum")?;
                let cksumtype = der::int32(c.explicit(0, tag::INTEGER, "cksumtype")?, "cksumtype")?;
                let checksum = c.explicit(1, tag::OCTET_STRING, "checksum")?;
                c.finish("Checksum")?;
                Some(WireChecksum {
                    cksumtype,
                    checksum,
                })
            }
            None => None,
        };
        let cusec = der::uint32(seq.explicit(4, tag::INTEGER, "cusec")?, "cusec")?;
        if cusec > 999_999 {
            return Err(DerError {
                what: "cusec out of range",
            });
        }
        let ctime = der::kerberos_time(seq.explicit(5, tag::GENERALIZED_TIME, "ctime")?)?;
        // subkey [6] and seq-number [7] are checked for shape; the acceptor keeps
        // using the ticket session key (no per-message protection here).
        seq.optional(tag::context(6))?.map(decode_key).transpose()?;
        seq.optional_explicit(7, tag::INTEGER, "seq-number")?
            .map(der::integer)
            .transpose()?;
        seq.skip_rest()?;
        Ok(Self {
            crealm,
            cname,
            cksum,
            cusec,
            ctime,
        })
    }
}

/// Encodes a PrincipalName.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) fn encode_name(w: &mut Writer, name_type: i32, components: &[&str]) {
    w.nest(tag::SEQUENCE, |w| {
        w.field(0, |w| w.integer(i64::from(name_type)));
        w.field(1, |w| {
            w.nest(tag::SEQUENCE, |w| {
                for c in components {
                    w.general_string(c);
                }
            })
        });
    });
}

/// Encodes an EncryptionKey.
pub(crate) fn encode_key(w: &mut Writer, keytype: i32, value: &[u8]) {
    w.nest(tag::SEQUENCE, |w| {
        w.field(0, |w| w.integer(i64::from(keytype)));
        w.field(1, |w| w.octet_string(value));
    });
}

/// EncAPRepPart plaintext (RFC 4120 §5.5.2).
pub(crate) fn encode_enc_ap_rep_part(
    ctime: i64,
    cusec: u32,
    subkey: Option<(i32, &[u8])>,
    seq: Option<u32>,
) -> Vec<u8> {
    let mut w = Writer::new();
    w.nest(tag::application(app::ENC_AP_REP_PART), |w| {
        w.nest(tag::SEQUENCE, |w| {
            w.field(0, |w| w.time(ctime));
            w.field(1, |w| w.integer(i64::from(cusec)));
            if let Some((keytype, value)) = subkey {
                w.field(2, |w| encode_key(w, keytype, value));
            }
            if let Some(n) = seq {
                w.field(3, |w| w.integer(i64::from(n)));
            }
        })
    });
    w.into_bytes()
}

/// AP-REP (RFC 4120 §5.5.2) around an encrypted EncAPRepPart.
pub(crate) fn encode_ap_rep(etype: i32, cipher: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.nest(tag::application(app::AP_REP), |w| {
        w.nest(tag::SEQUENCE, |w| {
            w.field(0, |w| w.integer(5));
            w.field(1, |w| w.integer(15));
            w.field(2, |w| EncryptedData::encode(w, etype, None, cipher));
        })
    });
    w.into_bytes()
}

/// Decoded EncAPRepPart (used by the test kit and the differential tests to check
/// what the acceptor returned).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) struct EncApRepPart {
    pub(crate) ctime: i64,
    pub(crate) cusec: u32,
    pub(crate) seq_number: Option<u32>,
}

/// Decodes an AP-REP and returns its etype and cipher.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) fn decode_ap_rep(bytes: &[u8]) -> DerResult<EncryptedData<'_>> {
    let mut outer = Reader::new(bytes);
    let mut app_tagged = outer.enter(tag::application(app::AP_REP), "AP-REP")?;
    let mut seq = app_tagged.enter(tag::SEQUENCE, "AP-REP")?;
    if der::integer(seq.explicit(0, tag::INTEGER, "pvno")?)? != 5
        || der::integer(seq.explicit(1, tag::INTEGER, "msg-type")?)? != 15
    {
        return Err(DerError {
            what: "AP-REP header",
        });
    }
    EncryptedData::decode(seq.enter(tag::context(2), "enc-part")?.remaining())
}

/// Decodes EncAPRepPart plaintext.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // used by the test kit
pub(crate) fn decode_enc_ap_rep_part(bytes: &[u8]) -> DerResult<EncApRepPart> {
    let mut outer = Reader::new(bytes);
    let mut app_tagged = outer.enter(tag::application(app::ENC_AP_REP_PART), "EncAPRepPart")?;
    let mut seq = app_tagged.enter(tag::SEQUENCE, "EncAPRepPart")?;
    let ctime = der::kerberos_time(seq.explicit(0, tag::GENERALIZED_TIME, "ctime")?)?;
    let cusec = der::uint32(seq.explicit(1, tag::INTEGER, "cusec")?, "cusec")?;
    seq.optional(tag::context(2))?;
    let seq_number = seq
        .optional_explicit(3, tag::INTEGER, "seq-number")?
        .map(|n| der::integer(n).map(|v| v as u32))
        .transpose()?;
    Ok(EncApRepPart {
        ctime,
        cusec,
        seq_number,
    })
}
