//! The WS-Trust request a native client sends to the integrated endpoint
//! (PROTOCOL.md §3.4): a SOAP 1.2 envelope carrying a RequestSecurityToken, in the
//! 2005 or the 1.3 dialect.
//!
//! Hostile input: the parser refuses DTDs (so no entity can be defined, let alone
//! expanded), references other than the five predefined entities and character
//! references, documents over [`MAX_RST_BYTES`], nesting over [`MAX_DEPTH`], more
//! than [`MAX_ELEMENTS`] elements, and text over [`MAX_TEXT`] per element.

use super::xml::{Element, Limits, scan};

/// Largest accepted request body.
pub const MAX_RST_BYTES: usize = 64 * 1024;
/// Deepest accepted element nesting.
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted.
pub const MAX_ELEMENTS: usize = 256;
/// Longest accepted text of one element.
pub const MAX_TEXT: usize = 4096;

/// SOAP 1.2 envelope namespace.
pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing 1.0.
pub const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Addressing 2004/08 (older clients).
pub const NS_WSA_2004: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// WS-Trust 2005 (February 2005).
pub const NS_TRUST_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
/// WS-Trust 1.3.
pub const NS_TRUST_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
/// WS-Policy 2004/09 (AppliesTo).
pub const NS_WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";

/// The two WS-Trust dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustVersion {
    /// WS-Trust February 2005 (what Entra's endpoint speaks).
    Feb2005,
    /// WS-Trust 1.3 (what MSAL prefers).
    V13,
}

impl TrustVersion {
    /// The `wsa:Action` of an Issue request.
    pub fn issue_action(self) -> &'static str {
        match self {
            TrustVersion::Feb2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
            TrustVersion::V13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
        }
    }

    /// The `RequestType` of an Issue request.
    pub fn issue_request_type(self) -> &'static str {
        match self {
            TrustVersion::Feb2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
            TrustVersion::V13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
        }
    }

    /// The bearer `KeyType` (no proof key).
    pub fn bearer_key_type(self) -> &'static str {
        match self {
            TrustVersion::Feb2005 => "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
            TrustVersion::V13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer",
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            TrustVersion::Feb2005 => NS_TRUST_2005,
            TrustVersion::V13 => NS_TRUST_13,
        }
    }
}

/// A parsed RequestSecurityToken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rst {
    /// The dialect.
    pub version: TrustVersion,
    /// `wsa:Action`.
    pub action: String,
    /// `wsa:To`, if sent.
    pub to: Option<String>,
    /// `wsa:MessageID`, if sent (echoed as `RelatesTo`).
    pub message_id: Option<String>,
    /// `AppliesTo/EndpointReference/Address`: the audience asked for.
    pub applies_to: String,
    /// `KeyType`, if sent.
    pub key_type: Option<String>,
    /// `RequestType`.
    pub request_type: String,
}

/// Why a request was refused: a SOAP fault subcode and a message, both safe to
/// return to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subcode}: {message}")]
pub struct RstError {
    /// The fault subcode (`wst:InvalidRequest`, `wsa:ActionNotSupported`, ...).
    pub subcode: &'static str,
    /// What is wrong.
    pub message: &'static str,
}

