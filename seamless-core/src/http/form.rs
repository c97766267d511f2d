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
        for sequence in input.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
            let (k, v) = pair(sequence);
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

/// One `name=value` sequence, read as [`form_urlencoded::parse`] reads it
/// (split at the first `=`, `+` a space, escapes decoded, invalid UTF-8
/// replaced), but borrowed without a byte-by-byte decoding pass when nothing
/// in it is escaped: the common case, and sign-in tokens and flow states are
/// kilobytes of base64url.
fn pair(sequence: &[u8]) -> (Cow<'_, str>, Cow<'_, str>) {
    let plain = !sequence.contains(&b'%') && !sequence.contains(&b'+');
    if plain && let Ok(text) = std::str::from_utf8(sequence) {
        let (name, value) = text.split_once('=').unwrap_or((text, ""));
        return (Cow::Borrowed(name), Cow::Borrowed(value));
    }
    // A sequence holds no `&`, so the parser sees exactly this one pair.
    form_urlencoded::parse(sequence)
        .next()
        .unwrap_or((Cow::Borrowed(""), Cow::Borrowed("")))
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// What the general parser makes of `input`, under the same rules.
    fn reference(input: &[u8]) -> Result<Vec<(String, String)>, Malformed> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(input) {
            if out.len() == MAX_PARAMS || out.iter().any(|(seen, _)| *seen == k) {
                return Err(Malformed);
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(out)
    }

    fn parsed(input: &[u8]) -> Result<Vec<(String, String)>, Malformed> {
        Params::parse(input).map(|p| {
            p.0.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    }

    #[test]
    fn plain_values_are_borrowed_and_escaped_ones_decoded() {
        let input = b"step=sso&token=eyJhbGci.b64_url-x&&name=a+b%21&eq=a=b&bare";
        let params = Params::parse(input).unwrap();
        assert!(matches!(params.0[1].1, Cow::Borrowed("eyJhbGci.b64_url-x")));
        assert_eq!(params.get("name"), Some("a b!"));
        assert_eq!(params.get("eq"), Some("a=b"));
        assert_eq!(params.get("bare"), None);
        assert_eq!(params.0.len(), 5);
        assert_eq!(Params::parse(b"a=1&b=2&a=3").err(), Some(Malformed));
    }

    proptest::proptest! {
        /// Any bytes at all, and form-like ones dense in the characters that
        /// matter: the same pairs, the same refusals, as the general parser.
        #[test]
        fn any_input_parses_as_form_urlencoded_does(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            form in "([a-c%+=&]|%[0-9A-Fa-f]{2}|%[eE]2|\\xff|é){0,40}",
        ) {
            proptest::prop_assert_eq!(parsed(&bytes), reference(&bytes));
            proptest::prop_assert_eq!(parsed(form.as_bytes()), reference(form.as_bytes()));
        }
    }
}
