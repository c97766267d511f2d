//! The directory: users by objectSid or login name, one search each.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnSettings, Scope, SearchEntry, ldap_escape};

use super::{
    ATTRIBUTES, LdapConfig, UAC_ACCOUNTDISABLE, UAC_LOCKOUT, UAC_PASSWORD_EXPIRED, connect, first,
    prepare,
};
use crate::backends::directory::{Directory, User, UserQuery};
use crate::error::BackendError;
use crate::kerberos::Sid;

/// Users from Active Directory.
pub struct LdapDirectory {
    config: LdapConfig,
    settings: LdapConnSettings,
    /// [`LdapConfig::netbios`], derived once.
    netbios: String,
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
        let (config, settings) = prepare(config)?;
        Ok(Self {
            settings,
            netbios: config.netbios(),
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

fn group_name(dn: &str) -> String {
    dn.split(',')
        .next()
        .and_then(|rdn| rdn.strip_prefix("CN=").or_else(|| rdn.strip_prefix("cn=")))
        .unwrap_or(dn)
        .to_string()
}

fn to_user(entry: &SearchEntry, now: i64, netbios: &str) -> Result<User, BackendError> {
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
        // `DOMAIN\sam`: a bare `sam` typed still matches it, another domain's does not.
        user.alternate_logins.push(format!("{netbios}\\{sam}"));
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
                let netbios = &self.netbios;
                let mut alternatives = String::new();
                for name in names {
                    let bare = match name.split_once('\\') {
                        // Another domain's account is not one of ours.
                        Some((domain, _)) if !domain.eq_ignore_ascii_case(netbios) => continue,
                        Some((_, bare)) => bare,
                        None => name.as_str(),
                    };
                    alternatives.push_str(&format!(
                        "(userPrincipalName={})",
                        ldap_escape(name.as_str())
                    ));
                    if !bare.contains('@') {
                        alternatives.push_str(&format!("(sAMAccountName={})", ldap_escape(bare)));
                    }
                }
                if alternatives.is_empty() {
                    return Ok(None);
                }
                format!("(|{alternatives})")
            }
        };
        let filter = format!("(&{}{clause})", self.config.user_filter);
        let entries = self.search(&filter).await?;
        let now = crate::clock::unix_now();
        match entries.as_slice() {
            [] => Ok(None),
            [one] => to_user(one, now, &self.netbios).map(Some),
            _ => Err(BackendError::corrupt("more than one user matches")),
        }
    }
}
