//! The [`Store`] on Redis or Valkey (feature `redis`): what several instances
//! share — replay keys, single-use values, counters — on one server or on a
//! Redis Cluster.
//!
//! Every operation is one request: one atomic Redis command, MULTI/EXEC or
//! script. The compound steps ([`Store::claim`], [`Store::take_once`]) are
//! scripts over keys that share a hash tag, so on a cluster each operation
//! touches one slot. Each has a timeout, and any failure maps to an
//! `Unavailable` error so callers fail closed. The connection
//! manager (and the cluster connection) reconnects by itself once the server is
//! back. On one server, a command whose connection had dropped (a restarted
//! Redis, a closed idle connection) is sent once more as the manager
//! reconnects, so the first request after an outage is not lost; a repeated
//! operation errs on the safe side (see the Sentinel connection below; tested
//! with the answer lost after the command ran:
//! `interop::redis::a_command_whose_answer_is_lost_errs_toward_refusal`).
//!
//! On one server, each single-threaded runtime that uses the store gets its own
//! connection, made in the background on its first use (the shared one serves
//! until then): on a server with a runtime per thread (actix-web's workers,
//! `seamless serve`) a request and its Redis round trips stay on one thread
//! instead of waking the thread that drives the shared connection for every
//! command. Multi-threaded runtimes share one connection.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncCommands as _, AsyncConnectionConfig, IntoConnectionInfo as _, RedisFuture};
use serde::Deserialize;

use super::store::{Entry, Store, TakeOnce, Taken};
use crate::error::BackendError;

/// How to reach Redis.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:password@]host:6379/0`, or `rediss://` for TLS. For a Redis
    /// Cluster, `redis+cluster://[:password@]host1:6379,host2:6379,...` (or
    /// `rediss+cluster://`): a few nodes to discover the cluster from. For
    /// Sentinel, `redis+sentinel://[:password@]s1:26379,s2:26379/mymaster` (or
    /// `rediss+sentinel://`): the sentinels and the master group's name; the
    /// credentials are the master's.
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
    manager: Connection,
    /// On one server: the connections of single-threaded runtimes.
    local: Option<Arc<LocalConnections>>,
    prefix: String,
    timeout: Duration,
    /// Requests sent (round trips), for the metrics.
    requests: Arc<AtomicU64>,
}

/// One server through the connection manager, a cluster, or the master the
/// sentinels name.
#[derive(Clone)]
enum Connection {
    /// The manager, and the store's count of requests (a command sent again
    /// counts again).
    Server(ConnectionManager, Arc<AtomicU64>),
    Cluster(ClusterConnection),
    Sentinel(SentinelMaster),
}

/// The connections of the single-threaded runtimes that use a store on one
/// server, one each, so that their commands never cross threads.
struct LocalConnections {
    client: redis::Client,
    settings: ConnectionManagerConfig,
    /// Newest last; at most [`MAX_LOCAL`] runtimes remembered.
    by_runtime: Mutex<Vec<(tokio::runtime::Id, Local)>>,
}

/// How many runtimes a store keeps a connection for (a runtime that ended
/// leaves its entry behind until it is pushed out).
const MAX_LOCAL: usize = 32;

/// A connection that could not be made is tried again after this long.
const LOCAL_RETRY: Duration = Duration::from_secs(5);

/// Where a runtime's own connection stands.
enum Local {
    Connecting,
    Ready(ConnectionManager),
    Failed(Instant),
}

impl LocalConnections {
    /// The calling runtime's own connection if it is single-threaded and has
    /// one; otherwise `None` (use the shared one), after starting to make one
    /// in the background where it is due.
    fn pick(self: &Arc<Self>) -> Option<ConnectionManager> {
        let handle = single_threaded_runtime()?;
        let id = handle.id();
        {
            let mut known = self
                .by_runtime
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match known.iter_mut().find(|(runtime, _)| *runtime == id) {
                Some((_, Local::Ready(connection))) => return Some(connection.clone()),
                Some((_, Local::Connecting)) => return None,
                Some((_, Local::Failed(at))) if at.elapsed() < LOCAL_RETRY => return None,
                Some((_, state)) => *state = Local::Connecting,
                None => {
                    if known.len() >= MAX_LOCAL {
                        known.remove(0);
                    }
                    known.push((id, Local::Connecting));
                }
            }
        }
        let this = Arc::clone(self);
        // Spawned on this runtime, so the connection's driver runs here too.
        handle.spawn(async move {
            let made =
                ConnectionManager::new_with_config(this.client.clone(), this.settings.clone())
                    .await;
            let mut known = this
                .by_runtime
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((_, state)) = known.iter_mut().find(|(runtime, _)| *runtime == id) {
                *state = made.map_or_else(|_| Local::Failed(Instant::now()), Local::Ready);
            }
        });
        None
    }
}

