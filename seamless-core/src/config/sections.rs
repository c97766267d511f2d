//! The file's sections, as they deserialise: unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;

use crate::backends::{MemoryBudgets, PrincipalMapping, RulePolicy};
use crate::engine::{EngineConfig, Limits};
use crate::http::WebConfig;
use crate::kerberos::AcceptorConfig;
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
    /// `[passwords]`: how the password form's passwords are checked.
    pub passwords: PasswordSettings,
    /// `[mapping]`: which realms' principals are users, and their UPN suffixes.
    pub mapping: PrincipalMapping,
    /// `[limits]`: attempt limits and the sign-in flow's lifetime.
    pub limits: LimitSettings,
    /// `[metrics]`: Prometheus metrics (feature `metrics`).
    pub metrics: MetricsSettings,
    /// `[native]`: Windows-integrated native clients.
    pub native: NativeClientSettings,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `GET /metrics` on the main listener (under the base path).
    pub enabled: bool,
    /// Serve `GET /metrics` on this address instead, and only there (`seamless
    /// serve`; the example apps refuse it). Implies `enabled`.
    pub listen: Option<String>,
}

/// `[passwords]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// Offer the password form (the fallback when there is no ticket). `false`:
    /// seamless sign-in only.
    pub enabled: bool,
    /// Check passwords by an LDAP bind as the user (pass-through to AD; needs
    /// `[directory.ldap]`). `false`: the argon2 hashes of the users file
    /// (`seamless hash-password` prints one).
    pub ldap_bind: bool,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ldap_bind: false,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Wrong passwords per account within the window before further tries are refused.
    pub password_per_user: u64,
    /// Wrong passwords per client address within the window.
    pub password_per_address: u64,
    /// Wrong second-factor codes per sign-in before it is denied.
    pub mfa_per_flow: u64,
    /// Wrong second-factor codes per account within the window.
    pub mfa_per_user: u64,
    /// The counting window, seconds.
    pub window_secs: u64,
    /// How long one sign-in may take from start to finish, seconds.
    pub flow_ttl_secs: u64,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let limits = Limits::default();
        let engine = EngineConfig::default();
        Self {
            password_per_user: limits.password_per_user,
            password_per_address: limits.password_per_address,
            mfa_per_flow: limits.mfa_per_flow,
            mfa_per_user: limits.mfa_per_user,
            window_secs: limits.window.as_secs(),
            flow_ttl_secs: engine.flow_ttl.as_secs(),
            max_body_bytes: WebConfig::default().max_body,
        }
    }
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
    /// `redis`; several instances share it), or
    /// `redis+cluster://host1:6379,host2:6379` / `rediss+cluster://…` for a
    /// Redis Cluster, or `redis+sentinel://s1:26379,s2:26379/mymaster` /
    /// `rediss+sentinel://…` for the master a Sentinel group names.
    pub url: String,
    /// Key prefix in Redis.
    pub key_prefix: String,
    /// Per-operation timeout in milliseconds.
    pub timeout_ms: u64,
    /// `[store.memory]`: live entries per kind in the memory store (only with
    /// `url = "memory"`).
    pub memory: Option<MemoryBudgets>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: "memory".into(),
            key_prefix: "seamless:".into(),
            timeout_ms: 500,
            memory: None,
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
    /// The TLS certificate chain (PEM) `seamless serve` presents; with
    /// `tls_key`. Re-read when either file changes. The example apps serve
    /// plain HTTP and refuse it.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// How long a client may take to send a request head (idle keep-alive
    /// time included), and then its body: [`WebConfig::client_timeout`], which
    /// says who applies it. Milliseconds; absent: 30 seconds; 0 is refused. The
    /// rocket example app refuses it.
    pub client_timeout_ms: Option<u64>,
    /// How long the sign-in page waits for the background Negotiate request
    /// before it shows the password form, milliseconds.
    pub sso_timeout_ms: u64,
    /// A larger request header block on the Negotiate endpoint gets the 81001
    /// fallback, bytes.
    pub max_header_bytes: usize,
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
            tls_cert: None,
            tls_key: None,
            client_timeout_ms: None,
            sso_timeout_ms: WebConfig::default().sso_timeout.as_millis() as u64,
            max_header_bytes: WebConfig::default().max_header_block,
        }
    }
}

