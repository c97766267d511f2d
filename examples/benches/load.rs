//! Load figures on loopback (a benchmark, not a test): complete sign-ins
//! (authorize → challenge → Negotiate → login → code → tokens, ES256) against the
//! example apps — axum, actix-web and rocket on the memory store; axum and
//! actix-web on Redis, two axum instances on Redis behind a client-side round
//! robin, axum on a 3-master Redis Cluster — and `seamless serve` on the memory store and on
//! Redis, with sign-ins/s, p50/p99 latency, errors, Redis round trips per
//! sign-in (the instances' own count, from `/metrics`), and CPU seconds per
//! 1,000 sign-ins of the servers and of Redis, which vary less between noisy
//! runs than the rate does.
//!
//! The client is one thread driving 16 keep-alive connections from one event
//! loop, as wrk does. Every row runs once per round, rounds interleave the
//! rows (3 rounds; `SEAMLESS_LOAD_ROUNDS=n`), and the last table gives each
//! column's median (errors: their sum). `SEAMLESS_LOAD_ONLY=serve,baseline`
//! runs only the rows whose name holds one of the texts.
//!
//! `cargo bench -p seamless-examples --bench load` (needs `redis-server`; the
//! `seamless serve` row needs `cargo build --release -p seamless` first;
//! `SEAMLESS_LOAD_BASELINE=/path/to/axum-app` adds rows for another build, say
//! the previous commit's). The load generator runs on the same 2 cores as the
//! servers: its share of the CPU is printed with each row.

use std::cell::{Cell, RefCell};
use std::net::TcpStream as StdTcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use seamless_core::config::{
    DEV_CLIENT_ID, DEV_CLIENT_REDIRECT, DEV_DOMAIN_SID, DEV_REALM, DEV_SERVICE, DEV_UPN_DOMAIN,
};
use seamless_core::kerberos::Etype;
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use seamless_interop::redis_server::{RedisCluster, RedisServer};

use seamless_interop::{TempDir, free_port};

const CONNECTIONS: usize = 16;
const RUN: Duration = Duration::from_secs(8);
const TICKETS: usize = 60_000;

struct Instance(Child, u16);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// jemalloc as the system packages it (Redis brings it), for a row that
/// swaps the allocator of an unchanged binary.
const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

/// Starts `program` on `config` and waits until it listens. An argument
/// `LD_PRELOAD=...` is set in its environment instead.
fn instance_of(program: &Path, args: &[&str], config: &Path) -> Instance {
    let port = free_port();
    let (preload, args): (Vec<&str>, Vec<&str>) =
        args.iter().partition(|a| a.starts_with("LD_PRELOAD="));
    let mut command = Command::new(program);
    for p in preload {
        command.env("LD_PRELOAD", &p["LD_PRELOAD=".len()..]);
    }
    let child = command
        .args(args)
        .env("SEAMLESS_CONFIG", config)
        .env("SEAMLESS_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SEAMLESS_SERVER__PUBLIC_ORIGIN", "http://localhost")
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while StdTcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Instance(child, port)
}

/// The `seamless` binary next to this benchmark's, when it has been built.
fn seamless_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/release/deps/load-<hash> → target/release/seamless
    let path = exe.parent()?.parent()?.join("seamless");
    path.is_file().then_some(path)
}

/// CPU seconds `pid` has used (user + system), from `/proc`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime
    // are the 12th and 13th, in clock ticks (100 a second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The instance's count of requests to its store (`seamless_store_requests_total`).
fn store_requests(port: u16) -> Option<u64> {
    let (_, _, body) = event_loop().block_on(async {
        Conn::open(port)
            .await
            .send("GET", "/metrics", &[], "")
            .await
    });
    seamless_interop::metric(&body, "seamless_store_requests_total").map(|v| v as u64)
}

/// A keep-alive HTTP/1.1 connection, driven by the load generator's one
/// event loop (as wrk drives its connections): a blocking thread per connection
/// would make every response wake a sleeping thread, and charge the servers for
/// it.
struct Conn(BufReader<TcpStream>);

impl Conn {
    async fn open(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self(BufReader::new(stream))
    }

