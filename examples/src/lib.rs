//! What the three example apps share: their configuration and their pages, so
//! each `main.rs` holds only its framework's wiring.

use seamless_core::config::{Built, Settings};
use seamless_core::http::Identity;

/// How an app serves its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// `[server] client_timeout_ms` (`WebConfig::client_timeout`) limits
    /// request heads, idle keep-alive connections and the sign-in paths' bodies
    /// (`seamless_axum::serve`; actix-web's own timeouts and the middleware's).
    Timed,
    /// The framework's own server, with its own limits: rocket 0.5 switches
    /// hyper's header timeout off, has no setting for one, and waits without
    /// limit for a body's first 14 bytes before any fairing runs (its
    /// `_method` peek), so `client_timeout_ms` is refused rather than ignored.
    Framework,
}

/// Loads `seamless.toml` (or `$SEAMLESS_CONFIG`, or the embedded defaults) and
/// builds the provider, printing where to go; exits with a message on error.
pub async fn start(app: &str, serving: Serving) -> Built {
    let _ = tracing_subscriber::fmt().with_target(true).try_init();
    let path = std::env::args().nth(1).map(std::path::PathBuf::from);
    let built = match Settings::load(path.as_deref()) {
        Ok(settings) if settings.server.tls_cert.is_some() || settings.server.tls_key.is_some() => {
            Err(seamless_core::config::ConfigError(
                "server.tls_cert / tls_key: the example apps serve plain HTTP; terminate TLS \
                 in front of them, or run `seamless serve`"
                    .into(),
            ))
        }
        Ok(settings)
            if serving == Serving::Framework && settings.server.client_timeout_ms.is_some() =>
        {
            Err(seamless_core::config::ConfigError(
                "server.client_timeout_ms: rocket 0.5 sets no timeout on request heads and \
                 has no setting for one, so put a reverse proxy in front of this app; the \
                 axum-app, the actix-app and `seamless serve` read it"
                    .into(),
            ))
        }
        Ok(settings) if settings.metrics.listen.is_some() => {
            Err(seamless_core::config::ConfigError(
                "metrics.listen: the example apps serve /metrics on their own listener only \
             ([metrics] enabled = true); a separate listener is `seamless serve`'s"
                    .into(),
            ))
        }
        Ok(settings) => settings.build().await,
        Err(e) => Err(e),
    };
    match built {
        Ok(b) => {
            println!("{}", b.banner(app));
            b
        }
        Err(e) => {
            eprintln!("{app}: {e}");
            std::process::exit(2);
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

/// The public home page.
pub fn home(identity: Option<&Identity>) -> String {
    let who = match identity {
        Some(i) => format!("<p id=\"who\">Signed in as {}.</p>", escape(&i.claims.upn)),
        None => "<p id=\"who\">Not signed in.</p>".into(),
    };
    page(
        "Seamless demo",
        &format!(
            "{who}<p><a href=\"/me\">Your page</a> · <a href=\"/api/me\">/api/me</a> · <a href=\"/logout\">Sign out</a></p>"
        ),
    )
}

/// The protected page: a greeting and the claims.
pub fn me(identity: &Identity) -> String {
    let c = &identity.claims;
    let how = if c.amr.iter().any(|m| m == "kerberos") {
        "seamlessly, with Windows (Kerberos)"
    } else {
        "with a password"
    };
    let rows = [
        ("Name", c.name.clone()),
        ("UPN", c.upn.clone()),
        ("SID", c.onprem_sid.clone().unwrap_or_default()),
        ("Groups", c.groups.join(", ")),
        ("Methods", c.amr.join(", ")),
        ("Authenticated at", c.auth_time.to_string()),
    ]
    .iter()
    .map(|(k, v)| format!("<tr><th>{k}</th><td>{}</td></tr>", escape(v)))
    .collect::<String>();
    page(
        "Your page",
        &format!(
            "<p id=\"greeting\">Hello, {}! You signed in {how}.</p><table>{rows}</table><p><a href=\"/logout\">Sign out</a></p>",
            escape(if c.name.is_empty() { &c.upn } else { &c.name })
        ),
    )
}

/// The API's answer.
pub fn api(identity: &Identity) -> String {
    serde_json::json!({
        "sub": identity.claims.sub,
        "upn": identity.claims.upn,
        "name": identity.claims.name,
        "onprem_sid": identity.claims.onprem_sid,
        "groups": identity.claims.groups,
        "amr": identity.claims.amr,
    })
    .to_string()
}
