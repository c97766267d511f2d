//! The acceptor against tokens from the test KDC: the happy paths for every
//! encryption type and wrapping, and every rejection path with its code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use seamless_core::kerberos::{
    Acceptor, AcceptorConfig, ChannelBindingPolicy, ChannelBindingState, Etype, KerberosError, Key,
    KeyRing, KeyState, Mechanism, MemoryReplayCache, PacError, PrincipalName, ServiceAccount, Sid,
};
use seamless_core::testkit::{
    Flaw, PacFlaw, PacSpec, TestKdc, TicketSpec, WINDOWS_GSS_FLAGS, Wrapping, verify_response,
};

const REALM: &str = "AD.TEST";
const SPN: &str = "HTTP/app.ad.test";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn domain() -> Sid {
    "S-1-5-21-1004336348-1177238915-682003330"
        .parse()
        .expect("sid")
}

fn kdc(etype: Etype) -> TestKdc {
    TestKdc::new(REALM, SPN, etype)
}

fn rc4_acceptor() -> Acceptor {
    Acceptor::new(AcceptorConfig {
        allow_rc4: true,
        ..Default::default()
    })
}

fn reject(acceptor: &Acceptor, kdc: &TestKdc, spec: TicketSpec) -> KerberosError {
    let minted = kdc.mint(&spec).expect("mint");
    acceptor
        .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
        .expect_err("must be rejected")
}

#[test]
fn every_etype_and_wrapping_validates() {
    for etype in Etype::ALL {
        for wrapping in [Wrapping::SpnegoMs, Wrapping::SpnegoKrb5, Wrapping::Raw] {
            let kdc = kdc(etype);
            let mut spec = TicketSpec::new("alice", now());
            spec.wrapping = wrapping;
            let minted = kdc.mint(&spec).expect("mint");
            let t = rc4_acceptor()
                .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
                .expect("valid");
            assert_eq!(t.client, PrincipalName::user("alice", REALM));
            assert_eq!(t.service.to_string(), format!("{SPN}@{REALM}"));
            assert_eq!(
                (t.etype, t.kvno, t.key_state),
                (etype, 2, KeyState::Current)
            );
            let expected = match wrapping {
                Wrapping::SpnegoMs => Mechanism::SpnegoMsKrb5,
                Wrapping::SpnegoKrb5 => Mechanism::SpnegoKrb5,
                Wrapping::Raw => Mechanism::RawKrb5,
            };
            assert_eq!(t.mechanism, expected);
            assert!(t.pac.is_none());
            assert_eq!(
                t.response_token.is_some(),
                wrapping != Wrapping::Raw,
                "SPNEGO always answers"
            );
        }
    }
}

#[test]
fn rc4_is_refused_unless_enabled() {
    let kdc = kdc(Etype::Rc4Hmac);
    let err = reject(&Acceptor::default(), &kdc, TicketSpec::new("alice", now()));
    assert_eq!(err, KerberosError::EtypeNotAllowed { etype: 23 });
    assert_eq!(err.code(), 81004);
    // An AES ticket with an RC4 session key is refused too.
    let kdc = self::kdc(Etype::Aes256CtsHmacSha196);
    let mut spec = TicketSpec::new("alice", now());
    spec.session_etype = Some(Etype::Rc4Hmac);
    assert_eq!(
        reject(&Acceptor::default(), &kdc, spec),
        KerberosError::EtypeNotAllowed { etype: 23 }
    );
}

#[test]
fn ad_pac_yields_sid_groups_and_upn() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let mut pac = PacSpec::new(domain(), 1105).with_upn("alice@ad.test");
    pac.extra_sids = vec!["S-1-18-1".parse().expect("sid")];
    pac.resource_groups = Some(("S-1-5-21-1-2-3".parse().expect("sid"), vec![1200, 1201]));
    pac.requestor = true;
    let minted = kdc
        .mint(&TicketSpec::new("alice", now()).with_pac(pac))
        .expect("mint");
    let t = Acceptor::default()
        .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
        .expect("valid");
    let pac = t.pac.expect("pac");
    let user: Sid = "S-1-5-21-1004336348-1177238915-682003330-1105"
        .parse()
        .expect("sid");
    assert_eq!(pac.user_sid(), Some(&user));
    let groups: Vec<String> = pac.group_sids().iter().map(ToString::to_string).collect();
    assert_eq!(
        groups,
        [
            "S-1-5-21-1004336348-1177238915-682003330-513",
            "S-1-5-21-1004336348-1177238915-682003330-1104",
            "S-1-18-1",
            "S-1-5-21-1-2-3-1200",
            "S-1-5-21-1-2-3-1201"
        ]
    );
    let upn = pac.upn_dns_info.as_ref().expect("upn");
    assert_eq!(
        (upn.upn.as_str(), upn.sam_name.as_deref()),
        ("alice@ad.test", Some("alice"))
    );
    let logon = pac.logon_info.as_ref().expect("logon");
    assert_eq!(
        (logon.effective_name.as_str(), logon.full_name.as_str()),
        ("alice", "Test User")
    );
    assert_eq!(logon.logon_domain_name, "EXAMPLE");
    assert_eq!(
        pac.buffer_types,
        vec![1, 10, 12, 18, 19, 6, 7],
        "unknown type 19 skipped, not refused"
    );
    assert!(pac.has_kdc_signature);
}

