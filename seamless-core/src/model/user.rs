//! Who signs in: the user as the directory knows them, and how to look one up.

use serde::{Deserialize, Serialize};

use crate::kerberos::Sid;

/// A second factor a user can be enrolled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MfaMethod {
    /// RFC 6238 time-based one-time codes.
    Totp,
}

/// A user as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Stable, immutable identifier (AD objectGUID); becomes the token `sub`.
    pub id: String,
    /// User principal name.
    pub upn: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// The on-premises SID (AD objectSid): the key seamless sign-in looks users up by.
    #[serde(default)]
    pub sid: Option<Sid>,
    /// Group names (or SIDs) for policy and claims.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Other names the user may type (sAMAccountName, `DOMAIN\name`, an e-mail alias).
    #[serde(default)]
    pub alternate_logins: Vec<String>,
    /// The account is enabled.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// The account is locked out in the directory.
    #[serde(default)]
    pub locked: bool,
    /// The account or its password has expired.
    #[serde(default)]
    pub expired: bool,
    /// Enrolled second factors.
    #[serde(default)]
    pub mfa: Vec<MfaMethod>,
    /// When the password was last set (Unix seconds).
    #[serde(default)]
    pub password_last_set: Option<i64>,
}

fn enabled_default() -> bool {
    true
}

impl User {
    /// A minimal enabled user.
    pub fn new(id: impl Into<String>, upn: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            upn: upn.into(),
            display_name: String::new(),
            sid: None,
            groups: Vec::new(),
            alternate_logins: Vec::new(),
            enabled: true,
            locked: false,
            expired: false,
            mfa: Vec::new(),
            password_last_set: None,
        }
    }

    /// With a SID.
    pub fn with_sid(mut self, sid: Sid) -> Self {
        self.sid = Some(sid);
        self
    }

    /// With groups.
    pub fn with_groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }

    /// Keeps at most `max_groups + 1` groups: tokens and sessions carry at most
    /// `max_groups` and say `hasgroups` beyond, which the one extra still tells.
    pub(crate) fn keep_groups(&mut self, max_groups: usize) {
        self.groups.truncate(max_groups.saturating_add(1));
    }

    /// Whether `login` (as typed, any case) names this user: the UPN or an
    /// alternate login. `DOMAIN\name` forms match a bare `name` and vice versa;
    /// when both sides name a domain, the domains must agree.
    pub fn answers_to(&self, login: &str) -> bool {
        let login = login.trim();
        std::iter::once(self.upn.as_str())
            .chain(self.alternate_logins.iter().map(String::as_str))
            .any(|name| same_login(name, login))
    }

    /// The account state as a refusal, if it refuses.
    pub fn refusal(&self) -> Option<crate::error::Code> {
        use crate::error::Code;
        if !self.enabled {
            Some(Code::AccountDisabled)
        } else if self.locked {
            Some(Code::AccountLocked)
        } else if self.expired {
            Some(Code::AccountExpired)
        } else {
            None
        }
    }
}

fn split_domain(s: &str) -> (Option<&str>, &str) {
    match s.split_once('\\') {
        Some((domain, name)) => (Some(domain), name),
        None => (None, s),
    }
}

fn same_login(a: &str, b: &str) -> bool {
    let ((da, na), (db, nb)) = (split_domain(a), split_domain(b));
    na.eq_ignore_ascii_case(nb) && da.zip(db).is_none_or(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// How to find a user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserQuery {
    /// By on-premises SID (from the PAC): the primary key, as Entra does.
    Sid(Sid),
    /// By any of these login names, case-insensitively (UPN or alternate login).
    Logins(Vec<String>),
}
