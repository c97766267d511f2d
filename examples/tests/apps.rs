//! The three example apps as built binaries on loopback:
//! - the `seamless dev client` walk (dev realm, no AD) through each;
//! - headless Chromium doing real Negotiate with a ticket from an MIT KDC, and
//!   the password fallback without one, through each.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use seamless_core::testkit::dev_client;
use seamless_interop::browser::{Browser, Firefox};
use seamless_interop::slow_clients::SlowClients;
use seamless_interop::{
    MitRealm, TempDir, free_port, idle_connection, require, stops_cleanly_on_sigterm,
};

const APPS: [(&str, &str); 3] = [
    ("axum-app", env!("CARGO_BIN_EXE_axum-app")),
    ("actix-app", env!("CARGO_BIN_EXE_actix-app")),
    ("rocket-app", env!("CARGO_BIN_EXE_rocket-app")),
];

/// A running example app; killed when dropped.
struct App {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the app said (its sign-in events and codes).
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!(
                "--- app on port {} (last lines) ---\n{}",
                self.port,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn start(binary: &str, env: &[(&str, String)]) -> App {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("seamless-app-{}-{port}.log", std::process::id()));
    let sink = std::fs::File::create(&log).expect("app log");
    let mut command = Command::new(binary);
    command
        .env("SEAMLESS_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::from(sink.try_clone().expect("app log")))
        .stderr(Stdio::from(sink));
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("start the app");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{binary} did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    App { child, port, log }
}

/// An app on the dev realm, writing its keytab (returned) into `dir`.
fn start_dev(name: &str, binary: &str, dir: &Path) -> (App, PathBuf) {
    let keytab = dir.join(format!("{name}.keytab"));
    let app = start(
        binary,
        &[("SEAMLESS_DEV__KEYTAB_OUT", keytab.display().to_string())],
    );
    (app, keytab)
}

#[test]
fn the_dev_client_signs_in_through_every_app() {
    let dir = TempDir::new("seamless-examples");
    for (name, binary) in APPS {
        let (app, keytab) = start_dev(name, binary, dir.path());
        let walk = dev_client::walk(&format!("http://localhost:{}", app.port), &keytab, "alice")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(walk.steps.len(), 8, "{name}");
        assert_eq!(walk.id_claims["sub"], "demo-alice", "{name}");
        assert_eq!(
            walk.id_claims["amr"],
            serde_json::json!(["kerberos"]),
            "{name}"
        );
        assert!(
            walk.greeting.starts_with("Hello, Alice Example!"),
            "{name}: {}",
            walk.greeting
        );
        assert_eq!(walk.api["upn"], "alice@dev.seamless.test", "{name}");
    }
}

#[test]
fn firefox_signs_in_with_a_real_ticket() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    if !require(&["firefox-esr"]) {
        return;
    }
    realm.add_user("alice", "alice-pw-1");
    let keytab = realm.add_service("HTTP/localhost", None);
    let ccache = realm.kinit("alice", "alice-pw-1");
    let dir = TempDir::new("seamless-e2e-firefox");
    let users = users_file(dir.path());
    let krb5_conf = realm.dir().join("krb5.conf");
    for (name, binary) in APPS {
        let app = start(
            binary,
            &[
                ("SEAMLESS_KERBEROS__KEYTAB", keytab.display().to_string()),
                ("SEAMLESS_DIRECTORY__FILE", users.display().to_string()),
            ],
        );
        let mut firefox = Firefox::launch(&krb5_conf, &ccache);
        let started = Instant::now();
        firefox.navigate(&format!("http://localhost:{}/me", app.port));
        let text = firefox.wait_for_text("Hello, Alice MIT!");
        eprintln!(
            "{name}: Firefox signed in seamlessly in {:?}",
            started.elapsed()
        );
        assert!(
            text.contains("seamlessly, with Windows (Kerberos)"),
            "{name}: {text}"
        );
    }
}

fn users_file(dir: &Path) -> PathBuf {
    let hash = seamless_core::backends::hash_password("alice-pw-1").expect("hash");
    let path = dir.join("users.toml");
    std::fs::write(
        &path,
        format!("[[users]]\nid = \"mit-alice\"\nupn = \"alice@example.test\"\ndisplay_name = \"Alice MIT\"\ngroups = [\"staff\"]\npassword_hash = \"{hash}\"\n"),
    )
    .expect("users file");
    path
}

#[test]
fn chromium_signs_in_with_a_real_ticket_or_falls_back_to_the_password() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    if !require(&["chromium"]) {
        return;
    }
    realm.add_user("alice", "alice-pw-1");
    let keytab = realm.add_service("HTTP/localhost", None);
    let ccache = realm.kinit("alice", "alice-pw-1");
    let dir = TempDir::new("seamless-e2e");
    let users = users_file(dir.path());
    let no_ticket = dir.path().join("empty.ccache");
    let krb5_conf = realm.dir().join("krb5.conf");
    for (name, binary) in APPS {
        let app = start(
            binary,
            &[
                ("SEAMLESS_KERBEROS__KEYTAB", keytab.display().to_string()),
                ("SEAMLESS_DIRECTORY__FILE", users.display().to_string()),
                ("SEAMLESS_METRICS__ENABLED", "true".to_string()),
            ],
        );
        let page = format!("http://localhost:{}/me", app.port);

        // With alice's ticket: straight to the page, nothing typed, in a fresh
        // browser process (whose first Negotiate challenge Chromium drops).
        let mut browser = Browser::launch(&krb5_conf, &ccache);
        browser.navigate(&page);
        let text = browser.wait_for_text("Hello, Alice MIT!");
        assert!(
            text.contains("seamlessly, with Windows (Kerberos)"),
            "{name}: {text}"
        );
        assert!(text.contains("alice@example.test"), "{name}: {text}");
        // Again in the same browser, without its cookies: four requests to
        // the provider (the sign-in page, the background request's challenge
        // and its answer with the ticket, the sign-in token's post).
        let before = sign_in_requests(app.port);
        browser.clear_cookies();
        browser.navigate(&page);
        browser.wait_for_text("Hello, Alice MIT!");
        let requests = sign_in_requests(app.port) - before;
        eprintln!("{name}: a warm Chromium's seamless sign-in made {requests} sign-in requests");
        assert_eq!(requests, 4, "{name}");
        drop(browser);

        // Without a ticket: the password form, then the page.
        let mut browser = Browser::launch(&krb5_conf, &no_ticket);
        browser.navigate(&page);
        browser.wait_for_text("Password");
        browser.eval(
            "document.querySelector('#u').value = 'alice@example.test';\
             document.querySelector('#p').value = 'alice-pw-1';\
             document.querySelector('form').submit(); true",
        );
        let text = browser.wait_for_text("Hello, Alice MIT!");
        assert!(text.contains("with a password"), "{name}: {text}");
    }
}

