//! Administration of the service account: create it, read it, set its password.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use ldap3::{Ldap, Scope, SearchEntry, ldap_escape};
use zeroize::Zeroizing;

use super::{LdapConfig, RC_INVALID_CREDENTIALS, connect, first, prepare};
use crate::error::BackendError;
use crate::kerberos::Sid;

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
        let (config, settings) = prepare(config.clone())?;
        let config = &config;
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
