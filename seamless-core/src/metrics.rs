//! Prometheus metrics (feature `metrics`; without it every call is a no-op):
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `seamless_sign_ins_total` | `outcome`, `code` | finished sign-ins: `completed`, `denied`, `fallback` (to the password form), `restart` |
//! | `seamless_negotiate_failures_total` | `code` | Kerberos tokens refused (810xx) |
//! | `seamless_backend_errors_total` | `backend` | `keys`, `directory`, `store` failures |
//! | `seamless_request_duration_seconds` | `endpoint` | latency of each sign-in endpoint (histogram) |
//! | `seamless_key_kvno` | `account`, `state` | the key ring's kvnos (`current`, `previous`, `next`) |
//! | `seamless_key_age_seconds` | `account`, `kvno` | how long ago each key was written to the keytab |
//! | `seamless_store_entries` | `kind` | live entries of the memory store, by kind |
//! | `seamless_store_budget_entries` | `kind` | the memory store's budget, by kind |
//! | `seamless_store_bytes` | `kind` | bytes of keys and values held, by kind |
//! | `seamless_store_evictions_total` | `kind` | live entries evicted to make room (refresh only) |
//! | `seamless_store_requests_total` | | requests sent to a remote store (Redis): its round trips |
//!
//! Labels carry codes, endpoint names and service principals, never a user.

#[cfg(feature = "metrics")]
pub(crate) use enabled::Metrics;

/// One kind of store entry, as the store gauges show it.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct StoreRow {
    pub(crate) kind: &'static str,
    pub(crate) entries: usize,
    pub(crate) budget: usize,
    pub(crate) bytes: usize,
    pub(crate) evicted: u64,
}

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::Metrics;

#[cfg(feature = "metrics")]
mod enabled {
    use std::sync::Mutex;

    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
    use prometheus_client::registry::Registry;

    use crate::kerberos::KeyRing;

