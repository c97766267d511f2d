//! Two example-app processes (axum and actix-web) on one Redis, no sticky
//! sessions: what one instance did, the other knows. And Redis killed mid-run:
//! coded failures, no replay accepted, recovery, nothing issued lost.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use seamless_core::config::{
    DEV_CLIENT_ID, DEV_CLIENT_REDIRECT, DEV_DOMAIN_SID, DEV_REALM, DEV_SERVICE, DEV_UPN_DOMAIN,
};
use seamless_core::grants::s256_challenge;
use seamless_core::kerberos::Etype;
use seamless_core::testkit::dev_client::call;
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use seamless_interop::redis_server::RedisServer;
use seamless_interop::{TempDir, free_port};

const VERIFIER: &str = "scale-test-verifier-0123456789abcdefghijklmnopqrstuv";

struct Instance {
    child: Child,
    origin: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn instance(binary: &str, config: &Path) -> Instance {
    let port = free_port();
    let child = Command::new(binary)
        .env("SEAMLESS_CONFIG", config)
        .env("SEAMLESS_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SEAMLESS_SERVER__PUBLIC_ORIGIN", "http://localhost:8080")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an instance");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{binary} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Instance {
        child,
        origin: format!("http://127.0.0.1:{port}"),
    }
}

/// Two instances behind an imaginary load balancer at `http://localhost:8080`.
struct Cluster {
    kdc: TestKdc,
    a: Instance,
    b: Instance,
    cusec: u32,
    _dir: TempDir,
}

fn cluster(redis: &RedisServer) -> Cluster {
    cluster_with(redis, "")
}

/// [`cluster`] with `extra` configuration.
fn cluster_with(redis: &RedisServer, extra: &str) -> Cluster {
    let dir = TempDir::new("seamless-scale");
    let kdc = TestKdc::new(DEV_REALM, DEV_SERVICE, Etype::Aes256CtsHmacSha196);
    let keytab_path = dir.path().join("http.keytab");
    std::fs::write(&keytab_path, kdc.keytab()).expect("keytab");
    let config = dir.path().join("seamless.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ninsecure_cookies = true\n[dev]\nenabled = true\n[kerberos]\nkeytab = {:?}\n\
             [store]\nurl = {:?}\n[sealing]\nkey_file = {:?}\n[tokens]\nkey_file = {:?}\n\
             [[clients]]\nid = {DEV_CLIENT_ID:?}\nredirect_uris = [{DEV_CLIENT_REDIRECT:?}]\n\
             algorithm = \"ES256\"\naudience = \"http://localhost:8080/api\"\n{extra}",
            keytab_path,
            redis.url(),
            dir.path().join("sealing.keys"),
            dir.path().join("signing-keys.json"),
        ),
    )
    .expect("config");
    // One after the other: the first creates the shared key files.
    let a = instance(env!("CARGO_BIN_EXE_axum-app"), &config);
    let b = instance(env!("CARGO_BIN_EXE_actix-app"), &config);
    Cluster {
        kdc,
        a,
        b,
        cusec: 0,
        _dir: dir,
    }
}

impl Cluster {
    fn ticket(&mut self, user: &str, rid: u32) -> String {
        self.cusec += 1;
        let pac = PacSpec::new(DEV_DOMAIN_SID.parse().expect("sid"), rid)
            .with_upn(&format!("{user}@{DEV_UPN_DOMAIN}"));
        let mut spec = TicketSpec::new(user, SystemTime::now()).with_pac(pac);
        spec.cusec = self.cusec;
        format!("Negotiate {}", self.kdc.mint(&spec).expect("mint").token)
    }
}

/// A browser: a cookie jar, talking to whichever instance it is sent to.
#[derive(Default)]
struct Browser {
    jar: BTreeMap<String, String>,
}

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name}: {}", self.body))
            + marker.len();
        self.body[start..start + self.body[start..].find('"').expect("end")].to_string()
    }

    fn location_param(&self, name: &str) -> String {
        let location = self
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location");
        form_urlencoded::parse(location.split_once('?').expect("query").1.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    }
}

impl Browser {
    fn send(
        &mut self,
        to: &Instance,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", to.origin));
        if !self.jar.is_empty() {
            let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookie.join("; "));
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response =
            call(request.body(body.as_bytes().to_vec()).expect("request")).expect("call");
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().expect("ascii");
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = pair.split_once('=').expect("cookie");
            if attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.into(), v.into());
            }
        }
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: String::from_utf8_lossy(response.body()).into_owned(),
        }
    }

    fn form(&mut self, to: &Instance, path: &str, pairs: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.send(
            to,
            "POST",
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            &body,
        )
    }

    fn authorize(&mut self, to: &Instance, hint: &str) -> Reply {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("client_id", DEV_CLIENT_ID),
                ("redirect_uri", DEV_CLIENT_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", &s256_challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
                ("login_hint", hint),
            ])
            .finish();
        self.send(to, "GET", &format!("/authorize?{query}"), &[], "")
    }

    fn sso(&mut self, to: &Instance, page: &Reply, negotiate: &str) -> Reply {
        let state = page.field("state");
        self.send(
            to,
            "GET",
            "/winauth/sso",
            &[("seamless-flow", &state), ("authorization", negotiate)],
            "",
        )
    }

    fn redeem(&mut self, to: &Instance, code: &str) -> Reply {
        self.form(
            to,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", DEV_CLIENT_REDIRECT),
                ("client_id", DEV_CLIENT_ID),
                ("code_verifier", VERIFIER),
            ],
        )
    }

    fn refresh(&mut self, to: &Instance, token: &str) -> Reply {
        self.form(
            to,
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", DEV_CLIENT_ID),
            ],
        )
    }
}

