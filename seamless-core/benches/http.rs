//! The HTTP surface on one core, memory backends, through `Provider::serve`:
//! the background Negotiate request → sign-in token, code → tokens for each
//! signing algorithm, the per-request session check, and a complete browser
//! sign-in (authorize → challenge → Negotiate → login post → code → tokens).
//!
//! Run with `--features aws-lc` to measure the aws-lc-rs backend instead of the
//! default RustCrypto one.

mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Method;
use seamless_core::http::{Client, WebConfig};
use seamless_core::testkit::PacSpec;
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::world::World;
use seamless_core::token::SigningAlgorithm;
use support::{authorize, code_for, cookie, field, send};

const CB: &str = "https://app.example/cb";

struct Bench {
    world: World,
    pac: PacSpec,
}

impl Bench {
    fn new() -> Self {
        let world = World::builder()
            .no_faults()
            .store_capacity(1 << 22)
            .provider(|mut builder| {
                builder = builder.web(WebConfig::new("https://login.example"));
                for alg in SigningAlgorithm::ALL {
                    builder = builder
                        .client(Client::confidential(alg.name(), "secret", CB).with_algorithm(alg));
                }
                builder
            })
            .build();
        Self {
            world,
            pac: PacSpec::ad_benchmark_user(),
        }
    }

    /// A fresh ticket (each sign-in passes the replay check).
    fn ticket(&mut self) -> String {
        self.world.ticket("alice", self.pac.clone())
    }
}

fn http_benches(c: &mut Criterion) {
    let mut bench = Bench::new();
    let engine = bench.world.provider.clone();

    // The background request alone: Negotiate → sign-in token.
    let page = send(
        &engine,
        Method::GET,
        &authorize("ES256"),
        &[],
        String::new(),
    );
    let (flow_cookie, state) = (cookie(&page), field(&page, "state"));
    c.bench_function("http/negotiate_to_sign_in_token", |b| {
        b.iter_batched(
            || format!("Negotiate {}", bench.ticket()),
            |auth| {
                let r = send(
                    &engine,
                    Method::GET,
                    "/winauth/sso",
                    &[
                        ("cookie", &flow_cookie),
                        ("seamless-flow", &state),
                        ("authorization", &auth),
                    ],
                    String::new(),
                );
                assert_eq!(r.status(), 200);
                black_box(r)
            },
            BatchSize::SmallInput,
        )
    });

    // Code → tokens, per algorithm.
    for alg in SigningAlgorithm::ALL {
        c.bench_function(&format!("http/code_to_tokens/{}", alg.name()), |b| {
            b.iter_batched(
                || code_for(&engine, alg.name(), &format!("Negotiate {}", bench.ticket())),
                |code| {
                    let body = format!("grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id={}&client_secret=secret", alg.name());
                    let r = send(&engine, Method::POST, "/token", &[], body);
                    assert_eq!(r.status(), 200);
                    black_box(r)
                },
                BatchSize::SmallInput,
            )
        });
    }

    // The per-request session check of middleware mode.
    let done = {
        let page = send(
            &engine,
            Method::GET,
            "/signin?return=%2F&login_hint=alice%40ad.test",
            &[],
            String::new(),
        );
        let flow = cookie(&page);
        let state = field(&page, "state");
        let auth = format!("Negotiate {}", bench.ticket());
        let r = send(
            &engine,
            Method::GET,
            "/winauth/sso",
            &[
                ("cookie", &flow),
                ("seamless-flow", &state),
                ("authorization", &auth),
            ],
            String::new(),
        );
        let token: serde_json::Value = serde_json::from_slice(r.body()).expect("json");
        let body = format!(
            "step=sso&state={state}&token={}",
            token["token"].as_str().expect("token")
        );
        send(&engine, Method::POST, "/login", &[("cookie", &flow)], body)
    };
    let session = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .find(|v| v.starts_with("__Host-seamless-session="))
        .expect("session")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let head = http::Request::builder()
        .uri("/app")
        .header("cookie", &session)
        .header("accept", "text/html")
        .body(())
        .expect("request")
        .into_parts()
        .0;
    c.bench_function("http/session_check", |b| {
        b.iter(|| black_box(block_on(engine.authenticate(black_box(&head))).expect("signed in")))
    });

    // A complete browser sign-in, ES256, as an adapter would drive it.
    c.bench_function("http/full_browser_sign_in/ES256", |b| {
        b.iter_batched(
            || format!("Negotiate {}", bench.ticket()),
            |auth| {
                let code = code_for(&engine, "ES256", &auth);
                let body = format!("grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=ES256&client_secret=secret");
                let tokens = send(&engine, Method::POST, "/token", &[], body);
                assert_eq!(tokens.status(), 200);
                black_box(tokens)
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, http_benches);
criterion_main!(benches);
