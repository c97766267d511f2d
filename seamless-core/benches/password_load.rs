//! Latency of other requests while password posts are in flight: a
//! session-checked request's p50/p99 on one async worker (the worst case),
//! with Argon2 run inline on the worker (as before) and on the verifier's own
//! pool (now). Prints a table; not a timed test.
//!
//! `cargo bench -p seamless-core --bench password_load`

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use seamless_core::Provider;
use seamless_core::backends::{
    Argon2Verifier, MemoryKeyStore, MemoryStore, Password, PasswordVerifier, StaticDirectory, User,
    hash_password,
};
use seamless_core::clock::SystemClock;
use seamless_core::engine::Durability;
use seamless_core::error::BackendError;
use seamless_core::http::{Response, WebConfig};
use seamless_core::kerberos::Etype;
use seamless_core::testkit::TestKdc;
use support::field;

/// Argon2 on the calling (async) thread: what every request waited behind before.
struct Inline(String);

#[async_trait::async_trait]
impl PasswordVerifier for Inline {
    async fn verify(&self, _: Option<&User>, password: &Password) -> Result<bool, BackendError> {
        let parsed = PasswordHash::new(&self.0).map_err(|_| BackendError::corrupt("hash"))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok())
    }
}

async fn send(
    engine: &Provider,
    method: Method,
    uri: &str,
    cookie: &str,
    body: String,
) -> Response {
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://login.example")
        .header("sec-fetch-site", "same-origin");
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    engine.serve(request).await
}

fn cookie(r: &Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(name))
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_string()
}

/// One password sign-in through the sign-in page: the session cookie.
async fn password_sign_in(engine: &Provider, password: &str) -> Option<String> {
    let page = send(
        engine,
        Method::GET,
        "/signin?return=%2F&login_hint=alice%40ad.test",
        "",
        String::new(),
    )
    .await;
    let flow = cookie(&page, "__Host-seamless-flow");
    let state = field(&page, "state");
    let form = send(
        engine,
        Method::POST,
        "/login",
        &flow,
        format!("step=fallback&state={state}"),
    )
    .await;
    let state = field(&form, "state");
    let done = send(
        engine,
        Method::POST,
        "/login",
        &flow,
        format!("step=password&state={state}&username=alice%40ad.test&password={password}"),
    )
    .await;
    done.headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.starts_with("__Host-seamless-session="))
        })
        .then(|| cookie(&done, "__Host-seamless-session="))
}

fn engine(verifier: Arc<dyn PasswordVerifier>, text: &str) -> Provider {
    let kdc = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
    let mut config = seamless_core::engine::EngineConfig::default();
    config.limits.password_per_user = u64::MAX;
    Provider::builder()
        .config(config)
        .web(WebConfig::new("https://login.example"))
        .keys(Arc::new(MemoryKeyStore::new(kdc.key_ring())))
        .directory(Arc::new(
            StaticDirectory::from_text(text).expect("directory"),
        ))
        .passwords(verifier)
        .store(
            Arc::new(MemoryStore::new(1 << 22, Arc::new(SystemClock))),
            Durability::Shared,
        )
        .build()
        .expect("engine")
}

fn run(name: &str, engine: Provider) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (latencies, checks) = runtime.block_on(async move {
        let session = password_sign_in(&engine, "pw").await.expect("signed in");
        let head = http::Request::builder()
            .uri("/app")
            .header("cookie", session)
            .body(())
            .expect("request")
            .into_parts()
            .0;
        let stop = Instant::now() + Duration::from_secs(4);
        let checks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Four password posts in flight at all times (wrong passwords: full cost).
        for _ in 0..4 {
            let engine = engine.clone();
            let checks = checks.clone();
            tokio::spawn(async move {
                while Instant::now() < stop {
                    password_sign_in(&engine, "wrong").await;
                    checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        // A request is due every 2 ms; its latency counts from when it was due,
        // so time the worker spends elsewhere (inline Argon2) shows up in it.
        let mut latencies = Vec::new();
        let mut due = Instant::now();
        while due < stop {
            due += Duration::from_millis(2);
            tokio::time::sleep_until(due.into()).await;
            let engine = engine.clone();
            let head = head.clone();
            let probe = tokio::spawn(async move {
                engine.identify(&head).await.identity.expect("session");
            });
            probe.await.expect("probe");
            latencies.push(due.elapsed());
        }
        (latencies, checks.load(std::sync::atomic::Ordering::Relaxed))
    });
    let mut sorted = latencies;
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q) as usize];
    println!(
        "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
        sorted.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        checks
    );
}

fn main() {
    let hash = hash_password("pw").expect("hash");
    let text = format!(
        "[[users]]\nid = \"u-alice\"\nupn = \"alice@ad.test\"\npassword_hash = \"{hash}\"\n"
    );
    let directory = Arc::new(StaticDirectory::from_text(&text).expect("directory"));
    println!("| Argon2 runs | session checks | p50 | p99 | max | password checks in 4 s |");
    println!("|---|---:|---:|---:|---:|---:|");
    run(
        "inline on the async worker (before)",
        engine(Arc::new(Inline(hash.clone())), &text),
    );
    run(
        "on the verifier's pool (now)",
        engine(Arc::new(Argon2Verifier::new(directory)), &text),
    );
}