    type Labels = Vec<(&'static str, String)>;
    /// (account, state, kvno) and (account, kvno, age in seconds).
    type KeyRows = (Vec<(String, &'static str, u32)>, Vec<(String, u32, i64)>);

    /// The key ring's state as gauges: (account, state, kvno) and (account, kvno, age).
    fn key_rows(ring: &KeyRing, now: i64) -> KeyRows {
        let mut kvnos = Vec::new();
        let mut ages = Vec::new();
        for account in ring.accounts() {
            let name = account
                .names()
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            for key in account.keys() {
                let state = match key.state() {
                    crate::kerberos::KeyState::Current => "current",
                    crate::kerberos::KeyState::Previous { .. } => "previous",
                    crate::kerberos::KeyState::Next => "next",
                };
                if !kvnos
                    .iter()
                    .any(|(a, s, k)| a == &name && *s == state && *k == key.kvno())
                {
                    kvnos.push((name.clone(), state, key.kvno()));
                }
                if let Some(at) = key.installed_at()
                    && !ages.iter().any(|(a, k, _)| a == &name && *k == key.kvno())
                {
                    ages.push((name.clone(), key.kvno(), now - at));
                }
            }
        }
        (kvnos, ages)
    }

    /// The registry and its metric families. Cheap to share (`Arc`).
    pub(crate) struct Metrics {
        registry: Registry,
        sign_ins: Family<Labels, Counter>,
        negotiate_failures: Family<Labels, Counter>,
        backend_errors: Family<Labels, Counter>,
        latency: Family<Labels, Histogram>,
        kvno: Family<Labels, Gauge>,
        key_age: Family<Labels, Gauge>,
        store_entries: Family<Labels, Gauge>,
        store_budget: Family<Labels, Gauge>,
        store_bytes: Family<Labels, Gauge>,
        store_evictions: Family<Labels, Counter>,
        store_requests: Counter,
        /// Serialises renders (gauges are cleared and refilled).
        render: Mutex<()>,
    }

    fn latency_histogram() -> Histogram {
        // 100 µs to ~6.5 s.
        Histogram::new(exponential_buckets(0.0001, 3.0, 11))
    }

    impl Default for Metrics {
        fn default() -> Self {
            let mut registry = Registry::with_prefix("seamless");
            let sign_ins = Family::default();
            let negotiate_failures = Family::default();
            let backend_errors = Family::default();
            let latency = Family::<Labels, Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
            let kvno = Family::default();
            let key_age = Family::default();
            let store_entries = Family::default();
            let store_budget = Family::default();
            let store_bytes = Family::default();
            let store_evictions = Family::default();
            let store_requests = Counter::default();
            registry.register(
                "sign_ins",
                "Finished sign-ins by outcome and code",
                sign_ins.clone(),
            );
            registry.register(
                "negotiate_failures",
                "Kerberos tokens refused, by code",
                negotiate_failures.clone(),
            );
            registry.register(
                "backend_errors",
                "Backend failures by backend",
                backend_errors.clone(),
            );
            registry.register(
                "request_duration_seconds",
                "Latency of the sign-in endpoints",
                latency.clone(),
            );
            registry.register(
                "key_kvno",
                "The key ring's kvnos by account and state",
                kvno.clone(),
            );
            registry.register(
                "key_age_seconds",
                "Seconds since each key was written to the keytab",
                key_age.clone(),
            );
            registry.register(
                "store_entries",
                "Live entries of the memory store by kind",
                store_entries.clone(),
            );
            registry.register(
                "store_budget_entries",
                "The memory store's budget by kind",
                store_budget.clone(),
            );
            registry.register(
                "store_bytes",
                "Bytes of keys and values in the memory store by kind",
                store_bytes.clone(),
            );
            registry.register(
                "store_evictions",
                "Live entries the memory store evicted to make room, by kind",
                store_evictions.clone(),
            );
            registry.register(
                "store_requests",
                "Requests sent to a remote store (Redis round trips)",
                store_requests.clone(),
            );
            Self {
                registry,
                sign_ins,
                negotiate_failures,
                backend_errors,
                latency: latency.clone(),
                kvno,
                key_age,
                store_entries,
                store_budget,
                store_bytes,
                store_evictions,
                store_requests,
                render: Mutex::new(()),
            }
        }
    }

    impl Metrics {
        pub(crate) fn sign_in(&self, outcome: &'static str, code: Option<u32>) {
            let code = code.map(|c| c.to_string()).unwrap_or_default();
            self.sign_ins
                .get_or_create(&vec![("outcome", outcome.to_string()), ("code", code)])
                .inc();
        }

        pub(crate) fn negotiate_failure(&self, code: u32) {
            self.negotiate_failures
                .get_or_create(&vec![("code", code.to_string())])
                .inc();
        }

        pub(crate) fn backend_error(&self, backend: &'static str) {
            self.backend_errors
                .get_or_create(&vec![("backend", backend.to_string())])
                .inc();
        }

        pub(crate) fn request(&self, endpoint: &'static str, seconds: f64) {
            self.latency
                .get_or_create(&vec![("endpoint", endpoint.to_string())])
                .observe(seconds);
        }

        /// The text exposition, with the key gauges as `ring` says now and the
        /// store gauges as `store` does; `requests`, the remote store's count.
        pub(crate) fn render(
            &self,
            ring: Option<&KeyRing>,
            store: &[super::StoreRow],
            requests: Option<u64>,
            now: i64,
        ) -> String {
            let _one = self.render.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(sent) = requests {
                let seen = self.store_requests.get();
                if sent > seen {
                    self.store_requests.inc_by(sent - seen);
                }
            }
            for row in store {
                let labels = vec![("kind", row.kind.to_string())];
                let gauge = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
                self.store_entries
                    .get_or_create(&labels)
                    .set(gauge(row.entries));
                self.store_budget
                    .get_or_create(&labels)
                    .set(gauge(row.budget));
                self.store_bytes
                    .get_or_create(&labels)
                    .set(gauge(row.bytes));
                // The store counts; the counter catches up to it.
                let counter = self.store_evictions.get_or_create(&labels);
                let seen = counter.get();
                if row.evicted > seen {
                    counter.inc_by(row.evicted - seen);
                }
            }
            self.kvno.clear();
            self.key_age.clear();
            if let Some(ring) = ring {
                let (kvnos, ages) = key_rows(ring, now);
                for (account, state, kvno) in kvnos {
                    self.kvno
                        .get_or_create(&vec![("account", account), ("state", state.to_string())])
                        .set(i64::from(kvno));
                }
                for (account, kvno, age) in ages {
                    self.key_age
                        .get_or_create(&vec![("account", account), ("kvno", kvno.to_string())])
                        .set(age);
                }
            }
            let mut out = String::new();
            if encode(&mut out, &self.registry).is_err() {
                out.clear();
            }
            out
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use crate::kerberos::KeyRing;

    /// Without the `metrics` feature: records nothing.
    #[derive(Default)]
    pub(crate) struct Metrics;

    impl Metrics {
        pub(crate) fn sign_in(&self, _: &'static str, _: Option<u32>) {}
        pub(crate) fn negotiate_failure(&self, _: u32) {}
        pub(crate) fn backend_error(&self, _: &'static str) {}
        pub(crate) fn request(&self, _: &'static str, _: f64) {}
        pub(crate) fn render(
            &self,
            _: Option<&KeyRing>,
            _: &[super::StoreRow],
            _: Option<u64>,
            _: i64,
        ) -> String {
            String::new()
        }
    }
}
