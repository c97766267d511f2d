//! Decoding a captured Negotiate token for people: every field that can be read,
//! the decrypted ticket and PAC when a key is at hand, and which check fails now.

use std::time::SystemTime;

use super::acceptor::{Acceptor, AcceptorConfig, decode_token};
use super::crypto::Etype;
use super::keyring::{KeyRing, USAGE_PAC_CHECKSUM};
use super::messages::{self, AD_WIN2K_PAC, ApReq, EncTicketPart};
use super::pac::{self, Pac, PacError};
use super::spnego::{self, Mechanism};
use super::{KerberosError, ValidatedTicket};

/// What a token says.
#[derive(Debug)]
#[non_exhaustive]
pub struct Inspection {
    /// How it was wrapped, when the framing parsed.
    pub mechanism: Option<Mechanism>,
    /// `sname@realm` of the ticket.
    pub service: Option<String>,
    /// The ticket's etype number.
    pub etype: Option<i32>,
    /// The ticket's kvno.
    pub kvno: Option<u32>,
    /// AP options (bit 0 = most significant).
    pub ap_options: Option<u32>,
    /// The decrypted ticket, when a key in the ring opens it.
    pub ticket: Option<InspectedTicket>,
    /// The full validation at the given time.
    pub verdict: Result<Box<ValidatedTicket>, KerberosError>,
}

/// The decrypted part of a ticket.
#[derive(Debug)]
#[non_exhaustive]
pub struct InspectedTicket {
    /// `cname@crealm`.
    pub client: String,
    /// Unix seconds.
    pub auth_time: i64,
    /// Unix seconds.
    pub start_time: Option<i64>,
    /// Unix seconds.
    pub end_time: i64,
    /// Unix seconds.
    pub renew_till: Option<i64>,
    /// Ticket flags.
    pub flags: u32,
    /// Session key etype.
    pub session_etype: i32,
    /// The PAC, verified with the service key, or why it did not verify.
    pub pac: Option<Result<Pac, PacError>>,
}

/// Inspects `token_b64` (with or without a key ring) at `now`.
pub fn inspect(
    token_b64: &[u8],
    ring: Option<&KeyRing>,
    config: &AcceptorConfig,
    now: SystemTime,
) -> Inspection {
    let empty = KeyRing::default();
    let verdict = Acceptor::new(AcceptorConfig {
        allow_rc4: true,
        ..config.clone()
    })
    .validate(token_b64, ring.unwrap_or(&empty), now)
    .map(Box::new);
    let mut out = Inspection {
        mechanism: None,
        service: None,
        etype: None,
        kvno: None,
        ap_options: None,
        ticket: None,
        verdict,
    };
    let Ok(token) = decode_token(token_b64, config.max_token_bytes) else {
        return out;
    };
    let Ok(init) = spnego::parse_initial(&token) else {
        return out;
    };
    out.mechanism = Some(init.mechanism);
    let Ok(ap_req) = ApReq::decode(init.ap_req) else {
        return out;
    };
    let ticket = &ap_req.ticket;
    out.service = Some(format!("{}@{}", ticket.sname.joined(), ticket.realm));
    out.etype = Some(ticket.enc_part.etype);
    out.kvno = ticket.enc_part.kvno;
    out.ap_options = Some(ap_req.ap_options);
    let (Some(ring), Ok(etype)) = (ring, Etype::from_number(ticket.enc_part.etype)) else {
        return out;
    };
    let Some(account) = ring.account_for(ticket.realm, &ticket.sname.components) else {
        return out;
    };
    // Every key of the type, live or not: on-call wants to know whether an expired
    // previous key would have opened it.
    for key in account.keys().iter().filter(|k| k.etype() == etype) {
        let Ok(plain) = key.ticket.decrypt(ticket.enc_part.cipher) else {
            continue;
        };
        let Ok(part) = EncTicketPart::decode(&plain) else {
            continue;
        };
        let pac = part
            .authorization_data
            .and_then(|ad| messages::decode_authorization_data(ad).ok())
            .and_then(|els| {
                els.iter().find(|e| e.ad_type == AD_WIN2K_PAC).map(|raw| {
                    let view = pac::TicketView {
                        client_components: &part.cname.components,
                        client_realm: part.crealm,
                        authtime: part.authtime,
                    };
                    match key.key().checksum_key(USAGE_PAC_CHECKSUM) {
                        Ok(ck) => pac::verify(raw.data, etype, &ck, &view),
                        Err(_) => Err(PacError::BadServerSignature),
                    }
                })
            });
        out.ticket = Some(InspectedTicket {
            client: format!("{}@{}", part.cname.joined(), part.crealm),
            auth_time: part.authtime,
            start_time: part.starttime,
            end_time: part.endtime,
            renew_till: part.renew_till,
            flags: part.flags,
            session_etype: part.key.keytype,
            pac,
        });
        break;
    }
    out
}
