//! A directory from a TOML or JSON file: users, SIDs, groups, argon2 password
//! hashes and TOTP secrets. Reloaded when the file changes.
//!
//! ```toml
//! [[users]]
//! id = "5f1c0c4e-8a5e-4b6e-9b1a-0c1d2e3f4a5b"
//! upn = "alice@ad.test"
//! display_name = "Alice Liddell"
//! sid = "S-1-5-21-1004336348-1177238915-682003330-1105"
//! groups = ["staff"]
//! alternate_logins = ["AD\\alice"]
//! mfa = ["totp"]
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::directory::{Directory, User, UserQuery};
use super::mfa::TotpSecrets;
use super::password::PasswordHashes;
use super::watched::WatchedFile;
use crate::error::BackendError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    #[serde(flatten)]
    user: User,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    totp_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    users: Vec<FileUser>,
}

/// The parsed directory.
pub struct Users {
    users: Vec<FileUser>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("count", &self.users.len())
            .finish()
    }
}

impl Users {
    /// Parses TOML (or JSON when the text starts with `{`).
    pub fn parse(text: &str) -> Result<Self, BackendError> {
        let file: File = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| BackendError::corrupt(format!("JSON: {e}")))?
        } else {
            toml::from_str(text).map_err(|e| BackendError::corrupt(format!("TOML: {e}")))?
        };
        let mut ids = std::collections::HashSet::new();
        for u in &file.users {
            if !ids.insert(u.user.id.as_str()) {
                return Err(BackendError::corrupt(format!(
                    "duplicate user id {:?}",
                    u.user.id
                )));
            }
        }
        Ok(Self { users: file.users })
    }

    fn find(&self, query: &UserQuery) -> Option<&FileUser> {
        self.users.iter().find(|u| match query {
            UserQuery::Sid(sid) => u.user.sid.as_ref() == Some(sid),
            UserQuery::Logins(names) => names.iter().any(|n| u.user.answers_to(n)),
        })
    }

    fn by_id(&self, id: &str) -> Option<&FileUser> {
        self.users.iter().find(|u| u.user.id == id)
    }
}

/// A directory from a file, re-read when it changes (checked at most every 2 s).
pub struct StaticDirectory {
    source: Source,
}

enum Source {
    File(WatchedFile<Users>),
    Fixed(Arc<Users>),
}

impl fmt::Debug for StaticDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticDirectory")
            .field("users", &self.users())
            .finish()
    }
}

impl StaticDirectory {
    /// Opens a TOML or JSON file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        Self::open_with(path, Duration::from_secs(2))
    }

    /// Opens a file, checking it for changes at most once per `check_interval`.
    pub fn open_with(
        path: impl AsRef<Path>,
        check_interval: Duration,
    ) -> Result<Self, BackendError> {
        let file = WatchedFile::open(path.as_ref(), "directory", check_interval, |bytes| {
            Users::parse(
                std::str::from_utf8(bytes).map_err(|_| BackendError::corrupt("not UTF-8"))?,
            )
        })?;
        Ok(Self {
            source: Source::File(file),
        })
    }

    /// A fixed directory from text (embedded defaults, tests).
    pub fn from_text(text: &str) -> Result<Self, BackendError> {
        Ok(Self {
            source: Source::Fixed(Arc::new(Users::parse(text)?)),
        })
    }

    fn users(&self) -> Arc<Users> {
        match &self.source {
            Source::File(f) => f.current(),
            Source::Fixed(u) => u.clone(),
        }
    }
}

#[async_trait]
impl Directory for StaticDirectory {
    async fn find(&self, query: &UserQuery) -> Result<Option<User>, BackendError> {
        Ok(self.users().find(query).map(|u| u.user.clone()))
    }
}

#[async_trait]
impl PasswordHashes for StaticDirectory {
    async fn password_hash(&self, user: &User) -> Result<Option<Zeroizing<String>>, BackendError> {
        Ok(self
            .users()
            .by_id(&user.id)
            .and_then(|u| u.password_hash.clone())
            .map(Zeroizing::new))
    }
}

#[async_trait]
impl TotpSecrets for StaticDirectory {
    async fn totp_secret(&self, user: &User) -> Result<Option<Zeroizing<String>>, BackendError> {
        Ok(self
            .users()
            .by_id(&user.id)
            .and_then(|u| u.totp_secret.clone())
            .map(Zeroizing::new))
    }
}
