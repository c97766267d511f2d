//! Property tests: every parser that reads network or file bytes, fed valid inputs
//! with truncations, bit flips, byte overwrites, insertions and length-field
//! corruption, and fully random bytes. The property is the absence of panics
//! (and of hangs: each case is bounded), plus "the untouched input still parses".
//!
//! `SEAMLESS_PROPTEST_CASES` sets the cases per property (CI runs 100,000 in release).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use proptest::prelude::*;
use seamless_core::kerberos::{Acceptor, AcceptorConfig, Etype, KeyRing, keytab};
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec, WINDOWS_GSS_FLAGS, fuzz};

fn cases() -> u32 {
    std::env::var("SEAMLESS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const AUTHTIME: i64 = 1_800_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(AUTHTIME as u64)
}

struct Samples {
    kdc: TestKdc,
    ring: KeyRing,
    token: Vec<u8>,
    pac: Vec<u8>,
    ticket_plain: Vec<u8>,
    authenticator_plain: Vec<u8>,
    keytab: Vec<u8>,
}

fn samples() -> &'static Samples {
    static S: OnceLock<Samples> = OnceLock::new();
    S.get_or_init(|| {
        let kdc = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
        let mut pac =
            PacSpec::new("S-1-5-21-1-2-3".parse().expect("sid"), 1105).with_upn("alice@ad.test");
        pac.extra_sids = vec!["S-1-18-1".parse().expect("sid")];
        pac.resource_groups = Some(("S-1-5-21-4-5-6".parse().expect("sid"), vec![1200]));
        pac.requestor = true;
        let mut spec = TicketSpec::new("alice", now()).with_pac(pac.clone());
        spec.gss_flags = Some(WINDOWS_GSS_FLAGS);
        let minted = kdc.mint(&spec).expect("mint");
        let token = base64::engine::general_purpose::STANDARD
            .decode(&minted.token)
            .expect("b64");
        let (ticket_plain, authenticator_plain) =
            fuzz::sample_plaintexts(&kdc, &spec).expect("plaintexts");
        let entries: Vec<keytab::KeytabEntry> = Etype::ALL
            .iter()
            .enumerate()
            .map(|(i, e)| keytab::KeytabEntry {
                principal: "HTTP/app.ad.test@AD.TEST".parse().expect("spn"),
                timestamp: 1,
                kvno: 2 + i as u32 * 300,
                key: seamless_core::kerberos::Key::random(*e, &seamless_core::kerberos::OsEntropy)
                    .map_err(|_| 0),
            })
            .collect();
        Samples {
            ring: kdc.key_ring(),
            pac: fuzz::sample_pac(&pac, "alice", AUTHTIME, kdc.key()),
            keytab: keytab::write(&entries),
            token,
            ticket_plain,
            authenticator_plain,
            kdc,
        }
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize, usize),
    /// Overwrite a byte that looks like a DER length with an extreme value.
    Length(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
        (
            any::<usize>(),
            prop::sample::select(vec![0x00u8, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x85, 0xFF])
        )
            .prop_map(|(i, v)| Mutation::Length(i, v)),
    ]
}

fn apply(input: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = input.to_vec();
    for m in mutations {
        if out.is_empty() {
            break;
        }
        let len = out.len();
        match *m {
            Mutation::Flip(i, b) => out[i % len] ^= 1 << b,
            Mutation::Set(i, v) | Mutation::Length(i, v) => out[i % len] = v,
            Mutation::Truncate(i) => out.truncate(i % len),
            Mutation::Insert(i, v) => out.insert(i % (len + 1), v),
            Mutation::Remove(i, n) => {
                let start = i % len;
                out.drain(start..(start + n).min(len));
            }
        }
    }
    out
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..4)
}