fn invalid(message: &'static str) -> RstError {
    RstError {
        subcode: "wst:InvalidRequest",
        message,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Action,
    To,
    MessageId,
    RequestType,
    KeyType,
    AppliesToAddress,
}

const LIMITS: Limits = Limits {
    max_bytes: MAX_RST_BYTES,
    max_depth: MAX_DEPTH,
    max_elements: MAX_ELEMENTS,
    max_text: MAX_TEXT,
};

/// Parses and checks an RST: SOAP 1.2, an Issue action and request type matching
/// the dialect, a bearer key type, and an `AppliesTo` address equal to `audience`.
pub fn parse_rst(body: &[u8], audience: &str) -> Result<Rst, RstError> {
    let elements = scan(body, &LIMITS).map_err(|e| invalid(e.0))?;
    let mut path: Vec<&Element> = Vec::new();
    let mut version: Option<TrustVersion> = None;
    let mut parts: Vec<&str> = Vec::new();
    let mut values: Vec<(Slot, &str)> = Vec::new();
    for e in &elements {
        path.truncate(e.depth.saturating_sub(1));
        path.push(e);
        if let [_, part] = path.as_slice() {
            if !(e.ns == NS_SOAP12 && (e.local == "Header" || e.local == "Body")) {
                return Err(invalid("unexpected element in the envelope"));
            }
            if parts.contains(&e.local.as_str()) {
                return Err(invalid("duplicated Header or Body"));
            }
            parts.push(&part.local);
        }
        if let Some(slot) = classify(&path, &mut version)? {
            values.push((slot, &e.text));
        }
    }
    let version = version.ok_or(invalid("no RequestSecurityToken in the body"))?;
    let take = |wanted: Slot| -> Result<Option<String>, RstError> {
        let mut found = values.iter().filter(|(s, _)| *s == wanted);
        let first = found.next().map(|(_, v)| v.to_string());
        if found.next().is_some() {
            return Err(invalid("duplicated element"));
        }
        Ok(first)
    };
    let rst = Rst {
        version,
        action: take(Slot::Action)?.ok_or(RstError {
            subcode: "wsa:MessageAddressingHeaderRequired",
            message: "no wsa:Action",
        })?,
        to: take(Slot::To)?,
        message_id: take(Slot::MessageId)?,
        applies_to: take(Slot::AppliesToAddress)?.ok_or(invalid("no AppliesTo address"))?,
        key_type: take(Slot::KeyType)?,
        request_type: take(Slot::RequestType)?.ok_or(invalid("no RequestType"))?,
    };
    if rst.action != version.issue_action() {
        return Err(RstError {
            subcode: "wsa:ActionNotSupported",
            message: "only the Issue action is supported",
        });
    }
    if rst.request_type != version.issue_request_type() {
        return Err(invalid("only Issue requests are supported"));
    }
    if rst
        .key_type
        .as_deref()
        .is_some_and(|k| k != version.bearer_key_type())
    {
        return Err(RstError {
            subcode: "wst:InvalidRequest",
            message: "only bearer tokens (no proof key) are issued",
        });
    }
    if rst.applies_to != audience {
        return Err(RstError {
            subcode: "wst:InvalidRequest",
            message: "AppliesTo names an audience this service does not serve",
        });
    }
    Ok(rst)
}

fn is(node: Option<&&Element>, ns: &[&str], local: &str) -> bool {
    node.is_some_and(|e| e.local == local && ns.contains(&e.ns.as_str()))
}

/// Which value (if any) the last element of `path` holds; records the dialect when
/// the RequestSecurityToken opens.
fn classify(
    path: &[&Element],
    version: &mut Option<TrustVersion>,
) -> Result<Option<Slot>, RstError> {
    let at = |i: usize| path.get(i);
    if !is(at(0), &[NS_SOAP12], "Envelope") {
        return Err(RstError {
            subcode: "s:VersionMismatch",
            message: "not a SOAP 1.2 envelope",
        });
    }
    let wsa = [NS_WSA, NS_WSA_2004];
    match path.len() {
        3 if is(at(1), &[NS_SOAP12], "Header") => Ok([
            ("Action", Slot::Action),
            ("To", Slot::To),
            ("MessageID", Slot::MessageId),
        ]
        .into_iter()
        .find(|(name, _)| is(at(2), &wsa, name))
        .map(|(_, s)| s)),
        3 if is(at(1), &[NS_SOAP12], "Body") => {
            for v in [TrustVersion::Feb2005, TrustVersion::V13] {
                // `replace` runs only for a RequestSecurityToken element.
                if is(at(2), &[v.namespace()], "RequestSecurityToken")
                    && version.replace(v).is_some()
                {
                    return Err(invalid("more than one RequestSecurityToken"));
                }
            }
            Ok(None)
        }
        n if n >= 4 && is(at(1), &[NS_SOAP12], "Body") => {
            let Some(v) = *version else { return Ok(None) };
            let trust = [v.namespace()];
            if !is(at(2), &trust, "RequestSecurityToken") {
                return Ok(None);
            }
            Ok(match n {
                4 if is(at(3), &trust, "RequestType") => Some(Slot::RequestType),
                4 if is(at(3), &trust, "KeyType") => Some(Slot::KeyType),
                6 if is(at(3), &[NS_WSP], "AppliesTo")
                    && is(at(4), &wsa, "EndpointReference")
                    && is(at(5), &wsa, "Address") =>
                {
                    Some(Slot::AppliesToAddress)
                }
                _ => None,
            })
        }
        _ => Ok(None),
    }
}
