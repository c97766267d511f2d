//! Our acceptor against a real Active Directory KDC (Samba): AD PACs with SIDs,
//! the RC4 legacy default, and a real key rollover (kvno bump).

use std::time::{Duration, SystemTime};

use seamless_core::kerberos::{
    Acceptor, AcceptorConfig, Etype, KerberosError, KeyRing, KeyState, ServiceAccount,
    ValidatedTicket, keytab,
};
use seamless_interop::curl_negotiate;
use seamless_interop::samba::SambaDc;

const SPN: &str = "HTTP/app.ad.test";

fn entries(path: &std::path::Path) -> Vec<keytab::KeytabEntry> {
    keytab::parse(&std::fs::read(path).expect("keytab")).expect("parse keytab")
}

/// The token curl sends for `app.ad.test` from `ccache`.
fn token(dc: &SambaDc, ccache: &std::path::Path) -> String {
    let (token, _) = curl_negotiate(&dc.krb5_conf(), ccache, "app.ad.test", |_| (200, None));
    token.expect("curl sent a Negotiate token")
}

fn validate(
    acceptor: &Acceptor,
    token: &str,
    ring: &KeyRing,
    now: SystemTime,
) -> Result<ValidatedTicket, KerberosError> {
    acceptor.validate(token.as_bytes(), ring, now)
}

#[test]
fn samba_ad_tickets_sids_rc4_and_rollover() {
    let Some(dc) = SambaDc::start() else { return };
    dc.add_person("alice", "Al1ce-Passw0rd!", "Alice", "Liddell");
    dc.tool(&["user", "create", "httpsvc", "Svc-Passw0rd-1!"]);
    dc.tool(&["spn", "add", SPN, "httpsvc"]);
    let object_sid = dc.attribute("alice", "objectSid").expect("objectSid");
    let rc4 = Acceptor::new(AcceptorConfig {
        allow_rc4: true,
        require_pac: true,
        ..Default::default()
    });
    let aes_only = Acceptor::new(AcceptorConfig {
        require_pac: true,
        ..Default::default()
    });

    // 1. Without msDS-SupportedEncryptionTypes, AD issues RC4 service tickets.
    let legacy =
        KeyRing::from_keytab(&entries(&dc.export_keytab(SPN, "rc4.keytab"))).expect("ring");
    let t_rc4 = token(&dc, &dc.kinit("alice", "Al1ce-Passw0rd!", "rc4.cc"));
    assert_eq!(
        validate(&aes_only, &t_rc4, &legacy, SystemTime::now()).expect_err("RC4 off"),
        KerberosError::EtypeNotAllowed { etype: 23 }
    );
    let t = validate(&rc4, &t_rc4, &legacy, SystemTime::now()).expect("RC4 accepted when enabled");
    assert_eq!(t.etype, Etype::Rc4Hmac);
    let pac = t.pac.as_ref().expect("AD PAC");
    assert_eq!(
        pac.user_sid().map(ToString::to_string),
        Some(object_sid.clone()),
        "PAC SID == objectSid"
    );
    assert_eq!(pac.server_checksum_type, -138);
    let logon = pac.logon_info.as_ref().expect("LOGON_INFO");
    assert_eq!(logon.effective_name, "alice");
    assert_eq!(logon.logon_domain_name, "AD");
    let domain_users = format!("{}-513", logon.domain_sid);
    assert!(
        pac.group_sids()
            .iter()
            .any(|g| g.to_string() == domain_users),
        "Domain Users in groups"
    );
    let upn = pac.upn_dns_info.as_ref().expect("UPN_DNS_INFO");
    assert_eq!(upn.dns_domain.to_ascii_lowercase(), "ad.test");
    assert_eq!(
        upn.sid.as_ref().map(ToString::to_string),
        Some(object_sid.clone())
    );
    assert!(pac.buffer_types.contains(&1) && pac.buffer_types.contains(&12));

    // 2. AES only, then two password changes: kvno N (old) and N+1 (new).
    dc.set_enctypes("httpsvc", 24);
    dc.tool(&[
        "user",
        "setpassword",
        "httpsvc",
        "--newpassword=Svc-Passw0rd-2!",
    ]);
    let old_keys = entries(&dc.export_keytab(SPN, "old.keytab"));
    let t_old = token(&dc, &dc.kinit("alice", "Al1ce-Passw0rd!", "old.cc"));
    dc.tool(&[
        "user",
        "setpassword",
        "httpsvc",
        "--newpassword=Svc-Passw0rd-3!",
    ]);
    let new_keys = entries(&dc.export_keytab(SPN, "new.keytab"));
    let t_new = token(&dc, &dc.kinit("alice", "Al1ce-Passw0rd!", "new.cc"));
    let old_kvno = old_keys.first().expect("old key").kvno;
    let new_kvno = new_keys.first().expect("new key").kvno;
    assert_eq!(new_kvno, old_kvno + 1, "setpassword bumps the kvno");
    let kvno_attr: u32 = dc
        .attribute("httpsvc", "msDS-KeyVersionNumber")
        .expect("kvno")
        .parse()
        .expect("number");
    assert_eq!(kvno_attr, new_kvno);

    let now = SystemTime::now();
    let unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let ring_with_previous = |not_after: i64| {
        let mut account = ServiceAccount::new(format!("{SPN}@AD.TEST").parse().expect("spn"));
        for e in &new_keys {
            account = account
                .with_key(e.kvno, e.key.clone().expect("key"), KeyState::Current)
                .expect("key");
        }
        for e in &old_keys {
            let state = KeyState::Previous {
                not_after: Some(not_after),
            };
            account = account
                .with_key(e.kvno, e.key.clone().expect("key"), state)
                .expect("key");
        }
        KeyRing::new(vec![account])
    };
    let during = ring_with_previous(unix + 3600);
    let t = validate(&aes_only, &t_old, &during, now)
        .expect("old kvno accepted while previous is live");
    assert_eq!((t.kvno, t.etype), (old_kvno, Etype::Aes256CtsHmacSha196));
    assert!(matches!(t.key_state, KeyState::Previous { .. }));
    assert_eq!(
        t.pac
            .as_ref()
            .and_then(|p| p.user_sid())
            .map(ToString::to_string),
        Some(object_sid.clone())
    );
    assert_eq!(t.pac.as_ref().map(|p| p.server_checksum_type), Some(16));
    let t = validate(&aes_only, &t_new, &during, now).expect("new kvno accepted");
    assert_eq!((t.kvno, t.key_state), (new_kvno, KeyState::Current));

    let after = ring_with_previous(unix - 1);
    let err = validate(&aes_only, &t_old, &after, now + Duration::from_secs(1))
        .expect_err("previous expired");
    assert_eq!(
        err,
        KerberosError::NoKey {
            etype: 18,
            kvno: Some(old_kvno)
        },
        "previous key retired"
    );
    assert!(validate(&aes_only, &t_new, &after, now).is_ok());

    // The plain keytab view (highest kvno current, next one previous) also works.
    let mut both = old_keys.clone();
    both.extend(new_keys.iter().cloned());
    let from_file = KeyRing::from_keytab(&both).expect("ring");
    assert!(validate(&aes_only, &t_old, &from_file, now).is_ok());
}
