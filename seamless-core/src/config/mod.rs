//! One TOML file (plus environment overrides) to a [`Provider`]: what the example
//! apps and most deployments need. With no file at all it starts on embedded
//! defaults: memory backends, demo users and a **dev realm** whose service key is
//! generated at start and written to a keytab the `seamless dev client` reads.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"
//! public_origin = "https://sso.example.com"   # default: http://<listen>
//! base_path = ""
//! insecure_cookies = false                     # true only for http://localhost
//! trusted_proxies = ["10.0.0.0/24"]            # believe their X-Forwarded-For / Forwarded
//! tls_cert = "/etc/seamless/tls.pem"           # `seamless serve` only: TLS here (with tls_key)
//! tls_key = "/etc/seamless/tls.key"
//! client_timeout_ms = 30000                    # serve, axum-app, actix-app: slow heads and bodies, idle connections
//! sso_timeout_ms = 5000                        # the page's wait for Negotiate before the form
//! max_header_bytes = 65536                     # larger header blocks: the 81001 fallback
//!
//! [kerberos]
//! keytab = "/etc/seamless/http.keytab"         # absent: the dev realm (loopback only)
//! allow_rc4 = false
//! require_pac = false                          # true for AD
//! max_ticket_lifetime_secs = 0                 # refuse longer-lived tickets; 0: no limit
//! max_skew_secs = 300
//! channel_bindings = "ignore"                  # "verify" | "require" (needs channel_binding_cert)
//! channel_binding_cert = "/etc/seamless/tls.pem"   # the certificate clients see (PEM or DER)
//! spn_aliases = ["HTTP/a@R=HTTP/b@R"]          # ACCOUNT=SPN: another name for an account's key
//! max_token_bytes = 65536                      # the largest Negotiate token
//!
//! [directory]                                  # exactly one of file and [directory.ldap];
//! file = "/etc/seamless/users.toml"            # required unless in dev mode
//!
//! [directory.ldap]                             # feature `ldap`
//! url = "ldaps://dc1.contoso.com"              # or ldap://… with starttls = true
//! ca_file = "/etc/seamless/contoso-ca.pem"
//! tls_server_name = "dc1.contoso.com"          # when the URL names an address
//! bind_dn = "svc-seamless@contoso.com"
//! bind_password_file = "/etc/seamless/ldap.pw" # absent: $SEAMLESS_LDAP_BIND_PASSWORD
//! base_dn = "DC=contoso,DC=com"
//! user_filter = "(&(objectCategory=person)(objectClass=user))"
//! timeout_secs = 5
//! pool_size = 4
//! netbios_domain = "CONTOSO"                   # default: the first DC= of base_dn
//!
//! [passwords]
//! enabled = true                               # false: every password refused (seamless only)
//! ldap_bind = false                            # true: checked by an LDAP bind (needs [directory.ldap])
//!
//! [mapping]                                    # principals of tickets without a SID
//! trusted_realms = ["CONTOSO.COM"]             # default: the keytab's realms
//! upn_suffixes = { "CONTOSO.COM" = "contoso.com" }
//!
//! [metrics]                                    # feature `metrics`
//! enabled = false                              # GET /metrics on the main listener
//! listen = "127.0.0.1:9090"                    # or on its own (seamless serve only)
//!
//! [limits]
//! password_per_user = 10                       # wrong passwords per account per window
//! password_per_address = 100                   # … per client address
//! mfa_per_flow = 5
//! mfa_per_user = 20
//! window_secs = 900
//! flow_ttl_secs = 600                          # one sign-in, start to finish
//! max_body_bytes = 65536
//!
//! [session]
//! ttl_secs = 28800                             # one session cookie (capped at the ticket's end)
//! max_lifetime_secs = 43200                    # from the authentication, however often renewed
//! recheck_secs = 300                           # the account looked up again (disabled: sessions end)
//! refresh_idle_secs = 1209600                  # a refresh token unused this long dies
//! refresh_max_lifetime_secs = 7776000          # no refresh family outlives this
//!
//! [dev]
//! enabled = false                              # dev mode with a real keytab (loopback only)
//!
//! [policy]                                     # RulePolicy
//! mfa_groups = ["mfa"]
//!
//! [[clients]]
//! id = "intranet"
//! secret = "change-me"                         # absent: public client (PKCE)
//! redirect_uris = ["https://intranet.example.com/cb"]
//! algorithm = "ES256"                          # RS256 (default), ES256, EdDSA
//!
//! [tokens]
//! key_file = "/var/lib/seamless/signing-keys.json"   # absent: keys in memory
//! key_file_check_secs = 10
//! issuer = "https://sso.example.com"           # absent: the public origin (+ base path)
//! id_token_ttl_secs = 3600
//! access_token_ttl_secs = 600
//! api_audience = "https://api.example.com"     # absent: the issuer
//! max_groups = 150                             # more: left out, `hasgroups` instead
//!
//! [native]                                     # Windows-integrated native clients
//! domains = ["contoso.com"]                    # default: the keytab's realms
//! audience = "urn:federation:MicrosoftOnline"
//! ```
//!
//! Every value can be overridden from the environment:
//! `SEAMLESS_<SECTION>__<KEY>=value`, e.g. `SEAMLESS_SERVER__LISTEN=0.0.0.0:8080`
//! or `SEAMLESS_KERBEROS__KEYTAB=/run/secrets/http.keytab` (the value is read as
//! TOML when it parses, as a string otherwise). `SEAMLESS_CONFIG` names the file.
//!
//! `sections.rs` holds the file's sections, `dev.rs` the dev realm and demo users,
//! `sealing.rs` the sealing key file.

