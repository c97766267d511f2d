//! The key ring: every service account's keys, by kvno, with rollover state.
//!
//! A rollover (PROTOCOL.md §9) installs the new kvno as `Next` before the password
//! changes in AD, promotes it to `Current`, and keeps the old key as `Previous`
//! until `not_after` (max ticket lifetime + skew + replication margin), so a ticket
//! under either kvno is accepted for as long as it can be valid.

use std::fmt;

use super::crypto::{ChecksumKey, CryptoError, Etype, Key, UsageKey};
use super::keytab::KeytabEntry;
use super::principal::PrincipalName;

/// Key usage for the ticket's encrypted part (RFC 4120 §7.5.1).
pub(crate) const USAGE_TICKET: u32 = 2;
/// Key usage for the PAC server signature (KERB_NON_KERB_CKSUM_SALT).
pub(crate) const USAGE_PAC_CHECKSUM: u32 = 17;

/// Where a key is in its rollover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Installed ahead of the password change; already accepted.
    Next,
    /// The key AD issues tickets under now.
    Current,
    /// The key before the last rollover, accepted until `not_after` (Unix seconds;
    /// `None` means until it is removed).
    Previous {
        /// Last second at which tickets under this key are accepted.
        not_after: Option<i64>,
    },
}

impl KeyState {
    /// A short name for logs and listings.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Previous { .. } => "previous",
        }
    }

    fn rank(self) -> u8 {
        match self {
            KeyState::Current => 0,
            KeyState::Next => 1,
            KeyState::Previous { .. } => 2,
        }
    }
}

/// One key of a service account, with its derived usage keys cached.
#[derive(Clone)]
pub struct RingKey {
    kvno: u32,
    state: KeyState,
    key: Key,
    installed_at: Option<i64>,
    pub(crate) ticket: UsageKey,
    pub(crate) pac: ChecksumKey,
}

impl fmt::Debug for RingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingKey")
            .field("kvno", &self.kvno)
            .field("etype", &self.key.etype())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl RingKey {
    /// Derives and caches the usage keys for `key`.
    pub fn new(kvno: u32, key: Key, state: KeyState) -> Result<Self, CryptoError> {
        Ok(Self {
            kvno,
            state,
            installed_at: None,
            ticket: key.usage(USAGE_TICKET)?,
            pac: key.checksum_key(USAGE_PAC_CHECKSUM)?,
            key,
        })
    }

    /// The key version number.
    pub fn kvno(&self) -> u32 {
        self.kvno
    }

    /// The rollover state.
    pub fn state(&self) -> KeyState {
        self.state
    }

    /// The encryption type.
    pub fn etype(&self) -> Etype {
        self.key.etype()
    }

    /// The key itself.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// When the key was written to the keytab (Unix seconds), if the keytab said.
    pub fn installed_at(&self) -> Option<i64> {
        self.installed_at
    }

    /// Records the keytab entry's timestamp (0: unknown).
    pub(crate) fn installed(mut self, timestamp: u32) -> Self {
        self.installed_at = (timestamp > 0).then_some(i64::from(timestamp));
        self
    }

    fn live_at(&self, now: i64) -> bool {
        match self.state {
            KeyState::Previous { not_after: Some(t) } => now <= t,
            _ => true,
        }
    }
}

/// A service account: one realm, the principal names tickets may be issued to
/// (the account name and every SPN), and its keys.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    realm: String,
    names: Vec<PrincipalName>,
    keys: Vec<RingKey>,
    domain_sids: Vec<super::pac::Sid>,
}

impl ServiceAccount {
    /// An account in `realm` answering to `name` (e.g. `HTTP/app.contoso.com`).
    pub fn new(name: PrincipalName) -> Self {
        Self {
            realm: name.realm.clone(),
            names: vec![name],
            keys: Vec::new(),
            domain_sids: Vec::new(),
        }
    }

    /// Adds another principal name tickets for this account may carry (every host
    /// name a browser may canonicalise to needs one).
    pub fn with_name(mut self, name: PrincipalName) -> Self {
        if !self.names.contains(&name) {
            self.names.push(name);
        }
        self
    }

    /// Adds a key.
    pub fn with_key(mut self, kvno: u32, key: Key, state: KeyState) -> Result<Self, CryptoError> {
        self.keys.push(RingKey::new(kvno, key, state)?);
        Ok(self)
    }

