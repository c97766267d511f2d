//! Pass-through password verification by LDAP bind.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::LdapConnSettings;
use zeroize::Zeroizing;

use super::{LdapConfig, RC_INVALID_CREDENTIALS, connect, prepare};
use crate::backends::directory::User;
use crate::backends::password::{Password, PasswordVerifier};
use crate::error::BackendError;

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
        let (config, settings) = prepare(config)?;
        Ok(Self { settings, config })
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
