//! Prometheus metrics: what happens is counted, `/metrics` is served only when
//! switched on, and no label names a user.
#![cfg(feature = "metrics")]

use bytes::Bytes;
use http_body_util::Full;
use seamless_core::http::{Response, WebConfig};
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::world::World;
use seamless_core::testkit::{Shown, StepExt as _};

fn world(metrics: bool) -> World {
    World::builder()
        .provider(move |b| {
            let mut web = WebConfig::new("https://app.ad.test");
            web.metrics = metrics;
            b.web(web)
        })
        .build()
}

fn get(w: &World, path: &str) -> Response {
    let request = http::Request::get(path)
        .body(Full::new(Bytes::new()))
        .expect("request");
    block_on(w.provider.serve(request))
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(r.body()).into_owned()
}

/// The value of the sample line that starts with `series`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn sign_ins_refusals_outages_latency_and_keys_are_counted() {
    let w = world(true);
    // One seamless sign-in, one malformed token (falls back), one store outage.
    let step = w.start(Some("alice@ad.test"));
    assert!(matches!(
        w.negotiate(&step, Some(&w.token("alice", 1105))).shown(),
        Shown::Completed(_)
    ));
    let step = w.start(Some("alice@ad.test"));
    w.negotiate(&step, Some("bm90IGEgdG9rZW4="));
    w.store_outage(true);
    let step = w.start(Some("alice@ad.test"));
    w.negotiate(&step, Some(&w.token("alice", 1105)));
    w.store_outage(false);
    assert_eq!(get(&w, "/healthz").status(), 200);

    let r = get(&w, "/metrics");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.headers()
    );
    let m = text(&r);
    assert_eq!(
        sample(
            &m,
            "seamless_sign_ins_total{outcome=\"completed\",code=\"\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "seamless_negotiate_failures_total{code=\"81009\"}"),
        Some(1.0),
        "{m}"
    );
    assert!(
        sample(
            &m,
            "seamless_sign_ins_total{outcome=\"fallback\",code=\"81009\"}"
        ) == Some(1.0),
        "{m}"
    );
    assert!(
        sample(&m, "seamless_backend_errors_total{backend=\"store\"}").is_some_and(|n| n >= 1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "seamless_request_duration_seconds_count{endpoint=\"healthz\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "seamless_key_kvno{account=\"HTTP/app.ad.test@AD.TEST\",state=\"current\"}"
        ),
        Some(2.0),
        "{m}"
    );
    for user in ["alice", "u-alice", "1105"] {
        assert!(!m.contains(user), "no label names a user: {user}");
    }
}

#[test]
fn metrics_are_served_only_when_switched_on() {
    let w = world(false);
    assert!(!w.provider.wants("/metrics"));
    assert_eq!(get(&w, "/metrics").status(), 404);
    // The text is still there for a server that exposes it elsewhere.
    assert!(block_on(w.provider.metrics()).contains("# TYPE seamless_key_kvno gauge"));
}

#[test]
fn the_memory_store_reports_entries_budgets_and_evictions_by_kind() {
    let w = World::builder()
        .store_budgets(seamless_core::backends::MemoryBudgets {
            refresh: 2,
            ..seamless_core::backends::MemoryBudgets::uniform(1000)
        })
        .provider(|b| {
            let mut web = WebConfig::new("https://app.ad.test");
            web.metrics = true;
            b.web(web)
        })
        .build();
    let step = w.start(Some("alice@ad.test"));
    w.negotiate(&step, Some(&w.token("alice", 1105)));
    // Five refresh entries into a budget of two: three evicted.
    let store = &w.store;
    for i in 0..5 {
        block_on(seamless_core::backends::Store::put(
            store.as_ref(),
            &format!("refresh:{i}"),
            b"grant",
            std::time::Duration::from_secs(3600),
        ))
        .expect("put");
    }
    let m = text(&get(&w, "/metrics"));
    assert_eq!(
        sample(&m, "seamless_store_entries{kind=\"replay\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "seamless_store_entries{kind=\"refresh\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "seamless_store_budget_entries{kind=\"refresh\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "seamless_store_evictions_total{kind=\"refresh\"}"),
        Some(3.0),
        "{m}"
    );
    assert!(
        sample(&m, "seamless_store_bytes{kind=\"refresh\"}").is_some_and(|b| b >= 2.0 * 14.0),
        "{m}"
    );
    // Rendering again does not count the evictions twice.
    let m = text(&get(&w, "/metrics"));
    assert_eq!(
        sample(&m, "seamless_store_evictions_total{kind=\"refresh\"}"),
        Some(3.0),
        "{m}"
    );
}
