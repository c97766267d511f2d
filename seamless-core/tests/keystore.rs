//! The keytab file key store: hot reload, last-good retention.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use seamless_core::backends::{KeyStore, KeytabFileKeyStore};
use seamless_core::engine::View;
use seamless_core::error::BackendErrorKind;
use seamless_core::kerberos::{Acceptor, Etype, Key, keytab};
use seamless_core::testkit::world::{DOMAIN, SERVICE, World};
use seamless_core::testkit::{PacSpec, Shown, StepExt as _, TestKdc, TicketSpec};

fn write_keytab(path: &std::path::Path, kdc: &TestKdc) {
    write_keys(path, &[kdc]);
}

fn write_keys(path: &std::path::Path, kdcs: &[&TestKdc]) {
    let entries: Vec<_> = kdcs
        .iter()
        .map(|kdc| keytab::KeytabEntry {
            principal: kdc.service().clone(),
            timestamp: 0,
            kvno: kdc.kvno(),
            key: Ok(kdc.key().clone()),
        })
        .collect();
    // Write then rename, as a careful operator tool does.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, keytab::write(&entries)).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A rollover at its worst moment: the next key has just been written to the
/// keytab and AD at once issues tickets under it, well inside the server's 5 s
/// re-read interval. A ticket naming a kvno the ring does not hold makes the
/// store re-read the file now, so the sign-in completes; a kvno that is nowhere
/// still falls back (81010), and re-reading for it is rate-limited.
#[test]
fn a_ticket_under_a_just_installed_kvno_signs_in_at_once() {
    let dir = std::env::temp_dir().join(format!("seamless-rollover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("http.keytab");
    let key = |b: u8| Key::new(Etype::Aes256CtsHmacSha196, &[b; 32]).expect("key");
    let current = TestKdc::with_key("AD.TEST", SERVICE, key(0x21), 2);
    let next = TestKdc::with_key("AD.TEST", SERVICE, key(0x22), 3);
    let stranger = TestKdc::with_key("AD.TEST", SERVICE, key(0x23), 9);
    write_keys(&path, &[&current]);
    let store = Arc::new(KeytabFileKeyStore::open(&path).expect("open"));
    let w = World::builder()
        .provider(move |b| b.keys(store.clone()))
        .build();
    let sign_in = |kdc: &TestKdc| {
        let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
        let mut spec = TicketSpec::new("alice", w.now()).with_pac(pac);
        spec.cusec = kdc.kvno();
        let token = kdc.mint(&spec).expect("mint").token;
        let step = w.start(Some("alice@ad.test"));
        w.negotiate(&step, Some(&token)).shown()
    };
    assert!(matches!(sign_in(&current), Shown::Completed(_)));

    write_keys(&path, &[&current, &next]);
    let done = sign_in(&next);
    assert!(matches!(done, Shown::Completed(_)), "{done:?}");

    let refused = sign_in(&stranger);
    assert!(
        matches!(&refused, Shown::Page(View::Password { reason: Some(code), .. }) if code.number() == 81010),
        "{refused:?}"
    );
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

#[tokio::test]
async fn manifest_beside_the_keytab_sets_states_and_a_change_to_it_alone_reloads() {
    use seamless_core::backends::manifest_path;
    use seamless_core::kerberos::KeyState;
    use seamless_core::kerberos::manifest::{
        ManifestAccount, ManifestKey, ManifestState, RingManifest,
    };

    let dir = std::env::temp_dir().join(format!("seamless-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("http.keytab");
    let old = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
    let new = TestKdc::with_key(
        "AD.TEST",
        "HTTP/app.ad.test",
        TestKdc::new("AD.TEST", "x/y", Etype::Aes256CtsHmacSha196)
            .key()
            .clone(),
        3,
    );
    let entry = |kdc: &TestKdc| keytab::KeytabEntry {
        principal: kdc.service().clone(),
        timestamp: 0,
        kvno: kdc.kvno(),
        key: Ok(kdc.key().clone()),
    };
    std::fs::write(&path, keytab::write(&[entry(&old), entry(&new)])).expect("keytab");
    let write_manifest = |keys: Vec<ManifestKey>| {
        let m = RingManifest {
            version: 1,
            accounts: vec![ManifestAccount {
                principal: "HTTP/app.ad.test@AD.TEST".into(),
                aliases: vec!["HTTP/alias.ad.test@AD.TEST".into()],
                keys,
                domain_sids: Vec::new(),
            }],
        };
        std::fs::write(manifest_path(&path), serde_json::to_vec(&m).expect("json"))
            .expect("manifest");
    };
    let key = |kvno, state, not_after| ManifestKey {
        kvno,
        state,
        not_after,
    };
    write_manifest(vec![
        key(2, ManifestState::Current, None),
        key(3, ManifestState::Next, None),
    ]);
    let store = KeytabFileKeyStore::open_with(&path, Vec::new(), Duration::ZERO).expect("open");
    let states = |ring: &seamless_core::kerberos::KeyRing| -> Vec<(u32, KeyState)> {
        let mut v: Vec<(u32, KeyState)> = ring.accounts()[0]
            .keys()
            .iter()
            .map(|k| (k.kvno(), k.state()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    };
    let ring = store.key_ring().await.expect("ring");
    assert_eq!(
        states(&ring),
        vec![(2, KeyState::Current), (3, KeyState::Next)]
    );
    assert!(
        ring.accounts()[0]
            .names()
            .iter()
            .any(|n| n.to_string() == "HTTP/alias.ad.test@AD.TEST"),
        "aliases from the manifest"
    );
    let now = SystemTime::now();
    assert!(
        Acceptor::default()
            .validate(
                new.mint(&TicketSpec::new("alice", now))
                    .expect("mint")
                    .token
                    .as_bytes(),
                &ring,
                now
            )
            .is_ok(),
        "next is accepted"
    );

    // Promotion changes only the manifest; the store must notice.
    write_manifest(vec![
        key(3, ManifestState::Current, None),
        key(2, ManifestState::Previous, Some(1)),
    ]);
    let ring = store.key_ring().await.expect("ring");
    assert_eq!(
        states(&ring),
        vec![
            (2, KeyState::Previous { not_after: Some(1) }),
            (3, KeyState::Current)
        ]
    );
    let err = Acceptor::default().validate(
        old.mint(&TicketSpec::new("alice", now))
            .expect("mint")
            .token
            .as_bytes(),
        &ring,
        now,
    );
    assert!(err.is_err(), "previous past not_after refused");

    // A manifest naming a kvno the keytab lacks is refused (last good kept).
    write_manifest(vec![key(9, ManifestState::Current, None)]);
    assert_eq!(
        states(&store.key_ring().await.expect("ring")),
        vec![
            (2, KeyState::Previous { not_after: Some(1) }),
            (3, KeyState::Current)
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}