#[test]
fn pac_flaws_are_refused() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let cases = [
        (PacFlaw::BadServerSignature, PacError::BadServerSignature),
        (
            PacFlaw::ClientInfoName("mallory".into()),
            PacError::ClientInfoMismatch("name"),
        ),
        (
            PacFlaw::ClientInfoTime(1),
            PacError::ClientInfoMismatch("authtime"),
        ),
        (
            PacFlaw::UpnSidMismatch,
            PacError::SidMismatch("UPN_DNS_INFO"),
        ),
        (
            PacFlaw::SignatureType(Etype::Aes128CtsHmacSha196),
            PacError::SignatureType { found: 15 },
        ),
        (PacFlaw::NoServerSignature, PacError::NoServerSignature),
    ];
    for (flaw, expected) in cases {
        let pac = PacSpec::new(domain(), 1105)
            .with_upn("alice@ad.test")
            .with_flaw(flaw.clone());
        let err = reject(
            &Acceptor::default(),
            &kdc,
            TicketSpec::new("alice", now()).with_pac(pac),
        );
        assert_eq!(err, KerberosError::Pac(expected), "{flaw:?}");
        assert_eq!(err.code(), 81004);
    }
    // Without LOGON_INFO, the remaining buffers must still agree with each other.
    let mut pac = PacSpec::new(domain(), 1105)
        .with_upn("alice@ad.test")
        .with_flaw(PacFlaw::RequestorSidMismatch);
    pac.logon_info = false;
    pac.requestor = true;
    let err = reject(
        &Acceptor::default(),
        &kdc,
        TicketSpec::new("alice", now()).with_pac(pac.clone()),
    );
    assert_eq!(err, KerberosError::Pac(PacError::SidMismatch("REQUESTOR")));
    pac.flaws.clear();
    let minted = kdc
        .mint(&TicketSpec::new("alice", now()).with_pac(pac))
        .expect("mint");
    let t = Acceptor::default()
        .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
        .expect("consistent");
    let user: Sid = format!("{}-1105", domain()).parse().expect("sid");
    assert_eq!(
        t.pac.as_ref().and_then(|p| p.user_sid()),
        Some(&user),
        "SID from UPN_DNS_INFO"
    );

    let pac = PacSpec::new(domain(), 1105).with_flaw(PacFlaw::TruncateLogonInfo(100));
    let err = reject(
        &Acceptor::default(),
        &kdc,
        TicketSpec::new("alice", now()).with_pac(pac),
    );
    assert!(
        matches!(err, KerberosError::Pac(PacError::Malformed(_))),
        "{err:?}"
    );
}

#[test]
fn pac_required_by_config() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let acceptor = Acceptor::new(AcceptorConfig {
        require_pac: true,
        ..Default::default()
    });
    assert_eq!(
        reject(&acceptor, &kdc, TicketSpec::new("alice", now())),
        KerberosError::PacMissing
    );
    let minted = kdc
        .mint(&TicketSpec::new("alice", now()).with_pac(PacSpec::new(domain(), 1105)))
        .expect("mint");
    assert!(
        acceptor
            .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
            .is_ok()
    );
}

#[test]
fn rc4_pac_signature_verifies() {
    let kdc = kdc(Etype::Rc4Hmac);
    let minted = kdc
        .mint(&TicketSpec::new("alice", now()).with_pac(PacSpec::new(domain(), 1105)))
        .expect("mint");
    let t = rc4_acceptor()
        .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
        .expect("valid");
    assert_eq!(t.pac.expect("pac").server_checksum_type, -138);
}

