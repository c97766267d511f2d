//! `seamless serve` as an operator runs it: the README's systemd `ExecStart`
//! line on a plain-HTTP configuration (health, readiness, discovery, metrics on
//! their own listener, a clean stop on SIGTERM that closes idle keep-alive
//! connections on every serving thread), and TLS terminated by the server with a certificate replaced
//! while it runs. curl is the client; openssl makes the certificates.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use seamless_interop::slow_clients::SlowClients;
use seamless_interop::{idle_connection, stops_cleanly_on_sigterm};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seamless-serve-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn tools_present() -> bool {
    let present = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let ok = present("curl")
        && (present("openssl") || Command::new("openssl").arg("version").status().is_ok());
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "curl and openssl are required under CI=true"
    );
    ok
}

/// curl's status code for `url` (0: no answer), trusting `ca` for https.
fn curl(url: &str, ca: Option<&Path>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "5", "-w", "\n%{http_code}", url]);
    if let Some(ca) = ca {
        cmd.arg("--cacert").arg(ca);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Polls until `url` answers 200 (trusting `ca`), or panics after `within`.
fn until_ok(url: &str, ca: Option<&Path>, within: Duration, server: &mut Child) -> String {
    let start = Instant::now();
    loop {
        let (code, body) = curl(url, ca);
        if code == 200 {
            return body;
        }
        if let Ok(Some(status)) = server.try_wait() {
            panic!("the server exited: {status}");
        }
        assert!(
            start.elapsed() < within,
            "{url}: no 200 within {within:?} (last {code} {body})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A self-signed certificate for `localhost` and its key.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
        ])
        .arg(format!("/CN=localhost {name}"))
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    (cert, key)
}

/// The README's systemd `ExecStart` command, split into words.
fn exec_start() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let line = readme
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/seamless serve"))
        .expect("the README's seamless.service ExecStart line");
    std::iter::once("serve".to_string())
        .chain(line.split_whitespace().map(str::to_string))
        .collect()
}

#[test]
fn the_systemd_unit_serves_plain_http_and_stops_on_sigterm() {
    if !tools_present() {
        return;
    }
    let dir = scratch("plain");
    let (port, metrics_port) = (free_port(), free_port());
    let config = dir.join("seamless.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[dev]\nkeytab_out = \"{}\"\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n",
            dir.join("dev.keytab").display()
        ),
    )
    .expect("config");
    let args: Vec<String> = exec_start()
        .into_iter()
        .map(|a| {
            if a == "/etc/seamless/seamless.toml" {
                config.display().to_string()
            } else {
                a
            }
        })
        .collect();
    assert_eq!(args[..2], ["serve", "--config"], "{args:?}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(&args)
        .stdout(Stdio::null())
        .spawn()
        .expect("start");
    let origin = format!("http://localhost:{port}");
    let alive = until_ok(
        &format!("{origin}/healthz"),
        None,
        Duration::from_secs(20),
        &mut server,
    );
    assert!(alive.contains("alive"), "{alive}");
    let (code, body) = curl(&format!("{origin}/readyz"), None);
    assert_eq!((code, body.contains("\"ready\"")), (200, true), "{body}");
    let (code, discovery) = curl(&format!("{origin}/.well-known/openid-configuration"), None);
    assert_eq!(code, 200);
    let discovery: serde_json::Value = serde_json::from_str(&discovery).expect("json");
    assert_eq!(discovery["issuer"], origin);
    assert_eq!(curl(&format!("{origin}/nothing-here"), None).0, 404);
    // Metrics on their own listener, and only there.
    let (code, metrics) = curl(&format!("http://127.0.0.1:{metrics_port}/metrics"), None);
    assert_eq!(code, 200, "{metrics}");
    assert!(
        metrics.contains("seamless_request_duration_seconds_count{endpoint=\"readyz\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("seamless_key_kvno{"), "{metrics}");
    assert_eq!(curl(&format!("{origin}/metrics"), None).0, 404);

    // Keep-alive connections, handed in turn to every serving thread, each
    // answered and then left idle: the stop below must close them, not wait.
    let idle = (0..4).map(|_| idle_connection(port, "/healthz")).collect();
    stops_cleanly_on_sigterm(&mut server, idle);
}

#[test]
fn tls_is_terminated_and_a_replaced_certificate_is_served_without_a_restart() {
    if !tools_present() {
        return;
    }
    let dir = scratch("tls");
    let (first_cert, first_key) = certificate(&dir, "first");
    let (second_cert, second_key) = certificate(&dir, "second");
    let (cert, key) = (dir.join("tls.pem"), dir.join("tls.key"));
    std::fs::copy(&first_cert, &cert).expect("cert");
    std::fs::copy(&first_key, &key).expect("key");
    // A real deployment's keys and users, not the dev realm.
    let keytab = dir.join("http.keytab");
    let mut derive = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["keytab", "derive", "--out"])
        .arg(&keytab)
        .args(["--principal", "HTTP/localhost@EXAMPLE.TEST", "--kvno", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("derive");
    use std::io::Write as _;
    derive
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Svc-Passw0rd!\n")
        .expect("password");
    assert!(derive.wait().expect("derive").success());
    let users = dir.join("users.toml");
    std::fs::write(
        &users,
        "[[users]]\nid = \"u1\"\nupn = \"alice@example.test\"\n",
    )
    .expect("users");
    let port = free_port();
    let origin = format!("https://localhost:{port}");
    let config = dir.join("seamless.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_origin = \"{origin}\"\n\
             tls_cert = \"{}\"\ntls_key = \"{}\"\n[kerberos]\nkeytab = \"{}\"\n[directory]\nfile = \"{}\"\n",
            cert.display(),
            key.display(),
            keytab.display(),
            users.display()
        ),
    )
    .expect("config");
    let mut server = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .expect("start");
    let guard = KillOnDrop(&mut server);
    let server = &mut *guard.0;
    until_ok(
        &format!("{origin}/healthz"),
        Some(&first_cert),
        Duration::from_secs(20),
        server,
    );
    let (code, discovery) = curl(
        &format!("{origin}/.well-known/openid-configuration"),
        Some(&first_cert),
    );
    assert_eq!(code, 200);
    assert!(
        discovery.contains(&format!("\"issuer\":\"{origin}\"")),
        "{discovery}"
    );
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/healthz"), None).0,
        0,
        "no plain HTTP on the TLS port"
    );
    assert_eq!(
        curl(&format!("{origin}/healthz"), Some(&second_cert)).0,
        0,
        "not yet the second certificate"
    );

    // Renewal: the key, then the certificate, replaced on disk.
    std::fs::copy(&second_key, &key).expect("key");
    std::fs::copy(&second_cert, &cert).expect("cert");
    let renewed = Instant::now();
    until_ok(
        &format!("{origin}/healthz"),
        Some(&second_cert),
        Duration::from_secs(20),
        server,
    );
    eprintln!(
        "the renewed certificate was served after {:?}",
        renewed.elapsed()
    );
    assert_eq!(
        curl(&format!("{origin}/healthz"), Some(&first_cert)).0,
        0,
        "the old certificate is gone"
    );
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `seamless serve` on a dev-mode configuration with `extra` lines in
/// `[server]`, and waits for it to answer.
fn serve_with(name: &str, extra: &str) -> (Child, u16) {
    let (server, port, _) = serve_limited(name, extra, None);
    (server, port)
}

/// [`serve_with`], with at most `files` open file descriptors when given; also
/// the file its output goes to.
fn serve_limited(name: &str, extra: &str, files: Option<u32>) -> (Child, u16, PathBuf) {
    let dir = scratch(name);
    let port = free_port();
    let config = dev_config(&dir, port, extra);
    let log = dir.join("output.log");
    let output = std::fs::File::create(&log).expect("log");
    let bin = env!("CARGO_BIN_EXE_seamless");
    let mut command = match files {
        None => Command::new(bin),
        Some(n) => {
            let mut sh = Command::new("sh");
            sh.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), bin]);
            sh
        }
    };
    let mut server = command
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(output.try_clone().expect("log"))
        .stderr(output)
        .spawn()
        .expect("start");
    let url = format!("http://127.0.0.1:{port}/healthz");
    until_ok(&url, None, Duration::from_secs(20), &mut server);
    (server, port, log)
}