/// The master of a Sentinel-monitored group: asked of the sentinels when there
/// is no connection, kept while it answers, and forgotten on any error (a dead
/// master, or a demoted one answering `READONLY`), so the next attempt asks the
/// sentinels again and reaches the promoted replica once they name it. A
/// failed command is tried once more on a fresh connection: every operation of
/// the store errs on the safe side when repeated (`SET NX` and `claim` find
/// their own entry: refused; `GETDEL` finds nothing: refused; `take_once` finds
/// its own spent mark: refused as a reuse, so that family ends and its user
/// signs in again; `INCR` counts twice).
#[derive(Clone)]
struct SentinelMaster {
    sentinels: Arc<tokio::sync::Mutex<SentinelClient>>,
    current: Arc<std::sync::Mutex<Option<MultiplexedConnection>>>,
    settings: AsyncConnectionConfig,
    /// The store's count of requests (a command sent again counts again).
    requests: Arc<AtomicU64>,
}

impl SentinelMaster {
    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let mut sentinels = self.sentinels.lock().await;
        // Another task may have connected while this one waited.
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let c = sentinels
            .get_async_connection_with_config(&self.settings)
            .await?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `op` on the master's connection, once more on a fresh one if it fails.
    async fn run<T, F, Fut>(&self, mut op: F) -> redis::RedisResult<T>
    where
        F: FnMut(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut failed = None;
        for attempt in 0..2 {
            if attempt > 0 {
                self.requests.fetch_add(1, Ordering::Relaxed);
            }
            match op(self.connection().await?).await {
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    self.forget();
                    failed = Some(e);
                }
            }
        }
        Err(failed.unwrap_or_else(|| (redis::ErrorKind::Io, "no attempt").into()))
    }

    fn forget(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// `op`, and once more if its connection had dropped (the manager reconnects
/// meanwhile); each send counts as a request.
async fn again_if_dropped<T, Fut>(
    requests: &AtomicU64,
    mut op: impl FnMut() -> Fut,
) -> redis::RedisResult<T>
where
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    match op().await {
        Err(e) if e.is_connection_dropped() => {
            requests.fetch_add(1, Ordering::Relaxed);
            op().await
        }
        answer => answer,
    }
}

/// The calling task's runtime, when it is single-threaded.
fn single_threaded_runtime() -> Option<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .ok()
        .filter(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, redis::Value> {
        match self {
            Self::Server(c, requests) => Box::pin(again_if_dropped(requests, move || {
                let mut c = c.clone();
                async move { c.req_packed_command(cmd).await }
            })),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Sentinel(m) => {
                Box::pin(m.run(move |mut c| async move { c.req_packed_command(cmd).await }))
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Server(c, requests) => Box::pin(again_if_dropped(requests, move || {
                let mut c = c.clone();
                async move { c.req_packed_commands(pipeline, offset, count).await }
            })),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(m) => Box::pin(m.run(move |mut c| async move {
                c.req_packed_commands(pipeline, offset, count).await
            })),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(c, _) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Sentinel(m) => m.cached().map_or(0, |c| c.get_db()),
        }
    }
}

/// A URL naming several hosts: `{redis,rediss}+{cluster,sentinel}://[credentials@]host:port,host:port[/path]`.
struct MultiHost<'a> {
    /// `redis` or `rediss`.
    scheme: &'static str,
    /// `user:password@`, or empty.
    credentials: String,
    hosts: Vec<&'a str>,
    /// After the hosts, without the slash.
    path: &'a str,
}

/// `url` split when its scheme is `redis+{kind}` or `rediss+{kind}`.
fn multi_host<'a>(url: &'a str, kind: &str) -> Option<MultiHost<'a>> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme.strip_suffix(kind)?.strip_suffix('+')? {
        "redis" => "redis",
        "rediss" => "rediss",
        _ => return None,
    };
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((c, r)) => (format!("{c}@"), r),
        None => (String::new(), rest),
    };
    let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some(MultiHost {
        scheme,
        credentials,
        hosts: hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect(),
        path,
    })
}

/// The node URLs of a `redis+cluster://` or `rediss+cluster://` URL, each with
/// the credentials; `None` for any other URL.
pub(crate) fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let parsed = multi_host(url, "cluster")?;
    Some(
        parsed
            .hosts
            .iter()
            .map(|h| format!("{}://{}{h}", parsed.scheme, parsed.credentials))
            .collect(),
    )
}