#[test]
fn wrong_service_or_key_is_refused() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let other = TestKdc::new(REALM, "HTTP/other.ad.test", Etype::Aes256CtsHmacSha196);
    let minted = other.mint(&TicketSpec::new("alice", now())).expect("mint");
    let err = Acceptor::default()
        .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
        .expect_err("not us");
    assert_eq!(
        err,
        KerberosError::NotUs {
            service: "HTTP/other.ad.test@AD.TEST".into()
        }
    );
    assert_eq!(
        (err.code(), err.rfc_name()),
        (81004, Some("KRB_AP_ERR_NOT_US"))
    );

    let wrong = Key::random(
        Etype::Aes256CtsHmacSha196,
        &seamless_core::kerberos::OsEntropy,
    )
    .expect("key");
    let err = reject(
        &Acceptor::default(),
        &kdc,
        TicketSpec::new("alice", now()).with_flaw(Flaw::WrongServiceKey(wrong)),
    );
    assert_eq!(err, KerberosError::TicketIntegrity { kvno: Some(2) });
    assert_eq!(err.code(), 81010);

    let wrong128 = Key::random(
        Etype::Aes128CtsHmacSha196,
        &seamless_core::kerberos::OsEntropy,
    )
    .expect("key");
    let err = reject(
        &Acceptor::default(),
        &kdc,
        TicketSpec::new("alice", now()).with_flaw(Flaw::WrongServiceKey(wrong128)),
    );
    assert_eq!(
        err,
        KerberosError::NoKey {
            etype: 17,
            kvno: Some(2)
        }
    );
    assert_eq!(err.rfc_name(), Some("KRB_AP_ERR_BADKEYVER"));
}

#[test]
fn tampering_and_mismatches_are_refused() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let a = Acceptor::default();
    let spec = || TicketSpec::new("alice", now());
    assert_eq!(
        reject(&a, &kdc, spec().with_flaw(Flaw::TamperTicket)),
        KerberosError::TicketIntegrity { kvno: Some(2) }
    );
    assert_eq!(
        reject(&a, &kdc, spec().with_flaw(Flaw::TamperAuthenticator)),
        KerberosError::AuthenticatorIntegrity
    );
    assert_eq!(
        reject(
            &a,
            &kdc,
            spec().with_flaw(Flaw::AuthenticatorClient("mallory".into()))
        ),
        KerberosError::BadMatch
    );
    assert_eq!(
        reject(&a, &kdc, spec().with_flaw(Flaw::InvalidFlag)),
        KerberosError::TicketNotYetValid
    );
}

#[test]
fn times_are_checked_with_skew() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let a = Acceptor::default();
    let t0 = 1_800_000_000i64;
    let mut spec = TicketSpec::new("alice", now());
    spec.ctime = t0 - 301;
    assert_eq!(
        reject(&a, &kdc, spec.clone()),
        KerberosError::Skew { skew_secs: -301 }
    );
    spec.ctime = t0 + 301;
    assert_eq!(
        reject(&a, &kdc, spec.clone()),
        KerberosError::Skew { skew_secs: 301 }
    );
    spec.ctime = t0 + 299;
    assert!(
        a.validate(
            kdc.mint(&spec).expect("mint").token.as_bytes(),
            &kdc.key_ring(),
            now()
        )
        .is_ok()
    );

    let mut spec = TicketSpec::new("alice", now());
    spec.start_time = Some(t0 + 301);
    assert_eq!(reject(&a, &kdc, spec), KerberosError::TicketNotYetValid);
    let mut spec = TicketSpec::new("alice", now());
    spec.auth_time = t0 - 20_000;
    spec.end_time = t0 - 301;
    assert_eq!(reject(&a, &kdc, spec.clone()), KerberosError::TicketExpired);
    spec.end_time = t0 - 299;
    assert!(
        a.validate(
            kdc.mint(&spec).expect("mint").token.as_bytes(),
            &kdc.key_ring(),
            now()
        )
        .is_ok()
    );

    let strict = Acceptor::new(AcceptorConfig {
        max_ticket_lifetime: Some(Duration::from_secs(36_000)),
        ..Default::default()
    });
    let mut spec = TicketSpec::new("alice", now());
    spec.end_time = t0 + 10 * 365 * 86_400;
    assert_eq!(
        reject(&strict, &kdc, spec),
        KerberosError::TicketLifetime {
            secs: 10 * 365 * 86_400
        }
    );
}

