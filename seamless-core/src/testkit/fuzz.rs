//! Entry points for property tests and fuzzers: each runs one parser on arbitrary
//! bytes and must return (never panic, never hang) whatever the input.

use crate::kerberos::crypto::Etype;
use crate::kerberos::{messages, pac, spnego};

/// SPNEGO / GSS framing of an initial Negotiate token.
pub fn spnego(bytes: &[u8]) -> bool {
    spnego::parse_initial(bytes).is_ok()
}

/// AP-REQ decoding.
pub fn ap_req(bytes: &[u8]) -> bool {
    messages::ApReq::decode(bytes).is_ok()
}

/// EncTicketPart decoding (the decrypted ticket).
pub fn enc_ticket_part(bytes: &[u8]) -> bool {
    messages::EncTicketPart::decode(bytes).is_ok_and(|p| {
        p.authorization_data
            .is_none_or(|ad| messages::decode_authorization_data(ad).is_ok())
    })
}

/// Authenticator decoding (the decrypted authenticator).
pub fn authenticator(bytes: &[u8]) -> bool {
    messages::Authenticator::decode(bytes).is_ok()
}

/// PAC buffers and NDR, with the signature's value not checked (its presence,
/// type and length are).
pub fn pac(bytes: &[u8], client: &str, authtime: i64) -> bool {
    let components = [client];
    let view = pac::TicketView {
        client_components: &components,
        client_realm: "EXAMPLE.TEST",
        authtime,
    };
    pac::decode_unsigned(bytes, Etype::Aes256CtsHmacSha196, &view).is_ok()
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
    let init = spnego::parse_initial(&raw).ok()?;
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