/// The sentinel URLs, the master group's name and the master's URL settings
/// (credentials, TLS) of a `redis+sentinel://[credentials@]s1:26379,s2:26379/group`
/// URL; `None` for any other URL.
fn sentinel_setup(url: &str) -> Option<(Vec<String>, String, String)> {
    let parsed = multi_host(url, "sentinel")?;
    let sentinels = parsed
        .hosts
        .iter()
        .map(|h| format!("{}://{h}", parsed.scheme))
        .collect();
    let master = format!("{}://{}sentinel.invalid", parsed.scheme, parsed.credentials);
    Some((sentinels, parsed.path.to_string(), master))
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
    /// Connects (fails if Redis cannot be reached now): to one server, or to a
    /// cluster through the nodes of a `redis+cluster://` URL.
    pub async fn connect(config: &RedisConfig) -> Result<Self, BackendError> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let requests = Arc::<AtomicU64>::default();
        let connecting = async {
            if let Some((sentinels, group, master)) = sentinel_setup(&config.url) {
                if sentinels.is_empty() || group.is_empty() {
                    return Err(BackendError::unavailable(
                        "redis+sentinel URL needs sentinels and a group: redis+sentinel://s1:26379,s2:26379/mymaster",
                    ));
                }
                let master = master
                    .as_str()
                    .into_connection_info()
                    .map_err(|e| unavailable("sentinel URL", e))?;
                let mut node = SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(master.redis_settings().clone());
                if config.url.starts_with("rediss+") {
                    node = node.set_tls_mode(redis::TlsMode::Secure);
                }
                let client =
                    SentinelClient::build(sentinels, group, Some(node), SentinelServerType::Master)
                        .map_err(|e| unavailable("sentinel URL", e))?;
                let master = SentinelMaster {
                    sentinels: Arc::new(tokio::sync::Mutex::new(client)),
                    current: Arc::default(),
                    settings: AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(Some(timeout)),
                    requests: Arc::clone(&requests),
                };
                master
                    .connection()
                    .await
                    .map_err(|e| unavailable("sentinel connect", e))?;
                return Ok((Connection::Sentinel(master), None));
            }
            if let Some(nodes) = cluster_nodes(&config.url) {
                if nodes.is_empty() {
                    return Err(BackendError::unavailable("redis+cluster URL names no node"));
                }
                let client = ClusterClient::builder(nodes)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(1)
                    .build()
                    .map_err(|e| unavailable("cluster URL", e))?;
                let cluster = client
                    .get_async_connection()
                    .await
                    .map_err(|e| unavailable("cluster connect", e))?;
                return Ok((Connection::Cluster(cluster), None));
            }
            let client =
                redis::Client::open(config.url.as_str()).map_err(|e| unavailable("URL", e))?;
            let settings = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1);
            let shared = ConnectionManager::new_with_config(client.clone(), settings.clone())
                .await
                .map_err(|e| unavailable("connect", e))?;
            // The connecting runtime's own connection is the shared one (its
            // driver runs here).
            let by_runtime = single_threaded_runtime()
                .map(|handle| (handle.id(), Local::Ready(shared.clone())))
                .into_iter()
                .collect();
            let local = LocalConnections {
                client,
                settings,
                by_runtime: Mutex::new(by_runtime),
            };
            Ok((
                Connection::Server(shared, Arc::clone(&requests)),
                Some(Arc::new(local)),
            ))
        };
        let (manager, local) = tokio::time::timeout(timeout * 4, connecting)
            .await
            .map_err(|_| BackendError::unavailable("redis connect timed out"))??;
        Ok(Self {
            manager,
            local,
            prefix: config.key_prefix.clone(),
            timeout,
            requests,
        })
    }

    /// The connection for a command from the calling task: its runtime's own
    /// (one server, single-threaded runtime, once made), else the shared one.
    fn connection(&self) -> Connection {
        self.local
            .as_ref()
            .and_then(LocalConnections::pick)
            .map_or_else(
                || self.manager.clone(),
                |c| Connection::Server(c, Arc::clone(&self.requests)),
            )
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn run<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, BackendError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
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
        let mut conn = self.connection();
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
        let mut conn = self.connection();
        let key = self.key(key);
        self.run("GET", async { conn.get(&key).await }).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BackendError> {
        let mut conn = self.connection();
        let key = self.key(key);
        self.run("SET", async {
            conn.pset_ex(&key, value, millis(ttl)).await
        })
        .await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let mut conn = self.connection();
        let key = self.key(key);
        self.run("GETDEL", async {
            redis::cmd("GETDEL").arg(&key).query_async(&mut conn).await
        })
        .await
    }

    async fn count(&self, key: &str) -> Result<u64, BackendError> {
        let mut conn = self.connection();
        let key = self.key(key);
        let value: Option<u64> = self.run("GET", async { conn.get(&key).await }).await?;
        Ok(value.unwrap_or(0))
    }

    async fn release(&self, key: &str) -> Result<(), BackendError> {
        let mut conn = self.connection();
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

    async fn claim(
        &self,
        marker: &str,
        ttl: Duration,
        then: Option<Entry<'_>>,
    ) -> Result<bool, BackendError> {
        // KEYS: marker[, then]. ARGV: marker ttl[, then ttl, then value].
        const CLAIM: &str = "if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) \
            then return 0 end \
            if KEYS[2] then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2]) end \
            return 1";
        let mut conn = self.connection();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(CLAIM);
        match then {
            Some(entry) => cmd
                .arg(2)
                .arg(self.key(marker))
                .arg(self.key(entry.key))
                .arg(millis(ttl))
                .arg(millis(entry.ttl))
                .arg(entry.value),
            None => cmd.arg(1).arg(self.key(marker)).arg(millis(ttl)),
        };
        let stored: i64 = self
            .run("EVAL claim", async { cmd.query_async(&mut conn).await })
            .await?;
        Ok(stored == 1)
    }

    async fn take_once(&self, op: TakeOnce<'_>) -> Result<Taken, BackendError> {
        // KEYS: value, spent, revoked[, keep_as]. ARGV: spent value, spent ttl,
        // revoked ttl[, keep_as ttl]. Answers {1, value}, or {2, nil} revoked,
        // {3, nil} reused, {0, nil} unknown (`false` is nil on the wire).
        const TAKE_ONCE: &str = "local v = redis.call('GETDEL', KEYS[1]) \
            if v then \
              redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) \
              if redis.call('EXISTS', KEYS[3]) == 1 then return {2, false} end \
              if KEYS[4] then redis.call('SET', KEYS[4], v, 'PX', ARGV[4]) end \
              return {1, v} \
            end \
            if redis.call('EXISTS', KEYS[2]) == 1 then \
              redis.call('SET', KEYS[3], '1', 'PX', ARGV[3]) \
              return {3, false} \
            end \
            return {0, false}";
        let mut conn = self.connection();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(TAKE_ONCE)
            .arg(if op.keep_as.is_some() { 4 } else { 3 })
            .arg(self.key(op.key))
            .arg(self.key(op.spent.key))
            .arg(self.key(op.revoked.0));
        if let Some((key, _)) = op.keep_as {
            cmd.arg(self.key(key));
        }
        cmd.arg(op.spent.value)
            .arg(millis(op.spent.ttl))
            .arg(millis(op.revoked.1));
        if let Some((_, ttl)) = op.keep_as {
            cmd.arg(millis(ttl));
        }
        let (answer, value): (i64, Option<Vec<u8>>) = self
            .run("EVAL take_once", async { cmd.query_async(&mut conn).await })
            .await?;
        match (answer, value) {
            (1, Some(value)) => Ok(Taken::Value(value)),
            (2, _) => Ok(Taken::Revoked),
            (3, _) => Ok(Taken::Reused),
            (0, _) => Ok(Taken::Unknown),
            _ => Err(BackendError::unavailable(
                "redis take_once: unexpected answer",
            )),
        }
    }

    fn round_trips(&self) -> Option<u64> {
        Some(self.requests.load(Ordering::Relaxed))
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BackendError> {
        let mut conn = self.connection();
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

#[cfg(test)]
mod tests {
    use super::{RedisConfig, cluster_nodes, sentinel_setup};

    #[test]
    fn multi_host_urls_keep_credentials_and_tls_on_every_node() {
        assert_eq!(
            cluster_nodes("rediss+cluster://:pw@a:7000,b:7001/"),
            Some(vec![
                "rediss://:pw@a:7000".to_string(),
                "rediss://:pw@b:7001".to_string()
            ])
        );
        assert_eq!(cluster_nodes("redis://a:6379"), None);
        let (sentinels, group, master) =
            sentinel_setup("redis+sentinel://u:pw@s1:26379, s2:26379/mymaster").expect("sentinel");
        assert_eq!(sentinels, ["redis://s1:26379", "redis://s2:26379"]);
        assert_eq!(group, "mymaster");
        assert_eq!(master, "redis://u:pw@sentinel.invalid");
        assert_eq!(sentinel_setup("redis+cluster://a:1"), None);
    }

    #[test]
    fn debug_output_hides_the_password_of_every_url_form() {
        for url in [
            "redis://:s3cret@h:6379/0",
            "redis+cluster://:s3cret@a:7000,b:7001",
            "rediss+sentinel://u:s3cret@s1:26379,s2:26379/m",
        ] {
            let config = RedisConfig {
                url: url.into(),
                key_prefix: "p:".into(),
                timeout_ms: 1,
            };
            assert!(!format!("{config:?}").contains("s3cret"), "{url}");
        }
    }
}
