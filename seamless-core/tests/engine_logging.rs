//! Logging of sign-in attempts, in its own test binary: tracing caches each
//! call site's interest process-wide, which races with tests running in parallel
//! without a subscriber.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use seamless_core::backends::RulePolicy;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn one_event_per_attempt_and_no_secret_in_any_log_line() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let w = world(RulePolicy {
        mfa_groups: vec!["mfa".into()],
        ..Default::default()
    });
    let token = w.token("bob", 1106);
    let code = w.totp();
    tracing::subscriber::with_default(subscriber, || {
        let step = w.negotiate(&w.start(Some("bob@ad.test")), Some(&token));
        w.mfa(&step, &code);
        let form = w.negotiate(
            &w.start(Some("alice@ad.test")),
            Some("TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="),
        );
        w.password(&form, "alice@ad.test", "alice-pw");
    });
    let text = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    let attempts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("sign-in attempt"))
        .collect();
    assert_eq!(attempts.len(), 3, "{text}");

    assert!(
        attempts[0].contains("outcome=\"completed\"")
            && attempts[0].contains(&format!("{DOMAIN}-1106")),
        "{}",
        attempts[0]
    );
    assert!(
        attempts[0].contains("kvno=2") && attempts[0].contains("aes256"),
        "{}",
        attempts[0]
    );
    assert!(
        attempts[1].contains("outcome=\"fallback\"") && attempts[1].contains("code=81005"),
        "{}",
        attempts[1]
    );
    for secret in [
        token.as_str(),
        &token[..40],
        code.as_str(),
        "alice-pw",
        TOTP_SECRET,
        "TlRMTVNT",
    ] {
        assert!(!text.contains(secret), "log leaks {secret:?}:\n{text}");
    }
    let key_hex: String = w
        .kdc
        .key()
        .expose_secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!text.contains(&key_hex));
}
