//! The file's sections, as they deserialise: unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;

use crate::backends::RulePolicy;
use crate::http::WebConfig;
use crate::token::SigningAlgorithm;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[server]`.
    pub server: ServerSettings,
    /// `[kerberos]`.
    pub kerberos: KerberosSettings,
    /// `[directory]`.
    pub directory: DirectorySettings,
    /// `[policy]`.
    pub policy: RulePolicy,
    /// `[[clients]]`.
    pub clients: Vec<ClientSettings>,
    /// `[tokens]`.
    pub tokens: TokenSettings,
    /// `[dev]`: where the dev realm's keytab goes.
    pub dev: DevSettings,
    /// `[store]`: memory, or Redis for several instances.
    pub store: StoreSettings,
    /// `[sealing]`: the key that seals flow state, sign-in tokens and sessions.
    pub sealing: SealingSettings,
    /// `[session]`: session and refresh-token lifetimes.
    pub session: SessionSettings,
}

/// `[session]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// One session cookie's lifetime, seconds (also capped at the ticket's end).
    pub ttl_secs: u64,
    /// No session outlives its original authentication by more than this, seconds.
    pub max_lifetime_secs: u64,
    /// How often a session's account is looked up again (a disabled account's
    /// sessions end within this), seconds.
    pub recheck_secs: u64,
    /// A refresh token unused this long is forgotten, seconds.
    pub refresh_idle_secs: u64,
    /// No refresh-token family outlives its original authentication by more
    /// than this, seconds.
    pub refresh_max_lifetime_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        let web = WebConfig::default();
        let refresh = crate::grants::RefreshLifetimes::default();
        Self {
            ttl_secs: web.session_ttl.as_secs(),
            max_lifetime_secs: web.session_max_lifetime.as_secs(),
            recheck_secs: web.session_recheck.as_secs(),
            refresh_idle_secs: refresh.idle.as_secs(),
            refresh_max_lifetime_secs: refresh.absolute.as_secs(),
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `memory` (one instance), or `redis://host:6379/0` / `rediss://…` (feature
    /// `redis`; several instances share it).
    pub url: String,
    /// Key prefix in Redis.
    pub key_prefix: String,
    /// Per-operation timeout in milliseconds.
    pub timeout_ms: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: "memory".into(),
            key_prefix: "seamless:".into(),
            timeout_ms: 500,
        }
    }
}

/// `[sealing]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SealingSettings {
    /// A file of sealing keys, one base64 32-byte key per line, the first seals
    /// (created owner-only with one key if absent). Every instance behind one
    /// load balancer must use the same file. Absent: a random key per process.
    pub key_file: Option<PathBuf>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: String,
    /// The origin users reach (default `http://<listen>`, with `localhost` for a
    /// loopback address).
    pub public_origin: Option<String>,
    /// Where the sign-in paths live.
    pub base_path: String,
    /// Cookies without `Secure`, for plain `http://localhost` only. Unset: relaxed
    /// automatically for an `http://` loopback origin (cookies cannot leave the
    /// machine there), `Secure` otherwise.
    pub insecure_cookies: Option<bool>,
    /// Page title.
    pub title: String,
    /// Access-token audiences the application's middleware accepts as Bearer
    /// credentials (`[[clients]] audience`). Empty: sessions only. In dev mode the
    /// dev client's tokens are for `<origin>/api`, which is then accepted.
    pub bearer_audiences: Vec<String>,
    /// Networks of reverse proxies whose `Forwarded` / `X-Forwarded-For` headers
    /// are believed (rightmost hop that is not one of them). Empty: the socket
    /// peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_origin: None,
            base_path: String::new(),
            insecure_cookies: None,
            title: "Sign in".into(),
            bearer_audiences: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[kerberos]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KerberosSettings {
    /// The service keytab (followed when it changes). Absent: the dev realm.
    pub keytab: Option<PathBuf>,
    /// Accept RC4 tickets.
    pub allow_rc4: bool,
}

/// `[directory]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySettings {
    /// A users file ([`StaticDirectory`](crate::backends::StaticDirectory) format). Absent: the demo users.
    pub file: Option<PathBuf>,
}

/// `[[clients]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// `client_id`.
    pub id: String,
    /// Secret; absent for a public client.
    #[serde(default)]
    pub secret: Option<String>,
    /// Redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Signing algorithm.
    #[serde(default)]
    pub algorithm: SigningAlgorithm,
    /// The API its access tokens are for (`aud`). Absent: the issuer.
    #[serde(default)]
    pub audience: Option<String>,
}

/// `[tokens]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// The signing key file (created at first start). Absent: keys in memory.
    pub key_file: Option<PathBuf>,
}

/// `[dev]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevSettings {
    /// Dev mode with a real keytab (demo users when `[directory]` is absent). Dev
    /// mode is on by itself when no keytab is configured; either way it runs only
    /// on a loopback public origin.
    pub enabled: bool,
    /// Where the dev realm's keytab is written.
    pub keytab_out: PathBuf,
}

impl Default for DevSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            keytab_out: std::env::temp_dir().join("seamless-dev").join("dev.keytab"),
        }
    }
}
