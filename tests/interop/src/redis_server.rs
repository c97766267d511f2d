//! A Redis server on a loopback port in a temporary directory.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, free_port, require, which};

/// A running `redis-server`.
pub struct RedisServer {
    dir: TempDir,
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    persistent: bool,
    /// Run as a node of a Redis Cluster.
    cluster: bool,
    /// Replicate the master on this port.
    replica_of: Option<u16>,
}

impl RedisServer {
    /// Starts a server. `None` (or a panic in CI) without `redis-server`.
    pub fn start() -> Option<Self> {
        if !require(&["redis-server"]) {
            return None;
        }
        let mut server = Self {
            dir: TempDir::new("seamless-redis"),
            child: None,
            port: free_port(),
            persistent: false,
            cluster: false,
            replica_of: None,
        };
        server.restart();
        Some(server)
    }

    /// Starts a server that writes every change to an append-only file before
    /// answering, so a kill and restart loses nothing (as production should run).
    pub fn start_persistent() -> Option<Self> {
        let mut server = Self::start()?;
        server.persistent = true;
        server.restart();
        Some(server)
    }

    /// The URL to connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// One section of `INFO`, as `redis-cli` prints it (empty if it cannot).
    fn info(&self, section: &str) -> String {
        Command::new(which("redis-cli").unwrap_or_else(|| "redis-cli".into()))
            .args(["-p", &self.port.to_string(), "INFO", section])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Commands Redis has run so far (`INFO commandstats`), for round-trip counts.
    pub fn commands(&self) -> u64 {
        self.info("commandstats")
            .lines()
            .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info"))
            .filter_map(|l| l.split("calls=").nth(1))
            .filter_map(|v| v.split(',').next())
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }

    /// CPU seconds the server has used (`INFO cpu`: user + system).
    pub fn cpu_seconds(&self) -> f64 {
        self.info("cpu")
            .lines()
            .filter_map(|l| {
                l.strip_prefix("used_cpu_user:")
                    .or_else(|| l.strip_prefix("used_cpu_sys:"))
            })
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .sum()
    }

    /// Clients connected now (`INFO clients`), the asking `redis-cli` among them.
    pub fn clients(&self) -> u64 {
        self.info("clients")
            .lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Stops the server (an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same port: empty, or with its data when persistent.
    pub fn restart(&mut self) {
        self.stop();
        let (appendonly, fsync) = if self.persistent {
            ("yes", "always")
        } else {
            ("no", "everysec")
        };
        let child = Command::new(which("redis-server").unwrap_or_else(|| "redis-server".into()))
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                fsync,
            ])
            .args(if self.cluster {
                &["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"][..]
            } else {
                &[][..]
            })
            .args(
                self.replica_of
                    .map(|port| {
                        vec![
                            "--replicaof".to_string(),
                            "127.0.0.1".into(),
                            port.to_string(),
                        ]
                    })
                    .unwrap_or_default(),
            )
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A Redis Cluster of three masters (no replicas) on loopback ports, its 16,384
/// slots spread by `redis-cli --cluster create`.
pub struct RedisCluster {
    /// The nodes.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes and forms the cluster. `None` (or a panic in CI) without
    /// `redis-server` and `redis-cli`.
    pub fn start() -> Option<Self> {
        if !require(&["redis-server", "redis-cli"]) {
            return None;
        }
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let mut node = RedisServer::start()?;
            node.cluster = true;
            node.port = cluster_port();
            node.restart();
            nodes.push(node);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new(which("redis-cli").unwrap_or_else(|| "redis-cli".into()))
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("redis-cli --cluster create: {e}"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.nodes.iter().all(|n| n.cluster_ok()) {
            assert!(Instant::now() < deadline, "the cluster did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(cluster)
    }

    /// The URL for a cluster client: every node.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// Keys each node holds (`DBSIZE`): the keys are spread over the masters.
    pub fn keys_per_node(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| n.cli(&["DBSIZE"]).trim().parse().unwrap_or(0))
            .collect()
    }
}

/// A master, one replica and three sentinels watching them (quorum two, the
/// master declared down after one second), all on loopback ports.
pub struct RedisSentinelGroup {
    /// The master at the start.
    pub master: RedisServer,
    /// Its replica, promoted when the master dies.
    pub replica: RedisServer,
    sentinels: Vec<(u16, Child, TempDir)>,
}

/// The master group's name.
pub const SENTINEL_GROUP: &str = "seamless";

impl RedisSentinelGroup {
    /// Starts the servers and the sentinels, and waits until the replica is in
    /// sync and every sentinel knows it. `None` (or a panic in CI) without
    /// `redis-server` and `redis-cli`.
    pub fn start() -> Option<Self> {
        if !require(&["redis-server", "redis-cli"]) {
            return None;
        }
        let master = RedisServer::start()?;
        let mut replica = RedisServer::start()?;
        replica.replica_of = Some(master.port);
        replica.restart();
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let dir = TempDir::new("seamless-sentinel");
            let port = free_port();
            let conf = dir.path().join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {SENTINEL_GROUP} 127.0.0.1 {master} 2\n\
                     sentinel down-after-milliseconds {SENTINEL_GROUP} 1000\n\
                     sentinel failover-timeout {SENTINEL_GROUP} 5000\n\
                     sentinel parallel-syncs {SENTINEL_GROUP} 1\n",
                    dir = dir.path().display(),
                    master = master.port,
                ),
            )
            .expect("sentinel.conf");
            let child =
                Command::new(which("redis-server").unwrap_or_else(|| "redis-server".into()))
                    .arg(&conf)
                    .arg("--sentinel")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("redis-server --sentinel: {e}"));
            sentinels.push((port, child, dir));
        }
        let group = Self {
            master,
            replica,
            sentinels,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let synced = group
                .replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up");
            let known = group.sentinels.iter().all(|(port, _, _)| {
                let out = Command::new(which("redis-cli").unwrap_or_else(|| "redis-cli".into()))
                    .args([
                        "-p",
                        &port.to_string(),
                        "SENTINEL",
                        "replicas",
                        SENTINEL_GROUP,
                    ])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                out.contains(&group.replica.port.to_string())
            });
            if synced && known {
                return Some(group);
            }
            assert!(
                Instant::now() < deadline,
                "the sentinel group did not come up (replica in sync: {synced})"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The URL for a sentinel client: every sentinel and the group's name.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|(port, _, _)| format!("127.0.0.1:{port}"))
            .collect();
        format!("redis+sentinel://{}/{SENTINEL_GROUP}", hosts.join(","))
    }
}

impl Drop for RedisSentinelGroup {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.sentinels {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl RedisServer {
    fn cli(&self, args: &[&str]) -> String {
        Command::new(which("redis-cli").unwrap_or_else(|| "redis-cli".into()))
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn cluster_ok(&self) -> bool {
        self.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free port for a cluster node: its cluster bus listens 10,000 above it, so
/// that port must exist and be free too (an ephemeral port above 55535, which
/// `free_port` may give, stops the node from starting).
fn cluster_port() -> u16 {
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    (0..1000)
        .map(|_| free_port())
        .find(|&p| p.checked_add(10_000).is_some_and(free))
        .expect("a port with a free cluster bus port")
}

/// A TCP relay in front of a Redis server that loses one answer on demand:
/// once [`LosingRelay::arm`]ed with a marker, the next request holding it
/// reaches Redis and runs, and Redis's answer is dropped with the client's
/// connection. The one case where a command's caller cannot know whether it
/// ran. Every other byte passes as it is; new connections are relayed too.
pub struct LosingRelay {
    /// The port to connect to instead of Redis's.
    pub port: u16,
    armed: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LosingRelay {
    /// Relays to `127.0.0.1:redis_port`, from a thread of its own.
    pub fn start(redis_port: u16) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("its address").port();
        let relay = Self {
            port,
            armed: Default::default(),
            lost: Default::default(),
        };
        let (armed, lost) = (relay.armed.clone(), relay.lost.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((client, _)) = listener.accept().await {
                    let (armed, lost) = (armed.clone(), lost.clone());
                    tokio::spawn(async move {
                        let _ = relay_one(client, redis_port, armed, lost).await;
                    });
                }
            });
        });
        relay
    }

    /// The next request holding `marker` runs on Redis and gets no answer.
    pub fn arm(&self, marker: &str) {
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = Some(marker.as_bytes().to_vec());
    }

    /// Answers lost so far.
    pub fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn relay_one(
    client: tokio::net::TcpStream,
    redis_port: u16,
    armed: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = tokio::net::TcpStream::connect(("127.0.0.1", redis_port)).await?;
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let swallow = std::sync::Arc::new(AtomicBool::new(false));
    let answers = {
        let swallow = swallow.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = from_server.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(());
                }
                if swallow.load(Ordering::SeqCst) {
                    // The answer goes nowhere and the client's connection
                    // closes (dropping `to_client`).
                    lost.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                to_client.write_all(&buf[..n]).await?;
            }
        })
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from_client.read(&mut buf).await?;
        if n == 0 || answers.is_finished() {
            return Ok(());
        }
        let request = &buf[..n];
        let hit = armed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_if(|m| request.windows(m.len()).any(|w| w == m.as_slice()))
            .is_some();
        if hit {
            swallow.store(true, Ordering::SeqCst);
        }
        to_server.write_all(request).await?;
    }
}
