//! Who the users are: the `Directory` trait, the `User` it returns, and the rules
//! that map a Kerberos principal to a directory query.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::BackendError;
use crate::kerberos::{NT_ENTERPRISE, PrincipalName};
pub use crate::model::{MfaMethod, User, UserQuery};

/// Looks users up.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The user matching `query`, `Ok(None)` if there is none.
    async fn find(&self, query: &UserQuery) -> Result<Option<User>, BackendError>;
}

/// Rules that turn a ticket's principal into login names to look up, for tickets
/// without a SID (non-AD KDCs) and for checking the typed user name.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalMapping {
    /// Realm → UPN suffix (`"AD.TEST" = "ad.test"`). A realm not listed maps to its
    /// own name in lower case.
    #[serde(default)]
    pub upn_suffixes: BTreeMap<String, String>,
    /// Realms whose principals are accepted. Empty means "the realms of the key
    /// ring's accounts"; the engine fills it in.
    #[serde(default)]
    pub trusted_realms: Vec<String>,
}

impl fmt::Debug for PrincipalMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalMapping")
            .field("upn_suffixes", &self.upn_suffixes)
            .field("trusted_realms", &self.trusted_realms)
            .finish()
    }
}

impl PrincipalMapping {
    /// The login names `principal` may be known by, or `None` if its realm is not
    /// trusted. `alice@AD.TEST` → `alice@ad.test`, `alice`; an enterprise principal
    /// `alice@contoso.com@AD.TEST` → `alice@contoso.com`.
    pub fn logins(&self, principal: &PrincipalName) -> Option<Vec<String>> {
        let realm = &principal.realm;
        if !self
            .trusted_realms
            .iter()
            .any(|r| r.eq_ignore_ascii_case(realm))
        {
            return None;
        }
        let name = principal.name();
        if principal.name_type == NT_ENTERPRISE || name.contains('@') {
            return Some(vec![name]);
        }
        let suffix = self
            .upn_suffixes
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(realm))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| realm.to_ascii_lowercase());
        Some(vec![format!("{name}@{suffix}"), name])
    }
}
