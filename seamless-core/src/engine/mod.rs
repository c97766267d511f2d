//! The engine: owns the sign-in backends, runs the sign-in machine ([`flow`]) and
//! performs what it asks for (ticket validation and the replay check, directory
//! look-ups, policy, password and second-factor checks, rate limits).
//!
//! Every entry point takes the sealed state the page sent back and the client's
//! binding (the flow ids of its flow cookies, comma-separated) and returns a
//! [`Step`]: what to show
//! next and the new sealed state. Backend failures are typed and fail closed.
//! The engine knows nothing of HTTP or tokens: [`Provider`](crate::http::Provider)
//! sits above it.
//!
//! | file | |
//! |---|---|
//! | `builder.rs` | [`EngineBuilder`]: required and default backends |
//! | `config.rs` | [`EngineConfig`], [`Limits`], [`Durability`] |
//! | `step.rs` | [`Step`] (page, challenge, completed, denied, restart), [`View`] |
//! | `driver.rs` | the one loop that settles the machine, browser and native |
//! | `attempts.rs` | passwords, second factors and their limits |
//! | `sign_in_token.rs` | sealing a finished sign-in for the page or a native client |

mod attempts;
mod builder;
mod config;
mod driver;
mod sign_in_token;
mod step;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

pub use builder::{DangerousBuilder, EngineBuilder};
pub use config::{Durability, EngineConfig, Limits};
pub use sign_in_token::SIGN_IN_TOKEN_TTL;
pub use step::{Step, View, Waiting};

use crate::backends::{
    Decision, Directory, KeyStore, Method, MfaVerifier, NegotiateContext, Password,
    PasswordVerifier, Policy, PolicyInput, Store, User, UserQuery,
};
use crate::clock::Clock;
use crate::error::Code;
use crate::flow::{self, FlowCore, FlowState, NegotiateMode, SignInRequest};
use crate::kerberos::{Acceptor, Entropy, KerberosError, ReplayCache, ValidatedTicket};
use crate::model::Completion;
use crate::seal::Sealer;

/// The sign-in engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: EngineConfig,
    acceptor: Acceptor,
    policy: Arc<dyn Policy>,
    mfa: Arc<dyn MfaVerifier>,
    passwords: Arc<dyn PasswordVerifier>,
    /// False under `no_passwords`: the fallback is a refusal, not a form.
    passwords_enabled: bool,
    replay: Arc<dyn ReplayCache>,
    backends: Backends,
}

/// The backends the layers above the engine share with it (one store, one
/// clock, one source of randomness, one sealing key ring).
#[derive(Clone)]
pub(crate) struct Backends {
    pub(crate) keys: Arc<dyn KeyStore>,
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) entropy: Arc<dyn Entropy>,
    pub(crate) sealer: Sealer,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