/// How many sign-in requests (every endpoint but `/metrics`) the app has
/// answered, from its metrics.
fn sign_in_requests(port: u16) -> u64 {
    let metrics = dev_client::call(
        http::Request::get(format!("http://localhost:{port}/metrics"))
            .body(Vec::new())
            .expect("request"),
    )
    .expect("metrics");
    let text = String::from_utf8_lossy(metrics.body());
    text.lines()
        .filter_map(|l| l.strip_prefix("seamless_request_duration_seconds_count{endpoint=\""))
        .filter_map(|l| l.split_once("\"}"))
        .filter(|(endpoint, _)| *endpoint != "metrics")
        .map(|(_, count)| count.trim().parse::<u64>().expect("a count"))
        .sum()
}

/// A flow state that does not open where it arrives (sealed by an instance
/// with another key: the background request answers `restart`) never sends
/// Chromium round in circles: the page goes on to the password form after one
/// background request. (The page used to reload itself, for ever.)
#[test]
fn chromium_goes_on_to_the_password_when_the_flow_state_does_not_open() {
    if !require(&["chromium"]) {
        return;
    }
    let dir = TempDir::new("seamless-e2e-restart");
    for (name, binary) in APPS {
        let (app, _) = start_dev(name, binary, dir.path());
        // No Kerberos at all: nothing here depends on a ticket.
        let mut browser = Browser::launch(
            &dir.path().join("no-krb5.conf"),
            &dir.path().join("no.ccache"),
        );
        browser.rewrite_header("*/winauth/sso", "Seamless-Flow", "sealed-elsewhere");
        browser.navigate(&format!("http://localhost:{}/me", app.port));
        browser.wait_for_text("Password");
        // Time for a reload (or several) to show, had the page made one.
        std::thread::sleep(Duration::from_secs(2));
        let text = browser.wait_for_text("Password");
        assert_eq!(browser.rewritten(), 1, "{name}: one background request");
        assert!(text.contains("User name"), "{name}: {text}");
    }
}

