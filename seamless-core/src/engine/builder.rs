//! Building an [`Engine`]: the backends that decide who signs in (keys,
//! directory, passwords) must be given; the rest have safe defaults.

use std::sync::Arc;

use super::config::{Durability, EngineConfig};
use super::{Backends, Engine, Inner};
use crate::backends::{
    AllowAll, Argon2Verifier, Directory, KeyStore, MemoryBudgets, MemoryStore, MfaVerifier,
    Password, PasswordHashes, PasswordVerifier, Policy, Store, StoreReplayCache, TotpSecrets,
    TotpVerifier,
};
use crate::clock::{Clock, SystemClock};
use crate::error::{BackendError, BuildError};
use crate::kerberos::{Acceptor, Entropy, OsEntropy, ReplayCache};
use crate::model::{MfaMethod, User};
use crate::seal::{Sealer, SealingKey};

/// Builds an [`Engine`].
///
/// Required: [`keys`](Self::keys) (the service account's Kerberos keys),
/// [`directory`](Self::directory) (who the users are) and
/// [`passwords`](Self::passwords) (how the fallback form checks a password), or
/// an explicit choice under [`dangerous`](Self::dangerous). Defaults: allow-all
/// policy, the process-local memory store, the system clock, OS randomness and
/// one random sealing key.
#[must_use]
#[derive(Default)]
pub struct EngineBuilder {
    config: EngineConfig,
    keys: Option<Arc<dyn KeyStore>>,
    directory: Option<Arc<dyn Directory>>,
    policy: Option<Arc<dyn Policy>>,
    mfa: Option<Arc<dyn MfaVerifier>>,
    totp: Option<Arc<dyn TotpSecrets>>,
    passwords: Option<Arc<dyn PasswordVerifier>>,
    /// Set by [`DangerousBuilder::no_passwords`]: there is no password fallback.
    no_passwords: bool,
    store: Option<(Arc<dyn Store>, Durability)>,
    clock: Option<Arc<dyn Clock>>,
    entropy: Option<Arc<dyn Entropy>>,
    sealing_keys: Vec<SealingKey>,
}

/// Choices that switch a part of sign-in off; each is named for what it gives up.
#[must_use]
pub struct DangerousBuilder(EngineBuilder);

impl DangerousBuilder {
    /// No password sign-in: where the password form would be the fallback, the
    /// sign-in is refused with the reason's code instead (an error page, not a
    /// form that can never succeed), so a user whose seamless sign-in fails
    /// cannot sign in at all.
    pub fn no_passwords(mut self) -> EngineBuilder {
        self.0.passwords = Some(Arc::new(RefuseAll));
        self.0.no_passwords = true;
        self.0
    }
}

impl EngineBuilder {
    /// Settings.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The service account's keys (required).
    pub fn keys(mut self, keys: impl KeyStore + 'static) -> Self {
        self.keys = Some(Arc::new(keys));
        self
    }

    /// The directory (required).
    pub fn directory(mut self, directory: impl Directory + 'static) -> Self {
        self.directory = Some(Arc::new(directory));
        self
    }

