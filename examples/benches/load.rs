//! Load figures on loopback (a benchmark, not a test): complete sign-ins
//! (authorize → probe → Negotiate → login → code → tokens, ES256) against the
//! axum example app — one instance on the memory store, one on Redis, two on
//! Redis behind a client-side round robin, one on a 3-master Redis Cluster —
//! with sign-ins/s, p50/p99 latency, errors and Redis commands per sign-in.
//!
//! `cargo bench -p seamless-examples --bench load` (needs `redis-server`).
//! The load generator runs on the same 2 cores as the servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use seamless_core::config::{
    DEV_CLIENT_ID, DEV_CLIENT_REDIRECT, DEV_DOMAIN_SID, DEV_REALM, DEV_SERVICE, DEV_UPN_DOMAIN,
};
use seamless_core::kerberos::Etype;
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use seamless_interop::redis_server::{RedisCluster, RedisServer};
use seamless_interop::{TempDir, free_port};

const WORKERS: usize = 8;
const RUN: Duration = Duration::from_secs(8);
const TICKETS: usize = 40_000;

struct Instance(Child, u16);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn instance(config: &Path) -> Instance {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_axum-app"))
        .env("SEAMLESS_CONFIG", config)
        .env("SEAMLESS_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SEAMLESS_SERVER__PUBLIC_ORIGIN", "http://localhost")
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the app");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the app did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Instance(child, port)
}

/// A keep-alive HTTP/1.1 connection.
struct Conn(BufReader<TcpStream>);

impl Conn {
    fn open(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self(BufReader::new(stream))
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.0
            .get_mut()
            .write_all(request.as_bytes())
            .expect("write");
        let mut line = String::new();
        self.0.read_line(&mut line).expect("status");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            line.clear();
            self.0.read_line(&mut line).expect("header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    length = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).expect("body");
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }
}

fn cookie(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap_or_default().to_string())
        .find(|v| v.starts_with(name))
}

fn field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..start + body[start..].find('"')?].to_string())
}

/// One complete sign-in; `Err` says which step failed.
fn sign_in(conn: &mut Conn, negotiate: &str) -> Result<(), String> {
    let authorize = format!(
        "/authorize?client_id={DEV_CLIENT_ID}&redirect_uri={}&response_type=code&scope=openid&state=s&nonce=n&login_hint=alice%40{DEV_UPN_DOMAIN}",
        form_urlencoded::byte_serialize(DEV_CLIENT_REDIRECT.as_bytes()).collect::<String>()
    );
    let (status, headers, body) = conn.send("GET", &authorize, &[], "");
    let flow = cookie(&headers, "seamless-flow").ok_or(format!("authorize {status}"))?;
    let state = field(&body, "state").ok_or("no state")?;
    conn.send("GET", "/winauth/ssoprobe", &[("cookie", &flow)], "");
    let (status, _, body) = conn.send(
        "GET",
        "/winauth/sso",
        &[
            ("cookie", &flow),
            ("seamless-flow", &state),
            ("authorization", negotiate),
        ],
        "",
    );
    if status != 200 {
        return Err(format!("sso {status}: {body}"));
    }
    let token: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let form = format!(
        "step=sso&state={state}&token={}",
        token["token"].as_str().ok_or("no token")?
    );
    let (status, headers, _) = conn.send(
        "POST",
        "/login",
        &[
            ("cookie", &flow),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &form,
    );
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
        .ok_or(format!("login {status}"))?;
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|c| c.split('&').next())
        .ok_or("no code")?;
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&client_id={DEV_CLIENT_ID}&client_secret=load",
        form_urlencoded::byte_serialize(DEV_CLIENT_REDIRECT.as_bytes()).collect::<String>()
    );
    let (status, _, body) = conn.send(
        "POST",
        "/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &form,
    );
    if status != 200 {
        return Err(format!("token {status}: {body}"));
    }
    Ok(())
}

struct Figures {
    sign_ins: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
    first_error: Option<String>,
}

