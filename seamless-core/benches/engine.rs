//! A whole seamless sign-in through the engine on one core, memory backends:
//! start (hinted) → Negotiate with an AD-style ticket → completed. This is the
//! core-only baseline the adapters are compared against.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::world::{World, sign_in_request};
use seamless_core::testkit::{PacSpec, Shown, StepExt as _};

fn sign_in(c: &mut Criterion) {
    let world = World::builder().no_faults().store_capacity(1 << 22).build();
    let engine = &world.engine;
    let request = sign_in_request(Some("alice@ad.test"));
    let pac = PacSpec::ad_benchmark_user();
    // Each sign-in needs a fresh ticket (replay check); mint them outside the timing.
    c.bench_function("engine/seamless_sign_in", |b| {
        b.iter_batched(
            || world.ticket("alice", pac.clone()),
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
