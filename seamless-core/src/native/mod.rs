//! The native-client flow (PROTOCOL.md §3): what Office-era clients speak to sign
//! the Windows user in without a browser: user-realm discovery, the MEX document,
//! the WS-Trust request and response, and the SAML assertion of the bearer grant.

pub mod assertion;
pub mod documents;
pub mod wstrust;
pub mod xml;
