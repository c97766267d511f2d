//! The same MIT-issued SPNEGO token validated by the pure-Rust acceptor and by the
//! system GSSAPI (cross-krb5), one core, replay caches off in both.
//!
//! GSSAPI takes its keytab from `KRB5_KTNAME`, which must be set before the
//! library loads, so the bench starts an MIT realm, captures a token with curl and
//! re-runs itself with that environment.

use std::hint::black_box;
use std::process::Command;
use std::time::SystemTime;

use criterion::Criterion;
use seamless_core::kerberos::{Acceptor, KeyRing, keytab};

fn main() {
    match (
        std::env::var("SEAMLESS_BENCH_KEYTAB"),
        std::env::var("SEAMLESS_BENCH_TOKEN"),
    ) {
        (Ok(keytab_path), Ok(token)) => run(&keytab_path, &token),
        _ => prepare_and_rerun(),
    }
}

fn prepare_and_rerun() {
    let Some(realm) = seamless_interop::MitRealm::start() else {
        return;
    };
    realm.add_user("alice", "alice-pw-1");
    let keytab = realm.add_service("HTTP/localhost", None);
    let ccache = realm.kinit("alice", "alice-pw-1");
    let (token, _) = realm.curl_negotiate(&ccache, "localhost", |_| (200, None));
    let status = Command::new(std::env::current_exe().expect("exe"))
        .args(std::env::args().skip(1))
        .env("SEAMLESS_BENCH_KEYTAB", &keytab)
        .env("SEAMLESS_BENCH_TOKEN", token.expect("curl token"))
        .env("KRB5_KTNAME", format!("FILE:{}", keytab.display()))
        .env("KRB5_CONFIG", realm.dir().join("krb5.conf"))
        .env("KRB5RCACHETYPE", "none")
        .status()
        .expect("rerun");
    assert!(status.success());
}

fn run(keytab_path: &str, token: &str) {
    let ring = KeyRing::from_keytab(
        &keytab::parse(&std::fs::read(keytab_path).expect("keytab")).expect("parse"),
    )
    .expect("ring");
    let rust = Acceptor::default();
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("mit_token");
    group.bench_function("rust", |b| {
        b.iter(|| {
            black_box(rust.validate(black_box(token.as_bytes()), &ring, SystemTime::now()))
                .expect("valid")
        })
    });
    #[cfg(feature = "gssapi")]
    {
        let gss = seamless_core::kerberos::gssapi::GssapiAcceptor::new();
        group.bench_function("gssapi", |b| {
            b.iter(|| {
                black_box(gss.accept_b64(black_box(token.as_bytes()), SystemTime::now()))
                    .expect("valid")
            })
        });
    }
    group.finish();
    c.final_summary();
}
