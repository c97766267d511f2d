//! Our cookies: the flow binding, the session and the sign-out marker.
//!
//! With secure cookies (the default) they carry the `__Host-` prefix, so they are
//! `Secure`, host-only and `Path=/`, and nothing on a sibling subdomain can plant
//! one. All are `HttpOnly` and `SameSite=Lax`.

use http::HeaderMap;
use http::header::COOKIE;

use super::WebConfig;

/// The flow binding: the flow id the sealed state must match.
pub(crate) const FLOW: &str = "seamless-flow";
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

/// A cookie's value from the request (the first one of that name).
pub(crate) fn get<'a>(config: &WebConfig, headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    // Compared without building the full name: this runs on every request.
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
        .find(|(k, _)| k.strip_prefix(prefix) == Some(name))
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
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
