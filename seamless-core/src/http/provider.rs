//! The provider: the sign-in engine together with what the HTTP surface adds to
//! it (token issuance, codes and refresh tokens, registered clients, sessions and
//! the web settings). Every endpoint is a method of [`Provider`]; the framework
//! adapters see only this type.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::health::Readiness;
use super::revocation::RevocationCache;
use super::{Client, Clients, WebConfig};
use crate::backends::{Directory, KeyStore, MfaVerifier, PasswordVerifier, Policy, Store};
use crate::clock::Clock;
use crate::engine::{Backends, Durability, Engine, EngineBuilder, EngineConfig};
use crate::error::{BuildError, Code};
use crate::grants::Grants;
use crate::kerberos::{Entropy, OsEntropy};
use crate::seal::SealingKey;
use crate::token::{KeyError, SigningAlgorithm, SigningKeys, TokenIssuer};

/// Seamless as an identity provider: the engine, tokens, grants, clients,
/// sessions and the web settings. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    backends: Backends,
    web: WebConfig,
    clients: Clients,
    tokens: TokenIssuer,
    grants: Grants,
    revocations: RevocationCache,
    readiness: Readiness,
    /// Random per provider: keys per-thread caches so providers never share entries.
    instance: u64,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("engine", &self.inner.engine)
            .field("web", &self.inner.web)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A builder: the engine's keys, directory and passwords are required.
    pub fn builder() -> ProviderBuilder {
        ProviderBuilder {
            engine: Engine::builder(),
            web: WebConfig::default(),
            clients: Vec::new(),
            token_keys: None,
            token_key_file: None,
        }
    }

    /// The sign-in engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The HTTP surface's settings.
    pub fn web(&self) -> &WebConfig {
        &self.inner.web
    }

    /// The token issuer (keys, JWKS, signing).
    pub fn tokens(&self) -> &TokenIssuer {
        &self.inner.tokens
    }

    /// Codes and refresh tokens (minted only inside the crate).
    pub(crate) fn grants(&self) -> &Grants {
        &self.inner.grants
    }

    pub(crate) fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    pub(crate) fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    pub(super) fn readiness(&self) -> &Readiness {
        &self.inner.readiness
    }

    pub(crate) fn revocations(&self) -> &RevocationCache {
        &self.inner.revocations
    }

    pub(crate) fn instance(&self) -> u64 {
        self.inner.instance
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.backends.now()
    }

    pub(crate) fn random_id(&self) -> Result<String, Code> {
        self.inner.backends.random_id()
    }
}

/// Builds a [`Provider`]: the engine's backends, the web settings, the clients
/// and the token signing keys.
#[must_use]
pub struct ProviderBuilder {
    engine: EngineBuilder,
    web: WebConfig,
    clients: Vec<Client>,
    token_keys: Option<SigningKeys>,
    token_key_file: Option<PathBuf>,
}

macro_rules! engine_setter {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name(mut self, $($arg: $ty),*) -> Self {
            self.engine = self.engine.$name($($arg),*);
            self
        }
    };
}

impl ProviderBuilder {
    engine_setter!(/// The engine's settings ([`EngineBuilder::config`]).
        config(config: EngineConfig));
    engine_setter!(/// The service account's keys ([`EngineBuilder::keys`], required).
        keys(keys: impl KeyStore + 'static));
    engine_setter!(/// The directory ([`EngineBuilder::directory`], required).
        directory(directory: impl Directory + 'static));
    engine_setter!(/// The password verifier ([`EngineBuilder::passwords`], required).
        passwords(passwords: impl PasswordVerifier + 'static));
    engine_setter!(/// The policy ([`EngineBuilder::policy`]).
        policy(policy: impl Policy + 'static));
    engine_setter!(/// The second-factor verifier ([`EngineBuilder::mfa`]).
        mfa(mfa: impl MfaVerifier + 'static));
    engine_setter!(/// The store ([`EngineBuilder::store`]).
        store(store: Arc<dyn Store>, durability: Durability));
    engine_setter!(/// The clock ([`EngineBuilder::clock`]).
        clock(clock: Arc<dyn Clock>));
    engine_setter!(/// The randomness source ([`EngineBuilder::entropy`]).
        entropy(entropy: Arc<dyn Entropy>));
    engine_setter!(/// Sealing keys ([`EngineBuilder::sealing_keys`]).
        sealing_keys(keys: Vec<SealingKey>));

    /// One users file as directory, password hashes and TOTP secrets
    /// ([`EngineBuilder::credentials`]).
    pub fn credentials<D>(mut self, users: Arc<D>) -> Self
    where
        D: crate::backends::Directory
            + crate::backends::PasswordHashes
            + crate::backends::TotpSecrets
            + 'static,
    {
        self.engine = self.engine.credentials(users);
        self
    }

    /// Anything else about the engine, e.g. `|b| b.dangerous().no_passwords()`.
    pub fn with_engine(mut self, f: impl FnOnce(EngineBuilder) -> EngineBuilder) -> Self {
        self.engine = f(self.engine);
        self
    }

    /// The HTTP surface's settings.
    pub fn web(mut self, web: WebConfig) -> Self {
        self.web = web;
        self
    }

    /// Registers an OpenID Connect client.
    pub fn client(mut self, client: Client) -> Self {
        self.clients.push(client);
        self
    }

    /// Token signing keys. Without them the provider generates, in memory, one
    /// key for RS256 and for each algorithm a client uses (tokens then do not
    /// survive a restart; give keys, e.g. [`SigningKeys::load_or_generate`], in
    /// production).
    pub fn token_keys(mut self, keys: SigningKeys) -> Self {
        self.token_keys = Some(keys);
        self
    }

    /// Token signing keys from a key file, created (owner-only) with a key for
    /// RS256 and for each algorithm a client uses if absent, and followed when it
    /// changes (`seamless signing-keys rotate`). Takes precedence over
    /// [`ProviderBuilder::token_keys`].
    pub fn token_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_key_file = Some(path.into());
        self
    }

    /// Builds the provider; says which required part is missing.
    pub fn build(self) -> Result<Provider, BuildError> {
        let engine = self.engine.build()?;
        let backends = engine.backends().clone();
        let config = engine.config();
        let clients = Clients::new(self.clients);
        let mut algs = vec![SigningAlgorithm::Rs256];
        for alg in clients.algorithms() {
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        let mut token_settings = config.tokens.clone();
        if token_settings.issuer.is_empty() {
            token_settings.issuer = self.web.issuer();
        }
        let now = backends.now();
        let key_error = |e: KeyError| BuildError::SigningKeys(e.to_string());
        let tokens = match (self.token_key_file, self.token_keys) {
            (Some(path), _) => {
                TokenIssuer::from_file(token_settings, &path, &algs, now).map_err(key_error)?
            }
            (None, Some(keys)) => TokenIssuer::new(token_settings, keys),
            (None, None) => TokenIssuer::new(
                token_settings,
                SigningKeys::generate(&algs, now).map_err(key_error)?,
            ),
        };
        let grants = Grants::new(
            backends.store.clone(),
            backends.entropy.clone(),
            backends.clock.clone(),
            config.refresh,
        );
        let mut instance = [0u8; 8];
        OsEntropy
            .fill(&mut instance)
            .map_err(|e| BuildError::Entropy(e.to_string()))?;
        Ok(Provider {
            inner: Arc::new(Inner {
                engine,
                backends,
                web: self.web,
                clients,
                tokens,
                grants,
                revocations: RevocationCache::default(),
                readiness: Readiness::default(),
                instance: u64::from_le_bytes(instance),
            }),
        })
    }
}
