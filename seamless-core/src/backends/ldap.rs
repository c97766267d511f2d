//! Active Directory over LDAP (feature `ldap`): the directory (users by objectSid
//! or login name) and pass-through password verification by LDAP bind.
//!
//! Connections use LDAPS or StartTLS with rustls; the CA is given explicitly
//! (`ca_file`), never "trust anything". Bound connections are pooled; every
//! operation has a timeout; a failed connection is dropped, not reused.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::directory::{Directory, User, UserQuery};
use super::password::{Password, PasswordVerifier};
use crate::error::BackendError;
use crate::kerberos::Sid;

/// userAccountControl bits (MS-ADTS 2.2.16).
const UAC_ACCOUNTDISABLE: u32 = 0x2;
const UAC_LOCKOUT: u32 = 0x10;
const UAC_PASSWORD_EXPIRED: u32 = 0x80_0000;
/// LDAP result code for a wrong password.
const RC_INVALID_CREDENTIALS: u32 = 49;

const ATTRIBUTES: [&str; 10] = [
    "objectGUID",
    "objectSid",
    "userPrincipalName",
    "sAMAccountName",
    "displayName",
    "memberOf",
    "userAccountControl",
    "pwdLastSet",
    "lockoutTime",
    "accountExpires",
];

/// How to reach the directory.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://dc.contoso.com` (port 636) or `ldap://dc.contoso.com` with `starttls`.
    pub url: String,
    /// Upgrade a plain `ldap://` connection with StartTLS.
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA(s) that issued the DC's certificate.
    pub ca_file: PathBuf,
    /// The name to check the DC's certificate against when the URL uses an address.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// Service account to search with (a DN or a UPN).
    pub bind_dn: String,
    /// Its password.
    pub bind_password: String,
    /// Where users live (`DC=contoso,DC=com`).
    pub base_dn: String,
    /// Extra filter every user must match.
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Per-operation timeout in seconds (default 5).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Pooled connections kept open (default 4).
    #[serde(default = "default_pool")]
    pub pool_size: usize,
}

fn default_user_filter() -> String {
    "(&(objectCategory=person)(objectClass=user))".into()
}
fn default_timeout() -> u64 {
    5
}
fn default_pool() -> usize {
    4
}

impl fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("base_dn", &self.base_dn)
            .field("bind_password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Checks the server certificate against the configured CA, for a configured name.
#[derive(Debug)]
struct NamedVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: Option<ServerName<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for NamedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let name = self.name.as_ref().unwrap_or(server_name);
        self.inner
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn settings(config: &LdapConfig) -> Result<LdapConnSettings, BackendError> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&config.ca_file).map_err(|e| {
        BackendError::unavailable(format!(
            "cannot read ca_file {}: {e}",
            config.ca_file.display()
        ))
    })?;
    for cert in certs {
        let cert = cert.map_err(|e| {
            BackendError::corrupt(format!("ca_file {}: {e}", config.ca_file.display()))
        })?;
        roots.add(cert).map_err(|e| {
            BackendError::corrupt(format!("ca_file {}: {e}", config.ca_file.display()))
        })?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| BackendError::corrupt(format!("CA: {e}")))?;
    let name = config
        .tls_server_name
        .as_deref()
        .map(|n| ServerName::try_from(n.to_string()))
        .transpose()
        .map_err(|e| BackendError::corrupt(format!("tls_server_name: {e}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BackendError::corrupt(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NamedVerifier { inner, name }))
        .with_no_client_auth();
    Ok(LdapConnSettings::new()
        .set_conn_timeout(Duration::from_secs(config.timeout_secs))
        .set_starttls(config.starttls)
        .set_config(Arc::new(tls)))
}

async fn connect(config: &LdapConfig, settings: &LdapConnSettings) -> Result<Ldap, BackendError> {
    let (conn, ldap) = LdapConnAsync::with_settings(settings.clone(), &config.url)
        .await
        .map_err(|e| {
            BackendError::unavailable(format!("cannot connect to {}", config.url)).with_source(e)
        })?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// Users from Active Directory.
pub struct LdapDirectory {
    config: LdapConfig,
    settings: LdapConnSettings,
    pool: Mutex<Vec<Ldap>>,
}

impl fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LdapDirectory {
    /// A directory for `config` (connects lazily).
    pub fn new(config: LdapConfig) -> Result<Self, BackendError> {
        Ok(Self {
            settings: settings(&config)?,
            config,
            pool: Mutex::new(Vec::new()),
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.timeout_secs)
    }

    async fn connection(&self) -> Result<Ldap, BackendError> {
        if let Some(ldap) = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(ldap);
        }
        let mut ldap = connect(&self.config, &self.settings).await?;
        ldap.with_timeout(self.timeout())
            .simple_bind(&self.config.bind_dn, &self.config.bind_password)
            .await
            .and_then(|r| r.success())
            .map_err(|e| BackendError::unavailable("service account bind failed").with_source(e))?;
        Ok(ldap)
    }

    fn give_back(&self, ldap: Ldap) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < self.config.pool_size {
            pool.push(ldap);
        }
    }

    async fn search(&self, filter: &str) -> Result<Vec<SearchEntry>, BackendError> {
        let mut ldap = self.connection().await?;
        let result = ldap
            .with_timeout(self.timeout())
            .search(
                &self.config.base_dn,
                Scope::Subtree,
                filter,
                ATTRIBUTES.to_vec(),
            )
            .await
            .and_then(|r| r.success());
        let (entries, _) =
            result.map_err(|e| BackendError::unavailable("LDAP search failed").with_source(e))?;
        self.give_back(ldap);
        entries
            .into_iter()
            .map(|e| {
                // ldap3 asserts on the entry's shape; a malformed answer must not
                // take the process down.
                catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(e)))
                    .map_err(|_| BackendError::corrupt("malformed LDAP search entry"))
            })
            .collect()
    }
}

