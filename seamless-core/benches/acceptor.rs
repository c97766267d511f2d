//! Hot paths of the acceptor, one core: `validate` on SPNEGO tokens with an
//! AD-style PAC (aes256, the AD default), with and without mutual authentication,
//! and the RFC 8009 and RC4 profiles for comparison.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seamless_core::kerberos::{Acceptor, AcceptorConfig, Etype, MemoryReplayCache, keytab};
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec, WINDOWS_GSS_FLAGS};

const POOL: usize = 64;

fn pac() -> PacSpec {
    let mut pac = PacSpec::ad_benchmark_user();
    pac.extra_sids = vec!["S-1-18-1".parse().expect("sid")];
    pac
}

fn tokens(kdc: &TestKdc, now: SystemTime, mutual: bool) -> Vec<String> {
    (0..POOL)
        .map(|i| {
            let mut spec = TicketSpec::new("alice", now).with_pac(pac());
            spec.cusec = i as u32;
            if mutual {
                spec.gss_flags = Some(WINDOWS_GSS_FLAGS);
            }
            kdc.mint(&spec).expect("mint").token
        })
        .collect()
}

fn validate(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let acceptor = Acceptor::new(AcceptorConfig {
        allow_rc4: true,
        ..Default::default()
    });
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("aes256_pac_spnego", Etype::Aes256CtsHmacSha196, false),
        ("aes256_pac_spnego_mutual", Etype::Aes256CtsHmacSha196, true),
        ("aes128_pac_spnego", Etype::Aes128CtsHmacSha196, false),
        (
            "aes256sha384_pac_spnego",
            Etype::Aes256CtsHmacSha384192,
            false,
        ),
        ("rc4_pac_spnego", Etype::Rc4Hmac, false),
    ];
    for (name, etype, mutual) in cases {
        let kdc = TestKdc::new("AD.TEST", "HTTP/app.ad.test", etype);
        let ring = kdc.key_ring();
        let pool = tokens(&kdc, now, mutual);
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % POOL;
                black_box(acceptor.validate(black_box(pool[i].as_bytes()), &ring, now))
                    .expect("valid")
            })
        });
    }
    group.finish();

    // validate + the in-memory replay check, each token fresh.
    let kdc = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
    let ring = kdc.key_ring();
    let pool = tokens(&kdc, now, false);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    c.bench_function("accept/aes256_pac_spnego_replay_checked", |b| {
        b.iter_batched(
            || MemoryReplayCache::new(POOL * 2, 1_799_999_000),
            |cache| {
                runtime.block_on(async {
                    for t in &pool {
                        black_box(acceptor.accept(t.as_bytes(), &ring, &cache, now).await)
                            .expect("fresh");
                    }
                })
            },
            criterion::BatchSize::SmallInput,
        )
    });

    let entries: Vec<keytab::KeytabEntry> = (0..6)
        .map(|i| keytab::KeytabEntry {
            principal: "HTTP/app.ad.test@AD.TEST".parse().expect("spn"),
            timestamp: 0,
            kvno: i,
            key: Ok(kdc.key().clone()),
        })
        .collect();
    let bytes = keytab::write(&entries);
    c.bench_function("keytab/parse_6_entries", |b| {
        b.iter(|| keytab::parse(black_box(&bytes)).expect("parse"))
    });
}

criterion_group!(benches, validate);
criterion_main!(benches);