    async fn send(
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
            .await
            .expect("write");
        let mut line = String::new();
        self.0.read_line(&mut line).await.expect("status");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            line.clear();
            self.0.read_line(&mut line).await.expect("header");
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
        self.0.read_exact(&mut body).await.expect("body");
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }
}

/// The load generator's event loop: one thread.
fn event_loop() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a runtime")
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
async fn sign_in(conn: &mut Conn, negotiate: &str) -> Result<(), String> {
    let authorize = format!(
        "/authorize?client_id={DEV_CLIENT_ID}&redirect_uri={}&response_type=code&scope=openid&state=s&nonce=n&login_hint=alice%40{DEV_UPN_DOMAIN}",
        form_urlencoded::byte_serialize(DEV_CLIENT_REDIRECT.as_bytes()).collect::<String>()
    );
    let (status, headers, body) = conn.send("GET", &authorize, &[], "").await;
    let flow = cookie(&headers, "seamless-flow").ok_or(format!("authorize {status}"))?;
    let state = field(&body, "state").ok_or("no state")?;
    // The page's background request: its challenge, then the ticket.
    let (status, _, _) = conn
        .send(
            "GET",
            "/winauth/sso",
            &[("cookie", &flow), ("seamless-flow", &state)],
            "",
        )
        .await;
    if status != 401 {
        return Err(format!("sso challenge {status}"));
    }
    let (status, _, body) = conn
        .send(
            "GET",
            "/winauth/sso",
            &[
                ("cookie", &flow),
                ("seamless-flow", &state),
                ("authorization", negotiate),
            ],
            "",
        )
        .await;
    if status != 200 {
        return Err(format!("sso {status}: {body}"));
    }
    let token: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let form = format!(
        "step=sso&state={state}&token={}",
        token["token"].as_str().ok_or("no token")?
    );
    let (status, headers, _) = conn
        .send(
            "POST",
            "/login",
            &[
                ("cookie", &flow),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            &form,
        )
        .await;
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
    let (status, _, body) = conn
        .send(
            "POST",
            "/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
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

/// One row's figures in one round.
#[derive(Clone)]
struct Measured {
    sign_ins: f64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: f64,
    trips: String,
    app_cpu: f64,
    redis_cpu: Option<f64>,
    load_gen: f64,
}

impl Measured {
    fn print(&self, name: &str) {
        println!(
            "{name:<26} {:>8.0} {:>10.0} {:>6.2}ms {:>6.2}ms {:>6.0} {:>11} {:>12.3} {:>12} {:>8.0}%",
            self.sign_ins,
            self.per_second,
            self.p50_ms,
            self.p99_ms,
            self.errors,
            self.trips,
            self.app_cpu,
            self.redis_cpu
                .map_or_else(|| "-".into(), |c| format!("{c:.3}")),
            self.load_gen,
        );
    }

    /// Each column's median over the rounds (errors: their sum).
    fn median(all: &[Self]) -> Self {
        let of = |f: fn(&Self) -> f64| {
            let mut v: Vec<f64> = all.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or_default()
        };
        Self {
            sign_ins: of(|m| m.sign_ins),
            per_second: of(|m| m.per_second),
            p50_ms: of(|m| m.p50_ms),
            p99_ms: of(|m| m.p99_ms),
            errors: all.iter().map(|m| m.errors).sum(),
            trips: all.last().map(|m| m.trips.clone()).unwrap_or_default(),
            app_cpu: of(|m| m.app_cpu),
            redis_cpu: all
                .iter()
                .all(|m| m.redis_cpu.is_some())
                .then(|| of(|m| m.redis_cpu.unwrap_or_default())),
            load_gen: of(|m| m.load_gen),
        }
    }
}

fn run(ports: &[u16], tickets: Vec<String>) -> Figures {
    let tickets = Rc::new(tickets);
    let next = Rc::new(Cell::new(0));
    let latencies = Rc::new(RefCell::new(Vec::new()));
    let errors = Rc::new(RefCell::new(Vec::new()));
    let start = Instant::now();
    let clients = tokio::task::LocalSet::new();
    for w in 0..CONNECTIONS {
        let (tickets, next, latencies, errors) = (
            tickets.clone(),
            next.clone(),
            latencies.clone(),
            errors.clone(),
        );
        let port = ports[w % ports.len()];
        clients.spawn_local(async move {
            let mut conn = Conn::open(port).await;
            while start.elapsed() < RUN {
                let i = next.get();
                next.set(i + 1);
                let Some(ticket) = tickets.get(i) else { break };
                let t = Instant::now();
                match sign_in(&mut conn, ticket).await {
                    Ok(()) => latencies.borrow_mut().push(t.elapsed()),
                    Err(e) => errors.borrow_mut().push(e),
                }
            }
        });
    }
    event_loop().block_on(clients);
    let elapsed = start.elapsed();
    let mut l = latencies.take();
    l.sort();
    let errors = errors.take();
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
                "[server]\ninsecure_cookies = true\n[metrics]\nenabled = true\n[dev]\nenabled = true\n[kerberos]\nkeytab = {keytab_path:?}\n[store]\nurl = {store:?}\n\
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
        "complete sign-ins over loopback, {CONNECTIONS} keep-alive connections on one client thread, {} s per run",
        RUN.as_secs()
    );
    println!(
        "{:<26} {:>8} {:>10} {:>8} {:>8} {:>6} {:>11} {:>12} {:>12} {:>9}",
        "setup",
        "sign-ins",
        "sign-ins/s",
        "p50",
        "p99",
        "errors",
        "round trips",
        "app CPU s/1k",
        "Redis CPU/1k",
        "load gen"
    );
    let memory = config("memory", "memory");
    let on_redis = config("redis", &redis.url());
    let cluster = RedisCluster::start().expect("a Redis Cluster");
    let on_cluster = config("cluster", &cluster.url());
    let app = Path::new(env!("CARGO_BIN_EXE_axum-app")).to_path_buf();
    let actix = Path::new(env!("CARGO_BIN_EXE_actix-app")).to_path_buf();
    let rocket = Path::new(env!("CARGO_BIN_EXE_rocket-app")).to_path_buf();
    let serve = seamless_binary();
    if serve.is_none() {
        println!("(no `seamless serve` row: run `cargo build --release -p seamless` first)");
    }
    // CPU seconds Redis has used so far: the server's, or every cluster node's.
    // `each` summed over the Redis servers behind a setup: the server
    // (restarted between rows, so passed in), or every cluster node.
    let over_redis = |path: &Path, redis: &RedisServer, each: fn(&RedisServer) -> f64| {
        if path == on_redis {
            Some(each(redis))
        } else if path == on_cluster {
            Some(cluster.nodes.iter().map(each).sum())
        } else {
            None
        }
    };
    // Commands Redis ran so far (script bodies' commands included).
    let redis_commands = |path: &Path, redis: &RedisServer| {
        over_redis(path, redis, |s| s.commands() as f64).map(|n| n as u64)
    };
    let redis_cpu =
        |path: &Path, redis: &RedisServer| over_redis(path, redis, RedisServer::cpu_seconds);
    let mut rows: Vec<(&str, &Path, &[&str], &Path, usize)> = vec![
        ("axum-app, memory", &app, &[], &memory, 1),
        ("actix-app, memory", &actix, &[], &memory, 1),
        ("rocket-app, memory", &rocket, &[], &memory, 1),
        ("axum-app, Redis", &app, &[], &on_redis, 1),
        ("actix-app, Redis", &actix, &[], &on_redis, 1),
        ("2 x axum-app, Redis", &app, &[], &on_redis, 2),
        ("axum-app, Cluster x3", &app, &[], &on_cluster, 1),
    ];
    if let Some(serve) = &serve {
        rows.push(("seamless serve, memory", serve, &["serve"], &memory, 1));
        rows.push(("seamless serve, Redis", serve, &["serve"], &on_redis, 1));
    }
    let jemalloc = format!("LD_PRELOAD={JEMALLOC}");
    let jemalloc = [jemalloc.as_str()];
    if Path::new(JEMALLOC).is_file() {
        rows.push(("axum-app, memory, jemalloc", &app, &jemalloc, &memory, 1));
    }
    // Another build of the app to compare with in the same run (say, the
    // previous commit's): SEAMLESS_LOAD_BASELINE=/path/to/axum-app.
    let baseline = std::env::var_os("SEAMLESS_LOAD_BASELINE").map(std::path::PathBuf::from);
    if let Some(baseline) = &baseline {
        rows.push(("baseline, memory", baseline, &[], &memory, 1));
        rows.push(("baseline, Redis", baseline, &[], &on_redis, 1));
    }
    // `SEAMLESS_LOAD_ONLY=text[,text…]`: only the rows whose name holds one.
    if let Ok(only) = std::env::var("SEAMLESS_LOAD_ONLY") {
        rows.retain(|row| only.split(',').any(|text| row.0.contains(text)));
    }
    // The machine is shared and noisy: every row runs once per round, rounds
    // interleave the rows, and the summary gives each column's median.
    let rounds: usize = std::env::var("SEAMLESS_LOAD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        // Each round's tickets have their own authenticator microseconds,
        // below the warm-up's (900,000 and up).
        .clamp(1, 900_000 / TICKETS - 1);
    let mut measured: Vec<Vec<Measured>> = vec![Vec::new(); rows.len()];
    for round in 1..=rounds {
        println!("round {round} of {rounds}");
        for (row, &(name, program, args, path, instances)) in rows.iter().enumerate() {
            let running: Vec<Instance> = (0..instances)
                .map(|_| instance_of(program, args, path))
                .collect();
            let ports: Vec<u16> = running.iter().map(|i| i.1).collect();
            let pids: Vec<String> = running.iter().map(|i| i.0.id().to_string()).collect();
            // Warm up (connections, caches), then measure.
            let _ = run(&ports, mint(900_000, 200));
            let requests =
                |ports: &[u16]| -> Option<u64> { ports.iter().map(|p| store_requests(*p)).sum() };
            let app_cpu = |pids: &[String]| -> f64 { pids.iter().map(|p| cpu_seconds(p)).sum() };
            // Tickets are minted before the clocks start: only the sign-ins count.
            let tickets = mint(round * TICKETS, TICKETS);
            let commands_before = redis_commands(path, &redis);
            let (sent, cpu, redis_before, own) = (
                requests(&ports),
                app_cpu(&pids),
                redis_cpu(path, &redis),
                cpu_seconds("self"),
            );
            let started = Instant::now();
            let figures = run(&ports, tickets);
            let elapsed = started.elapsed().as_secs_f64();
            let (own, cpu) = (cpu_seconds("self") - own, app_cpu(&pids) - cpu);
            let per_1k = |seconds: f64| seconds * 1000.0 / figures.sign_ins.max(1) as f64;
            let per_sign_in = |n: u64| n as f64 / figures.sign_ins.max(1) as f64;
            let trips = match (sent, requests(&ports)) {
                (Some(before), Some(after)) if after > before => {
                    format!("{:.2}", per_sign_in(after - before))
                }
                // A build without the count (an older baseline): Redis's count of
                // commands, the same thing when no script runs (marked *).
                _ => match (commands_before, redis_commands(path, &redis)) {
                    (Some(before), Some(after)) => {
                        format!("{:.2}*", per_sign_in(after - before))
                    }
                    _ => "-".into(),
                },
            };
            let result = Measured {
                sign_ins: figures.sign_ins as f64,
                per_second: figures.per_second,
                p50_ms: figures.p50.as_secs_f64() * 1e3,
                p99_ms: figures.p99.as_secs_f64() * 1e3,
                errors: figures.errors as f64,
                trips,
                app_cpu: per_1k(cpu),
                redis_cpu: match (redis_before, redis_cpu(path, &redis)) {
                    (Some(before), Some(after)) => Some(per_1k(after - before)),
                    _ => None,
                },
                load_gen: own / (elapsed * 2.0) * 100.0,
            };
            result.print(name);
            if let Some(e) = figures.first_error {
                println!("  first error: {e}");
            }
            measured[row].push(result);
            drop(running);
            if path == on_redis {
                redis.restart();
            }
        }
    }
    if rounds > 1 {
        println!("median of {rounds} rounds");
        for (row, results) in measured.iter().enumerate() {
            Measured::median(results).print(rows[row].0);
        }
    }
}
