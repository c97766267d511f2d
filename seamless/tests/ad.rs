//! `seamless ad setup`, `decode` and `ad rollover` against a real Samba AD DC:
//! the account is created hardened, tickets Samba issues for it validate with the
//! keytab the CLI wrote, and a rollover under a steady stream of validations and
//! of fresh tickets refuses nothing — then refuses to run twice.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use seamless_core::Engine;
use seamless_core::backends::{KeytabFileKeyStore, StaticDirectory};
use seamless_core::kerberos::{Acceptor, KerberosError};
use seamless_interop::curl_negotiate;
use seamless_interop::samba::{ADMIN_PASSWORD, SambaDc};

fn seamless(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(args)
        .env("SEAMLESS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .expect("run seamless");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn connection<'a>(ca: &'a str, keytab: &'a str) -> Vec<&'a str> {
    vec![
        "--json",
        "--realm",
        "AD.TEST",
        "--dc",
        "ldaps://127.0.0.1:636",
        "--ca-file",
        ca,
        "--admin",
        "Administrator@ad.test",
        "--name",
        "SEAMLESSSSO",
        "--keytab",
        keytab,
    ]
}

fn token(dc: &SambaDc, cache: &str) -> String {
    let ccache = dc.kinit("alice", "Al1ce-Passw0rd!", cache);
    curl_negotiate(&dc.krb5_conf(), &ccache, "app.ad.test", |_| (200, None))
        .0
        .expect("token")
}

fn kvno_of(keytab: &Path, token: &str) -> u32 {
    let (code, json, all) = seamless(&[
        "decode",
        "--json",
        "--keytab",
        keytab.to_str().expect("utf8"),
        token,
    ]);
    assert!(json["kvno"].is_u64(), "{code} {all}");
    json["kvno"].as_u64().unwrap_or(0) as u32
}

#[test]
fn setup_decode_and_rollover_against_samba_ad() {
    let Some(dc) = SambaDc::start() else { return };
    dc.tool(&["user", "create", "alice", "Al1ce-Passw0rd!"]);
    let sid = dc.attribute("alice", "objectSid").expect("sid");
    let ca = dc.ca_file().display().to_string();
    let keytab = dc.dir().join("seamless.keytab");
    let kt = keytab.display().to_string();

    // A keytab path that cannot be written is refused before AD is touched.
    let mut bad = vec!["ad", "setup"];
    bad.extend(connection(&ca, "/etc/hostname/seamless.keytab"));
    bad.extend(["--host", "app.ad.test"]);
    let (code, _, all) = seamless(&bad);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("nothing was changed in AD"), "{all}");
    let computers = dc.tool(&["computer", "list"]);
    assert!(
        !computers.to_ascii_uppercase().contains("SEAMLESSSSO"),
        "no account left behind: {computers}"
    );

    // Setup creates a hardened account and writes its keys.
    let mut args = vec!["ad", "setup"];
    args.extend(connection(&ca, &kt));
    args.extend(["--host", "app.ad.test"]);
    let (code, json, all) = seamless(&args);
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["status"], "created", "{all}");
    assert_eq!(json["account"]["aes_only"], true);
    assert_eq!(json["account"]["no_delegation"], true);
    let kvno1 = json["account"]["kvno"].as_u64().expect("kvno") as u32;
    let domain = sid
        .rsplit_once('-')
        .map(|(d, _)| d.to_string())
        .expect("domain");
    assert_eq!(
        json["account"]["domain_sid"].as_str(),
        Some(domain.as_str()),
        "the account's own domain"
    );
    let manifest = std::fs::read_to_string(format!("{kt}.ring.json")).expect("manifest");
    assert!(
        manifest.contains(&domain),
        "users are restricted to the account's domain: {manifest}"
    );
    assert_eq!(
        dc.computer_attribute("SEAMLESSSSO", "msDS-SupportedEncryptionTypes")
            .as_deref(),
        Some("24")
    );
    assert_eq!(
        dc.computer_attribute("SEAMLESSSSO", "userAccountControl")
            .as_deref(),
        Some("4096"),
        "no delegation flags"
    );
    // Idempotent: a second run reports and changes nothing.
    let (code, json, all) = seamless(&args);
    assert_eq!(
        (code, json["status"].as_str()),
        (0, Some("exists")),
        "{all}"
    );
    assert_eq!(json["account"]["kvno"].as_u64(), Some(u64::from(kvno1)));
    // From a keytab that holds no key for the account, a re-run says how to
    // recover instead of "nothing changed".
    let elsewhere = dc.dir().join("elsewhere.keytab").display().to_string();
    let mut other = vec!["ad", "setup"];
    other.extend(connection(&ca, &elsewhere));
    other.extend(["--host", "app.ad.test"]);
    let (code, _, all) = seamless(&other);
    assert_eq!(code, 2, "{all}");
    assert!(
        all.contains("holds no key for it") && all.contains("--force"),
        "{all}"
    );

    // A ticket from Samba's KDC for the SPN validates with the keytab setup wrote.
    let t1 = token(&dc, "t1.cc");
    let (code, json, all) = seamless(&["validate", "--json", "--keytab", &kt, &t1]);
    assert_eq!((code, json["valid"].as_bool()), (0, Some(true)), "{all}");
    assert_eq!(json["pac"]["user_sid"].as_str(), Some(sid.as_str()));
    assert_eq!(json["etype"], "aes256-cts-hmac-sha1-96");
    // decode shows the same SID and the kvno.
    let (code, json, all) = seamless(&["decode", "--json", "--keytab", &kt, &t1]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(
        json["ticket"]["pac"]["user_sid"].as_str(),
        Some(sid.as_str())
    );
    assert_eq!(json["kvno"].as_u64(), Some(u64::from(kvno1)));

    // A scheduler's run with --if-older-than leaves a fresh key alone.
    let mut fresh = vec!["ad", "rollover"];
    fresh.extend(connection(&ca, &kt));
    fresh.extend(["--if-older-than", "30d"]);
    let (code, json, all) = seamless(&fresh);
    assert_eq!((code, json["status"].as_str()), (0, Some("fresh")), "{all}");

    // Rollover under two steady streams, both through an engine whose key store
    // re-reads the keytab on its default 5 s interval (as a running server does):
    // the old ticket validated again and again, and fresh tickets fetched from
    // the KDC one after another, so some are issued the instant AD changes the
    // password. None may be refused.
    let store = Arc::new(KeytabFileKeyStore::open(&keytab).expect("store"));
    let engine = Engine::builder()
        .keys(store.clone())
        .directory(StaticDirectory::from_text("").expect("directory"))
        .dangerous()
        .no_passwords()
        .build()
        .expect("engine");
    let stop = Arc::new(AtomicBool::new(false));
    let old_stream = {
        let (stop, t1) = (stop.clone(), t1.clone());
        std::thread::spawn(move || {
            let acceptor = Acceptor::default();
            let (mut checks, mut failures) = (0usize, 0usize);
            while !stop.load(Ordering::SeqCst) {
                if acceptor
                    .validate(t1.as_bytes(), &store.current(), SystemTime::now())
                    .is_err()
                {
                    failures += 1;
                }
                checks += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            (checks, failures)
        })
    };
    let fresh_stream = {
        let (stop, engine) = (stop.clone(), engine.clone());
        let tgt = dc.kinit("alice", "Al1ce-Passw0rd!", "stream-tgt.cc");
        let (krb5_conf, dir) = (dc.krb5_conf(), dc.dir().to_path_buf());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            let mut kvnos = std::collections::BTreeMap::<u32, usize>::new();
            let mut refused = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                // A copy of the TGT-only cache: the next request asks the KDC anew.
                let cache = dir.join(format!("stream-{n}.cc"));
                std::fs::copy(&tgt, &cache).expect("copy the TGT");
                let (token, _) = curl_negotiate(&krb5_conf, &cache, "app.ad.test", |_| (200, None));
                let token = token.expect("curl sent a Negotiate token");
                match rt.block_on(engine.accept_token(token.as_bytes())) {
                    Ok(t) => *kvnos.entry(t.kvno).or_default() += 1,
                    Err(code) => refused.push(code.number()),
                }
                let _ = std::fs::remove_file(&cache);
                n += 1;
            }
            (kvnos, refused)
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let mut roll = vec!["ad", "rollover"];
    roll.extend(connection(&ca, &kt));
    roll.extend(["--wait-for-servers", "0s"]);
    let started = std::time::Instant::now();
    let (code, json, all) = seamless(&roll);
    let rolled_in = started.elapsed();
    // Fresh tickets keep coming for a second after the password changed.
    std::thread::sleep(Duration::from_secs(1));
    let t2 = token(&dc, "t2.cc");
    let acceptor = Acceptor::default();
    let store = Arc::new(
        KeytabFileKeyStore::open_with(&keytab, Vec::new(), Duration::ZERO).expect("store"),
    );
    let during = acceptor.validate(t2.as_bytes(), &store.current(), SystemTime::now());
    stop.store(true, Ordering::SeqCst);
    let (checks, failures) = old_stream.join().expect("old stream");
    let (kvnos, refused) = fresh_stream.join().expect("fresh stream");
    assert_eq!(code, 0, "{all}");
    assert_eq!(json["status"], "rolled", "{all}");
    let kvno2 = json["current"].as_u64().expect("current") as u32;
    assert_eq!(kvno2, kvno1 + 1);
    eprintln!(
        "rollover in {rolled_in:?}: old ticket checked {checks} times, {failures} refused; \
         fresh tickets by kvno {kvnos:?}, refused {refused:?}"
    );
    assert!(checks > 5, "the old-ticket stream ran");
    assert_eq!(failures, 0, "the old ticket was never refused");
    assert!(refused.is_empty(), "fresh tickets refused: {refused:?}");
    assert!(
        kvnos.get(&kvno1).is_some_and(|n| *n > 0) && kvnos.get(&kvno2).is_some_and(|n| *n > 0),
        "fresh tickets under both kvnos were accepted: {kvnos:?}"
    );
    assert!(during.is_ok(), "new-kvno ticket valid: {during:?}");
    assert_eq!(kvno_of(&keytab, &t2), kvno2);
    let (_, listed, _) = seamless(&["keytab", "list", "--json", &kt]);
    let states: Vec<(u64, String)> = listed
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| {
            r["principal"]
                .as_str()
                .is_some_and(|p| p.starts_with("SEAMLESSSSO$"))
                && r["etype"] == "aes256-cts-hmac-sha1-96"
        })
        .map(|r| {
            (
                r["kvno"].as_u64().unwrap_or(0),
                r["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (u64::from(kvno1), "previous".to_string()),
            (u64::from(kvno2), "current".to_string())
        ]
    );

    // Rolling again while the previous key is live is refused.
    let (code, _, all) = seamless(&roll);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("refusing to roll again"), "{all}");

    // An emergency rollover drops every old key at once.
    let mut emergency = roll.clone();
    emergency.push("--emergency");
    let (code, json, all) = seamless(&emergency);
    assert_eq!(
        (code, json["status"].as_str()),
        (0, Some("rolled")),
        "{all}"
    );
    let ring = store.current();
    for old in [&t1, &t2] {
        let err = acceptor
            .validate(old.as_bytes(), &ring, SystemTime::now())
            .expect_err("old keys dropped");
        assert!(matches!(err, KerberosError::NoKey { .. }), "{err:?}");
    }
    let t3 = token(&dc, "t3.cc");
    assert!(
        acceptor
            .validate(t3.as_bytes(), &store.current(), SystemTime::now())
            .is_ok()
    );
}