impl Backends {
    /// Now, in Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// A random 128-bit identifier, in hex.
    pub(crate) fn random_id(&self) -> Result<String, Code> {
        let mut id = [0u8; 16];
        self.entropy
            .fill(&mut id)
            .map_err(|_| Code::StoreUnavailable)?;
        Ok(crate::kerberos::crypto::hex(&id))
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder: keys, directory and passwords are required.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// What the layers above share with the engine.
    pub(crate) fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    fn now(&self) -> i64 {
        self.inner.backends.now()
    }

    /// Starts a sign-in. `suppressed`: the client carries the sign-out marker, so
    /// Negotiate must not start by itself.
    pub async fn start(
        &self,
        request: SignInRequest,
        client_addr: Option<IpAddr>,
        suppressed: bool,
    ) -> Step {
        let id = match self.inner.backends.random_id() {
            Ok(id) => id,
            Err(code) => return Step::restart(String::new(), code),
        };
        let ctx = NegotiateContext {
            client_addr,
            application: &request.client_id,
        };
        let negotiate = match self.inner.policy.allow_negotiate(&ctx) {
            Err(code) => NegotiateMode::NotAllowed(code),
            Ok(()) if suppressed => NegotiateMode::Suppressed,
            Ok(()) => NegotiateMode::Allowed,
        };
        let core = FlowCore {
            id,
            request,
            started_at: self.now(),
            client_addr,
            negotiate,
        };
        self.drive(flow::begin(core)).await
    }

    /// Opens the sealed state the client sent back. It must belong to this
    /// client (`binding`) and wait at the step `pick` takes; then `then` runs on
    /// it. A state at another step is shown again; a bad one restarts the flow.
    async fn resume<S, F>(
        &self,
        sealed: &str,
        binding: &str,
        pick: fn(FlowState) -> Result<S, FlowState>,
        then: impl FnOnce(S) -> F,
    ) -> Step
    where
        F: Future<Output = Step>,
    {
        match self.open(sealed, binding) {
            Ok(state) => match pick(state) {
                Ok(at_step) => then(at_step).await,
                Err(other) => self.wait(other, false),
            },
            Err(code) => Step::restart(binding.to_string(), code),
        }
    }

    fn open(&self, sealed: &str, binding: &str) -> Result<FlowState, Code> {
        let state: FlowState =
            self.inner
                .backends
                .sealer
                .open(driver::PURPOSE_FLOW, sealed, self.now())?;
        // The state is bound to the browser that started it: a cookie holds the id.
        if !bound(binding, &state.core().id) {
            return Err(Code::FlowInvalid);
        }
        Ok(state)
    }

    /// The user-name form was posted.
    pub async fn submit_username(&self, sealed: &str, binding: &str, username: &str) -> Step {
        self.resume(sealed, binding, FlowState::into_username, |s| {
            self.drive(s.submit(username))
        })
        .await
    }

    /// The background Negotiate request: `authorization` is the base64 token after
    /// `Negotiate `, or `None` when the browser sent none yet.
    pub async fn negotiate(
        &self,
        sealed: &str,
        binding: &str,
        authorization: Option<&[u8]>,
    ) -> Step {
        self.resume(
            sealed,
            binding,
            FlowState::into_challenging,
            move |state| async move {
                let Some(token) = authorization else {
                    return Self::challenge(state, sealed);
                };
                let (verdict, response) = self.validate(token).await;
                // A ticket proves when its user signed in to Windows, not that they
                // are at the keyboard now: under a shorter `max_age` the password
                // (an active authentication) is asked for instead.
                let now = self.now();
                let verdict = verdict.and_then(|ticket| {
                    if state.core.request.accepts_auth_time(ticket.auth_time, now) {
                        Ok(ticket)
                    } else {
                        Err(Code::InteractionRequired)
                    }
                });
                let step = self.drive(state.on_ticket(verdict)).await;
                step.with_negotiate_response(response)
            },
        )
        .await
    }

    /// The background Negotiate request carried something that is not a usable
    /// Negotiate token (another scheme, an oversized header): `code` says why.
    pub async fn refuse_negotiate(&self, sealed: &str, binding: &str, code: Code) -> Step {
        self.resume(sealed, binding, FlowState::into_challenging, |s| {
            self.drive(s.on_ticket(Err(code)))
        })
        .await
    }

    /// Whether the password fallback exists (not under `no_passwords`).
    pub fn passwords_enabled(&self) -> bool {
        self.inner.passwords_enabled
    }

    /// Shows the step a sealed state waits at (the page posts back a state the
    /// background request returned).
    pub async fn show(&self, sealed: &str, binding: &str) -> Step {
        match self.open(sealed, binding) {
            Ok(state) => self.wait(state, false),
            Err(c) => Step::restart(binding.to_string(), c),
        }
    }

    /// The page gave up on Negotiate (timeout, the background request failed) and asks for the form.
    pub async fn give_up(&self, sealed: &str, binding: &str) -> Step {
        self.resume(sealed, binding, FlowState::into_challenging, |s| {
            self.drive(s.give_up(Code::NoTicket))
        })
        .await
    }

    /// The password form was posted.
    pub async fn submit_password(
        &self,
        sealed: &str,
        binding: &str,
        username: &str,
        password: &Password,
    ) -> Step {
        self.resume(
            sealed,
            binding,
            FlowState::into_password,
            move |state| async move {
                let outcome = self.check_password(&state.core, username, password).await;
                self.drive(state.on_password(outcome, self.now())).await
            },
        )
        .await
    }

    /// The second-factor form was posted.
    pub async fn submit_mfa(&self, sealed: &str, binding: &str, code: &str) -> Step {
        self.resume(
            sealed,
            binding,
            FlowState::into_mfa,
            move |state| async move {
                let per_flow = self.inner.config.limits.mfa_per_flow;
                let outcome = self.check_code(&state, code).await;
                self.drive(state.on_code(outcome, per_flow)).await
            },
        )
        .await
    }

    /// Looks the user of an earlier sign-in up again and applies the same refusals
    /// as a sign-in, for `application`: used before anything is issued without a
    /// fresh authentication (a refresh, a silent sign-in from a session, a native
    /// assertion redeemed by a client). Returns the user as the directory has them
    /// now (fresh groups, at most `max_groups + 1` of them, as after a sign-in's
    /// decision), or why not: the account's refusal, a policy denial,
    /// `InteractionRequired` when policy now wants a factor the sign-in did not
    /// have, `UserNotFoundBySid` when the account is gone or is someone else now,
    /// `DirectoryUnavailable` when the directory cannot answer.
    pub async fn recheck(
        &self,
        completion: &Completion,
        application: &str,
        client_addr: Option<IpAddr>,
    ) -> Result<User, Code> {
        let before = &completion.user;
        let query = match &before.sid {
            Some(sid) => UserQuery::Sid(sid.clone()),
            None => UserQuery::Logins(vec![before.upn.clone()]),
        };
        let user = match self.inner.backends.directory.find(&query).await {
            Ok(Some(u)) if u.id == before.id => u,
            Ok(_) => return Err(Code::UserNotFoundBySid),
            Err(_) => return Err(Code::DirectoryUnavailable),
        };
        if let Some(code) = user.refusal() {
            return Err(code);
        }
        let methods = &completion.auth.methods;
        let input = PolicyInput {
            user: &user,
            method: methods.first().copied().unwrap_or(Method::Password),
            ticket: None,
            client_addr,
            application,
            now: self.now(),
        };
        let mut user = match self.inner.policy.decide(&input) {
            Decision::Allow => user,
            Decision::RequireMfa(_) if methods.contains(&Method::Otp) => user,
            Decision::RequireMfa(_) => return Err(Code::InteractionRequired),
            Decision::Deny(code) | Decision::Fallback(code) => return Err(code),
        };
        // As at a sign-in's decision: what is stored from here carries no more
        // groups than tokens can tell apart.
        user.keep_groups(self.inner.config.tokens.max_groups);
        Ok(user)
    }

    /// Validates a Negotiate token on its own (for middleware that only needs the
    /// Kerberos identity), including the replay check.
    pub async fn accept_token(&self, token: &[u8]) -> Result<ValidatedTicket, Code> {
        self.accept(token)
            .await?
            .map_err(|e| Code::from_kerberos(&e))
    }

    /// The acceptor on the current key ring, with the replay check. A ticket
    /// naming a key version the ring does not hold (a rollover has just changed
    /// the password in AD) is tried once more on a ring the key store re-reads
    /// now; the first attempt stopped before the replay check, so nothing was
    /// recorded. `Err`: no key ring at all.
    pub(crate) async fn accept(
        &self,
        token: &[u8],
    ) -> Result<Result<ValidatedTicket, KerberosError>, Code> {
        let backends = &self.inner.backends;
        let replay = self.inner.replay.as_ref();
        let ring = backends.keys.key_ring().await.map_err(|_| {
            backends.metrics.backend_error("keys");
            Code::KeysUnavailable
        })?;
        let now = backends.clock.now();
        let first = self.inner.acceptor.accept(token, &ring, replay, now).await;
        let result = match &first {
            Err(KerberosError::NoKey { kvno, .. }) => match backends.keys.reload().await {
                Ok(Some(newer)) => {
                    tracing::info!(target: "seamless::kerberos", kvno = ?kvno, "key ring re-read at once: a ticket named a key version it did not hold");
                    self.inner.acceptor.accept(token, &newer, replay, now).await
                }
                Ok(None) => first,
                Err(e) => {
                    tracing::warn!(target: "seamless::kerberos", error = %e, "key ring could not be re-read");
                    backends.metrics.backend_error("keys");
                    first
                }
            },
            _ => first,
        };
        if let Err(e) = &result {
            backends.metrics.negotiate_failure(e.code());
        }
        Ok(result)
    }
}

/// Whether `binding` (flow ids, comma-separated: one per flow cookie the
/// browser sent) holds `flow_id`. Each is compared in constant time.
pub(crate) fn bound(binding: &str, flow_id: &str) -> bool {
    binding.split(',').fold(false, |found, id| {
        found
            | bool::from(subtle::ConstantTimeEq::ct_eq(
                id.as_bytes(),
                flow_id.as_bytes(),
            ))
    })
}
