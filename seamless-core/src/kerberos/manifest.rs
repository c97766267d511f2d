//! The key-ring manifest: what a keytab cannot say. A JSON file beside the keytab
//! (`<keytab>.ring.json`) records, per service account, its SPNs and each kvno's
//! rollover state and `not_after`. Written by `seamless ad setup` / `ad rollover`.
//!
//! ```json
//! {"version":1,"accounts":[{"principal":"AZUREADSSOACC$@CONTOSO.COM",
//!   "aliases":["HTTP/autologon.contoso.com@CONTOSO.COM"],
//!   "keys":[{"kvno":3,"state":"previous","not_after":1800040000},{"kvno":4,"state":"current"}]}]}
//! ```

use serde::{Deserialize, Serialize};

use super::crypto::CryptoError;
use super::keyring::{KeyRing, KeyState, RingKey, ServiceAccount};
use super::keytab::KeytabEntry;
use super::principal::PrincipalName;

/// The manifest file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingManifest {
    /// Format version (1).
    pub version: u8,
    /// The accounts it describes.
    pub accounts: Vec<ManifestAccount>,
}

/// One service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAccount {
    /// The account principal (`NAME$@REALM`) whose keytab entries hold the keys.
    pub principal: String,
    /// Other principal names tickets for this account carry (its SPNs).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The kvnos in use, with their state. Keytab entries of other kvnos are ignored.
    pub keys: Vec<ManifestKey>,
    /// Domain SIDs whose users this account may sign in (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_sids: Vec<super::pac::Sid>,
}

/// One kvno's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestKey {
    /// Key version number.
    pub kvno: u32,
    /// `next`, `current` or `previous`.
    pub state: ManifestState,
    /// For `previous`: the last second it is accepted (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
}

/// Rollover state as written in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestState {
    /// Installed before the password change.
    Next,
    /// In use.
    Current,
    /// Retiring.
    Previous,
}

impl ManifestKey {
    fn state(&self) -> KeyState {
        match self.state {
            ManifestState::Next => KeyState::Next,
            ManifestState::Current => KeyState::Current,
            ManifestState::Previous => KeyState::Previous {
                not_after: self.not_after,
            },
        }
    }
}

/// Why a manifest could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// A principal name does not parse.
    #[error("manifest: {0}")]
    Principal(String),
    /// A listed kvno has no key in the keytab.
    #[error("manifest lists kvno {kvno} of {principal}, but the keytab has no key for it")]
    MissingKey {
        /// The account.
        principal: String,
        /// The kvno.
        kvno: u32,
    },
    /// A key is unusable.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl RingManifest {
    /// The account entry for `principal`, created if absent.
    pub fn account_mut(&mut self, principal: &str) -> &mut ManifestAccount {
        if let Some(i) = self
            .accounts
            .iter()
            .position(|a| a.principal.eq_ignore_ascii_case(principal))
        {
            return &mut self.accounts[i];
        }
        self.accounts.push(ManifestAccount {
            principal: principal.to_string(),
            aliases: Vec::new(),
            keys: Vec::new(),
            domain_sids: Vec::new(),
        });
        let last = self.accounts.len() - 1;
        &mut self.accounts[last]
    }
}

/// Builds the key ring from keytab entries and a manifest: accounts the manifest
/// describes get its states and aliases; principals it does not mention follow
/// [`KeyRing::from_keytab`]'s rule (highest kvno current, next one previous).
pub fn key_ring(
    entries: &[KeytabEntry],
    manifest: Option<&RingManifest>,
) -> Result<KeyRing, ManifestError> {
    let Some(manifest) = manifest else {
        return Ok(KeyRing::from_keytab(entries)?);
    };
    let parse = |p: &str| {
        p.parse::<PrincipalName>()
            .map_err(|e| ManifestError::Principal(e.to_string()))
    };
    let mut accounts = Vec::new();
    let mut covered: Vec<PrincipalName> = Vec::new();
    for m in &manifest.accounts {
        let principal = parse(&m.principal)?;
        let mut account =
            ServiceAccount::new(principal.clone()).with_domain_sids(m.domain_sids.clone());
        let mut names = vec![principal.clone()];
        for alias in &m.aliases {
            let alias = parse(alias)?;
            account = account.with_name(alias.clone());
            names.push(alias);
        }
        let owns = |e: &KeytabEntry| {
            names.iter().any(|n| {
                let parts: Vec<&str> = n.components.iter().map(String::as_str).collect();
                e.principal.matches(&n.realm, &parts)
            })
        };
        for key in &m.keys {
            let mut found: Vec<(super::crypto::Etype, &super::crypto::Key, u32)> = Vec::new();
            for e in entries.iter().filter(|e| e.kvno == key.kvno && owns(e)) {
                if let Ok(k) = &e.key
                    && !found.iter().any(|(t, _, _)| *t == k.etype())
                {
                    found.push((k.etype(), k, e.timestamp));
                }
            }
            if found.is_empty() {
                return Err(ManifestError::MissingKey {
                    principal: m.principal.clone(),
                    kvno: key.kvno,
                });
            }
            for (_, k, timestamp) in found {
                let ring_key = RingKey::new(key.kvno, k.clone(), key.state())?.installed(timestamp);
                account = account.with_ring_key(ring_key);
            }
        }
        covered.extend(names);
        accounts.push(account);
    }
    let rest: Vec<KeytabEntry> = entries
        .iter()
        .filter(|e| {
            !covered.iter().any(|n| {
                let parts: Vec<&str> = n.components.iter().map(String::as_str).collect();
                e.principal.matches(&n.realm, &parts)
            })
        })
        .cloned()
        .collect();
    accounts.extend(KeyRing::from_keytab(&rest)?.accounts().iter().cloned());
    Ok(KeyRing::new(accounts))
}
