//! Entry points for property tests and fuzzers: each runs one parser on arbitrary
//! bytes and must return (never panic, never hang) whatever the input, with the
//! stable code (81001–81013) the acceptor would refuse it with.

use crate::kerberos::crypto::Etype;
use crate::kerberos::{KerberosError, messages, pac};

fn malformed(e: crate::kerberos::der::DerError) -> u32 {
    KerberosError::Malformed(e.what).code()
}

/// SPNEGO / GSS framing of an initial Negotiate token, then the AP-REQ in it.
pub fn spnego(bytes: &[u8]) -> Result<(), u32> {
    crate::kerberos::acceptor::frame_only(bytes).map_err(|e| e.code())
}

/// AP-REQ decoding.
pub fn ap_req(bytes: &[u8]) -> Result<(), u32> {
    messages::ApReq::decode(bytes)
        .map(|_| ())
        .map_err(|_| KerberosError::Malformed("AP-REQ").code())
}

/// EncTicketPart decoding (the decrypted ticket).
pub fn enc_ticket_part(bytes: &[u8]) -> Result<(), u32> {
    let part = messages::EncTicketPart::decode(bytes).map_err(malformed)?;
    match part.authorization_data {
        Some(ad) => messages::decode_authorization_data(ad)
            .map(|_| ())
            .map_err(malformed),
        None => Ok(()),
    }
}

/// Authenticator decoding (the decrypted authenticator).
pub fn authenticator(bytes: &[u8]) -> Result<(), u32> {
    messages::Authenticator::decode(bytes)
        .map(|_| ())
        .map_err(malformed)
}

/// PAC buffers and NDR, with the signature's value not checked (its presence,
/// type and length are).
pub fn pac(bytes: &[u8], client: &str, authtime: i64) -> Result<(), u32> {
    let components = [client];
    let view = pac::TicketView {
        client_components: &components,
        client_realm: "EXAMPLE.TEST",
        authtime,
    };
    pac::decode_unsigned(bytes, Etype::Aes256CtsHmacSha196, &view)
        .map(|_| ())
        .map_err(|e| KerberosError::Pac(e).code())
}

/// The raw PAC bytes the test kit would put in a ticket (for seeding mutations).
pub fn sample_pac(
    spec: &super::PacSpec,
    client: &str,
    authtime: i64,
    key: &crate::kerberos::Key,
) -> Vec<u8> {
    super::pac::build(spec, client, authtime, key).unwrap_or_default()
}

/// Decrypted EncTicketPart and Authenticator of a minted token (for seeding mutations).
pub fn sample_plaintexts(
    kdc: &super::TestKdc,
    spec: &super::TicketSpec,
) -> Option<(Vec<u8>, Vec<u8>)> {
    use base64::Engine as _;
    let minted = kdc.mint(spec).ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(minted.token)
        .ok()?;
    let init = crate::kerberos::spnego::parse_initial(&raw).ok()?;
    let ap_req = messages::ApReq::decode(init.ap_req).ok()?;
    let ticket = kdc
        .key()
        .decrypt(2, ap_req.ticket.enc_part.cipher)
        .ok()?
        .to_vec();
    let auth = minted
        .session_key
        .decrypt(11, ap_req.authenticator.cipher)
        .ok()?
        .to_vec();
    Some((ticket, auth))
}
