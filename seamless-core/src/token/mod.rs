//! Tokens: ID and access tokens as JWTs (crate `jsonwebtoken`), their signing keys
//! and the JWKS.
//!
//! The crypto backend is chosen by feature: `rust-crypto` (the default, pure Rust)
//! or `aws-lc` (constant-time RSA, faster; a C library). `jsonwebtoken` keeps one
//! provider per process; the engine installs ours explicitly the first time it
//! needs one, `aws-lc` when both are compiled in. An application that installed a
//! provider itself keeps it.

pub mod jwt;
pub mod keys;

use std::cell::RefCell;
use std::sync::OnceLock;

use base64::Engine as _;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use serde::{Deserialize, Serialize};

pub use jwt::{AccessClaims, IdClaims, TokenIssuer, TokenSettings};
pub use keys::{KeyError, SigningKey, SigningKeys};

/// A JWS algorithm we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: OpenID Connect's mandatory default.
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [SigningAlgorithm; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];

    /// The JWA name (`RS256`, `ES256`, `EdDSA`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown signing algorithm {s:?} (RS256, ES256, EdDSA)"))
    }
}

/// Makes our backend `jsonwebtoken`'s process-wide provider unless one is
/// installed already. Idempotent and cheap after the first call.
pub fn install_provider() {
    let _ = our_provider();
}

/// Our provider, when it is the process's (an application that installed its
/// own keeps it, and signing then goes through `jsonwebtoken`'s default path).
fn our_provider() -> Option<&'static CryptoProvider> {
    static OURS: OnceLock<Option<&'static CryptoProvider>> = OnceLock::new();
    *OURS.get_or_init(|| {
        #[cfg(feature = "aws-lc")]
        let ours: Option<&'static CryptoProvider> =
            Some(&jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER);
        #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
        let ours: Option<&'static CryptoProvider> =
            Some(&jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER);
        #[cfg(not(any(feature = "rust-crypto", feature = "aws-lc")))]
        let ours: Option<&'static CryptoProvider> = None;
        // An `Err` means a provider is installed already: the application's choice stands.
        ours.filter(|p| p.install_default().is_ok())
    })
}

/// Signers parsed from their keys, per thread (`jsonwebtoken`'s signers are not
/// `Send`): parsing a private key costs more than an ECDSA signature, so each
/// thread parses each key once. Bounded; keyed by `kid` (the key's thumbprint).
const SIGNER_CACHE: usize = 8;

thread_local! {
    static SIGNERS: RefCell<Vec<(String, Box<dyn JwtSigner>)>> = const { RefCell::new(Vec::new()) };
}

/// Signs `message` with `key`, base64url-encoded.
pub(crate) fn sign(
    key: &SigningKey,
    message: &[u8],
) -> Result<String, jsonwebtoken::errors::Error> {
    let Some(provider) = our_provider() else {
        return jsonwebtoken::crypto::sign(message, key.encoding(), key.algorithm().jwt());
    };
    SIGNERS.with(|cell| {
        let mut signers = cell.borrow_mut();
        let index = match signers.iter().position(|(kid, _)| kid == key.kid()) {
            Some(i) => i,
            None => {
                let signer = (provider.signer_factory)(&key.algorithm().jwt(), key.encoding())?;
                if signers.len() == SIGNER_CACHE {
                    signers.remove(0);
                }
                signers.push((key.kid().to_string(), signer));
                signers.len() - 1
            }
        };
        let signature = signers[index].1.try_sign(message)?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature))
    })
}
