//! The SAML assertion a native client presents at the token endpoint
//! (`grant_type=urn:ietf:params:oauth:grant-type:saml1_1-bearer`, `assertion` =
//! base64 of the assertion XML). Only the sealed sign-in token inside is trusted;
//! the readable fields are returned so the caller can check they agree with it.

use base64::Engine as _;

use super::documents::{NS_SAML1, NS_SEAMLESS};
use super::xml::{Limits, XmlError, scan};

/// Largest accepted assertion (decoded).
pub const MAX_ASSERTION_BYTES: usize = 16 * 1024;

const LIMITS: Limits = Limits {
    max_bytes: MAX_ASSERTION_BYTES,
    max_depth: 8,
    max_elements: 64,
    max_text: 8192,
};

/// What the assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantAssertion {
    /// The sealed sign-in token: the only part that is trusted.
    pub sign_in_token: String,
    /// `AssertionID`.
    pub assertion_id: Option<String>,
    /// `Conditions/AudienceRestrictionCondition/Audience`.
    pub audience: Option<String>,
    /// `AuthenticationStatement/Subject/NameIdentifier`.
    pub name_identifier: Option<String>,
}

/// Decodes and parses the `assertion` form parameter.
pub fn parse_grant_assertion(assertion_b64: &str) -> Result<GrantAssertion, XmlError> {
    let trimmed = assertion_b64.trim();
    if trimmed.len() > MAX_ASSERTION_BYTES.div_ceil(3) * 4 + 4 {
        return Err(XmlError("assertion too large"));
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let url_engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let xml = engine
        .decode(trimmed)
        .or_else(|_| url_engine.decode(trimmed))
        .map_err(|_| XmlError("assertion is not base64"))?;
    let elements = scan(&xml, &LIMITS)?;
    let root = elements.first().ok_or(XmlError("empty assertion"))?;
    if root.ns != NS_SAML1 || root.local != "Assertion" {
        return Err(XmlError("not a SAML 1.x assertion"));
    }
    let attr = |name: &str| {
        root.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if attr("MajorVersion").as_deref() != Some("1") {
        return Err(XmlError("not a SAML 1.x assertion"));
    }
    if elements
        .iter()
        .skip(1)
        .any(|e| e.ns == NS_SAML1 && e.local == "Assertion")
    {
        return Err(XmlError("nested assertion"));
    }
    let one = |ns: &str, local: &str| -> Result<Option<String>, XmlError> {
        let mut found = elements.iter().filter(|e| e.ns == ns && e.local == local);
        let first = found.next().map(|e| e.text.clone());
        if found.next().is_some() {
            return Err(XmlError("duplicated element"));
        }
        Ok(first)
    };
    let sign_in_token = one(NS_SEAMLESS, "DesktopSsoToken")?
        .filter(|t| !t.is_empty())
        .ok_or(XmlError("no sign-in token"))?;
    Ok(GrantAssertion {
        sign_in_token,
        assertion_id: attr("AssertionID"),
        audience: one(NS_SAML1, "Audience")?,
        name_identifier: one(NS_SAML1, "NameIdentifier")?,
    })
}