fn run(ports: &[u16], tickets: Vec<String>) -> Figures {
    let tickets = Arc::new(tickets);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (tickets, next, latencies, errors) = (
                tickets.clone(),
                next.clone(),
                latencies.clone(),
                errors.clone(),
            );
            let port = ports[w % ports.len()];
            std::thread::spawn(move || {
                let mut conn = Conn::open(port);
                let mut mine = Vec::new();
                while start.elapsed() < RUN {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(ticket) = tickets.get(i) else { break };
                    let t = Instant::now();
                    match sign_in(&mut conn, ticket) {
                        Ok(()) => mine.push(t.elapsed()),
                        Err(e) => errors.lock().expect("lock").push(e),
                    }
                }
                latencies.lock().expect("lock").extend(mine);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let elapsed = start.elapsed();
    let mut l = latencies.lock().expect("lock").clone();
    l.sort();
    let errors = errors.lock().expect("lock").clone();
    let at = |q: f64| {
        l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        sign_ins: l.len(),
        per_second: l.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors: errors.len(),
        first_error: errors.first().cloned(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let Some(mut redis) = RedisServer::start() else {
        eprintln!("load: redis-server is needed");
        return;
    };
    let dir = TempDir::new("seamless-load");
    let kdc = TestKdc::new(DEV_REALM, DEV_SERVICE, Etype::Aes256CtsHmacSha196);
    let keytab_path = dir.path().join("http.keytab");
    std::fs::write(&keytab_path, kdc.keytab()).expect("keytab");
    let config = |name: &str, store: &str| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "[server]\ninsecure_cookies = true\n[dev]\nenabled = true\n[kerberos]\nkeytab = {keytab_path:?}\n[store]\nurl = {store:?}\n\
                 [sealing]\nkey_file = {:?}\n[tokens]\nkey_file = {:?}\n[[clients]]\nid = {DEV_CLIENT_ID:?}\n\
                 secret = \"load\"\nredirect_uris = [{DEV_CLIENT_REDIRECT:?}]\nalgorithm = \"ES256\"\n",
                dir.path().join("sealing.keys"),
                dir.path().join("signing-keys.json"),
            ),
        )
        .expect("config");
        path
    };
    let mint = |offset: usize, count: usize| -> Vec<String> {
        let pac = PacSpec::new(DEV_DOMAIN_SID.parse().expect("sid"), 1105)
            .with_upn(&format!("alice@{DEV_UPN_DOMAIN}"));
        (0..count)
            .map(|i| {
                let mut spec = TicketSpec::new("alice", SystemTime::now()).with_pac(pac.clone());
                spec.cusec = (offset + i) as u32;
                format!("Negotiate {}", kdc.mint(&spec).expect("mint").token)
            })
            .collect()
    };
    println!(
        "complete sign-ins over loopback, {WORKERS} keep-alive clients, {} s per run, axum-app",
        RUN.as_secs()
    );
    println!(
        "{:<24} {:>9} {:>11} {:>9} {:>9} {:>7} {:>16}",
        "setup", "sign-ins", "sign-ins/s", "p50", "p99", "errors", "redis cmds/sign-in"
    );
    let memory = config("memory", "memory");
    let on_redis = config("redis", &redis.url());
    let cluster = RedisCluster::start().expect("a Redis Cluster");
    let on_cluster = config("cluster", &cluster.url());
    // Commands Redis ran so far: the server's, or every cluster node's.
    let commands = |path: &Path, redis: &RedisServer| -> Option<u64> {
        if path == on_redis {
            Some(redis.commands())
        } else if path == on_cluster {
            Some(cluster.nodes.iter().map(RedisServer::commands).sum())
        } else {
            None
        }
    };
    for (name, path, instances) in [
        ("1 instance, memory", &memory, 1),
        ("1 instance, Redis", &on_redis, 1),
        ("2 instances, Redis", &on_redis, 2),
        ("1 instance, Cluster x3", &on_cluster, 1),
    ] {
        let running: Vec<Instance> = (0..instances).map(|_| instance(path)).collect();
        let ports: Vec<u16> = running.iter().map(|i| i.1).collect();
        // Warm up (connections, caches), then measure.
        let _ = run(&ports, mint(900_000, 200));
        let before = commands(path, &redis);
        let figures = run(&ports, mint(0, TICKETS));
        let per = match (before, commands(path, &redis)) {
            (Some(before), Some(after)) => format!(
                "{:.1}",
                after.saturating_sub(before) as f64 / figures.sign_ins.max(1) as f64
            ),
            _ => "-".into(),
        };
        println!(
            "{name:<24} {:>9} {:>11.0} {:>7.2}ms {:>7.2}ms {:>7} {:>16}",
            figures.sign_ins,
            figures.per_second,
            figures.p50.as_secs_f64() * 1e3,
            figures.p99.as_secs_f64() * 1e3,
            figures.errors,
            per
        );
        if let Some(e) = figures.first_error {
            println!("  first error: {e}");
        }
        drop(running);
        if path == &on_redis {
            redis.restart();
        }
    }
}