/// RFC 4515 escaping of raw bytes: every byte as `\xx`.
fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// objectGUID as the usual text form (the first three groups are little-endian).
fn guid_text(raw: &[u8]) -> Option<String> {
    let b: &[u8; 16] = raw.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

fn first<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    entry
        .attrs
        .get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
}

fn group_name(dn: &str) -> String {
    dn.split(',')
        .next()
        .and_then(|rdn| rdn.strip_prefix("CN=").or_else(|| rdn.strip_prefix("cn=")))
        .unwrap_or(dn)
        .to_string()
}

fn to_user(entry: &SearchEntry, now: i64) -> Result<User, BackendError> {
    let guid = entry
        .bin_attrs
        .get("objectGUID")
        .and_then(|v| v.first())
        .and_then(|g| guid_text(g))
        .ok_or_else(|| BackendError::corrupt(format!("{} has no objectGUID", entry.dn)))?;
    let sid = entry
        .bin_attrs
        .get("objectSid")
        .and_then(|v| v.first())
        .and_then(|raw| Sid::from_bytes(raw).ok())
        .map(|(sid, _)| sid);
    let sam = first(entry, "sAMAccountName")
        .unwrap_or_default()
        .to_string();
    let upn = first(entry, "userPrincipalName")
        .map(str::to_string)
        .unwrap_or_else(|| sam.clone());
    let uac: u32 = first(entry, "userAccountControl")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let filetime = |name: &str| first(entry, name).and_then(|v| v.parse::<u64>().ok());
    let expires = filetime("accountExpires").and_then(crate::kerberos::pac::filetime_to_unix);
    let mut user = User::new(guid, upn);
    user.display_name = first(entry, "displayName").unwrap_or_default().to_string();
    user.sid = sid;
    user.groups = entry
        .attrs
        .get("memberOf")
        .map(|dns| dns.iter().map(|dn| group_name(dn)).collect())
        .unwrap_or_default();
    if !sam.is_empty() {
        user.alternate_logins.push(sam);
    }
    user.enabled = uac & UAC_ACCOUNTDISABLE == 0;
    user.locked = uac & UAC_LOCKOUT != 0 || filetime("lockoutTime").is_some_and(|t| t > 0);
    user.expired = uac & UAC_PASSWORD_EXPIRED != 0 || expires.is_some_and(|t| t <= now);
    user.password_last_set =
        filetime("pwdLastSet").and_then(crate::kerberos::pac::filetime_to_unix);
    Ok(user)
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn find(&self, query: &UserQuery) -> Result<Option<User>, BackendError> {
        let clause = match query {
            UserQuery::Sid(sid) => format!("(objectSid={})", escape_bytes(&sid.to_bytes())),
            UserQuery::Logins(names) => {
                let mut alternatives = String::new();
                for name in names {
                    let bare = name.rsplit('\\').next().unwrap_or(name);
                    alternatives.push_str(&format!(
                        "(userPrincipalName={})",
                        ldap_escape(name.as_str())
                    ));
                    if !bare.contains('@') {
                        alternatives.push_str(&format!("(sAMAccountName={})", ldap_escape(bare)));
                    }
                }
                format!("(|{alternatives})")
            }
        };
        let filter = format!("(&{}{clause})", self.config.user_filter);
        let entries = self.search(&filter).await?;
        let now = crate::clock::unix_now();
        match entries.as_slice() {
            [] => Ok(None),
            [one] => to_user(one, now).map(Some),
            _ => Err(BackendError::corrupt("more than one user matches")),
        }
    }
}

