//! A shared backend is a backend: `Arc<T>` implements each trait `T` does, so a
//! builder takes `impl Trait` and one instance can serve several users (one
//! directory behind the engine, the password verifier and the TOTP verifier).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    Decision, Directory, Entry, KeyStore, KindUsage, MfaMethod, MfaVerifier, NegotiateContext,
    Password, PasswordVerifier, Policy, PolicyInput, Store, TakeOnce, Taken, User, UserQuery,
};
use crate::error::{BackendError, Code};
use crate::kerberos::KeyRing;

#[async_trait]
impl<T: KeyStore + ?Sized> KeyStore for Arc<T> {
    async fn key_ring(&self) -> Result<Arc<KeyRing>, BackendError> {
        (**self).key_ring().await
    }

    async fn reload(&self) -> Result<Option<Arc<KeyRing>>, BackendError> {
        (**self).reload().await
    }
}

#[async_trait]
impl<T: Directory + ?Sized> Directory for Arc<T> {
    async fn find(&self, query: &UserQuery) -> Result<Option<User>, BackendError> {
        (**self).find(query).await
    }
}

impl<T: Policy + ?Sized> Policy for Arc<T> {
    fn allow_negotiate(&self, ctx: &NegotiateContext<'_>) -> Result<(), Code> {
        (**self).allow_negotiate(ctx)
    }

    fn decide(&self, input: &PolicyInput<'_>) -> Decision {
        (**self).decide(input)
    }
}

#[async_trait]
impl<T: MfaVerifier + ?Sized> MfaVerifier for Arc<T> {
    async fn verify(
        &self,
        user: &User,
        method: MfaMethod,
        code: &str,
    ) -> Result<bool, BackendError> {
        (**self).verify(user, method, code).await
    }
}

#[async_trait]
impl<T: PasswordVerifier + ?Sized> PasswordVerifier for Arc<T> {
    async fn verify(&self, user: Option<&User>, password: &Password) -> Result<bool, BackendError> {
        (**self).verify(user, password).await
    }
}

#[async_trait]
impl<T: Store + ?Sized> Store for Arc<T> {
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        (**self).insert_if_absent(key, value, ttl).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        (**self).get(key).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BackendError> {
        (**self).put(key, value, ttl).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        (**self).take(key).await
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BackendError> {
        (**self).increment(key, ttl).await
    }

    async fn count(&self, key: &str) -> Result<u64, BackendError> {
        (**self).count(key).await
    }

    async fn release(&self, key: &str) -> Result<(), BackendError> {
        (**self).release(key).await
    }

    async fn claim(
        &self,
        marker: &str,
        ttl: Duration,
        then: Option<Entry<'_>>,
    ) -> Result<bool, BackendError> {
        (**self).claim(marker, ttl, then).await
    }

    async fn take_once(&self, op: TakeOnce<'_>) -> Result<Taken, BackendError> {
        (**self).take_once(op).await
    }

    fn usage(&self) -> Vec<KindUsage> {
        (**self).usage()
    }

    fn round_trips(&self) -> Option<u64> {
        (**self).round_trips()
    }
}
