//! Rocket's `Shield`, which `rocket::build()` attaches, and the core's answers:
//! the core's security headers stand, once each, and Shield has nothing to warn
//! about. Alone in its binary: it installs the process's `log` logger.

use std::sync::Mutex;

use rocket::local::blocking::{Client, LocalResponse};
use rocket::{get, routes};
use seamless_conformance::Fixture;
use seamless_conformance::cases::authorize_uri;
use seamless_rocket::{Seamless, SignedIn};

#[get("/me")]
fn me(user: SignedIn) -> String {
    user.0.claims.upn
}

/// Every `log` record, as "LEVEL target: message".
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn flush(&self) {}
}

static RECORDS: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn shield_finds_nothing_to_warn_about_and_the_core_s_headers_stand() {
    log::set_logger(&RECORDS).expect("the only logger");
    log::set_max_level(log::LevelFilter::Trace);
    let fx = Fixture::new();
    let rocket = rocket::build()
        .attach(Seamless::fairing(fx.provider.clone()))
        .mount("/", routes![me]);
    let client = Client::untracked(rocket).expect("rocket");

    let page = client.get(authorize_uri("spa", &[])).dispatch();
    let discovery = client.get("/.well-known/openid-configuration").dispatch();
    // A guard's refusal: the core's answer in place of the catcher's.
    let refused = client.get("/me").dispatch();
    // What the head alone refuses, before the body is read.
    let wrong_method = client.delete("/token").dispatch();
    assert_eq!(wrong_method.status().code, 405);
    assert_eq!(page.status().code, 200);
    assert_eq!(discovery.status().code, 200);
    assert_eq!(refused.status().code, 303);
    let values =
        |r: &LocalResponse<'_>, name| r.headers().get(name).map(str::to_owned).collect::<Vec<_>>();
    // The core's values, not Shield's (`SAMEORIGIN`), and each once.
    assert_eq!(values(&page, "X-Frame-Options"), ["DENY"]);
    for r in [&page, &discovery, &refused, &wrong_method] {
        assert_eq!(values(r, "X-Content-Type-Options"), ["nosniff"]);
        assert_eq!(values(r, "Referrer-Policy"), ["same-origin"]);
        // What Shield adds and the core does not say still comes.
        assert_eq!(values(r, "Permissions-Policy").len(), 1);
    }

    let shield_warnings = || {
        let records = RECORDS.0.lock().unwrap_or_else(|p| p.into_inner());
        assert!(!records.is_empty(), "the logger saw rocket's launch");
        let warned = |l: &&String| l.starts_with("WARN rocket::shield");
        records.iter().filter(warned).cloned().collect::<Vec<_>>()
    };
    let shield = shield_warnings();
    assert!(shield.is_empty(), "{shield:#?}");

    // A Shield attached after the fairing runs after it: the core's headers
    // still stand, and Shield says so (the crate's documentation tells).
    let late = rocket::build()
        .attach(Seamless::fairing(fx.provider.clone()))
        .attach(rocket::shield::Shield::default());
    let client = Client::untracked(late).expect("rocket");
    let page = client.get(authorize_uri("spa", &[])).dispatch();
    assert_eq!(values(&page, "X-Frame-Options"), ["DENY"]);
    assert_eq!(values(&page, "X-Content-Type-Options"), ["nosniff"]);
    assert!(!shield_warnings().is_empty());
}
