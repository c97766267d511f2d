//! Helpers that start and drive real Kerberos components for the interop tests:
//! an MIT KDC in a temporary directory on a loopback port, `kinit`, and a loopback
//! HTTP server that challenges `curl --negotiate` and captures its token.
//!
//! Under `CI=true` a missing component is a test failure; elsewhere the test
//! prints why it skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod browser;
pub mod loopback;
pub mod redis_server;
pub mod samba;
pub mod slow_clients;

/// A keep-alive connection to a server on `port`: `GET path` answered 200, then
/// left open.
pub fn idle_connection(port: u16, path: &str) -> TcpStream {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c.write_all(format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes())
        .expect("write");
    let mut answer = [0u8; 12];
    c.read_exact(&mut answer).expect("an answer");
    assert_eq!(&answer, b"HTTP/1.1 200", "GET {path}");
    c
}

/// Sends `server` SIGTERM, as systemd stops a service, and asserts a clean stop:
/// it exits successfully within 10 s, and has closed each of `idle` (rather
/// than waiting for them).
pub fn stops_cleanly_on_sigterm(server: &mut Child, idle: Vec<TcpStream>) {
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = server.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "a clean stop: {exit}");
    for mut c in idle {
        let mut rest = Vec::new();
        // The rest of the answer, then the end of the stream: closed.
        c.read_to_end(&mut rest).expect("closed by the server");
    }
}

/// Whether the tests run in CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns true when every program is on PATH (or in /usr/sbin). In CI a missing
/// one panics; elsewhere the caller should skip.
pub fn require(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| which(p).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "missing real component(s): {} (run scripts/test.sh to install)",
        missing.join(", ")
    );
    assert!(!in_ci(), "{msg}");
    eprintln!("SKIPPED: {msg}");
    false
}

/// Finds a program on PATH or in the sbin directories Debian puts daemons in.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// The token endpoint's form for MSAL's SAML 1.1 bearer grant: `assertion` is
/// the SAML assertion as extracted from an RSTR, byte-exact.
pub fn saml_grant_form(assertion: &str, client_id: &str) -> String {
    use base64::Engine as _;
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:saml1_1-bearer",
            ),
            (
                "assertion",
                &base64::engine::general_purpose::STANDARD.encode(assertion),
            ),
            ("client_id", client_id),
            ("scope", "openid"),
        ])
        .finish()
}

/// The value of one series (`name{labels}`, as written) in Prometheus text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18888)
}

/// Runs a command, panicking with its output if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(prefix: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        Self(dir)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An MIT KDC for realm `EXAMPLE.TEST` on a loopback port, with its own config.
pub struct MitRealm {
    dir: TempDir,
    kdc: Child,
    /// The realm name.
    pub realm: String,
    /// The KDC port.
    pub port: u16,
}

/// Encryption types the test realm supports.
const ENCTYPES: &str = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal \
                        aes256-cts-hmac-sha384-192:normal aes128-cts-hmac-sha256-128:normal rc4-hmac:normal";

impl MitRealm {
    /// Creates the realm database and starts `krb5kdc`. Returns `None` (or panics
    /// in CI) when the MIT tools are not installed.
    pub fn start() -> Option<Self> {
        if !require(&["krb5kdc", "kdb5_util", "kadmin.local", "kinit"]) {
            return None;
        }
        let dir = TempDir::new("seamless-mit");
        let port = free_port();
        let realm = "EXAMPLE.TEST".to_string();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n \
                 dns_canonicalize_hostname = false\n rdns = false\n allow_rc4 = true\n allow_weak_crypto = true\n \
                 permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 aes128-cts-hmac-sha256-128 rc4-hmac\n\
                 [realms]\n {realm} = {{\n  kdc = 127.0.0.1:{port}\n }}\n\
                 [domain_realm]\n localhost = {realm}\n .test = {realm}\n"
            ),
        )
        .ok()?;
        std::fs::write(
            dir.path().join("kdc.conf"),
            format!(
                "[kdcdefaults]\n kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n\
                 [realms]\n {realm} = {{\n  database_name = {d}/principal\n  key_stash_file = {d}/stash\n  \
                 acl_file = {d}/kadm5.acl\n  supported_enctypes = {ENCTYPES}\n  max_life = 10h\n }}\n\
                 [logging]\n kdc = FILE:{d}/kdc.log\n"
            ),
        )
        .ok()?;
        std::fs::write(dir.path().join("kadm5.acl"), "").ok()?;
        let mut realm_obj = Self {
            kdc: Command::new("true").spawn().ok()?,
            dir,
            realm,
            port,
        };
        run(realm_obj.cmd("kdb5_util").args([
            "create",
            "-s",
            "-r",
            &realm_obj.realm,
            "-P",
            "master-pw-1",
        ]));
        let kdc = realm_obj
            .cmd("krb5kdc")
            .args(["-n", "-P"])
            .arg(realm_obj.dir.path().join("krb5kdc.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let _ = realm_obj.kdc.wait();
        realm_obj.kdc = kdc;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "krb5kdc did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(realm_obj)
    }

    /// The realm's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A command with this realm's environment.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(which(program).unwrap_or_else(|| PathBuf::from(program)));
        c.env("KRB5_CONFIG", self.dir.path().join("krb5.conf"))
            .env("KRB5_KDC_PROFILE", self.dir.path().join("kdc.conf"))
            .env("KRB5RCACHETYPE", "none")
            .env_remove("KRB5CCNAME")
            .env_remove("KRB5_KTNAME");
        c
    }

    /// Runs a kadmin.local query.
    pub fn kadmin(&self, query: &str) -> String {
        run(self
            .cmd("kadmin.local")
            .args(["-r", &self.realm, "-q", query]))
    }

    /// Adds a user with a password.
    pub fn add_user(&self, name: &str, password: &str) {
        self.kadmin(&format!("addprinc -pw {password} {name}"));
    }

    /// Adds a service with a random key of the given enctypes (all by default) and
    /// exports it to a keytab; returns the keytab path.
    pub fn add_service(&self, principal: &str, enctypes: Option<&str>) -> PathBuf {
        match enctypes {
            Some(e) => self.kadmin(&format!("addprinc -randkey -e {e} {principal}")),
            None => self.kadmin(&format!("addprinc -randkey {principal}")),
        };
        let keytab = self
            .dir
            .path()
            .join(format!("{}.keytab", principal.replace(['/', '@'], "_")));
        // -norandkey: export the keys just created instead of re-randomising them
        // with the realm's default enctypes.
        self.kadmin(&format!(
            "ktadd -norandkey -k {} {principal}",
            keytab.display()
        ));
        keytab
    }

    /// `kinit`s `user` into a fresh credential cache and returns its path.
    pub fn kinit(&self, user: &str, password: &str) -> PathBuf {
        kinit(
            &self.dir.path().join("krb5.conf"),
            &self.dir.path().join(format!("{user}.ccache")),
            user,
            password,
        )
    }

    /// See [`curl_negotiate`].
    pub fn curl_negotiate(
        &self,
        ccache: &Path,
        host: &str,
        answer: impl FnMut(&str) -> (u16, Option<String>) + Send + 'static,
    ) -> (Option<String>, bool) {
        curl_negotiate(&self.dir.path().join("krb5.conf"), ccache, host, answer)
    }
}