/// `[kerberos]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KerberosSettings {
    /// The service keytab (followed when it changes). Absent: the dev realm.
    pub keytab: Option<PathBuf>,
    /// Accept RC4 tickets.
    pub allow_rc4: bool,
    /// Refuse tickets without a PAC (AD always sends one).
    pub require_pac: bool,
    /// Refuse tickets whose lifetime (end − start) is longer, seconds (forged
    /// tickets often carry years). 0: no limit.
    pub max_ticket_lifetime_secs: u64,
    /// Allowed clock difference, seconds.
    pub max_skew_secs: u64,
    /// Channel bindings (RFC 5929 `tls-server-end-point`): `ignore`, `verify`
    /// (check those sent) or `require`. `verify` and `require` need
    /// `channel_binding_cert`.
    pub channel_bindings: ChannelBindingMode,
    /// The certificate (PEM or DER) the TLS endpoint clients reach presents.
    pub channel_binding_cert: Option<PathBuf>,
    /// The largest Negotiate token accepted, decoded bytes.
    pub max_token_bytes: usize,
    /// Extra names tickets may carry for an account of the keytab, each
    /// `ACCOUNT=SPN` (`HTTP/app@CONTOSO.COM=HTTP/app-lb.contoso.com@CONTOSO.COM`).
    pub spn_aliases: Vec<String>,
}

impl Default for KerberosSettings {
    fn default() -> Self {
        let acceptor = AcceptorConfig::default();
        Self {
            keytab: None,
            allow_rc4: acceptor.allow_rc4,
            require_pac: acceptor.require_pac,
            max_ticket_lifetime_secs: acceptor.max_ticket_lifetime.map_or(0, |d| d.as_secs()),
            max_skew_secs: acceptor.max_skew.as_secs(),
            channel_bindings: ChannelBindingMode::Ignore,
            channel_binding_cert: None,
            max_token_bytes: acceptor.max_token_bytes,
            spn_aliases: Vec::new(),
        }
    }
}

/// `[kerberos] channel_bindings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelBindingMode {
    /// Accept whatever the client sent.
    #[default]
    Ignore,
    /// Check bindings the client sent; accept none.
    Verify,
    /// Require bindings that match.
    Require,
}

/// `[directory]`: exactly one of `file` and `[directory.ldap]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySettings {
    /// A users file ([`StaticDirectory`](crate::backends::StaticDirectory) format). Absent: the demo users.
    pub file: Option<PathBuf>,
    /// `[directory.ldap]`: Active Directory over LDAPS (feature `ldap`), the
    /// [`LdapConfig`](crate::backends::LdapConfig) fields; the bind password
    /// comes from `bind_password_file` or the environment, never from this file.
    #[cfg(feature = "ldap")]
    pub ldap: Option<crate::backends::LdapConfig>,
    /// `[directory.ldap]` in a build without the `ldap` feature: refused.
    #[cfg(not(feature = "ldap"))]
    pub ldap: Option<toml::Table>,
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
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// The signing key file (created at first start). Absent: keys in memory.
    pub key_file: Option<PathBuf>,
    /// How often the key file is checked for changes, seconds.
    pub key_file_check_secs: u64,
    /// `iss`, exactly as discovery publishes it. Absent: the public origin
    /// (with the base path).
    pub issuer: Option<String>,
    /// ID-token lifetime, seconds.
    pub id_token_ttl_secs: u64,
    /// Access-token lifetime, seconds (not revocable: keep it short).
    pub access_token_ttl_secs: u64,
    /// The `aud` of access tokens of clients that name none. Absent: the issuer.
    pub api_audience: Option<String>,
    /// More groups than this are left out of tokens (`hasgroups` instead).
    pub max_groups: usize,
}

impl Default for TokenSettings {
    fn default() -> Self {
        let t = crate::token::TokenSettings::default();
        Self {
            key_file: None,
            key_file_check_secs: t.key_file_check.as_secs(),
            issuer: None,
            id_token_ttl_secs: t.id_token_ttl.as_secs(),
            access_token_ttl_secs: t.access_token_ttl.as_secs(),
            api_audience: t.api_audience,
            max_groups: t.max_groups,
        }
    }
}

/// `[native]`: Windows-integrated native clients (WS-Trust).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NativeClientSettings {
    /// UPN domains the user-realm endpoint answers `Federated` for. Empty: the
    /// key ring's realms, lower-cased.
    pub domains: Vec<String>,
    /// The audience clients name in `AppliesTo`.
    pub audience: String,
}

impl Default for NativeClientSettings {
    fn default() -> Self {
        let n = crate::http::NativeSettings::default();
        Self {
            domains: n.domains,
            audience: n.audience,
        }
    }
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
