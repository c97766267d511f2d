//! Pluggable backends, used by the engine as `Arc<dyn Trait>`: keys, users,
//! policy, second factors, passwords, and the shared store.

mod directory;
mod hash_pool;
mod keystore;
#[cfg(feature = "ldap")]
mod ldap;
mod mfa;
mod password;
mod policy;
#[cfg(feature = "redis")]
mod redis_store;
mod shared;
mod static_dir;
mod store;
pub(crate) mod watched;

pub use directory::{Directory, MfaMethod, PrincipalMapping, User, UserQuery};
pub use keystore::{
    Aliases, FORCED_RELOAD_GAP, KeyStore, KeytabFileKeyStore, MemoryKeyStore, manifest_path,
    parse_alias,
};
#[cfg(feature = "ldap")]
pub use ldap::{
    AccountAdmin, LDAP_PASSWORD_ENV, LdapBindVerifier, LdapConfig, LdapDirectory,
    ServiceAccountInfo, UAC_TRUSTED_FOR_DELEGATION, UAC_TRUSTED_TO_AUTH_FOR_DELEGATION,
    UAC_WORKSTATION_TRUST_ACCOUNT,
};
pub use mfa::{MfaVerifier, TotpSecrets, TotpVerifier, totp_code};
pub use password::{Argon2Verifier, Password, PasswordHashes, PasswordVerifier, hash_password};
pub use policy::{
    AllowAll, Decision, Method, NegotiateContext, Policy, PolicyInput, RulePolicy, TicketFacts,
};
#[cfg(feature = "redis")]
pub use redis_store::{RedisConfig, RedisStore};
pub use static_dir::{StaticDirectory, Users};
pub use store::{
    Entry, EntryKind, KindUsage, MemoryBudgets, MemoryStore, Store, StoreReplayCache, TakeOnce,
    Taken,
};
