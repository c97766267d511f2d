//! The keytab file key store: hot reload, last-good retention.

use std::time::{Duration, SystemTime};

use seamless_core::backends::{KeyStore, KeytabFileKeyStore};
use seamless_core::error::BackendErrorKind;
use seamless_core::kerberos::{Acceptor, Etype, keytab};
use seamless_core::testkit::{TestKdc, TicketSpec};

fn write_keytab(path: &std::path::Path, kdc: &TestKdc) {
    let entry = keytab::KeytabEntry {
        principal: kdc.service().clone(),
        timestamp: 0,
        kvno: kdc.kvno(),
        key: Ok(kdc.key().clone()),
    };
    // Write then rename, as a careful operator tool does.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, keytab::write(&[entry])).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test]
async fn changed_keytab_is_reloaded_and_a_broken_one_keeps_the_last_good_keys() {
    let dir = std::env::temp_dir().join(format!("seamless-keystore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("http.keytab");
    let first = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
    let second = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
    write_keytab(&path, &first);
    let store = KeytabFileKeyStore::open_with(&path, Vec::new(), Duration::ZERO).expect("open");
    let now = SystemTime::now();
    let acceptor = Acceptor::default();
    let token = |kdc: &TestKdc| {
        kdc.mint(&TicketSpec::new("alice", now))
            .expect("mint")
            .token
    };

    assert!(
        acceptor
            .validate(
                token(&first).as_bytes(),
                &store.key_ring().await.expect("ring"),
                now
            )
            .is_ok()
    );
    assert!(
        acceptor
            .validate(
                token(&second).as_bytes(),
                &store.key_ring().await.expect("ring"),
                now
            )
            .is_err()
    );

    write_keytab(&path, &second);
    let ring = store.key_ring().await.expect("ring");
    assert!(
        acceptor
            .validate(token(&second).as_bytes(), &ring, now)
            .is_ok(),
        "reloaded"
    );
    assert!(
        acceptor
            .validate(token(&first).as_bytes(), &ring, now)
            .is_err(),
        "old key gone"
    );

    std::fs::write(&path, b"\x05\x02\x00\x00\x00\x40truncated").expect("corrupt");
    let ring = store.key_ring().await.expect("still serving");
    assert!(
        acceptor
            .validate(token(&second).as_bytes(), &ring, now)
            .is_ok(),
        "last good keys kept"
    );

    let err = KeytabFileKeyStore::open(dir.join("absent.keytab")).expect_err("missing");
    assert_eq!(err.kind, BackendErrorKind::Unavailable);
    let err = KeytabFileKeyStore::open(&path).expect_err("corrupt");
    assert_eq!(err.kind, BackendErrorKind::Corrupt);
    let _ = std::fs::remove_dir_all(dir);
}