    /// Adds a prepared key.
    pub(crate) fn with_ring_key(mut self, key: RingKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Restricts the users this account's tickets may name to these domains: a PAC
    /// whose user SID is in another domain is refused (PROTOCOL.md R6). A stolen
    /// key then cannot sign in users of other forests. Empty: no restriction.
    pub fn with_domain_sids(mut self, domains: Vec<super::pac::Sid>) -> Self {
        self.domain_sids = domains;
        self
    }

    /// The allowed user domains (empty: any).
    pub fn domain_sids(&self) -> &[super::pac::Sid] {
        &self.domain_sids
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Principal names served by this account.
    pub fn names(&self) -> &[PrincipalName] {
        &self.names
    }

    /// All keys.
    pub fn keys(&self) -> &[RingKey] {
        &self.keys
    }

    /// Keys that may decrypt a ticket of `etype` and `kvno`: the exact kvno first,
    /// then the other live keys of that type (current, next, previous), because a
    /// ticket's kvno can lag or lead the DC we read it from.
    pub(crate) fn candidates(&self, etype: Etype, kvno: Option<u32>, now: i64) -> Vec<&RingKey> {
        let mut keys: Vec<&RingKey> = self
            .keys
            .iter()
            .filter(|k| k.etype() == etype && k.live_at(now))
            .collect();
        keys.sort_by_key(|k| {
            (
                Some(k.kvno) != kvno,
                k.state.rank(),
                std::cmp::Reverse(k.kvno),
            )
        });
        keys
    }

    fn serves(&self, realm: &str, components: &[&str]) -> bool {
        self.names.iter().any(|n| n.matches(realm, components))
    }
}

/// Every service account's keys.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    accounts: Vec<ServiceAccount>,
}

impl KeyRing {
    /// A ring of the given accounts.
    pub fn new(accounts: Vec<ServiceAccount>) -> Self {
        Self { accounts }
    }

    /// Builds a ring from keytab entries: one account per principal, the highest
    /// kvno `Current` and the one below it `Previous` (no expiry; a keytab cannot
    /// say when it rolled). Older kvnos are left out. Entries whose type this
    /// library does not implement are skipped.
    pub fn from_keytab(entries: &[KeytabEntry]) -> Result<Self, CryptoError> {
        let mut accounts: Vec<ServiceAccount> = Vec::new();
        for entry in entries {
            let parts: Vec<&str> = entry
                .principal
                .components
                .iter()
                .map(String::as_str)
                .collect();
            if !accounts
                .iter()
                .any(|a| a.serves(&entry.principal.realm, &parts))
            {
                accounts.push(ServiceAccount::new(entry.principal.clone()));
            }
        }
        for account in &mut accounts {
            let Some(name) = account.names.first().cloned() else {
                continue;
            };
            let parts: Vec<&str> = name.components.iter().map(String::as_str).collect();
            let mine: Vec<&KeytabEntry> = entries
                .iter()
                .filter(|e| e.principal.matches(&name.realm, &parts))
                .collect();
            let mut kvnos: Vec<u32> = mine.iter().map(|e| e.kvno).collect();
            kvnos.sort_unstable_by(|a, b| b.cmp(a));
            kvnos.dedup();
            for entry in mine {
                let Ok(key) = &entry.key else { continue };
                let state = if Some(&entry.kvno) == kvnos.first() {
                    KeyState::Current
                } else if Some(&entry.kvno) == kvnos.get(1) {
                    KeyState::Previous { not_after: None }
                } else {
                    continue;
                };
                account
                    .keys
                    .push(RingKey::new(entry.kvno, key.clone(), state)?.installed(entry.timestamp));
            }
        }
        Ok(Self { accounts })
    }

    /// Adds `alias` as another name of the account named `account` (for SPNs that
    /// share the account's key but are not in the keytab). Returns false if no
    /// such account exists.
    pub fn add_alias(&mut self, account: &PrincipalName, alias: PrincipalName) -> bool {
        let parts: Vec<&str> = account.components.iter().map(String::as_str).collect();
        match self
            .accounts
            .iter_mut()
            .find(|a| a.serves(&account.realm, &parts))
        {
            Some(a) => {
                if !a.names.contains(&alias) {
                    a.names.push(alias);
                }
                true
            }
            None => false,
        }
    }

    /// The accounts.
    pub fn accounts(&self) -> &[ServiceAccount] {
        &self.accounts
    }

    /// The account serving `components@realm`.
    pub(crate) fn account_for(&self, realm: &str, components: &[&str]) -> Option<&ServiceAccount> {
        self.accounts.iter().find(|a| a.serves(realm, components))
    }
}
