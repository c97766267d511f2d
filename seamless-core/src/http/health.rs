//! `GET /healthz` (the process answers) and `GET /readyz` (it can sign people
//! in: keys loaded, directory and store reachable), for load balancers and
//! orchestrators.
//!
//! Readiness asks the backends, so one answer is reused for a second: a client
//! hammering `/readyz` costs at most one directory look-up and one store read a
//! second. The answer names the component that fails and how (`unavailable`,
//! `corrupt`), never the backend's own message (addresses, DNs): that goes to
//! the log.

use std::sync::Mutex;

use http::StatusCode;

use super::{Provider, Response, json};
use crate::backends::UserQuery;
use crate::error::BackendError;

/// The last readiness answer: when (Unix seconds) and the problems found.
#[derive(Default)]
pub(super) struct Readiness(Mutex<Option<(i64, Vec<String>)>>);

/// A login no directory holds: the look-up only proves the directory answers.
const PROBE_LOGIN: &str = "seamless-readiness-probe";
/// A key no store holds.
const PROBE_KEY: &str = "readiness-probe";

impl Provider {
    /// `GET /healthz`: 200 while the process serves requests.
    pub(super) fn healthz(&self) -> Response {
        json(StatusCode::OK, &serde_json::json!({ "status": "alive" }))
    }

    /// `GET /readyz`: 200 when sign-ins can succeed, else 503 with the reasons.
    pub(super) async fn readyz(&self) -> Response {
        let now = self.now();
        let cached = self
            .readiness()
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| *at == now)
            .map(|(_, problems)| problems.clone());
        let problems = match cached {
            Some(problems) => problems,
            None => {
                let problems = self.check_readiness().await;
                *self.readiness().0.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((now, problems.clone()));
                problems
            }
        };
        if problems.is_empty() {
            json(StatusCode::OK, &serde_json::json!({ "status": "ready" }))
        } else {
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({ "status": "not ready", "problems": problems }),
            )
        }
    }

    async fn check_readiness(&self) -> Vec<String> {
        let backends = self.backends();
        let mut problems = Vec::new();
        let mut failed = |component: &str, e: &BackendError| {
            tracing::warn!(target: "seamless::health", component, error = %e, "not ready");
            problems.push(format!("{component}: {:?}", e.kind).to_ascii_lowercase());
        };
        match backends.keys.key_ring().await {
            Ok(ring) if ring.accounts().is_empty() => {
                failed(
                    "keys",
                    &BackendError::corrupt("the key ring holds no account"),
                );
            }
            Ok(_) => {}
            Err(e) => failed("keys", &e),
        }
        let probe = UserQuery::Logins(vec![PROBE_LOGIN.into()]);
        if let Err(e) = backends.directory.find(&probe).await {
            failed("directory", &e);
        }
        if let Err(e) = backends.store.get(PROBE_KEY).await {
            failed("store", &e);
        }
        problems
    }
}