#[test]
fn mutual_authentication_returns_a_verifiable_ap_rep() {
    for etype in [
        Etype::Aes256CtsHmacSha196,
        Etype::Aes128CtsHmacSha256128,
        Etype::Rc4Hmac,
    ] {
        for wrapping in [Wrapping::SpnegoMs, Wrapping::Raw] {
            let kdc = kdc(etype);
            let mut spec = TicketSpec::new("alice", now());
            spec.gss_flags = Some(WINDOWS_GSS_FLAGS);
            spec.wrapping = wrapping;
            let minted = kdc.mint(&spec).expect("mint");
            let t = rc4_acceptor()
                .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
                .expect("valid");
            assert!(t.gss_flags.mutual());
            let echoed = verify_response(
                t.response_token.as_deref().expect("AP-REP"),
                &minted.session_key,
            )
            .expect("AP-REP verifies");
            assert_eq!(echoed, minted.ctime_cusec);
        }
    }
    // mutual-required in ap-options without GSS flags (plain Kerberos clients).
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let mut spec = TicketSpec::new("alice", now());
    spec.gss_flags = None;
    spec.mutual_required = true;
    let minted = kdc.mint(&spec).expect("mint");
    let t = Acceptor::default()
        .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
        .expect("valid");
    assert!(
        verify_response(
            t.response_token.as_deref().expect("AP-REP"),
            &minted.session_key
        )
        .is_ok()
    );
}

#[test]
fn channel_bindings_follow_policy() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let expected = seamless_core::kerberos::tls_server_end_point_bindings(&[0xAB; 32]);
    let verify = Acceptor::new(AcceptorConfig {
        channel_bindings: ChannelBindingPolicy::Verify { expected },
        ..Default::default()
    });
    let require = Acceptor::new(AcceptorConfig {
        channel_bindings: ChannelBindingPolicy::Require { expected },
        ..Default::default()
    });
    let mut spec = TicketSpec::new("alice", now());

    let absent = kdc.mint(&spec).expect("mint");
    let t = verify
        .validate(absent.token.as_bytes(), &kdc.key_ring(), now())
        .expect("absent allowed");
    assert_eq!(t.channel_bindings, ChannelBindingState::Absent);
    let err = require
        .validate(absent.token.as_bytes(), &kdc.key_ring(), now())
        .expect_err("required");
    assert_eq!(err, KerberosError::ChannelBindings("required but absent"));

    spec.bindings = expected;
    let good = kdc.mint(&spec).expect("mint");
    let t = require
        .validate(good.token.as_bytes(), &kdc.key_ring(), now())
        .expect("matches");
    assert_eq!(t.channel_bindings, ChannelBindingState::Verified);
    let t = Acceptor::default()
        .validate(good.token.as_bytes(), &kdc.key_ring(), now())
        .expect("ignored");
    assert_eq!(t.channel_bindings, ChannelBindingState::Unchecked);

    spec.bindings = [1; 16];
    let bad = kdc.mint(&spec).expect("mint");
    let err = verify
        .validate(bad.token.as_bytes(), &kdc.key_ring(), now())
        .expect_err("mismatch");
    assert_eq!(err, KerberosError::ChannelBindings("do not match"));
}

