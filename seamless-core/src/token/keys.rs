//! Token signing keys: loaded from a key file or generated at first start, rotated
//! with the previous key kept in the JWKS, and never printed.
//!
//! The key file is JSON, owner-only (0600), written atomically:
//! `{"keys":[{"kid":"…","alg":"RS256","created_at":1700000000,"pem":"-----BEGIN PRIVATE KEY-----…"}]}`.
//! Newest first; per algorithm the first key signs and the others (at most
//! [`KEYS_KEPT_PER_ALGORITHM`] in all) only verify, so tokens signed before a
//! rotation stay valid until they expire.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::SigningAlgorithm;

/// Keys kept per algorithm: the signing one and its predecessor.
pub const KEYS_KEPT_PER_ALGORITHM: usize = 2;

/// Why signing keys could not be loaded, generated or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("signing key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The key file or a key in it is not usable (the key material is not shown).
    #[error("signing key {kid}: {reason}")]
    Invalid {
        /// Which key (`kid`, or the file when unknown).
        kid: String,
        /// What is wrong.
        reason: String,
    },
    /// This build cannot generate keys: enable `rust-crypto` or `aws-lc`, or
    /// configure keys.
    #[error("this build has no key generator (features rust-crypto / aws-lc)")]
    NoGenerator,
}

fn invalid(kid: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Invalid {
        kid: kid.to_string(),
        reason: reason.into(),
    }
}

/// One private signing key with its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: SigningAlgorithm,
    created_at: i64,
    pem: Zeroizing<String>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
    /// The encoded JWS headers of tokens this key signs, by [`TokenType`]: the
    /// same for every token, so written once.
    headers: [String; 2],
}

/// The `typ` of a token we sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenType {
    /// An ID token (`JWT`).
    Id = 0,
    /// An access token (`at+jwt`, RFC 9068).
    Access = 1,
}

impl TokenType {
    /// The `typ` header value.
    pub(crate) fn typ(self) -> &'static str {
        match self {
            Self::Id => "JWT",
            Self::Access => "at+jwt",
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its PKCS#8 (or, for RSA, PKCS#1) PEM. The `kid` is the RFC 7638
    /// thumbprint of the public key.
    pub fn from_pem(alg: SigningAlgorithm, pem: &str, created_at: i64) -> Result<Self, KeyError> {
        super::install_provider();
        let encoding = match alg {
            SigningAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
            SigningAlgorithm::Es256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            SigningAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem.as_bytes()),
        }
        .map_err(|e| invalid("(new)", format!("not a {} private key: {e}", alg.name())))?;
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt())
            .map_err(|e| invalid("(new)", format!("public key: {e}")))?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| invalid("(new)", format!("thumbprint: {e}")))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&kid, e.to_string()))?;
        let header = |typ: TokenType| {
            let mut header = jsonwebtoken::Header::new(alg.jwt());
            header.kid = Some(kid.clone());
            header.typ = Some(typ.typ().to_string());
            serde_json::to_vec(&header)
                .map(|json| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
                .map_err(|e| invalid(&kid, format!("header: {e}")))
        };
        let headers = [header(TokenType::Id)?, header(TokenType::Access)?];
        Ok(Self {
            kid,
            alg,
            created_at,
            pem: Zeroizing::new(pem.to_string()),
            encoding,
            decoding,
            jwk,
            headers,
        })
    }

    /// A fresh key (RSA 2048, P-256 or Ed25519).
    pub fn generate(alg: SigningAlgorithm, now: i64) -> Result<Self, KeyError> {
        let der = Zeroizing::new(generate_pkcs8(alg)?);
        Self::from_pem(alg, &pem_encode("PRIVATE KEY", &der), now)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// When it was made (Unix seconds).
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// The encoded JWS header of a token of `typ` signed with this key.
    pub(crate) fn header(&self, typ: TokenType) -> &str {
        &self.headers[typ as usize]
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
}

/// PEM armour with 64-character lines.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(feature = "aws-lc")]
fn generate_pkcs8(alg: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    let failed = |_| invalid("(new)", "key generation failed");
    let rng = SystemRandom::new();
    Ok(match alg {
        SigningAlgorithm::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(failed)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair.as_der().map_err(failed)?;
            der.as_ref().to_vec()
        }
        SigningAlgorithm::Es256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(failed)?
                .as_ref()
                .to_vec()
        }
        SigningAlgorithm::EdDsa => Ed25519KeyPair::generate_pkcs8v1(&rng)
            .map_err(failed)?
            .as_ref()
            .to_vec(),
    })
}

#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
fn generate_pkcs8(alg: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    use p256::pkcs8::EncodePrivateKey;
    let failed = |e: &dyn fmt::Display| invalid("(new)", format!("key generation failed: {e}"));
    let mut rng = rust_crypto_rng::EntropyRng;
    let der = match alg {
        SigningAlgorithm::Rs256 => rsa::RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|e| failed(&e))?
            .to_pkcs8_der(),
        SigningAlgorithm::Es256 => p256::SecretKey::random(&mut rng).to_pkcs8_der(),
        SigningAlgorithm::EdDsa => {
            // RFC 8410 §7: a one-asymmetric-key v1 wrapping the 32-byte seed.
            let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
            let mut seed = Zeroizing::new([0u8; 32]);
            rsa::rand_core::RngCore::try_fill_bytes(&mut rng, seed.as_mut())
                .map_err(|e| failed(&e))?;
            der.extend_from_slice(seed.as_ref());
            return Ok(der);
        }
    }
    .map_err(|e| failed(&e))?;
    Ok(der.as_bytes().to_vec())
}