    /// The policy (default: allow every sign-in the directory allows).
    pub fn policy(mut self, policy: impl Policy + 'static) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// The second-factor verifier. Without one, a policy that asks for a second
    /// factor cannot be satisfied: those sign-ins end with 90003.
    pub fn mfa(mut self, mfa: impl MfaVerifier + 'static) -> Self {
        self.mfa = Some(Arc::new(mfa));
        self
    }

    /// One users file (or any backend that is all three) as the directory, the
    /// Argon2 password hashes and the TOTP secrets: the TOTP verifier is wired
    /// to the engine's own store (used codes) and clock.
    pub fn credentials<D>(mut self, users: Arc<D>) -> Self
    where
        D: Directory + PasswordHashes + TotpSecrets + 'static,
    {
        self.directory = Some(users.clone());
        self.passwords = Some(Arc::new(Argon2Verifier::new(users.clone())));
        self.no_passwords = false;
        self.totp = Some(users);
        self
    }

    /// The password verifier (required, or [`DangerousBuilder::no_passwords`]).
    pub fn passwords(mut self, passwords: impl PasswordVerifier + 'static) -> Self {
        self.passwords = Some(Arc::new(passwords));
        self.no_passwords = false;
        self
    }

    /// The store for replay entries, counters and single-use values, and how
    /// long what it holds lasts (default: a process-local memory store).
    pub fn store(mut self, store: Arc<dyn Store>, durability: Durability) -> Self {
        self.store = Some((store, durability));
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The randomness source (default: the operating system's).
    pub fn entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = Some(entropy);
        self
    }

    /// Sealing keys: the first seals, all open (default: one random key, so
    /// sealed values do not survive a restart nor work across instances).
    pub fn sealing_keys(mut self, keys: Vec<SealingKey>) -> Self {
        self.sealing_keys = keys;
        self
    }

    /// Choices that switch a part of sign-in off.
    pub fn dangerous(self) -> DangerousBuilder {
        DangerousBuilder(self)
    }

    /// Builds the engine; says which required part is missing.
    pub fn build(self) -> Result<Engine, BuildError> {
        let keys = self.keys.ok_or(BuildError::NoKeys)?;
        let directory = self.directory.ok_or(BuildError::NoDirectory)?;
        let passwords = self.passwords.ok_or(BuildError::NoPasswords)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let entropy = self.entropy.unwrap_or_else(|| Arc::new(OsEntropy));
        let (store, durability) = self.store.unwrap_or_else(|| {
            let store = MemoryStore::with_budgets(MemoryBudgets::default(), clock.clone());
            (Arc::new(store), Durability::ProcessLocal)
        });
        let replay: Arc<dyn ReplayCache> = match durability {
            Durability::Shared => Arc::new(StoreReplayCache::new(store.clone())),
            Durability::ProcessLocal => {
                Arc::new(StoreReplayCache::process_local(store.clone(), clock.unix()))
            }
        };
        let mut sealing_keys = self.sealing_keys;
        if sealing_keys.is_empty() {
            let key = SealingKey::generate(0, entropy.as_ref())
                .map_err(|e| BuildError::Entropy(e.to_string()))?;
            sealing_keys.push(key);
        }
        let sealer = Sealer::new(sealing_keys).ok_or(BuildError::NoSealingKey)?;
        let acceptor = Acceptor::new(self.config.acceptor.clone()).with_entropy(entropy.clone());
        let mfa: Arc<dyn MfaVerifier> = match (self.mfa, self.totp) {
            (Some(mfa), _) => mfa,
            (None, Some(secrets)) => {
                Arc::new(TotpVerifier::new(secrets, store.clone(), clock.clone()))
            }
            (None, None) => Arc::new(NoSecondFactor),
        };
        Ok(Engine {
            inner: Arc::new(Inner {
                acceptor,
                config: self.config,
                policy: self.policy.unwrap_or_else(|| Arc::new(AllowAll)),
                mfa,
                passwords,
                passwords_enabled: !self.no_passwords,
                replay,
                backends: Backends {
                    keys,
                    directory,
                    store,
                    clock,
                    entropy,
                    sealer,
                    metrics: Arc::default(),
                },
            }),
        })
    }
}

/// Refuses every password ([`DangerousBuilder::no_passwords`]).
struct RefuseAll;

#[async_trait::async_trait]
impl PasswordVerifier for RefuseAll {
    async fn verify(&self, _: Option<&User>, _: &Password) -> Result<bool, BackendError> {
        Ok(false)
    }
}

/// No second-factor verifier configured: a code cannot be checked (90003).
struct NoSecondFactor;

#[async_trait::async_trait]
impl MfaVerifier for NoSecondFactor {
    async fn verify(&self, _: &User, _: MfaMethod, _: &str) -> Result<bool, BackendError> {
        Err(BackendError::unavailable(
            "no second-factor verifier is configured",
        ))
    }
}
