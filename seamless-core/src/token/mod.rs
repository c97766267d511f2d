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
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An `Err` means a provider is installed already: the application's choice stands.
        #[cfg(feature = "aws-lc")]
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    });
}