mod dev;
mod sealing;
mod sections;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backends::{
    KeyStore, KeytabFileKeyStore, MemoryKeyStore, MemoryStore, RulePolicy, StaticDirectory, Store,
    parse_alias,
};
use crate::clock::{Clock, SystemClock};
use crate::engine::{Durability, EngineConfig, Limits};
use crate::http::{Client, ClientSecret, Provider, ProviderBuilder, WebConfig};
use crate::kerberos::{AcceptorConfig, ChannelBindingPolicy, certificate_bindings};
use crate::token::SigningAlgorithm;

pub use dev::{
    DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_USERS, DEV_CLIENT_ID, DEV_CLIENT_REDIRECT,
    DEV_DOMAIN_SID, DEV_REALM, DEV_SERVICE, DEV_UPN_DOMAIN, dev_api_audience,
};
use dev::{demo_directory, dev_realm};
pub use sealing::sealing_keys;
pub use sections::*;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn err(e: impl std::fmt::Display) -> ConfigError {
    ConfigError(e.to_string())
}

/// Sets `path` (lower-case keys) in a TOML table to `value`.
fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let Some(next) = entry.as_table_mut() else {
            return;
        };
        current = next;
    }
    current.insert(last.clone(), value);
}

impl Settings {
    /// Parses `text` and applies `SEAMLESS_<SECTION>__<KEY>` overrides from `env`.
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(err)?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("SEAMLESS_") else {
                continue;
            };
            if !rest.contains("__") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            set_path(&mut table, &path, parsed);
        }
        toml::Value::Table(table).try_into().map_err(err)
    }

    /// Reads `path` (or `$SEAMLESS_CONFIG`; none: the defaults) and the
    /// environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let from_env = std::env::var_os("SEAMLESS_CONFIG").map(PathBuf::from);
        let text = match path.map(Path::to_path_buf).or(from_env) {
            Some(p) => std::fs::read_to_string(&p)
                .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?,
            None => String::new(),
        };
        Self::parse(&text, std::env::vars())
    }

    /// The address to listen on.
    pub fn listen(&self) -> Result<SocketAddr, ConfigError> {
        self.server
            .listen
            .parse()
            .map_err(|e| ConfigError(format!("server.listen {:?}: {e}", self.server.listen)))
    }

    /// The public origin.
    pub fn public_origin(&self) -> Result<String, ConfigError> {
        if let Some(o) = &self.server.public_origin {
            return Ok(o.trim_end_matches('/').to_string());
        }
        let addr = self.listen()?;
        let host = if addr.ip().is_loopback() {
            "localhost".to_string()
        } else {
            addr.ip().to_string()
        };
        Ok(format!("http://{host}:{}", addr.port()))
    }

    /// Builds the engine. Without a keytab, makes the dev realm (a fresh key,
    /// written to [`DevSettings::keytab_out`]); without a directory, the demo users.
    /// Connects to Redis when the store is Redis (so it runs inside a tokio runtime).
    pub async fn build(&self) -> Result<Built, ConfigError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut notes = Vec::new();
        let origin = self.public_origin()?;
        let mut web = WebConfig::new(origin.clone());
        web.base_path = self.server.base_path.trim_end_matches('/').to_string();
        web.title = self.server.title.clone();
        web.trusted_proxies = self.server.trusted_proxies.clone();
        web.bearer_audiences = self.server.bearer_audiences.clone();
        let secs = std::time::Duration::from_secs;
        web.session_ttl = secs(self.session.ttl_secs);
        web.session_max_lifetime = secs(self.session.max_lifetime_secs);
        web.session_recheck = secs(self.session.recheck_secs);
        web.max_body = self.limits.max_body_bytes;
        match self.server.client_timeout_ms {
            Some(0) => return Err(err("server.client_timeout_ms must be above 0")),
            Some(ms) => web.client_timeout = std::time::Duration::from_millis(ms),
            None => {}
        }
        web.sso_timeout = std::time::Duration::from_millis(self.server.sso_timeout_ms);
        web.max_header_block = self.server.max_header_bytes;
        web.native.domains = self.native.domains.clone();
        web.native.audience = self.native.audience.clone();
        if (self.metrics.enabled || self.metrics.listen.is_some()) && !cfg!(feature = "metrics") {
            return Err(ConfigError(
                "[metrics] needs seamless-core's `metrics` feature, which this build lacks".into(),
            ));
        }
        if let Some(listen) = &self.metrics.listen
            && listen.parse::<SocketAddr>().is_err()
        {
            return Err(ConfigError(format!(
                "metrics.listen {listen:?}: an address and port, e.g. \"127.0.0.1:9090\""
            )));
        }
        web.metrics = self.metrics.enabled && self.metrics.listen.is_none();
        let loopback = [
            "http://localhost:",
            "http://localhost/",
            "http://127.",
            "http://[::1]",
        ]
        .iter()
        .any(|p| origin.starts_with(p) || origin == "http://localhost");
        match self.server.insecure_cookies {
            Some(true) if !loopback => {
                return Err(ConfigError(format!(
                    "server.insecure_cookies = true on origin {origin}: cookies without Secure \
                     only for an http:// loopback origin (http://localhost:8080); elsewhere \
                     serve https (server.tls_cert in `seamless serve`, or a TLS proxy)"
                )));
            }
            Some(true) => {
                web.dangerous().insecure_cookies();
            }
            None if loopback => {
                web.dangerous().insecure_cookies();
                notes.push("cookies without Secure: plain http on loopback (server.insecure_cookies to decide)".into());
            }
            _ if origin.starts_with("http://") => notes.push(
                "cookies are Secure but the origin is http://: browsers will not send them back"
                    .into(),
            ),
            _ => {}
        }
        // The dev realm and the demo users (a published password and TOTP secret)
        // exist only in dev mode, and dev mode only where nobody else can reach.
        let dev_mode = self.kerberos.keytab.is_none() || self.dev.enabled;
        if dev_mode && !loopback {
            return Err(ConfigError(format!(
                "{} on public origin {origin}: dev mode (the dev realm and the demo users) runs \
                 only on a loopback origin such as http://localhost:8080; configure \
                 [kerberos] keytab and [directory] file for a real deployment",
                if self.dev.enabled {
                    "[dev] enabled = true"
                } else {
                    "no [kerberos] keytab"
                }
            )));
        }
        let configured = self.directory.file.is_some() || self.directory.ldap.is_some();
        if self.directory.file.is_some() && self.directory.ldap.is_some() {
            return Err(ConfigError(
                "[directory] has both file and [directory.ldap]: configure exactly one".into(),
            ));
        }
        if !dev_mode && !configured {
            return Err(ConfigError(
                "no [directory]: set [directory] file = \"/etc/seamless/users.toml\" or a \
                 [directory.ldap] section (demo users exist only in dev mode: no keytab, or \
                 [dev] enabled = true, on a loopback origin)"
                    .into(),
            ));
        }
        let aliases = self
            .kerberos
            .spn_aliases
            .iter()
            .map(|a| parse_alias(a).map_err(|e| ConfigError(format!("kerberos.spn_aliases {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if !aliases.is_empty() && self.kerberos.keytab.is_none() {
            return Err(ConfigError(
                "kerberos.spn_aliases needs kerberos.keytab (the dev realm has one name)".into(),
            ));
        }
        let (keys, dev_keytab): (Arc<dyn KeyStore>, Option<PathBuf>) = match &self.kerberos.keytab {
            Some(path) => (
                Arc::new(
                    KeytabFileKeyStore::open_with(path, aliases, KEYTAB_CHECK_INTERVAL)
                        .map_err(err)?,
                ),
                None,
            ),
            None => {
                let ring = dev_realm(&self.dev.keytab_out)?;
                notes.push(format!(
                    "dev realm {DEV_REALM}: service {DEV_SERVICE}, keytab {}",
                    self.dev.keytab_out.display()
                ));
                (
                    Arc::new(MemoryKeyStore::new(ring)),
                    Some(self.dev.keytab_out.clone()),
                )
            }
        };
        let (store, durability): (Arc<dyn Store>, Durability) = match self.store.url.as_str() {
            "memory" | "" => (
                Arc::new(MemoryStore::with_budgets(
                    self.store.memory.unwrap_or_default(),
                    clock.clone(),
                )),
                Durability::ProcessLocal,
            ),
            _ if self.store.memory.is_some() => {
                return Err(ConfigError(
                    "[store.memory] sizes the memory store; with store.url set to Redis, remove it"
                        .into(),
                ));
            }
            #[cfg(feature = "redis")]
            url if [
                "redis://",
                "rediss://",
                "redis+cluster://",
                "rediss+cluster://",
            ]
            .iter()
            .any(|scheme| url.starts_with(scheme)) =>
            {
                let config = crate::backends::RedisConfig {
                    url: url.to_string(),
                    key_prefix: self.store.key_prefix.clone(),
                    timeout_ms: self.store.timeout_ms,
                };
                let store = crate::backends::RedisStore::connect(&config)
                    .await
                    .map_err(err)?;
                notes.push(format!("store: Redis ({})", self.store.key_prefix));
                (Arc::new(store), Durability::Shared)
            }
            other => {
                return Err(ConfigError(format!(
                    "store.url {other:?}: use \"memory\", a redis:// URL, redis+cluster://host1:6379,host2:6379 for a cluster, or redis+sentinel://s1:26379,s2:26379/mymaster (feature `redis`)"
                )));
            }
        };
        let config = EngineConfig {
            acceptor: self.acceptor()?,
            mapping: self.mapping.clone(),
            limits: Limits {
                password_per_user: self.limits.password_per_user,
                password_per_address: self.limits.password_per_address,
                mfa_per_flow: self.limits.mfa_per_flow,
                mfa_per_user: self.limits.mfa_per_user,
                window: secs(self.limits.window_secs),
            },
            flow_ttl: secs(self.limits.flow_ttl_secs),
            refresh: crate::grants::RefreshLifetimes {
                idle: secs(self.session.refresh_idle_secs),
                absolute: secs(self.session.refresh_max_lifetime_secs),
            },
            tokens: crate::token::TokenSettings {
                issuer: self.tokens.issuer.clone().unwrap_or_default(),
                id_token_ttl: secs(self.tokens.id_token_ttl_secs),
                access_token_ttl: secs(self.tokens.access_token_ttl_secs),
                api_audience: self.tokens.api_audience.clone(),
                max_groups: self.tokens.max_groups,
                key_file_check: secs(self.tokens.key_file_check_secs),
            },
        };
        let policy = if !configured && self.policy.mfa_groups.is_empty() {
            RulePolicy {
                mfa_groups: vec!["mfa".into()],
                ..self.policy.clone()
            }
        } else {
            self.policy.clone()
        };
        if dev_mode && web.bearer_audiences.is_empty() {
            web.bearer_audiences = vec![dev_api_audience(&origin)];
        }
        let builder = Provider::builder().config(config).web(web).keys(keys);
        let mut builder = self
            .identities(builder, &mut notes)?
            .policy(policy)
            .store(store, durability)
            .clock(clock);
        if let Some(path) = &self.sealing.key_file {
            builder = builder.sealing_keys(sealing_keys(path)?);
        }
        for c in &self.clients {
            builder = builder.client(Client {
                id: c.id.clone(),
                secret: c.secret.as_deref().map(ClientSecret::new),
                redirect_uris: c.redirect_uris.clone(),
                post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                algorithm: c.algorithm,
                audience: c.audience.clone(),
            });
        }
        if dev_keytab.is_some() {
            builder = builder.client(
                Client::public(DEV_CLIENT_ID, DEV_CLIENT_REDIRECT)
                    .with_algorithm(SigningAlgorithm::Es256)
                    .with_audience(dev_api_audience(&origin)),
            );
        }
        if let Some(path) = &self.tokens.key_file {
            builder = builder.token_key_file(path);
        }
        let provider = builder.build().map_err(err)?;
        Ok(Built {
            provider,
            listen: self.listen()?,
            origin,
            dev_keytab,
            notes,
        })
    }
}

impl Settings {
    /// `[kerberos]` as acceptor settings.
    fn acceptor(&self) -> Result<AcceptorConfig, ConfigError> {
        let k = &self.kerberos;
        let channel_bindings = match (k.channel_bindings, &k.channel_binding_cert) {
            (ChannelBindingMode::Ignore, _) => ChannelBindingPolicy::Ignore,
            (_, None) => {
                return Err(ConfigError(
                    "kerberos.channel_bindings = \"verify\" or \"require\" needs \
                     kerberos.channel_binding_cert: the certificate clients see"
                        .into(),
                ));
            }
            (mode, Some(path)) => {
                let cert = std::fs::read(path).map_err(|e| {
                    ConfigError(format!(
                        "kerberos.channel_binding_cert {}: {e}",
                        path.display()
                    ))
                })?;
                let expected = certificate_bindings(&cert).map_err(|e| {
                    ConfigError(format!(
                        "kerberos.channel_binding_cert {}: {e}",
                        path.display()
                    ))
                })?;
                if mode == ChannelBindingMode::Require {
                    ChannelBindingPolicy::Require { expected }
                } else {
                    ChannelBindingPolicy::Verify { expected }
                }
            }
        };
        Ok(AcceptorConfig {
            allow_rc4: k.allow_rc4,
            require_pac: k.require_pac,
            max_ticket_lifetime: (k.max_ticket_lifetime_secs > 0)
                .then(|| std::time::Duration::from_secs(k.max_ticket_lifetime_secs)),
            max_skew: std::time::Duration::from_secs(k.max_skew_secs),
            channel_bindings,
            max_token_bytes: k.max_token_bytes,
        })
    }

    /// The directory, the password check and the second factor, from
    /// `[directory]` and `[passwords]`.
    fn identities(
        &self,
        builder: ProviderBuilder,
        notes: &mut Vec<String>,
    ) -> Result<ProviderBuilder, ConfigError> {
        let passwords = &self.passwords;
        if let Some(ldap) = &self.directory.ldap {
            return self.ldap_identities(builder, ldap, notes);
        }
        if passwords.ldap_bind {
            return Err(ConfigError(
                "passwords.ldap_bind = true needs [directory.ldap]: the users file holds \
                 argon2 hashes instead (seamless hash-password prints one)"
                    .into(),
            ));
        }
        let directory = Arc::new(match &self.directory.file {
            Some(path) => StaticDirectory::open(path).map_err(err)?,
            None => {
                notes.push(format!(
                    "demo users: {} (password {DEMO_PASSWORD}); bob needs a TOTP code (secret {DEMO_TOTP_SECRET})",
                    DEMO_USERS.iter().map(|u| format!("{}@{DEV_UPN_DOMAIN}", u.0)).collect::<Vec<_>>().join(", ")
                ));
                StaticDirectory::from_text(&demo_directory()?).map_err(err)?
            }
        });
        let builder = builder.credentials(directory);
        Ok(if passwords.enabled {
            builder
        } else {
            builder.with_engine(|b| b.dangerous().no_passwords())
        })
    }

    #[cfg(feature = "ldap")]
    fn ldap_identities(
        &self,
        builder: ProviderBuilder,
        ldap: &crate::backends::LdapConfig,
        notes: &mut Vec<String>,
    ) -> Result<ProviderBuilder, ConfigError> {
        use crate::backends::{LDAP_PASSWORD_ENV, LdapBindVerifier, LdapDirectory};
        if !ldap.bind_password.is_empty() {
            return Err(ConfigError(format!(
                "directory.ldap.bind_password: not in the configuration file; put it in a \
                 file named by directory.ldap.bind_password_file, or in the environment \
                 variable {LDAP_PASSWORD_ENV}"
            )));
        }
        let directory = LdapDirectory::new(ldap.clone())
            .map_err(|e| ConfigError(format!("[directory.ldap]: {}", e.message)))?;
        notes.push(format!("directory: LDAP {} ({})", ldap.url, ldap.base_dn));
        let builder = builder.directory(directory);
        match (self.passwords.enabled, self.passwords.ldap_bind) {
            (false, _) => Ok(builder.with_engine(|b| b.dangerous().no_passwords())),
            (true, true) => {
                let verifier = LdapBindVerifier::new(ldap.clone())
                    .map_err(|e| ConfigError(format!("[directory.ldap]: {}", e.message)))?;
                notes.push("passwords: checked by LDAP bind".into());
                Ok(builder.passwords(verifier))
            }
            (true, false) => Err(ConfigError(
                "[directory.ldap] holds no password hashes: set passwords.ldap_bind = true \
                 (check passwords against AD) or passwords.enabled = false (seamless sign-in only)"
                    .into(),
            )),
        }
    }

    #[cfg(not(feature = "ldap"))]
    fn ldap_identities(
        &self,
        _: ProviderBuilder,
        _: &toml::Table,
        _: &mut Vec<String>,
    ) -> Result<ProviderBuilder, ConfigError> {
        Err(ConfigError(
            "[directory.ldap] needs seamless-core's `ldap` feature, which this build lacks".into(),
        ))
    }
}

/// How often the configured keytab is checked for changes.
const KEYTAB_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// A built configuration.
#[derive(Debug)]
pub struct Built {
    /// The provider.
    pub provider: Provider,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The public origin.
    pub origin: String,
    /// The dev realm's keytab, when running on the dev realm.
    pub dev_keytab: Option<PathBuf>,
    /// Things worth telling the person who started it.
    pub notes: Vec<String>,
}

impl Built {
    /// A start-up banner: where to go and how to try it.
    pub fn banner(&self, app: &str) -> String {
        let mut out = format!(
            "{app} listening on {} — open {}/\n",
            self.listen, self.origin
        );
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        if let Some(keytab) = &self.dev_keytab {
            out.push_str(&format!(
                "  a seamless sign-in without AD: cargo run -p seamless -- dev client --url {} --keytab {}\n",
                self.origin,
                keytab.display()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let text = "[server]\nlisten = \"127.0.0.1:9000\"\n[policy]\nmfa_groups = [\"a\"]\n";
        let env = [
            (
                "SEAMLESS_SERVER__LISTEN".to_string(),
                "0.0.0.0:8081".to_string(),
            ),
            (
                "SEAMLESS_SERVER__INSECURE_COOKIES".to_string(),
                "true".to_string(),
            ),
            (
                "SEAMLESS_POLICY__MFA_GROUPS".to_string(),
                "[\"b\", \"c\"]".to_string(),
            ),
            (
                "SEAMLESS_KERBEROS__KEYTAB".to_string(),
                "/run/secrets/http.keytab".to_string(),
            ),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let s = Settings::parse(text, env).expect("parse");
        assert_eq!(s.server.listen, "0.0.0.0:8081");
        assert_eq!(s.server.insecure_cookies, Some(true));
        assert_eq!(s.policy.mfa_groups, ["b", "c"]);
        assert_eq!(
            s.kerberos.keytab.as_deref(),
            Some(Path::new("/run/secrets/http.keytab"))
        );
        assert_eq!(s.public_origin().expect("origin"), "http://0.0.0.0:8081");
    }

    #[test]
    fn unknown_settings_are_refused() {
        let e = Settings::parse("[server]\nlisten_on = \"x\"\n", []).expect_err("typo");
        assert!(e.to_string().contains("listen_on"), "{e}");
    }
}
