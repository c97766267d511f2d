//! Our acceptor against tickets from a real MIT KDC, obtained by a real GSSAPI
//! client (curl --negotiate). Nobody on this project wrote either.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use seamless_core::kerberos::{
    Acceptor, AcceptorConfig, Etype, KerberosError, Key, KeyRing, Mechanism, MemoryReplayCache,
    keytab, principal_salt,
};
use seamless_core::testkit::verify_response;
use seamless_interop::MitRealm;

fn ring(path: &std::path::Path) -> KeyRing {
    let entries = keytab::parse(&std::fs::read(path).expect("keytab")).expect("parse keytab");
    KeyRing::from_keytab(&entries).expect("ring")
}

/// Gets a curl token for `host` while answering with our acceptor's verdict, so
/// curl itself checks our AP-REP (it requests mutual authentication).
fn token_checked_by_curl(
    realm: &MitRealm,
    ccache: &std::path::Path,
    host: &str,
    ring: KeyRing,
    acceptor: Acceptor,
) -> (
    String,
    Result<seamless_core::kerberos::ValidatedTicket, KerberosError>,
    bool,
) {
    let verdict = Arc::new(Mutex::new(None));
    let v = verdict.clone();
    let (token, curl_ok) = realm.curl_negotiate(ccache, host, move |token| {
        let result = acceptor.validate(token.as_bytes(), &ring, SystemTime::now());
        let reply = match &result {
            Ok(t) => (200, t.response_token.clone()),
            Err(_) => (401, None),
        };
        *v.lock().expect("lock") = Some(result);
        reply
    });
    let result = verdict
        .lock()
        .expect("lock")
        .take()
        .expect("server saw a token");
    (token.expect("curl sent Negotiate"), result, curl_ok)
}

#[test]
fn mit_tickets_for_every_etype_validate_and_curl_accepts_our_ap_rep() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    realm.add_user("alice", "alice-pw-1");
    let ccache = realm.kinit("alice", "alice-pw-1");
    let cases = [
        (
            "aes256.test",
            "aes256-cts-hmac-sha1-96:normal",
            Etype::Aes256CtsHmacSha196,
        ),
        (
            "aes128.test",
            "aes128-cts-hmac-sha1-96:normal",
            Etype::Aes128CtsHmacSha196,
        ),
        (
            "sha384.test",
            "aes256-cts-hmac-sha384-192:normal",
            Etype::Aes256CtsHmacSha384192,
        ),
        (
            "sha256.test",
            "aes128-cts-hmac-sha256-128:normal",
            Etype::Aes128CtsHmacSha256128,
        ),
    ];
    for (host, enctypes, etype) in cases {
        let keytab = realm.add_service(&format!("HTTP/{host}"), Some(enctypes));
        let (_, result, curl_ok) =
            token_checked_by_curl(&realm, &ccache, host, ring(&keytab), Acceptor::default());
        let t = result.unwrap_or_else(|e| panic!("{host}: {e} ({})", e.reason()));
        assert_eq!(t.client.to_string(), "alice@EXAMPLE.TEST");
        assert_eq!(t.service.to_string(), format!("HTTP/{host}@EXAMPLE.TEST"));
        assert_eq!(t.etype, etype, "{host}");
        assert_eq!(t.mechanism, Mechanism::SpnegoKrb5);
        assert!(t.gss_flags.mutual(), "curl asks for mutual authentication");
        // MIT's PAC: CLIENT_INFO and signatures, no LOGON_INFO, so no SID.
        let pac = t.pac.as_ref().expect("MIT 1.20 issues a PAC");
        assert!(pac.logon_info.is_none() && pac.user_sid().is_none());
        assert!(
            pac.client_info
                .as_ref()
                .is_some_and(|c| c.auth_time == Some(t.auth_time))
        );
        assert!(
            curl_ok,
            "{host}: curl rejected our AP-REP (mutual authentication)"
        );
        let echoed = verify_response(
            t.response_token.as_deref().expect("AP-REP"),
            t.session_key(),
        )
        .expect("AP-REP");
        assert_eq!(echoed.0, t.replay.ctime);
    }
}