/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }`.
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

#[cfg(not(any(feature = "rust-crypto", feature = "aws-lc")))]
fn generate_pkcs8(_: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    Err(KeyError::NoGenerator)
}

#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
mod rust_crypto_rng {
    use rsa::rand_core::{CryptoRng, Error, RngCore};

    use crate::kerberos::{Entropy, OsEntropy};

    /// The operating system's randomness, as the RustCrypto key generators take it.
    pub(super) struct EntropyRng;

    impl RngCore for EntropyRng {
        fn next_u32(&mut self) -> u32 {
            let mut b = [0u8; 4];
            self.fill_bytes(&mut b);
            u32::from_le_bytes(b)
        }
        fn next_u64(&mut self) -> u64 {
            let mut b = [0u8; 8];
            self.fill_bytes(&mut b);
            u64::from_le_bytes(b)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            // Without randomness no key may be made; this cannot be recovered from.
            OsEntropy
                .fill(dest)
                .expect("the operating system's random source failed");
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
            OsEntropy.fill(dest).map_err(|_| {
                Error::from(
                    core::num::NonZeroU32::new(Error::CUSTOM_START)
                        .unwrap_or(core::num::NonZeroU32::MIN),
                )
            })
        }
    }

    impl CryptoRng for EntropyRng {}
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyEntry {
    kid: String,
    alg: SigningAlgorithm,
    created_at: i64,
    pem: Zeroizing<String>,
}

/// The signing keys, newest first.
#[derive(Debug, Clone, Default)]
pub struct SigningKeys {
    keys: Vec<SigningKey>,
}

impl SigningKeys {
    /// Keys from a list (newest first).
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self { keys }
    }

    /// One fresh key per algorithm in `algs` (for tests and the dev realm).
    pub fn generate(algs: &[SigningAlgorithm], now: i64) -> Result<Self, KeyError> {
        let keys = algs
            .iter()
            .map(|a| SigningKey::generate(*a, now))
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// All keys.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The key that signs with `alg`: the newest of that algorithm.
    pub fn signer(&self, alg: SigningAlgorithm) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.alg == alg)
    }

    /// The key with id `kid`.
    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The public keys, for `/jwks`.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// Adds a fresh key for `alg` in front; the oldest keys of that algorithm
    /// beyond [`KEYS_KEPT_PER_ALGORITHM`] are dropped.
    pub fn rotate(&mut self, alg: SigningAlgorithm, now: i64) -> Result<&SigningKey, KeyError> {
        let key = SigningKey::generate(alg, now)?;
        self.keys.insert(0, key);
        let mut seen = 0;
        self.keys.retain(|k| {
            if k.alg != alg {
                return true;
            }
            seen += 1;
            seen <= KEYS_KEPT_PER_ALGORITHM
        });
        Ok(&self.keys[0])
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = Zeroizing::new(std::fs::read(path).map_err(io)?);
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses a key file's content; `name` says where it came from in errors.
    pub fn from_json(text: &[u8], name: &str) -> Result<Self, KeyError> {
        let file: KeyFile = serde_json::from_slice(text).map_err(|e| {
            // serde_json's message names a position, never the content.
            invalid(name, format!("not a key file: {e}"))
        })?;
        let mut keys = Vec::with_capacity(file.keys.len());
        for entry in file.keys {
            let key = SigningKey::from_pem(entry.alg, &entry.pem, entry.created_at).map_err(
                |e| match e {
                    KeyError::Invalid { reason, .. } => invalid(&entry.kid, reason),
                    other => other,
                },
            )?;
            if key.kid != entry.kid {
                return Err(invalid(&entry.kid, "kid does not match the key"));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Writes the key file atomically, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let file = KeyFile {
            keys: self
                .keys
                .iter()
                .map(|k| KeyEntry {
                    kid: k.kid.clone(),
                    alg: k.alg,
                    created_at: k.created_at,
                    pem: k.pem.clone(),
                })
                .collect(),
        };
        let text = Zeroizing::new(
            serde_json::to_string_pretty(&file).map_err(|e| invalid("(file)", e.to_string()))?,
        );
        crate::fs::write_private(path, text.as_bytes()).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads the key file, creating it with one key per algorithm in `algs` when it
    /// does not exist, and adding a key for any algorithm in `algs` it lacks.
    pub fn load_or_generate(
        path: &Path,
        algs: &[SigningAlgorithm],
        now: i64,
    ) -> Result<Self, KeyError> {
        let mut keys = match Self::load(path) {
            Ok(k) => k,
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Self::default()
            }
            Err(e) => return Err(e),
        };
        let missing: Vec<_> = algs
            .iter()
            .filter(|a| keys.signer(**a).is_none())
            .copied()
            .collect();
        if !missing.is_empty() {
            for alg in missing {
                keys.keys.push(SigningKey::generate(alg, now)?);
            }
            keys.save(path)?;
            tracing::info!(target: "seamless::keys", path = %path.display(), "signing keys generated");
        }
        Ok(keys)
    }
}