/// Pass-through authentication: the password is checked by binding to AD as the
/// user (by UPN). Nothing is stored.
pub struct LdapBindVerifier {
    config: LdapConfig,
    settings: LdapConnSettings,
}

impl fmt::Debug for LdapBindVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapBindVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LdapBindVerifier {
    /// A verifier binding against `config`'s server (the bind account is not used).
    pub fn new(config: LdapConfig) -> Result<Self, BackendError> {
        Ok(Self {
            settings: settings(&config)?,
            config,
        })
    }
}

#[async_trait]
impl PasswordVerifier for LdapBindVerifier {
    async fn verify(&self, user: Option<&User>, password: &Password) -> Result<bool, BackendError> {
        // Empty passwords would be an anonymous bind, which "succeeds".
        if password.expose_secret().is_empty() {
            return Ok(false);
        }
        // For an unknown user, bind as a name that cannot exist so the timing matches.
        let name = Zeroizing::new(
            user.map(|u| u.upn.clone())
                .unwrap_or_else(|| "no-such-user@invalid".into()),
        );
        let mut ldap = connect(&self.config, &self.settings).await?;
        let result = ldap
            .with_timeout(Duration::from_secs(self.config.timeout_secs))
            .simple_bind(&name, password.expose_secret())
            .await
            .map_err(|e| BackendError::unavailable("LDAP bind failed").with_source(e))?;
        let _ = ldap.unbind().await;
        match result.rc {
            0 => Ok(user.is_some()),
            RC_INVALID_CREDENTIALS => Ok(false),
            rc => Err(BackendError::unavailable(format!(
                "LDAP bind returned {rc}"
            ))),
        }
    }
}

/// userAccountControl of a workstation trust account (no delegation flags).
pub const UAC_WORKSTATION_TRUST_ACCOUNT: u32 = 0x1000;
/// userAccountControl: trusted for (unconstrained) delegation. Never set on ours.
pub const UAC_TRUSTED_FOR_DELEGATION: u32 = 0x8_0000;
/// userAccountControl: trusted to authenticate for delegation (protocol transition).
pub const UAC_TRUSTED_TO_AUTH_FOR_DELEGATION: u32 = 0x100_0000;

/// What AD holds about a service computer account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountInfo {
    /// Its DN.
    pub dn: String,
    /// sAMAccountName (`NAME$`).
    pub sam_account_name: String,
    /// msDS-KeyVersionNumber.
    pub kvno: u32,
    /// servicePrincipalName values.
    pub spns: Vec<String>,
    /// userAccountControl.
    pub user_account_control: u32,
    /// msDS-SupportedEncryptionTypes (0 when unset).
    pub supported_enctypes: u32,
    /// msDS-AllowedToDelegateTo or RBCD configured.
    pub delegation_configured: bool,
    /// The domain the account lives in (its objectSid without the RID).
    pub domain_sid: Option<Sid>,
}

