//! RC4-HMAC (RFC 4757). Weak and unsalted; present only so that legacy AD service
//! accounts can be accepted when an operator opts in.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use rc4::{Rc4, StreamCipher};
use zeroize::Zeroizing;

use super::CryptoError;

type HmacMd5 = Hmac<Md5>;

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = <HmacMd5 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// NT hash: MD4 of the UTF-16LE password.
pub(super) fn string_to_key(password: &str) -> Zeroizing<[u8; 16]> {
    let utf16: Zeroizing<Vec<u8>> =
        Zeroizing::new(password.encode_utf16().flat_map(u16::to_le_bytes).collect());
    let mut md4 = md4::Md4::new();
    md4.update(&*utf16);
    Zeroizing::new(md4.finalize().into())
}

/// RFC 4757 maps a few usage numbers; the ones an acceptor uses pass through.
fn ms_usage(usage: u32) -> u32 {
    match usage {
        3 => 8,
        9 => 8,
        other => other,
    }
}

/// K1 = HMAC-MD5(key, usage as little-endian u32).
pub(super) fn usage_key(key: &[u8], usage: u32) -> Zeroizing<[u8; 16]> {
    Zeroizing::new(hmac_md5(key, &[&ms_usage(usage).to_le_bytes()]))
}

fn apply_rc4(key: &[u8; 16], data: &mut [u8]) {
    // A 16-byte key is always a valid RC4 key length.
    if let Ok(mut cipher) = Rc4::new_from_slice(key) {
        cipher.apply_keystream(data);
    }
}

pub(super) fn encrypt(k1: &[u8; 16], confounder: &[u8; 8], plaintext: &[u8]) -> Vec<u8> {
    let mut data = Zeroizing::new(Vec::with_capacity(8 + plaintext.len()));
    data.extend_from_slice(confounder);
    data.extend_from_slice(plaintext);
    let checksum = hmac_md5(k1, &[&data]);
    let k3 = Zeroizing::new(hmac_md5(k1, &[&checksum]));
    apply_rc4(&k3, &mut data);
    let mut out = checksum.to_vec();
    out.extend_from_slice(&data);
    out
}

pub(super) fn decrypt(k1: &[u8; 16], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if ciphertext.len() < 24 {
        return Err(CryptoError::Truncated);
    }
    let (checksum, body) = ciphertext.split_at(16);
    let k3 = Zeroizing::new(hmac_md5(k1, &[checksum]));
    let mut data = Zeroizing::new(body.to_vec());
    apply_rc4(&k3, &mut data);
    let want = hmac_md5(k1, &[&data]);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], checksum)) {
        return Err(CryptoError::Integrity);
    }
    Ok(Zeroizing::new(data.get(8..).unwrap_or_default().to_vec()))
}

/// Ksign = HMAC-MD5(key, "signaturekey\0") for the HMAC-MD5 keyed checksum (-138).
pub(super) fn signature_key(key: &[u8]) -> Result<Zeroizing<[u8; 16]>, CryptoError> {
    Ok(Zeroizing::new(hmac_md5(key, &[b"signaturekey\0"])))
}

/// HMAC-MD5(Ksign, MD5(usage LE ‖ data)).
pub(super) fn checksum(ksign: &[u8; 16], usage: u32, parts: &[&[u8]]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(ms_usage(usage).to_le_bytes());
    for p in parts {
        md5.update(p);
    }
    let inner: [u8; 16] = md5.finalize().into();
    hmac_md5(ksign, &[&inner])
}