#[test]
fn mit_rc4_service_needs_rc4_enabled() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    realm.add_user("alice", "alice-pw-1");
    let ccache = realm.kinit("alice", "alice-pw-1");
    let keytab = realm.add_service("HTTP/rc4.test", Some("rc4-hmac:normal"));
    let (token, result, _) = token_checked_by_curl(
        &realm,
        &ccache,
        "rc4.test",
        ring(&keytab),
        Acceptor::default(),
    );
    assert_eq!(
        result.expect_err("RC4 off by default"),
        KerberosError::EtypeNotAllowed { etype: 23 }
    );
    let rc4 = Acceptor::new(AcceptorConfig {
        allow_rc4: true,
        ..Default::default()
    });
    let t = rc4
        .validate(token.as_bytes(), &ring(&keytab), SystemTime::now())
        .expect("RC4 when enabled");
    assert_eq!(t.etype, Etype::Rc4Hmac);
    assert_eq!(
        t.session_etype,
        Etype::Aes256CtsHmacSha196,
        "MIT gives RC4 services an AES session key"
    );
}

#[tokio::test]
async fn mit_token_with_wrong_keytab_or_replayed_is_refused() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    realm.add_user("alice", "alice-pw-1");
    let ccache = realm.kinit("alice", "alice-pw-1");
    let keytab = realm.add_service("HTTP/localhost", None);
    let (token, result, _) = token_checked_by_curl(
        &realm,
        &ccache,
        "localhost",
        ring(&keytab),
        Acceptor::default(),
    );
    result.expect("valid with the right keytab");

    // Re-keying the service in the KDC makes the exported keytab wrong for new tickets.
    realm.kadmin("cpw -randkey HTTP/localhost");
    realm.kadmin("cpw -randkey HTTP/localhost");
    let fresh_ccache = realm.kinit("alice", "alice-pw-1");
    let (_, result, _) = token_checked_by_curl(
        &realm,
        &fresh_ccache,
        "localhost",
        ring(&keytab),
        Acceptor::default(),
    );
    let err = result.expect_err("old keytab");
    assert!(
        matches!(
            err,
            KerberosError::NoKey { .. } | KerberosError::TicketIntegrity { .. }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), 81010);

    let cache = MemoryReplayCache::new(1024, seamless_now() - 60);
    let a = Acceptor::default();
    a.accept(token.as_bytes(), &ring(&keytab), &cache, SystemTime::now())
        .await
        .expect("first use");
    let err = a
        .accept(token.as_bytes(), &ring(&keytab), &cache, SystemTime::now())
        .await
        .expect_err("replay");
    assert_eq!(err, KerberosError::Replay);
}

fn seamless_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn string_to_key_matches_mit_for_every_etype() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    let password = "Päss-wörd-123";
    realm.add_user("bob", password);
    let path = realm.dir().join("bob.keytab");
    realm.kadmin(&format!("ktadd -norandkey -k {} bob", path.display()));
    let entries = keytab::parse(&std::fs::read(&path).expect("keytab")).expect("parse");
    let mut seen = Vec::new();
    for entry in &entries {
        let key = entry.key.as_ref().expect("implemented etype");
        let salt = principal_salt(&entry.principal);
        let ours = Key::from_password(key.etype(), password, &salt).expect("derive");
        assert!(ours.ct_eq(key), "{} differs from MIT", key.etype());
        seen.push(key.etype());
    }
    seen.sort();
    assert_eq!(
        seen,
        {
            let mut all = Etype::ALL.to_vec();
            all.sort();
            all
        },
        "MIT exported all five types"
    );
}

#[test]
fn keytab_written_by_us_round_trips_through_mit_klist() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    let path = realm.add_service("HTTP/localhost", None);
    let entries = keytab::parse(&std::fs::read(&path).expect("keytab")).expect("parse");
    let ours = realm.dir().join("ours.keytab");
    std::fs::write(&ours, keytab::write(&entries)).expect("write");
    let listed = String::from_utf8(
        realm
            .cmd("klist")
            .args(["-k", "-e", "-K"])
            .arg(&ours)
            .output()
            .expect("klist")
            .stdout,
    )
    .expect("utf8");
    let original = String::from_utf8(
        realm
            .cmd("klist")
            .args(["-k", "-e", "-K"])
            .arg(&path)
            .output()
            .expect("klist")
            .stdout,
    )
    .expect("utf8");
    let strip = |s: &str| s.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(strip(&listed), strip(&original));
    assert_eq!(strip(&listed).len(), 2 + entries.len());
}