#[test]
fn samples_parse_unmutated() {
    let s = samples();
    assert_eq!(fuzz::spnego(&s.token), Ok(()));
    assert_eq!(fuzz::enc_ticket_part(&s.ticket_plain), Ok(()));
    assert_eq!(fuzz::authenticator(&s.authenticator_plain), Ok(()));
    assert_eq!(fuzz::pac(&s.pac, "alice", AUTHTIME), Ok(()));
    assert!(keytab::parse(&s.keytab).is_ok_and(|e| e.len() == 5));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&s.token);
    assert!(
        Acceptor::default()
            .validate(b64.as_bytes(), &s.ring, now())
            .is_ok()
    );
    assert!(s.kdc.kvno() == 2);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn acceptor_survives_mutated_tokens(m in mutations()) {
        let s = samples();
        let token = apply(&s.token, &m);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
        let acceptor = Acceptor::new(AcceptorConfig { allow_rc4: true, ..Default::default() });
        match acceptor.validate(b64.as_bytes(), &s.ring, now()) {
            Err(e) => prop_assert!((81001..=81013).contains(&e.code()), "{e:?}"),
            // A mutation that still validates changed nothing that is checked.
            Ok(t) => prop_assert_eq!(t.client.to_string(), "alice@AD.TEST"),
        }
    }

    #[test]
    fn mutated_framing_is_refused_with_a_framing_code(m in mutations()) {
        // NTLM / NegoEx / no Kerberos → 81005; anything else malformed → 81009.
        if let Err(code) = fuzz::spnego(&apply(&samples().token, &m)) {
            prop_assert!(code == 81005 || code == 81009, "{code}");
        }
    }

    #[test]
    fn mutated_ticket_part_is_refused_as_malformed(m in mutations()) {
        if let Err(code) = fuzz::enc_ticket_part(&apply(&samples().ticket_plain, &m)) {
            prop_assert_eq!(code, 81009);
        }
    }

    #[test]
    fn mutated_authenticator_is_refused_as_malformed(m in mutations()) {
        if let Err(code) = fuzz::authenticator(&apply(&samples().authenticator_plain, &m)) {
            prop_assert_eq!(code, 81009);
        }
    }

    #[test]
    fn mutated_pac_is_refused_as_not_acceptable(m in mutations()) {
        // A PAC that does not decode, or does not match its ticket: 81004.
        if let Err(code) = fuzz::pac(&apply(&samples().pac, &m), "alice", AUTHTIME) {
            prop_assert_eq!(code, 81004);
        }
    }

    #[test]
    fn mutated_keytab_is_refused_or_parses(m in mutations()) {
        // Not network input, but read at start-up: an error names the problem.
        if let Err(e) = keytab::parse(&apply(&samples().keytab, &m)) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn random_bytes_are_refused_with_codes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for code in [
            fuzz::spnego(&bytes).err(),
            fuzz::ap_req(&bytes).err(),
            fuzz::enc_ticket_part(&bytes).err(),
            fuzz::authenticator(&bytes).err(),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(code == 81005 || code == 81009, "{code}");
        }
        if let Err(code) = fuzz::pac(&bytes, "alice", AUTHTIME) {
            prop_assert_eq!(code, 81004);
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let refused = Acceptor::default().validate(b64.as_bytes(), &samples().ring, now());
        prop_assert!(
            refused.as_ref().is_err_and(|e| (81001..=81013).contains(&e.code())),
            "random bytes never validate: {:?}",
            refused.err()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 10 + 100, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sids_round_trip_through_text_and_binary(authority in 0u64..(1 << 48), subs in prop::collection::vec(any::<u32>(), 0..=15)) {
        let sid = seamless_core::kerberos::Sid::new(authority, &subs).expect("valid");
        let text = sid.to_string();
        prop_assert_eq!(text.parse::<seamless_core::kerberos::Sid>().ok(), Some(sid.clone()));
        let (back, used) = seamless_core::kerberos::Sid::from_bytes(&sid.to_bytes()).expect("binary");
        prop_assert_eq!((back, used), (sid, 8 + 4 * subs.len()));
    }

    #[test]
    fn keytabs_round_trip(entries in prop::collection::vec(("[a-zA-Z0-9]{1,12}", "[a-z0-9.]{1,20}", "[A-Z.]{1,12}", any::<u32>(), 0usize..5), 0..8)) {
        let keys: Vec<keytab::KeytabEntry> = entries
            .iter()
            .map(|(svc, host, realm, kvno, etype)| keytab::KeytabEntry {
                principal: seamless_core::kerberos::PrincipalName::service(svc, host, realm),
                timestamp: 1,
                kvno: *kvno,
                key: seamless_core::kerberos::Key::new(Etype::ALL[*etype], &vec![*kvno as u8; Etype::ALL[*etype].key_len()]).map_err(|_| 0),
            })
            .collect();
        let parsed = keytab::parse(&keytab::write(&keys)).expect("parses");
        prop_assert_eq!(parsed.len(), keys.len());
        for (a, b) in parsed.iter().zip(&keys) {
            prop_assert_eq!(&a.principal, &b.principal);
            prop_assert_eq!(a.kvno, b.kvno);
            let same = a.key.as_ref().ok().zip(b.key.as_ref().ok()).is_some_and(|(x, y)| x.ct_eq(y));
            prop_assert!(same);
        }
    }
}
