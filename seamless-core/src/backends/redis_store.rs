//! The [`Store`] on Redis or Valkey (feature `redis`): what several instances
//! share — replay keys, single-use values, counters.
//!
//! Every operation is one atomic Redis command (or one MULTI/EXEC), has a timeout,
//! and maps any failure to an `Unavailable` error so callers fail closed. The
//! connection manager reconnects by itself once the server is back.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use serde::Deserialize;

use super::store::Store;
use crate::error::BackendError;

/// How to reach Redis.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:password@]host:6379/0`, or `rediss://` for TLS.
    pub url: String,
    /// Prefix of every key, so deployments can share a server (default `seamless:`).
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Per-operation timeout in milliseconds (default 500).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_prefix() -> String {
    "seamless:".into()
}
fn default_timeout() -> u64 {
    500
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        let shown = match (self.url.split_once("://"), self.url.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, host))) => format!("{scheme}://<redacted>@{host}"),
            _ => self.url.clone(),
        };
        f.debug_struct("RedisConfig")
            .field("url", &shown)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

/// The store on Redis.
#[derive(Clone)]
pub struct RedisStore {
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError::unavailable(format!("redis {what} failed")).with_source(e)
}

fn millis(ttl: Duration) -> u64 {
    (ttl.as_millis().min(u128::from(u64::MAX)) as u64).max(1)
}

impl RedisStore {
    /// Connects (fails if Redis cannot be reached now).
    pub async fn connect(config: &RedisConfig) -> Result<Self, BackendError> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| unavailable("URL", e))?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let settings = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(
            timeout * 4,
            ConnectionManager::new_with_config(client, settings),
        )
        .await
        .map_err(|_| BackendError::unavailable("redis connect timed out"))?
        .map_err(|e| unavailable("connect", e))?;
        Ok(Self {
            manager,
            prefix: config.key_prefix.clone(),
            timeout,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn run<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(unavailable(what, e)),
            Err(_) => Err(BackendError::unavailable(format!("redis {what} timed out"))),
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        let mut conn = self.manager.clone();
        let key = self.key(key);
        let reply: Option<String> = self
            .run("SET NX", async {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl))
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(reply.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let mut conn = self.manager.clone();
        let key = self.key(key);
        self.run("GET", async { conn.get(&key).await }).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BackendError> {
        let mut conn = self.manager.clone();
        let key = self.key(key);
        self.run("SET", async {
            conn.pset_ex(&key, value, millis(ttl)).await
        })
        .await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let mut conn = self.manager.clone();
        let key = self.key(key);
        self.run("GETDEL", async {
            redis::cmd("GETDEL").arg(&key).query_async(&mut conn).await
        })
        .await
    }

    async fn count(&self, key: &str) -> Result<u64, BackendError> {
        let mut conn = self.manager.clone();
        let key = self.key(key);
        let value: Option<u64> = self.run("GET", async { conn.get(&key).await }).await?;
        Ok(value.unwrap_or(0))
    }

    async fn release(&self, key: &str) -> Result<(), BackendError> {
        let mut conn = self.manager.clone();
        let key = self.key(key);
        // Atomic on the server: decrement only a live, positive counter (DECR on
        // an absent key would create one with no expiry).
        const RELEASE: &str = "local v = tonumber(redis.call('GET', KEYS[1]) or '0') \
            if v > 0 then redis.call('DECR', KEYS[1]) end return 0";
        let _: i64 = self
            .run("EVAL release", async {
                redis::cmd("EVAL")
                    .arg(RELEASE)
                    .arg(1)
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(())
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BackendError> {
        let mut conn = self.manager.clone();
        let key = self.key(key);
        // One transaction: count, and start the window only when the key is new.
        let (count,): (u64,) = self
            .run("INCR", async {
                redis::pipe()
                    .atomic()
                    .incr(&key, 1u64)
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(millis(ttl))
                    .arg("NX")
                    .ignore()
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(count)
    }
}
