//! `application/x-www-form-urlencoded` and query parameters, strictly: a
//! parameter sent twice is an error (RFC 6749 §3.1), and sizes are bounded.

use std::borrow::Cow;

/// Parsed parameters, borrowed from the input where nothing was escaped.
#[derive(Debug, Default)]
pub(crate) struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

/// A parameter was repeated, or the input is not form data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// At most this many parameters.
const MAX_PARAMS: usize = 64;

impl<'a> Params<'a> {
    pub(crate) fn parse(input: &'a [u8]) -> Result<Self, Malformed> {
        let mut out: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(8);
        for (k, v) in form_urlencoded::parse(input) {
            if out.len() == MAX_PARAMS || out.iter().any(|(seen, _)| *seen == k) {
                return Err(Malformed);
            }
            out.push((k, v));
        }
        Ok(Self(out))
    }

    pub(crate) fn query(uri: &'a http::Uri) -> Result<Self, Malformed> {
        Self::parse(uri.query().unwrap_or_default().as_bytes())
    }

    /// A parameter's value; an empty value counts as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.is_empty())
    }
}

/// Encodes pairs as a query string.
pub(crate) fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Appends a query to `uri`, which may have one already.
pub(crate) fn append_query(uri: &str, query: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

impl Drop for Params<'_> {
    /// Form values include passwords and codes: wipe the copies made to
    /// unescape them (a borrowed value is the request's own bytes).
    fn drop(&mut self) {
        for (_, v) in &mut self.0 {
            if let Cow::Owned(v) = v {
                zeroize::Zeroize::zeroize(v);
            }
        }
    }
}
