//! A whole seamless sign-in through the engine on one core, memory backends:
//! start (hinted) → Negotiate with an AD-style ticket → completed. This is the
//! core-only baseline the adapters are compared against.

use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use seamless_core::backends::{MemoryKeyStore, MemoryStore, StaticDirectory};
use seamless_core::clock::SystemClock;
use seamless_core::engine::{Durability, Engine};
use seamless_core::flow::SignInRequest;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use seamless_core::testkit::{Shown, StepExt as _};

fn sign_in(c: &mut Criterion) {
    let kdc = TestKdc::new(
        "AD.TEST",
        "HTTP/app.ad.test",
        seamless_core::kerberos::Etype::Aes256CtsHmacSha196,
    );
    let directory = StaticDirectory::from_text(
        "[[users]]\nid = \"u-alice\"\nupn = \"alice@ad.test\"\nsid = \"S-1-5-21-1004336348-1177238915-682003330-1105\"\n",
    )
    .expect("directory");
    let engine = Engine::builder()
        .keys(MemoryKeyStore::new(kdc.key_ring()))
        .directory(directory)
        .store(
            Arc::new(MemoryStore::new(1 << 22, Arc::new(SystemClock))),
            Durability::Shared,
        )
        .dangerous()
        .no_passwords()
        .build()
        .expect("engine");
    let request = SignInRequest {
        client_id: "app".into(),
        login_hint: Some("alice@ad.test".into()),
        ..Default::default()
    };
    let pac = PacSpec::ad_benchmark_user();
    // Each sign-in needs a fresh ticket (replay check); mint them outside the timing.
    let mut cusec = 0u32;
    c.bench_function("engine/seamless_sign_in", |b| {
        b.iter_batched(
            || {
                cusec = (cusec + 1) % 1_000_000;
                let mut spec = TicketSpec::new("alice", SystemTime::now()).with_pac(pac.clone());
                spec.cusec = cusec;
                kdc.mint(&spec).expect("mint").token
            },
            |token| {
                block_on(async {
                    let step = engine.start(request.clone(), None, false).await;
                    let done = engine
                        .negotiate(
                            step.sealed().expect("sealed"),
                            step.flow_id(),
                            Some(token.as_bytes()),
                        )
                        .await;
                    assert!(matches!(done.shown(), Shown::Completed(_)));
                    black_box(done)
                })
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, sign_in);
criterion_main!(benches);