/// Administration of the service account (create, read, set its password), bound
/// as an administrator over LDAPS or StartTLS.
pub struct AccountAdmin {
    ldap: Ldap,
    base_dn: String,
    timeout: Duration,
}

impl fmt::Debug for AccountAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountAdmin")
            .field("base_dn", &self.base_dn)
            .finish_non_exhaustive()
    }
}

fn unicode_pwd(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(
        format!("\"{password}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect(),
    )
}

impl AccountAdmin {
    /// Connects and binds with `config`'s account (which must be allowed to create
    /// computer objects and reset their passwords).
    pub async fn connect(config: &LdapConfig) -> Result<Self, BackendError> {
        let settings = settings(config)?;
        let mut ldap = connect(config, &settings).await?;
        let timeout = Duration::from_secs(config.timeout_secs);
        let bind = ldap
            .with_timeout(timeout)
            .simple_bind(&config.bind_dn, &config.bind_password)
            .await;
        match bind {
            Ok(r) if r.rc == 0 => {}
            Ok(r) if r.rc == RC_INVALID_CREDENTIALS => {
                return Err(BackendError::unavailable(format!(
                    "bind as {} refused: wrong user name or password",
                    config.bind_dn
                )));
            }
            Ok(r) => {
                return Err(BackendError::unavailable(format!(
                    "bind as {} failed: LDAP result {}",
                    config.bind_dn, r.rc
                )));
            }
            Err(e) => {
                return Err(BackendError::unavailable(format!(
                    "bind as {} failed",
                    config.bind_dn
                ))
                .with_source(e));
            }
        }
        Ok(Self {
            ldap,
            base_dn: config.base_dn.clone(),
            timeout,
        })
    }

    /// The account with `sAMAccountName` = `sam` (`NAME$`), if it exists.
    pub async fn find(&mut self, sam: &str) -> Result<Option<ServiceAccountInfo>, BackendError> {
        let filter = format!(
            "(&(objectClass=computer)(sAMAccountName={}))",
            ldap_escape(sam)
        );
        let (entries, _) = self
            .ldap
            .with_timeout(self.timeout)
            .search(
                &self.base_dn,
                Scope::Subtree,
                &filter,
                vec!["distinguishedName"],
            )
            .await
            .and_then(|r| r.success())
            .map_err(|e| BackendError::unavailable("LDAP search failed").with_source(e))?;
        let Some(entry) = entries.into_iter().next() else {
            return Ok(None);
        };
        let entry = catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(entry)))
            .map_err(|_| BackendError::corrupt("malformed LDAP search entry"))?;
        self.read(&entry.dn).await.map(Some)
    }

    /// Reads an account by DN (msDS-KeyVersionNumber is constructed, so it needs a
    /// base-scope read of the object itself).
    pub async fn read(&mut self, dn: &str) -> Result<ServiceAccountInfo, BackendError> {
        let attrs = vec![
            "sAMAccountName",
            "msDS-KeyVersionNumber",
            "servicePrincipalName",
            "userAccountControl",
            "msDS-SupportedEncryptionTypes",
            "msDS-AllowedToDelegateTo",
            "msDS-AllowedToActOnBehalfOfOtherIdentity",
            "objectSid",
        ];
        let (entries, _) = self
            .ldap
            .with_timeout(self.timeout)
            .search(dn, Scope::Base, "(objectClass=*)", attrs)
            .await
            .and_then(|r| r.success())
            .map_err(|e| BackendError::unavailable(format!("cannot read {dn}")).with_source(e))?;
        let entry = entries
            .into_iter()
            .next()
            .ok_or_else(|| BackendError::corrupt(format!("{dn} vanished")))?;
        let e = catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(entry)))
            .map_err(|_| BackendError::corrupt("malformed LDAP search entry"))?;
        let number = |name: &str| first(&e, name).and_then(|v| v.parse::<u32>().ok());
        Ok(ServiceAccountInfo {
            dn: e.dn.clone(),
            sam_account_name: first(&e, "sAMAccountName").unwrap_or_default().to_string(),
            kvno: number("msDS-KeyVersionNumber").ok_or_else(|| {
                BackendError::corrupt(format!("{dn} has no msDS-KeyVersionNumber"))
            })?,
            spns: e
                .attrs
                .get("servicePrincipalName")
                .cloned()
                .unwrap_or_default(),
            user_account_control: number("userAccountControl").unwrap_or(0),
            supported_enctypes: number("msDS-SupportedEncryptionTypes").unwrap_or(0),
            delegation_configured: e.attrs.contains_key("msDS-AllowedToDelegateTo")
                || e.bin_attrs
                    .contains_key("msDS-AllowedToActOnBehalfOfOtherIdentity")
                || e.attrs
                    .contains_key("msDS-AllowedToActOnBehalfOfOtherIdentity"),
            domain_sid: e
                .bin_attrs
                .get("objectSid")
                .and_then(|v| v.first())
                .and_then(|raw| Sid::from_bytes(raw).ok())
                .and_then(|(sid, _)| sid.domain()),
        })
    }

    /// Creates the computer account `CN=<name>,<container>` with the given SPNs and
    /// password: AES-only (msDS-SupportedEncryptionTypes = 24), no delegation.
    pub async fn create(
        &mut self,
        name: &str,
        container: &str,
        spns: &[String],
        password: &str,
    ) -> Result<ServiceAccountInfo, BackendError> {
        use std::collections::HashSet;
        let dn = format!("CN={},{container}", ldap3::dn_escape(name));
        let sam = format!("{name}$");
        let set = |values: &[&str]| {
            values
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect::<HashSet<Vec<u8>>>()
        };
        let pwd = unicode_pwd(password);
        let attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = vec![
            (
                b"objectClass".to_vec(),
                set(&["top", "person", "organizationalPerson", "user", "computer"]),
            ),
            (b"sAMAccountName".to_vec(), set(&[&sam])),
            (
                b"userAccountControl".to_vec(),
                set(&[&UAC_WORKSTATION_TRUST_ACCOUNT.to_string()]),
            ),
            (b"msDS-SupportedEncryptionTypes".to_vec(), set(&["24"])),
            (
                b"servicePrincipalName".to_vec(),
                spns.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ),
            (
                b"unicodePwd".to_vec(),
                std::iter::once(pwd.to_vec()).collect(),
            ),
        ];
        self.ldap
            .with_timeout(self.timeout)
            .add(&dn, attrs)
            .await
            .and_then(|r| r.success())
            .map_err(|e| BackendError::unavailable(format!("cannot create {dn}")).with_source(e))?;
        self.read(&dn).await
    }

    /// Sets the account's password (AD bumps msDS-KeyVersionNumber) and returns the
    /// account as it is afterwards.
    pub async fn set_password(
        &mut self,
        dn: &str,
        password: &str,
    ) -> Result<ServiceAccountInfo, BackendError> {
        use std::collections::HashSet;
        let pwd = unicode_pwd(password);
        let values: HashSet<Vec<u8>> = std::iter::once(pwd.to_vec()).collect();
        self.ldap
            .with_timeout(self.timeout)
            .modify(
                dn,
                vec![ldap3::Mod::Replace(b"unicodePwd".to_vec(), values)],
            )
            .await
            .and_then(|r| r.success())
            .map_err(|e| {
                BackendError::unavailable(format!("cannot set the password of {dn}")).with_source(e)
            })?;
        self.read(dn).await
    }

    /// Replaces the account's SPNs.
    pub async fn set_spns(&mut self, dn: &str, spns: &[String]) -> Result<(), BackendError> {
        let values = spns.iter().map(String::as_str).collect();
        self.ldap
            .with_timeout(self.timeout)
            .modify(
                dn,
                vec![ldap3::Mod::Replace("servicePrincipalName", values)],
            )
            .await
            .and_then(|r| r.success())
            .map(|_| ())
            .map_err(|e| {
                BackendError::unavailable(format!("cannot set the SPNs of {dn}")).with_source(e)
            })
    }
}
