//! Our cookies: the flow binding, the session and the sign-out marker.
//!
//! With secure cookies (the default) they carry the `__Host-` prefix, so they are
//! `Secure`, host-only and `Path=/`, and nothing on a sibling subdomain can plant
//! one. All are `HttpOnly` and `SameSite=Lax`.

use http::HeaderMap;
use http::header::COOKIE;

use super::WebConfig;

/// The flow bindings: one cookie per flow, named by the start of its id
/// ([`flow_name`]) and holding the id the sealed state must match. One per flow,
/// so sign-ins started in several tabs at once do not clobber each other.
pub(crate) const FLOW: &str = "seamless-flow";
/// At most this many flow cookies of one request are read: the newest, which
/// browsers send last (RFC 6265 §5.4), so a flow just started always counts.
const MAX_FLOWS: usize = 32;
/// The sealed session.
pub(crate) const SESSION: &str = "seamless-session";
/// Set by sign-out: do not start seamless sign-in by itself.
pub(crate) const SIGNED_OUT: &str = "seamless-signed-out";

/// The marker outlives sessions: a user who signed out stays signed out.
const SIGNED_OUT_MAX_AGE: u64 = 30 * 24 * 3600;

fn full_name(config: &WebConfig, name: &str) -> String {
    if config.secure_cookies() {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// Our cookies in the request, as (name without the `__Host-` prefix, value):
/// compared without building full names, since this runs on every request.
fn ours<'a>(
    config: &WebConfig,
    headers: &'a HeaderMap,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    let prefix = if config.secure_cookies() {
        "__Host-"
    } else {
        ""
    };
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter_map(move |(k, v)| Some((k.strip_prefix(prefix)?, v.trim_matches('"'))))
}

/// A cookie's value from the request (the first one of that name).
pub(crate) fn get<'a>(config: &WebConfig, headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    ours(config, headers)
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The cookie that binds the flow `flow_id` to this browser.
pub(crate) fn flow_name(flow_id: &str) -> String {
    format!("{FLOW}-{}", flow_id.get(..8).unwrap_or(flow_id))
}

/// The flow ids this browser holds (its flow cookies), comma-separated: the
/// binding a sealed state is checked against. `None` without any.
pub(crate) fn flow_bindings(config: &WebConfig, headers: &HeaderMap) -> Option<String> {
    let mut ids: Vec<&str> = ours(config, headers)
        .filter(|(k, _)| k.strip_prefix(FLOW).is_some_and(|tag| tag.starts_with('-')))
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && !v.contains(','))
        .collect();
    let newest = ids.split_off(ids.len().saturating_sub(MAX_FLOWS));
    (!newest.is_empty()).then(|| newest.join(","))
}

/// A `Set-Cookie` value; `max_age` `None` makes a browser-session cookie.
pub(crate) fn set(config: &WebConfig, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut out = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax",
        full_name(config, name)
    );
    if config.secure_cookies() {
        out.push_str("; Secure");
    }
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={age}"));
    }
    out
}

/// A `Set-Cookie` value that deletes the cookie.
pub(crate) fn clear(config: &WebConfig, name: &str) -> String {
    set(config, name, "", Some(0))
}

/// The sign-out marker.
pub(crate) fn signed_out(config: &WebConfig) -> String {
    set(config, SIGNED_OUT, "1", Some(SIGNED_OUT_MAX_AGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(cookie: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, cookie.parse().expect("header"));
        flow_bindings(&WebConfig::new("https://login.example"), &headers)
    }

    #[test]
    fn flow_bindings_read_only_well_formed_flow_cookies() {
        let a = "0123456789abcdef0123456789abcdef";
        let b = "fedcba9876543210fedcba9876543210";
        let name = |id: &str| format!("__Host-{}", flow_name(id));
        assert_eq!(flow_name(a), "seamless-flow-01234567");
        assert_eq!(
            bindings(&format!("{}={a}; other=x; {}={b}", name(a), name(b))).as_deref(),
            Some(format!("{a},{b}").as_str())
        );
        // Not ours: no `__Host-` prefix, another name, an empty value, a comma
        // (which would add an id of the sender's choosing to the list).
        for hostile in [
            format!("{}={a}", flow_name(a)),
            format!("__Host-seamless-flowx={a}"),
            format!("__Host-seamless-flow={a}"),
            format!("{}=", name(a)),
            format!("{}={a},{b}", name(a)),
        ] {
            assert_eq!(bindings(&hostile), None, "{hostile}");
        }
        // At most MAX_FLOWS are read, the newest (sent last): the flow just
        // started is among them however many older ones linger.
        let many: Vec<String> = (0..100)
            .map(|i| format!("__Host-seamless-flow-{i:08}={i:032}"))
            .collect();
        let read = bindings(&many.join("; ")).expect("some");
        assert_eq!(read.split(',').count(), MAX_FLOWS);
        assert!(read.ends_with(&format!("{:032}", 99)), "{read}");
        assert!(!read.contains(&format!("{:032}", 0)), "{read}");
    }
}
