//! The WS-Trust request a native client sends to the integrated endpoint
//! (PROTOCOL.md §3.4): a SOAP 1.2 envelope carrying a RequestSecurityToken, in the
//! 2005 or the 1.3 dialect.
//!
//! Hostile input: the parser refuses DTDs (so no entity can be defined, let alone
//! expanded), references other than the five predefined entities and character
//! references, documents over [`MAX_RST_BYTES`], nesting over [`MAX_DEPTH`], more
//! than [`MAX_ELEMENTS`] elements, and text over [`MAX_TEXT`] per element.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

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

/// Parses and checks an RST: SOAP 1.2, an Issue action and request type matching
/// the dialect, a bearer key type, and an `AppliesTo` address equal to `audience`.
pub fn parse_rst(body: &[u8], audience: &str) -> Result<Rst, RstError> {
    if body.len() > MAX_RST_BYTES {
        return Err(invalid("request too large"));
    }
    let text = std::str::from_utf8(body).map_err(|_| invalid("request is not UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(true);

    // (namespace, local name) of each open element.
    let mut stack: Vec<(String, String)> = Vec::new();
    let mut elements = 0usize;
    let mut version: Option<TrustVersion> = None;
    let mut slot: Option<Slot> = None;
    let mut buffer = String::new();
    let mut values: Vec<(Slot, String)> = Vec::new();
    let mut envelope_parts: Vec<String> = Vec::new();

    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| invalid("malformed XML"))?;
        let namespace = match &ns {
            ResolveResult::Bound(n) => n.as_ref().to_string(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(_) => return Err(invalid("undeclared namespace prefix")),
        };
        match event {
            Event::DocType(_) => return Err(invalid("DTDs are not accepted")),
            Event::Start(start) | Event::Empty(start) if elements >= MAX_ELEMENTS => {
                let _ = start;
                return Err(invalid("too many elements"));
            }
            Event::Start(start) => {
                elements += 1;
                let local = start.local_name().into_inner().to_string();
                stack.push((namespace, local));
                if stack.len() > MAX_DEPTH {
                    return Err(invalid("nesting too deep"));
                }
                slot = classify(&stack, &mut version)?;
                note_part(&stack, &mut envelope_parts)?;
                buffer.clear();
            }
            Event::Empty(start) => {
                elements += 1;
                let local = start.local_name().into_inner().to_string();
                stack.push((namespace, local));
                if stack.len() > MAX_DEPTH {
                    return Err(invalid("nesting too deep"));
                }
                if let Some(s) = classify(&stack, &mut version)? {
                    values.push((s, String::new()));
                }
                note_part(&stack, &mut envelope_parts)?;
                stack.pop();
                slot = None;
            }
            Event::Text(t) => {
                if slot.is_some() {
                    push_text(&mut buffer, &t)?;
                } else if !t.trim().is_empty() && stack.len() < 2 {
                    return Err(invalid("text outside the envelope"));
                }
            }
            Event::CData(c) => {
                if slot.is_some() {
                    push_text(&mut buffer, &c)?;
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or(invalid("bad character reference"))?
                } else {
                    match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(invalid("undefined entity")),
                    }
                };
                if slot.is_some() {
                    let mut tmp = [0u8; 4];
                    push_text(&mut buffer, resolved.encode_utf8(&mut tmp))?;
                }
            }
            Event::End(_) => {
                if let Some(s) = slot.take() {
                    values.push((s, std::mem::take(&mut buffer)));
                }
                stack.pop();
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(invalid("unclosed elements"));
    }
    let version = version.ok_or(invalid("no RequestSecurityToken in the body"))?;
    let take = |wanted: Slot| -> Result<Option<String>, RstError> {
        let mut found = values.iter().filter(|(s, _)| *s == wanted);
        let first = found.next().map(|(_, v)| v.trim().to_string());
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

/// One Header and one Body per envelope, and nothing else (SOAP 1.2 §5).
fn note_part(stack: &[(String, String)], seen: &mut Vec<String>) -> Result<(), RstError> {
    if stack.len() == 1 && !seen.is_empty() {
        return Err(invalid("more than one envelope"));
    }
    if stack.len() == 1 {
        seen.push("Envelope".into());
    }
    if let (2, Some((_, local))) = (stack.len(), stack.last()) {
        if local != "Header" && local != "Body" {
            return Err(invalid("unexpected element in the envelope"));
        }
        if seen.contains(local) {
            return Err(invalid("duplicated Header or Body"));
        }
        seen.push(local.clone());
    }
    Ok(())
}

fn push_text(buffer: &mut String, text: &str) -> Result<(), RstError> {
    if buffer.len() + text.len() > MAX_TEXT {
        return Err(invalid("element text too long"));
    }
    buffer.push_str(text);
    Ok(())
}

fn is(node: Option<&(String, String)>, ns: &[&str], local: &str) -> bool {
    node.is_some_and(|(n, l)| l == local && ns.contains(&n.as_str()))
}

/// Which value (if any) the element at the top of `stack` holds; records the
/// dialect when the RequestSecurityToken opens.
fn classify(
    stack: &[(String, String)],
    version: &mut Option<TrustVersion>,
) -> Result<Option<Slot>, RstError> {
    let at = |i: usize| stack.get(i);
    if !is(at(0), &[NS_SOAP12], "Envelope") {
        return Err(RstError {
            subcode: "s:VersionMismatch",
            message: "not a SOAP 1.2 envelope",
        });
    }
    let wsa = [NS_WSA, NS_WSA_2004];
    match stack.len() {
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
