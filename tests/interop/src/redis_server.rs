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

    /// Commands Redis has run so far (`INFO commandstats`), for round-trip counts.
    pub fn commands(&self) -> u64 {
        let out = Command::new(which("redis-cli").unwrap_or_else(|| "redis-cli".into()))
            .args(["-p", &self.port.to_string(), "INFO", "commandstats"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.lines()
            .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info"))
            .filter_map(|l| l.split("calls=").nth(1))
            .filter_map(|v| v.split(',').next())
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
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

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
