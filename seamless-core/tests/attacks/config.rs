//! Demo users and the dev realm exist only in dev mode, on a loopback origin.

use seamless_core::config::Settings;
use seamless_core::testkit::sim::block_on;

fn build(text: &str) -> Result<(), String> {
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("seamless-attacks-{}-{run}", std::process::id()));
    let keytab_out = format!("keytab_out = \"{}\"\n", dir.join("dev.keytab").display());
    let text = if text.contains("[dev]\n") {
        text.replace("[dev]\n", &format!("[dev]\n{keytab_out}"))
    } else {
        format!("{text}\n[dev]\n{keytab_out}")
    };
    let settings = Settings::parse(&text, []).map_err(|e| e.to_string())?;
    block_on(settings.build())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn keytab_file() -> std::path::PathBuf {
    let kdc = seamless_core::testkit::TestKdc::new(
        "AD.TEST",
        "HTTP/sso.example.com",
        seamless_core::kerberos::Etype::Aes256CtsHmacSha196,
    );
    let path = std::env::temp_dir().join(format!("seamless-attacks-{}.keytab", std::process::id()));
    std::fs::write(&path, kdc.keytab()).expect("keytab");
    path
}

#[test]
fn no_demo_users_or_dev_realm_on_a_public_origin() {
    let public = "[server]\npublic_origin = \"https://sso.example.com\"\n";
    let e = build(public).expect_err("no keytab on a public origin");
    assert!(e.contains("[kerberos] keytab"), "{e}");
    let keytab = keytab_file();
    let with_keytab = format!("{public}[kerberos]\nkeytab = \"{}\"\n", keytab.display());
    let e = build(&with_keytab).expect_err("no directory");
    assert!(e.contains("[directory]"), "{e}");
    let e = build(&with_keytab.replace("[kerberos]", "[dev]\nenabled = true\n[kerberos]"))
        .expect_err("dev mode asked for on a public origin");
    assert!(e.contains("[dev] enabled"), "{e}");
    let _ = std::fs::remove_file(keytab);
}

#[test]
fn dev_mode_on_loopback_still_starts() {
    build("").expect("the demo on embedded defaults");
    build("[server]\npublic_origin = \"http://localhost:9999\"\n").expect("loopback");
}
