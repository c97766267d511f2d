//! Active Directory over LDAP (feature `ldap`): the directory (users by objectSid
//! or login name) and pass-through password verification by LDAP bind.
//!
//! `directory.rs` (LdapDirectory), `bind.rs` (LdapBindVerifier) and `admin.rs`
//! (AccountAdmin, the service account) share the connection set-up here.
//!
//! Connections use LDAPS or StartTLS with rustls; the CA is given explicitly
//! (`ca_file`), never "trust anything". Bound connections are pooled; every
//! operation has a timeout; a failed connection is dropped, not reused.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, SearchEntry};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;

use crate::error::BackendError;

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
    /// Its password. Empty: read from `bind_password_file`, else from the
    /// environment variable [`LDAP_PASSWORD_ENV`].
    #[serde(default)]
    pub bind_password: String,
    /// A file holding the password (trailing newline ignored), read when
    /// `bind_password` is empty.
    #[serde(default)]
    pub bind_password_file: Option<PathBuf>,
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
    /// The domain's NetBIOS name, for `DOMAIN\name` logins (default: the first
    /// `DC=` label of `base_dn`, upper-cased). A login naming another domain
    /// finds nobody.
    #[serde(default)]
    pub netbios_domain: Option<String>,
}

impl LdapConfig {
    /// The NetBIOS domain name `DOMAIN\name` logins must carry.
    pub fn netbios(&self) -> String {
        if let Some(name) = &self.netbios_domain {
            return name.to_ascii_uppercase();
        }
        self.base_dn
            .split(',')
            .filter_map(|rdn| rdn.trim().split_once('='))
            .find(|(attr, _)| attr.trim().eq_ignore_ascii_case("dc"))
            .map(|(_, value)| value.trim().to_ascii_uppercase())
            .unwrap_or_default()
    }
}

/// Where an [`LdapConfig`] with no password and no password file reads it.
pub const LDAP_PASSWORD_ENV: &str = "SEAMLESS_LDAP_BIND_PASSWORD";

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

/// The password resolved (`bind_password`, `bind_password_file`, then
/// [`LDAP_PASSWORD_ENV`]) and the TLS settings built: what every connection needs.
fn prepare(mut config: LdapConfig) -> Result<(LdapConfig, LdapConnSettings), BackendError> {
    if config.bind_password.is_empty() {
        config.bind_password = match &config.bind_password_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    BackendError::unavailable(format!(
                        "cannot read bind_password_file {}",
                        path.display()
                    ))
                    .with_source(e)
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            None => std::env::var(LDAP_PASSWORD_ENV).map_err(|_| {
                BackendError::corrupt(format!(
                    "no password for {}: set bind_password_file, or the environment variable \
                     {LDAP_PASSWORD_ENV}",
                    config.bind_dn
                ))
            })?,
        };
    }
    let settings = settings(&config)?;
    Ok((config, settings))
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
            let hint = tls_hint(&error_chain(&e), config);
            BackendError::unavailable(format!("cannot connect to {}{hint}", config.url))
                .with_source(e)
        })?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// An error and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What a TLS failure connecting to the DC most likely means, and the fix.
fn tls_hint(chain: &str, config: &LdapConfig) -> String {
    let name = config.tls_server_name.clone().unwrap_or_else(|| {
        config
            .url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split([':', '/']).next())
            .unwrap_or_default()
            .to_string()
    });
    if chain.contains("NotValidForName") || chain.contains("not valid for name") {
        format!(
            ": the DC's certificate does not carry the name {name:?} in its subjectAltName \
             (rustls checks subjectAltName only; Samba's self-generated certificate has none): \
             issue the DC a certificate with subjectAltName=DNS:{name}, or set tls_server_name \
             to a name the certificate carries"
        )
    } else if chain.contains("UnknownIssuer") || chain.contains("BadSignature") {
        format!(
            ": the DC's certificate is not issued by a CA in ca_file {}",
            config.ca_file.display()
        )
    } else if chain.contains("Expired") || chain.contains("NotValidYet") {
        ": the DC's certificate is outside its validity period (or this clock is wrong)".into()
    } else {
        String::new()
    }
}

pub(super) fn first<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    entry
        .attrs
        .get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
}

mod admin;
mod bind;
mod directory;

pub use admin::{
    AccountAdmin, ServiceAccountInfo, UAC_TRUSTED_FOR_DELEGATION,
    UAC_TRUSTED_TO_AUTH_FOR_DELEGATION, UAC_WORKSTATION_TRUST_ACCOUNT,
};
pub use bind::LdapBindVerifier;
pub use directory::LdapDirectory;

#[cfg(test)]
mod tls_hint_tests {
    use super::*;

    fn config(url: &str) -> LdapConfig {
        toml::from_str(&format!(
            "url = \"{url}\"\nca_file = \"/etc/seamless/ad-ca.pem\"\nbind_dn = \"svc\"\nbase_dn = \"DC=ad,DC=test\"\n"
        ))
        .expect("config")
    }

    #[test]
    fn a_certificate_without_the_name_is_named_as_the_cause() {
        let hint = tls_hint(
            "I/O error: invalid peer certificate: NotValidForName",
            &config("ldaps://dc1.ad.test:636"),
        );
        assert!(hint.contains("subjectAltName=DNS:dc1.ad.test"), "{hint}");
        assert!(
            !hint.contains("ca_file"),
            "the CA is not the problem: {hint}"
        );
        let hint = tls_hint(
            "invalid peer certificate: UnknownIssuer",
            &config("ldaps://dc1.ad.test"),
        );
        assert!(hint.contains("/etc/seamless/ad-ca.pem"), "{hint}");
        assert_eq!(tls_hint("Connection refused", &config("ldaps://dc1")), "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_dn: &str, netbios: Option<&str>) -> LdapConfig {
        let mut config: LdapConfig = toml::from_str(&format!(
            "url = \"ldaps://dc\"\nca_file = \"ca.pem\"\nbind_dn = \"svc\"\nbind_password = \"x\"\nbase_dn = \"{base_dn}\"\n"
        ))
        .expect("config");
        config.netbios_domain = netbios.map(str::to_string);
        config
    }

    #[test]
    fn the_netbios_domain_is_configured_or_the_first_dc_label() {
        assert_eq!(config("DC=contoso,DC=com", None).netbios(), "CONTOSO");
        assert_eq!(config("OU=Staff, dc=ad ,DC=test", None).netbios(), "AD");
        assert_eq!(config("DC=contoso,DC=com", Some("corp")).netbios(), "CORP");
        assert_eq!(config("O=nothing", None).netbios(), "");
    }
}
