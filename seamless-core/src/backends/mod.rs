//! Pluggable backends, used by the engine as `Arc<dyn Trait>`.

mod keystore;

pub use keystore::{
    Aliases, KeyStore, KeyStoreError, KeyStoreErrorKind, KeytabFileKeyStore, MemoryKeyStore,
};