#[test]
fn rollover_accepts_previous_until_not_after_and_unknown_kvno_tries_others() {
    let old = Key::random(
        Etype::Aes256CtsHmacSha196,
        &seamless_core::kerberos::OsEntropy,
    )
    .expect("key");
    let new = Key::random(
        Etype::Aes256CtsHmacSha196,
        &seamless_core::kerberos::OsEntropy,
    )
    .expect("key");
    let spn: PrincipalName = format!("{SPN}@{REALM}").parse().expect("spn");
    let t0 = 1_800_000_000i64;
    let ring = KeyRing::new(vec![
        ServiceAccount::new(spn.clone())
            .with_key(3, new.clone(), KeyState::Current)
            .and_then(|a| {
                a.with_key(
                    2,
                    old.clone(),
                    KeyState::Previous {
                        not_after: Some(t0 + 3600),
                    },
                )
            })
            .expect("ring"),
    ]);
    let old_kdc = TestKdc::with_key(REALM, SPN, old, 2);
    let new_kdc = TestKdc::with_key(REALM, SPN, new, 3);
    let a = Acceptor::default();
    let old_token = old_kdc
        .mint(&TicketSpec::new("alice", now()))
        .expect("mint");
    let t = a
        .validate(old_token.token.as_bytes(), &ring, now())
        .expect("previous accepted");
    assert_eq!(
        (t.kvno, t.key_state),
        (
            2,
            KeyState::Previous {
                not_after: Some(t0 + 3600)
            }
        )
    );
    let t = a
        .validate(
            new_kdc
                .mint(&TicketSpec::new("alice", now()))
                .expect("mint")
                .token
                .as_bytes(),
            &ring,
            now(),
        )
        .expect("current");
    assert_eq!(t.kvno, 3);

    // After not_after the previous key is gone.
    let later = now() + Duration::from_secs(3601);
    let token = old_kdc
        .mint(&TicketSpec::new("alice", later))
        .expect("mint");
    let err = a
        .validate(token.token.as_bytes(), &ring, later)
        .expect_err("expired key");
    assert_eq!(
        err,
        KerberosError::NoKey {
            etype: 18,
            kvno: Some(2)
        }
    );
    assert_eq!(err.rfc_name(), Some("KRB_AP_ERR_BADKEYVER"));

    // A ticket without a kvno is tried against every live key.
    let token = old_kdc
        .mint(&TicketSpec::new("alice", now()).with_flaw(Flaw::NoKvno))
        .expect("mint");
    assert_eq!(
        a.validate(token.token.as_bytes(), &ring, now())
            .expect("found")
            .kvno,
        2
    );
}

#[test]
fn several_spns_share_one_account() {
    let kdc_a = kdc(Etype::Aes256CtsHmacSha196);
    let kdc_b = TestKdc::with_key(REALM, "HTTP/app-cname.ad.test", kdc_a.key().clone(), 2);
    let mut ring = kdc_a.key_ring();
    assert!(ring.add_alias(
        kdc_a.service(),
        "HTTP/APP-CNAME.ad.test@AD.TEST".parse().expect("spn")
    ));
    let t = Acceptor::default()
        .validate(
            kdc_b
                .mint(&TicketSpec::new("alice", now()))
                .expect("mint")
                .token
                .as_bytes(),
            &ring,
            now(),
        )
        .expect("alias");
    assert_eq!(t.service.to_string(), "HTTP/app-cname.ad.test@AD.TEST");
}

#[test]
fn malformed_and_foreign_tokens_get_their_codes() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let a = Acceptor::default();
    let ring = kdc.key_ring();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let cases: Vec<(Vec<u8>, u32, &str)> = vec![
        (b"".to_vec(), 81006, "no_token"),
        (b"!!!".to_vec(), 81009, "bad_base64"),
        (
            b64(b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2").into_bytes(),
            81005,
            "ntlm",
        ),
        (
            b"TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==".to_vec(),
            81005,
            "ntlm",
        ),
        (
            b64(&[
                0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x00,
            ])
            .into_bytes(),
            81009,
            "malformed",
        ),
        (b64(&[0x30, 0x00]).into_bytes(), 81009, "malformed"),
        (vec![b'A'; 100_000], 81001, "token_too_large"),
    ];
    for (token, code, reason) in cases {
        let err = a.validate(&token, &ring, now()).expect_err("refused");
        assert_eq!((err.code(), err.reason()), (code, reason), "{err:?}");
    }
}

#[tokio::test]
async fn replayed_token_is_refused_and_cache_outage_fails_closed() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let a = Acceptor::default();
    let cache = MemoryReplayCache::new(1000, 1_800_000_000 - 10);
    let minted = kdc.mint(&TicketSpec::new("alice", now())).expect("mint");
    a.accept(minted.token.as_bytes(), &kdc.key_ring(), &cache, now())
        .await
        .expect("first use");
    let err = a
        .accept(minted.token.as_bytes(), &kdc.key_ring(), &cache, now())
        .await
        .expect_err("replay");
    assert_eq!(
        (err, err_code(&KerberosError::Replay)),
        (KerberosError::Replay, 81010)
    );
    // A second, distinct token in the same second is not a replay.
    let other = kdc.mint(&TicketSpec::new("alice", now())).expect("mint");
    a.accept(other.token.as_bytes(), &kdc.key_ring(), &cache, now())
        .await
        .expect("distinct");

    let full = MemoryReplayCache::new(0, 1_800_000_000 - 10);
    let fresh = kdc.mint(&TicketSpec::new("alice", now())).expect("mint");
    let err = a
        .accept(fresh.token.as_bytes(), &kdc.key_ring(), &full, now())
        .await
        .expect_err("fail closed");
    assert_eq!(err, KerberosError::ReplayCacheUnavailable);
}

