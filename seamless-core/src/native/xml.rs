//! A guarded XML scanner for hostile input: the document becomes a flat list of
//! elements (depth, namespace, local name, attributes, text) or an error. It
//! refuses DTDs (no entity can be defined, so none can be expanded), references
//! other than the five predefined entities and character references, undeclared
//! prefixes, and anything over its limits.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// Limits of one scan.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document in bytes.
    pub max_bytes: usize,
    /// Deepest nesting.
    pub max_depth: usize,
    /// Most elements.
    pub max_elements: usize,
    /// Longest text of one element, and longest attribute value.
    pub max_text: usize,
}

/// One element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// 1 for the root.
    pub depth: usize,
    /// Namespace URI ("" when unbound).
    pub ns: String,
    /// Local name.
    pub local: String,
    /// Attributes by local name (namespaced attributes keep only their local name).
    pub attributes: Vec<(String, String)>,
    /// Direct text content, entities resolved, trimmed.
    pub text: String,
}

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("refused XML: {0}")]
pub struct XmlError(pub &'static str);

/// Scans `text` into elements in document order.
pub fn scan(text: &[u8], limits: &Limits) -> Result<Vec<Element>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError("document too large"));
    }
    let text = std::str::from_utf8(text).map_err(|_| XmlError("not UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    let mut out: Vec<Element> = Vec::new();
    // Indexes into `out` of the open elements.
    let mut open: Vec<usize> = Vec::new();
    let mut roots = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| XmlError("malformed XML"))?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_string(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(_) => return Err(XmlError("undeclared namespace prefix")),
        };
        match event {
            Event::DocType(_) => return Err(XmlError("DTDs are not accepted")),
            Event::Start(start) | Event::Empty(start) if out.len() >= limits.max_elements => {
                let _ = start;
                return Err(XmlError("too many elements"));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if open.is_empty() {
                    roots += 1;
                    if roots > 1 {
                        return Err(XmlError("more than one root element"));
                    }
                }
                let depth = open.len() + 1;
                if depth > limits.max_depth {
                    return Err(XmlError("nesting too deep"));
                }
                out.push(Element {
                    depth,
                    ns,
                    local: start.local_name().into_inner().to_string(),
                    attributes: attributes(start, limits)?,
                    text: String::new(),
                });
                if matches!(event, Event::Start(_)) {
                    open.push(out.len() - 1);
                }
            }
            Event::End(_) => {
                let Some(i) = open.pop() else {
                    return Err(XmlError("unbalanced end tag"));
                };
                if let Some(e) = out.get_mut(i) {
                    e.text = e.text.trim().to_string();
                }
            }
            Event::Text(t) => append(&mut out, &open, &t, limits)?,
            Event::CData(c) => append(&mut out, &open, &c, limits)?,
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or(XmlError("bad character reference"))?
                } else {
                    match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(XmlError("undefined entity")),
                    }
                };
                let mut buf = [0u8; 4];
                append(&mut out, &open, c.encode_utf8(&mut buf), limits)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    if !open.is_empty() {
        return Err(XmlError("unclosed elements"));
    }
    if out.is_empty() {
        return Err(XmlError("no root element"));
    }
    Ok(out)
}

fn append(
    out: &mut [Element],
    open: &[usize],
    text: &str,
    limits: &Limits,
) -> Result<(), XmlError> {
    match open.last().and_then(|&i| out.get_mut(i)) {
        Some(e) => {
            if e.text.len() + text.len() > limits.max_text {
                return Err(XmlError("text too long"));
            }
            e.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError("text outside the root element")),
    }
}

fn attributes(start: &BytesStart<'_>, limits: &Limits) -> Result<Vec<(String, String)>, XmlError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|_| XmlError("malformed attribute"))?;
        let key = attr.key.local_name().into_inner().to_string();
        if key == "xmlns" || attr.key.as_ref().starts_with("xmlns:") {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
            .map_err(|_| XmlError("attribute value refused"))?;
        if value.len() > limits.max_text {
            return Err(XmlError("attribute too long"));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(XmlError("duplicated attribute"));
        }
        out.push((key, value.into_owned()));
    }
    Ok(out)
}