/// A flow started on A, its Negotiate request on B, the login post on A: a code.
/// (A browser that already has a session would get its code silently.)
fn code_across(c: &mut Cluster, browser: &mut Browser) -> String {
    let page = browser.authorize(&c.a, "alice@dev.seamless.test");
    if page.status == 303 {
        return page.location_param("code");
    }
    assert_eq!(page.status, 200, "{}", page.body);
    let negotiate = c.ticket("alice", 1105);
    let answer = browser.sso(&c.b, &page, &negotiate);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.json()["token"].as_str().expect("token").to_string();
    let done = browser.form(
        &c.a,
        "/login",
        &[
            ("step", "sso"),
            ("state", &page.field("state")),
            ("token", &token),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    done.location_param("code")
}

#[test]
fn two_instances_share_everything_through_redis() {
    let Some(mut redis) = RedisServer::start_persistent() else {
        return;
    };
    let mut c = cluster(&redis);
    let mut browser = Browser::default();

    // A flow started on A finishes on B (and back), and the code redeems at B.
    let code = code_across(&mut c, &mut browser);
    let tokens = browser.redeem(&c.b, &code);
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    // ...once and only once: the second redemption, at A, is refused.
    assert_eq!(browser.redeem(&c.a, &code).json()["error"], "invalid_grant");

    // The session cookie set by A opens pages at B; the access token too.
    let me = browser.send(&c.b, "GET", "/me", &[("accept", "text/html")], "");
    assert_eq!(me.status, 200);
    assert!(me.body.contains("Hello, Alice Example!"));
    let access = tokens.json()["access_token"]
        .as_str()
        .expect("at")
        .to_string();
    let api = Browser::default().send(
        &c.b,
        "GET",
        "/api/me",
        &[("authorization", &format!("Bearer {access}"))],
        "",
    );
    assert_eq!(api.status, 200);

    // A ticket used at A is a replay at B.
    let negotiate = c.ticket("alice", 1105);
    let mut first = Browser::default();
    let page = first.authorize(&c.a, "alice@dev.seamless.test");
    assert_eq!(first.sso(&c.a, &page, &negotiate).status, 200);
    let mut second = Browser::default();
    let page = second.authorize(&c.b, "alice@dev.seamless.test");
    let replay = second.sso(&c.b, &page, &negotiate);
    assert_eq!(
        (replay.status, replay.json()["code"].as_u64()),
        (403, Some(81010)),
        "{}",
        replay.body
    );

    // A refresh family revoked at A is dead at B.
    let code = code_across(&mut c, &mut browser);
    let rt1 = browser.redeem(&c.a, &code).json()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    let rt2 = browser.refresh(&c.a, &rt1).json()["refresh_token"]
        .as_str()
        .expect("rt2")
        .to_string();
    assert_eq!(
        browser.refresh(&c.a, &rt1).json()["error"],
        "invalid_grant",
        "reuse at A"
    );
    assert_eq!(
        browser.refresh(&c.b, &rt2).json()["error"],
        "invalid_grant",
        "the family is dead at B"
    );

    // Password rate limits count across both: ten failures, alternating.
    let mut attacker = Browser::default();
    let page = attacker.authorize(&c.a, "bob@dev.seamless.test");
    let mut form = attacker.form(
        &c.a,
        "/login",
        &[("step", "fallback"), ("state", &page.field("state"))],
    );
    for i in 0..10 {
        let to = if i % 2 == 0 { &c.a } else { &c.b };
        form = attacker.form(
            to,
            "/login",
            &[
                ("step", "password"),
                ("state", &form.field("state")),
                ("username", "bob@dev.seamless.test"),
                ("password", "wrong"),
            ],
        );
        assert!(form.body.contains("(50126)"), "attempt {i}: {}", form.body);
    }
    let limited = attacker.form(
        &c.b,
        "/login",
        &[
            ("step", "password"),
            ("state", &form.field("state")),
            ("username", "bob@dev.seamless.test"),
            ("password", "Passw0rd!"),
        ],
    );
    assert_eq!(
        limited.status, 429,
        "even the right password waits: {}",
        limited.body
    );
    assert!(limited.body.contains("(50053)"));

    // Redis dies: Negotiate fails closed with its code (never a replay passes).
    let code_before = code_across(&mut c, &mut browser);
    let rt_before = browser.redeem(&c.a, &code_before).json()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    redis.stop();
    let mut during = Browser::default();
    let page = during.authorize(&c.a, "alice@dev.seamless.test");
    assert_eq!(page.status, 200, "pages still render without the store");
    let negotiate = c.ticket("alice", 1105);
    let down = during.sso(&c.a, &page, &negotiate);
    assert!(down.status >= 400, "{}", down.body);
    assert!(
        down.json().get("token").is_none(),
        "no sign-in token without the replay check"
    );
    assert_eq!(down.json()["code"], 90002, "{}", down.body);
    let me = browser.send(&c.b, "GET", "/me", &[("accept", "text/html")], "");
    assert_eq!(me.status, 200, "sessions need no store");

    // Redis is back: service recovers by itself, and what was issued before lives.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = during.authorize(&c.b, "alice@dev.seamless.test");
        let negotiate = c.ticket("alice", 1105);
        let answer = during.sso(&c.b, &page, &negotiate);
        if answer.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", answer.body);
        std::thread::sleep(Duration::from_millis(200));
    }
    let rotated = browser.refresh(&c.b, &rt_before);
    assert_eq!(
        rotated.status, 200,
        "the refresh token issued before the outage: {}",
        rotated.body
    );
    // The ticket refused during the outage stays refused now (its replay entry may
    // not exist, but its authenticator is still inside the window: it is fresh, so
    // it is accepted at most once).
    let mut after = Browser::default();
    let page = after.authorize(&c.a, "alice@dev.seamless.test");
    let reused = after.sso(&c.a, &page, &negotiate);
    assert_eq!(reused.status, 200, "never accepted before, so accepted now");
    let mut again = Browser::default();
    let page = again.authorize(&c.b, "alice@dev.seamless.test");
    assert_eq!(
        again.sso(&c.b, &page, &negotiate).json()["code"],
        81010,
        "but only once"
    );

    // Sign-out at A ends the session at B too, within the revocation cache
    // window: a copy of the cookie taken before the sign-out opens nothing there.
    let me = |jar: &BTreeMap<String, String>| {
        Browser { jar: jar.clone() }
            .send(&c.b, "GET", "/me", &[("accept", "text/html")], "")
            .status
    };
    assert_eq!(me(&browser.jar), 200, "signed in at B before the sign-out");
    let captured = browser.jar.clone();
    let out = browser.form(&c.a, "/logout", &[]);
    assert_eq!(out.status, 200, "{}", out.body);
    let signed_out = Instant::now();
    while me(&captured) == 200 {
        assert!(
            signed_out.elapsed() < Duration::from_secs(8),
            "the captured cookie still opens /me at B"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(signed_out.elapsed() <= Duration::from_secs(7));
}

/// `redis-cli monitor` on `port`: counts the requests clients send. Commands a
/// script runs inside Redis show as `[0 lua]` and are not requests.
struct Monitor {
    child: Child,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Monitor {
    fn start(port: u16) -> Self {
        use std::io::BufRead as _;
        let mut child = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "monitor"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-cli monitor");
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (counter, stdout) = (requests.clone(), child.stdout.take().expect("stdout"));
        let (ready, started) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "OK" {
                    let _ = ready.send(());
                } else if line.contains(" [") && !line.contains(" lua] ") {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("MONITOR started");
        Self { child, requests }
    }

    /// The count once no request has arrived for half a second.
    fn settled(&self) -> u64 {
        let mut last = self.requests.load(std::sync::atomic::Ordering::SeqCst);
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = self.requests.load(std::sync::atomic::Ordering::SeqCst);
            if now == last {
                return now;
            }
            last = now;
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `seamless_store_requests_total` of one instance.
fn store_requests(to: &Instance) -> u64 {
    let metrics = Browser::default().send(to, "GET", "/metrics", &[], "");
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    seamless_interop::metric(&metrics.body, "seamless_store_requests_total")
        .map(|v| v as u64)
        .unwrap_or_else(|| panic!("no store request count: {}", metrics.body))
}

/// The store request counter is what Redis receives: over five complete
/// sign-ins spread across two instances, the instances' counters grow by
/// exactly the number of requests Redis's MONITOR shows, and that is three per
/// sign-in (the replay entry; the sign-in token spent with the code stored;
/// the code taken with the refresh token stored).
#[test]
fn the_store_request_counter_is_what_redis_receives_three_per_sign_in() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut c = cluster_with(&redis, "[metrics]\nenabled = true\n");
    let monitor = Monitor::start(redis.port);
    let received_before = monitor.settled();
    let counted_before = store_requests(&c.a) + store_requests(&c.b);
    const SIGN_INS: u64 = 5;
    for _ in 0..SIGN_INS {
        let mut browser = Browser::default();
        let code = code_across(&mut c, &mut browser);
        let tokens = browser.redeem(&c.b, &code);
        assert_eq!(tokens.status, 200, "{}", tokens.body);
    }
    let counted = store_requests(&c.a) + store_requests(&c.b) - counted_before;
    let received = monitor.settled() - received_before;
    assert_eq!(counted, received, "the counters against Redis's MONITOR");
    assert_eq!(counted, 3 * SIGN_INS, "three round trips per sign-in");
}