/// A dev-mode configuration in `dir` listening on `port`, with `extra` lines
/// in `[server]`.
fn dev_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let config = dir.join("seamless.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n[dev]\nkeytab_out = \"{}\"\n",
            dir.join("dev.keytab").display()
        ),
    )
    .expect("config");
    config
}

/// CPU clock ticks a process has used (user and system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = stat.rsplit_once(") ").expect("stat format").1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn out_of_file_descriptors_it_pauses_accepting_instead_of_spinning() {
    if !tools_present() {
        return;
    }
    let (mut server, port, log) = serve_limited("fds", "client_timeout_ms = 60000", Some(64));
    // More connections than it has descriptors: the kernel completes them all,
    // the server cannot accept the rest.
    let held: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(held.len() > 64, "{} connections", held.len());
    std::thread::sleep(Duration::from_millis(500));
    let (before, lines_before) = (cpu_ticks(server.id()), line_count(&log));
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(server.id()) - before;
    let logged = line_count(&log) - lines_before;
    // Accepting again at once used a whole core (about 200 ticks in 2 s) and
    // logged hundreds of thousands of lines.
    assert!(used < 40, "{used} clock ticks of CPU in 2 s");
    assert!(logged < 100, "{logged} log lines in 2 s");
    drop(held);
    let url = format!("http://127.0.0.1:{port}/healthz");
    until_ok(&url, None, Duration::from_secs(10), &mut server);
    let _ = server.kill();
    let _ = server.wait();
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
fn slow_and_silent_clients_are_cut_off_after_the_client_timeout() {
    if !tools_present() {
        return;
    }
    let metrics = free_port();
    let (mut server, port) = serve_with(
        "slow",
        &format!("client_timeout_ms = 500\n[metrics]\nlisten = \"127.0.0.1:{metrics}\""),
    );
    let slow = SlowClients::open(port, "/healthz", &[metrics]);
    let closed = slow.closed_within();
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
    // The server goes on serving.
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/healthz"), None).0,
        200
    );
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_client_timeout_of_zero_is_refused() {
    let config = dev_config(&scratch("zero"), free_port(), "client_timeout_ms = 0");
    let out = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("client_timeout_ms"), "{stderr}");
}