/// The example apps serve plain HTTP: a TLS certificate in their configuration
/// is refused at start with the fix named, not silently ignored; so is a client
/// timeout the rocket-app cannot apply, and a client timeout of 0.
#[test]
fn the_apps_refuse_a_tls_certificate_they_would_not_serve() {
    let dir = std::env::temp_dir().join(format!("seamless-apps-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (i, (server, named, apps)) in [
        (
            "tls_cert = \"/etc/seamless/tls.pem\"\ntls_key = \"/etc/seamless/tls.key\"",
            "server.tls_cert",
            &APPS[..],
        ),
        // The axum-app and the actix-app read it; rocket has no head timeout.
        (
            "client_timeout_ms = 10000",
            "server.client_timeout_ms",
            &APPS[2..],
        ),
        // 0 would cut off every client.
        ("client_timeout_ms = 0", "client_timeout_ms", &APPS[..2]),
    ]
    .into_iter()
    .enumerate()
    {
        let config = dir.join(format!("seamless-{i}.toml"));
        std::fs::write(&config, format!("[server]\n{server}\n")).expect("config");
        for (name, bin) in apps {
            let out = std::process::Command::new(bin)
                .arg(&config)
                .output()
                .expect("run");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {err}");
            assert!(err.contains(named), "{name}: {err}");
            assert!(
                named == "client_timeout_ms" || err.contains("seamless serve"),
                "{name}: {err}"
            );
        }
    }
}

/// The axum-app (the demo) and the actix-app close connections whose request
/// head has not arrived within `client_timeout_ms`, silent and idle ones
/// included, and answer 400 to a sign-in body that stalls or trickles in as
/// long, then serve on: `axum::serve`, which the axum-app used before, kept
/// them all open, and actix-web waited on a stalled body.
#[test]
fn the_axum_and_actix_apps_cut_off_slow_and_silent_clients() {
    for (name, binary) in &APPS[..2] {
        let app = start(
            binary,
            &[("SEAMLESS_SERVER__CLIENT_TIMEOUT_MS", "500".into())],
        );
        let closed = SlowClients::open(app.port, "/", &[]).closed_within();
        assert!(
            closed < Duration::from_secs(3),
            "{name}: closed after {closed:?}"
        );
        let mut home = TcpStream::connect(("127.0.0.1", app.port)).expect("connect");
        home.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .expect("write");
        let mut answer = String::new();
        home.read_to_string(&mut answer).expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
    }
}

/// The demo app stops as a service manager asks (SIGTERM): it closes its idle
/// keep-alive connections and exits 0, where `axum::serve` without a shutdown
/// signal died by the signal.
#[test]
fn the_axum_app_stops_cleanly_on_sigterm() {
    let mut app = start(APPS[0].1, &[]);
    let idle = (0..3).map(|_| idle_connection(app.port, "/")).collect();
    stops_cleanly_on_sigterm(&mut app.child, idle);
}

/// The real-AD deployment, configured by a TOML file alone: Samba AD issues
/// the ticket, `[directory.ldap]` finds alice in AD, Chromium and Firefox sign
/// her in without typing; without a ticket, the password form checks her password
/// against AD by LDAP bind.
#[test]
fn chromium_signs_in_against_samba_ad_with_the_app_configured_by_a_file() {
    let Some(dc) = seamless_interop::samba::SambaDc::start() else {
        return;
    };
    if !require(&["chromium"]) {
        return;
    }
    dc.add_person("alice", "Al1ce-Passw0rd!", "Alice", "Liddell");
    dc.tool(&["user", "create", "httpsvc", "Svc-Passw0rd-1!"]);
    dc.tool(&["spn", "add", "HTTP/localhost", "httpsvc"]);
    dc.set_enctypes("httpsvc", 24);
    dc.tool(&[
        "user",
        "setpassword",
        "httpsvc",
        "--newpassword=Svc-Passw0rd-2!",
    ]);
    let keytab = dc.export_keytab("HTTP/localhost", "http.keytab");
    let dir = TempDir::new("seamless-e2e-samba");
    let password = dir.path().join("bind.pw");
    std::fs::write(&password, seamless_interop::samba::ADMIN_PASSWORD).expect("password");
    let config = dir.path().join("seamless.toml");
    std::fs::write(
        &config,
        format!(
            "[kerberos]\nkeytab = \"{}\"\nrequire_pac = true\n\
             [directory.ldap]\nurl = \"ldaps://127.0.0.1:636\"\nca_file = \"{}\"\n\
             bind_dn = \"Administrator@ad.test\"\nbind_password_file = \"{}\"\nbase_dn = \"DC=ad,DC=test\"\n\
             [passwords]\nldap_bind = true\n",
            keytab.display(),
            dc.ca_file().display(),
            password.display()
        ),
    )
    .expect("config");
    let app = start(
        APPS[0].1,
        &[("SEAMLESS_CONFIG", config.display().to_string())],
    );
    let page = format!("http://localhost:{}/me", app.port);
    let krb5_conf = dc.krb5_conf();

    let ccache = dc.kinit("alice", "Al1ce-Passw0rd!", "alice.cc");
    let mut browser = Browser::launch(&krb5_conf, &ccache);
    let started = Instant::now();
    browser.navigate(&page);
    let text = browser.wait_for_text("Hello, Alice Liddell!");
    eprintln!(
        "Chromium signed in against Samba AD in {:?}",
        started.elapsed()
    );
    assert!(
        text.contains("seamlessly, with Windows (Kerberos)"),
        "{text}"
    );
    assert!(text.contains("alice@ad.test"), "{text}");
    drop(browser);

    // The second browser, on the same deployment.
    if require(&["firefox-esr"]) {
        let mut firefox = Firefox::launch(&krb5_conf, &ccache);
        let started = Instant::now();
        firefox.navigate(&page);
        let text = firefox.wait_for_text("Hello, Alice Liddell!");
        eprintln!(
            "Firefox signed in against Samba AD in {:?}",
            started.elapsed()
        );
        assert!(
            text.contains("seamlessly, with Windows (Kerberos)"),
            "{text}"
        );
    }

    let mut browser = Browser::launch(&krb5_conf, &dir.path().join("empty.ccache"));
    browser.navigate(&page);
    browser.wait_for_text("Password");
    browser.eval(
        "document.querySelector('#u').value = 'alice@ad.test';\
         document.querySelector('#p').value = 'Al1ce-Passw0rd!';\
         document.querySelector('form').submit(); true",
    );
    let text = browser.wait_for_text("Hello, Alice Liddell!");
    assert!(text.contains("with a password"), "{text}");
}