/// `kinit`s `user` (password on standard input) into the file cache `ccache`
/// against the realm `krb5_conf` describes, and returns the cache path.
pub fn kinit(krb5_conf: &Path, ccache: &Path, user: &str, password: &str) -> PathBuf {
    let mut child = Command::new("kinit")
        .env("KRB5_CONFIG", krb5_conf)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .arg(user)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("kinit: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{password}");
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("kinit: {e}"));
    assert!(
        out.status.success(),
        "kinit {user} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ccache.to_path_buf()
}

/// Has curl fetch `http://{host}:{port}/` with SPNEGO from `ccache`; the loopback
/// server challenges it, hands the token to `answer` (which returns the status
/// and an optional `WWW-Authenticate: Negotiate` token for the final response)
/// and returns the token and whether curl succeeded (it checks mutual auth).
pub fn curl_negotiate(
    krb5_conf: &Path,
    ccache: &Path,
    host: &str,
    answer: impl FnMut(&str) -> (u16, Option<String>) + Send + 'static,
) -> (Option<String>, bool) {
    assert!(require(&["curl"]), "curl required");
    let server = NegotiateServer::start(answer);
    let url = format!("http://{host}:{}/", server.port);
    let status = Command::new("curl")
        .env("KRB5_CONFIG", krb5_conf)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .env("KRB5RCACHETYPE", "none")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "--fail",
            "--max-time",
            "20",
            "--negotiate",
            "-u",
            ":",
        ])
        .args(["--resolve", &format!("{host}:{}:127.0.0.1", server.port)])
        .arg(&url)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    (server.finish(), status)
}

impl Drop for MitRealm {
    fn drop(&mut self) {
        let _ = self.kdc.kill();
        let _ = self.kdc.wait();
    }
}

/// A loopback HTTP/1.1 server that answers 401 Negotiate until it gets a token.
pub struct NegotiateServer {
    /// The port.
    pub port: u16,
    handle: std::thread::JoinHandle<Option<String>>,
}

impl NegotiateServer {
    /// Starts serving on a free loopback port.
    pub fn start(mut answer: impl FnMut(&str) -> (u16, Option<String>) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let handle = std::thread::spawn(move || {
            let _ = listener.set_nonblocking(false);
            for _ in 0..4 {
                let Ok((stream, _)) = listener.accept() else {
                    return None;
                };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                let mut reader = BufReader::new(stream);
                loop {
                    let mut token = None;
                    let mut line = String::new();
                    let mut got_request = false;
                    while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                        got_request = true;
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.strip_prefix("Authorization: Negotiate ") {
                            token = Some(v.trim().to_string());
                        }
                        line.clear();
                    }
                    if !got_request {
                        break;
                    }
                    let stream = reader.get_mut();
                    match token {
                        None => {
                            let _ = stream.write_all(
                                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n",
                            );
                        }
                        Some(t) => {
                            let (status, reply) = answer(&t);
                            let header = reply
                                .map(|r| format!("WWW-Authenticate: Negotiate {r}\r\n"))
                                .unwrap_or_default();
                            let _ = stream.write_all(
                                format!("HTTP/1.1 {status} X\r\n{header}Content-Length: 2\r\nConnection: close\r\n\r\nok")
                                    .as_bytes(),
                            );
                            let _ = stream.flush();
                            let mut rest = Vec::new();
                            let _ = reader.read_to_end(&mut rest);
                            return Some(t);
                        }
                    }
                }
            }
            None
        });
        Self { port, handle }
    }

    /// Waits for the captured token.
    pub fn finish(self) -> Option<String> {
        self.handle.join().ok().flatten()
    }
}
