//! Sealing values the client carries for us (flow states in the page, sign-in
//! tokens, session cookies): versioned, encrypted and authenticated
//! (XChaCha20-Poly1305), expiring, under a key ring that can rotate.
//!
//! Format: base64url(`1` ‖ key id ‖ 24-byte nonce ‖ ciphertext+tag) of the JSON
//! `{"v":1,"exp":<unix>,"state":{...}}`. The version, the key id and the purpose
//! (flow state, sign-in token, ...) are bound in the associated data, so nothing in
//! the envelope can be changed and nothing sealed for one purpose opens for another.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::Code;
use crate::kerberos::Entropy;

const VERSION: u8 = 1;
const NONCE: usize = 24;
/// Sealed states larger than this are refused before decryption.
pub const MAX_SEALED_LEN: usize = 32 * 1024;

/// Version and key id, then the purpose: everything the ciphertext is bound to.
fn associated_data(header: [u8; 2], purpose: &str) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(purpose.as_bytes());
    aad
}

/// One sealing key.
#[derive(Clone)]
pub struct SealingKey {
    id: u8,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// A key with id `id` from 32 bytes of key material.
    pub fn new(id: u8, key: [u8; 32]) -> Self {
        Self {
            id,
            key: Zeroizing::new(key),
        }
    }

    /// A key whose id is derived from the key itself (the first byte of its
    /// SHA-256), so it keeps its id wherever it sits in a key file: retiring
    /// the oldest key never invalidates what the others sealed.
    pub fn from_material(key: [u8; 32]) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::new()
            .chain_update(b"seamless/sealing-key-id\0")
            .chain_update(key)
            .finalize();
        Self::new(digest[0], key)
    }

    /// A fresh random key.
    pub fn generate(id: u8, entropy: &dyn Entropy) -> Result<Self, crate::kerberos::CryptoError> {
        let mut key = Zeroizing::new([0u8; 32]);
        entropy.fill(key.as_mut())?;
        Ok(Self { id, key })
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<S> {
    v: u8,
    exp: i64,
    state: S,
}

/// Seals with the newest key, opens with any key it holds (rotation: add the new
/// key first, retire the old one after the flow lifetime).
#[derive(Clone)]
pub struct Sealer {
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("keys", &self.keys).finish()
    }
}

impl Sealer {
    /// A sealer; the first key seals, all open. `None` without keys.
    pub fn new(keys: Vec<SealingKey>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// Seals any serialisable value for one `purpose` (a label such as
    /// `"sign-in-token"`). The purpose is bound into the authenticated data, so a
    /// value sealed for one purpose never opens for another, whatever its shape.
    pub fn seal<S: Serialize>(
        &self,
        purpose: &str,
        value: &S,
        expires_at: i64,
        entropy: &dyn Entropy,
    ) -> Result<String, Code> {
        let key = self.keys.first().ok_or(Code::FlowInvalid)?;
        let plain = Zeroizing::new(
            serde_json::to_vec(&Envelope {
                v: VERSION,
                exp: expires_at,
                state: value,
            })
            .map_err(|_| Code::FlowInvalid)?,
        );
        let mut nonce = [0u8; NONCE];
        entropy
            .fill(&mut nonce)
            .map_err(|_| Code::StoreUnavailable)?;
        let header = [VERSION, key.id];
        let cipher =
            XChaCha20Poly1305::new_from_slice(key.key.as_ref()).map_err(|_| Code::FlowInvalid)?;
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &associated_data(header, purpose),
                },
            )
            .map_err(|_| Code::FlowInvalid)?;
        let mut out = Vec::with_capacity(2 + NONCE + sealed.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed by [`Sealer::seal`] for the same `purpose`.
    pub fn open<S: for<'de> Deserialize<'de>>(
        &self,
        purpose: &str,
        sealed: &str,
        now: i64,
    ) -> Result<S, Code> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(Code::FlowInvalid);
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed.trim())
            .map_err(|_| Code::FlowInvalid)?;
        let (aad, rest) = raw.split_at_checked(2).ok_or(Code::FlowInvalid)?;
        let (nonce, body) = rest.split_at_checked(NONCE).ok_or(Code::FlowInvalid)?;
        let [version, id] = <[u8; 2]>::try_from(aad).map_err(|_| Code::FlowInvalid)?;
        if version != VERSION {
            return Err(Code::FlowInvalid);
        }
        let nonce = XNonce::try_from(nonce).map_err(|_| Code::FlowInvalid)?;
        let aad = associated_data([version, id], purpose);
        // Ids are one byte derived from the key, so two keys may share one: try
        // each key with the id (an extra AEAD attempt, never a wrong answer).
        let plain = self
            .keys
            .iter()
            .filter(|k| k.id == id)
            .find_map(|key| {
                XChaCha20Poly1305::new_from_slice(key.key.as_ref())
                    .ok()?
                    .decrypt(
                        &nonce,
                        Payload {
                            msg: body,
                            aad: &aad,
                        },
                    )
                    .ok()
            })
            .map(Zeroizing::new)
            .ok_or(Code::FlowInvalid)?;
        let envelope: Envelope<S> =
            serde_json::from_slice(&plain).map_err(|_| Code::FlowInvalid)?;
        if envelope.v != VERSION {
            return Err(Code::FlowInvalid);
        }
        if now > envelope.exp {
            return Err(Code::FlowExpired);
        }
        Ok(envelope.state)
    }
}