fn err_code(e: &KerberosError) -> u32 {
    e.code()
}

#[test]
fn debug_output_never_contains_key_material() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let minted = kdc.mint(&TicketSpec::new("alice", now())).expect("mint");
    let t = Acceptor::default()
        .validate(minted.token.as_bytes(), &kdc.key_ring(), now())
        .expect("valid");
    let shown = format!("{t:?} {:?} {:?} {:?}", kdc.key_ring(), t.session_key(), kdc);
    for secret in [kdc.key().expose_secret(), t.session_key().expose_secret()] {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let dec = format!("{:?}", secret);
        assert!(
            !shown.contains(&hex) && !shown.contains(dec.trim_matches(['[', ']'])),
            "{shown}"
        );
    }
}

#[test]
fn domain_allow_list_refuses_users_of_other_domains() {
    let kdc = kdc(Etype::Aes256CtsHmacSha196);
    let spn: PrincipalName = format!("{SPN}@{REALM}").parse().expect("spn");
    let ring = |domains: Vec<Sid>| {
        KeyRing::new(vec![
            ServiceAccount::new(spn.clone())
                .with_domain_sids(domains)
                .with_key(2, kdc.key().clone(), KeyState::Current)
                .expect("key"),
        ])
    };
    let other: Sid = "S-1-5-21-1-2-3".parse().expect("sid");
    let ours = kdc
        .mint(&TicketSpec::new("alice", now()).with_pac(PacSpec::new(domain(), 1105)))
        .expect("mint");
    let theirs = kdc
        .mint(&TicketSpec::new("mallory", now()).with_pac(PacSpec::new(other.clone(), 500)))
        .expect("mint");
    let no_pac = kdc.mint(&TicketSpec::new("alice", now())).expect("mint");
    let a = Acceptor::default();
    let restricted = ring(vec![domain()]);
    assert!(
        a.validate(ours.token.as_bytes(), &restricted, now())
            .is_ok()
    );
    let err = a
        .validate(theirs.token.as_bytes(), &restricted, now())
        .expect_err("other domain");
    assert_eq!(
        (err.clone(), err.code()),
        (KerberosError::Pac(PacError::DomainNotAllowed), 81004)
    );
    assert_eq!(
        a.validate(no_pac.token.as_bytes(), &restricted, now())
            .err(),
        Some(KerberosError::Pac(PacError::DomainNotAllowed)),
        "no SID, no proof of domain"
    );
    assert!(
        a.validate(theirs.token.as_bytes(), &ring(vec![domain(), other]), now())
            .is_ok()
    );
    assert!(
        a.validate(theirs.token.as_bytes(), &ring(Vec::new()), now())
            .is_ok(),
        "empty list: no restriction"
    );
}

/// `tls-server-end-point` (RFC 5929 §4.1): the certificate hashed with its
/// signature's hash (hashes computed independently by `openssl x509 -outform der
/// | sha256sum` / `sha384sum`); PEM and DER give the same value; a signature
/// with no defined hash (Ed25519) is refused.
#[test]
fn certificate_bindings_hash_the_certificate_with_its_signature_hash() {
    use seamless_core::kerberos::{certificate_bindings, tls_server_end_point_bindings};
    let read = |name: &str| {
        std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).expect("data")
    };
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
            .collect()
    };
    let rsa = "d12cd5f3a128ed042d9e3ab4e1d830bda3825442ed1f0ec404e481359813b99b";
    assert_eq!(
        certificate_bindings(&read("rsa-sha256.pem")),
        Ok(tls_server_end_point_bindings(&hex(rsa)))
    );
    assert_eq!(
        certificate_bindings(&read("rsa-sha256.der")),
        certificate_bindings(&read("rsa-sha256.pem"))
    );
    let ecdsa = "efa9c255204656a49eae1c8ebcd3679d0d4bb5da02f1defffeea624309359ef4c8a1587cda44ebab54bcafe5826c0ab8";
    assert_eq!(
        certificate_bindings(&read("ecdsa-sha384.pem")),
        Ok(tls_server_end_point_bindings(&hex(ecdsa)))
    );
    let ed = certificate_bindings(&read("ed25519.pem")).expect_err("no RFC 5929 hash");
    assert!(ed.contains("RFC 5929"), "{ed}");
    let junk =
        certificate_bindings(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .expect_err("not a certificate");
    assert!(junk.contains("not an X.509 certificate"), "{junk}");
}
