//! The sign-in state machine, sans-IO.
//!
//! Each state is its own type; a transition consumes the old state and returns a
//! [`Next`]. Inputs are plain data (a typed user name, a validated ticket or its
//! refusal, a directory answer, a policy decision, a password or second-factor
//! outcome); the machine performs no I/O, reads no clock and draws no randomness:
//! the [`Engine`](crate::engine::Engine) does, and feeds the results back.
//!
//! ```text
//! begin ─┬─ hint, negotiate allowed ──────────────► Challenging
//!        ├─ no hint / suppressed / prompt=login ──► AwaitingUsername ── submit ──► Challenging
//!        └─ negotiate not allowed ────────────────► AwaitingUsername / AwaitingPassword
//! Challenging ── ticket ──► TicketValidated ── directory ──► PolicyPending ── decision ─┐
//!      │ refusal / timeout      │ not found, mismatch          ▲                        │
//!      ▼                        ▼                              │ password ok            ▼
//! AwaitingPassword ◄────────────┴──────────────────────────────┘            Completed | AwaitingMfa | Denied
//! AwaitingMfa ── code ok ──► Completed;  too many failures ──► Denied
//! ```
//!
//! States that survive between requests ([`FlowState`]) are serialised and sealed
//! by [`Sealer`](crate::seal::Sealer); the transient ones live only inside one engine call.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{BackendError, BackendErrorKind, Code};
pub use crate::model::{AuthFacts, SignInRequest};
use crate::model::{Decision, Method, MfaMethod, TicketFacts, User, UserQuery};

/// The longest user name accepted on the form.
pub const MAX_USERNAME_LEN: usize = 256;

/// Whether this flow may try Negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NegotiateMode {
    /// Yes.
    Allowed,
    /// No: policy refused it for this request (outside the intranet, ...).
    NotAllowed(Code),
    /// Not automatically: the user signed out; only an explicit user name starts it.
    Suppressed,
}

/// What every state carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowCore {
    /// Random flow id; the client's binding cookie must hold the same value.
    pub id: String,
    /// The request.
    pub request: SignInRequest,
    /// When the flow began (Unix seconds).
    pub started_at: i64,
    /// The client's address, after trusted-proxy handling.
    pub client_addr: Option<IpAddr>,
    /// Whether Negotiate may be tried.
    pub negotiate: NegotiateMode,
}

/// Waiting for the user to type a user name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingUsername {
    /// The flow.
    pub core: FlowCore,
    /// Why the last submission was refused.
    pub error: Option<Code>,
}

/// The page is making the background Negotiate request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenging {
    /// The flow.
    pub core: FlowCore,
    /// The typed or hinted user name, which the ticket's user must match.
    pub username: Option<String>,
}

/// Waiting for a password (the fallback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingPassword {
    /// The flow.
    pub core: FlowCore,
    /// The user name to prefill.
    pub username: Option<String>,
    /// Why seamless sign-in did not happen (shown to operators, not as an error).
    pub reason: Option<Code>,
    /// Why the last password was refused.
    pub error: Option<Code>,
    /// The first factor was a ticket whose user the policy sent here; the password
    /// must then be that user's.
    pub expected_user: Option<String>,
}

/// Waiting for a second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingMfa {
    /// The flow.
    pub core: FlowCore,
    /// Who passed the first factor.
    pub user: User,
    /// How.
    pub auth: AuthFacts,
    /// Acceptable second factors (those policy asked for that the user has).
    pub methods: Vec<MfaMethod>,
    /// Why the last code was refused.
    pub error: Option<Code>,
}

/// A ticket validated; the directory must be asked who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketValidated {
    /// The flow.
    pub core: FlowCore,
    /// The typed or hinted user name.
    pub username: Option<String>,
    /// The ticket.
    pub ticket: TicketFacts,
}

/// A first factor passed; policy must decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPending {
    /// The flow.
    pub core: FlowCore,
    /// The user.
    pub user: User,
    /// How they authenticated.
    pub auth: AuthFacts,
}

/// Signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The flow.
    pub core: FlowCore,
    /// The user.
    pub user: User,
    /// How they authenticated.
    pub auth: AuthFacts,
}

/// Refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The flow.
    pub core: FlowCore,
    /// Why.
    pub code: Code,
}

/// The states that survive between requests (sealed into the page). Externally
/// tagged (`{"challenging":{...}}`): an internal tag would make every open buffer
/// the whole state before reading it, copying each string twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// See [`AwaitingUsername`].
    AwaitingUsername(AwaitingUsername),
    /// See [`Challenging`].
    Challenging(Challenging),
    /// See [`AwaitingPassword`].
    AwaitingPassword(AwaitingPassword),
    /// See [`AwaitingMfa`].
    AwaitingMfa(Box<AwaitingMfa>),
}

impl FlowState {
    /// The flow.
    pub fn core(&self) -> &FlowCore {
        match self {
            FlowState::AwaitingUsername(s) => &s.core,
            FlowState::Challenging(s) => &s.core,
            FlowState::AwaitingPassword(s) => &s.core,
            FlowState::AwaitingMfa(s) => &s.core,
        }
    }

    /// The user-name step, or the state as it is.
    // The state moves by value either way; boxing would allocate per request.
    #[allow(clippy::result_large_err)]
    pub fn into_username(self) -> Result<AwaitingUsername, Self> {
        match self {
            FlowState::AwaitingUsername(s) => Ok(s),
            other => Err(other),
        }
    }

    /// The Negotiate step, or the state as it is.
    // The state moves by value either way; boxing would allocate per request.
    #[allow(clippy::result_large_err)]
    pub fn into_challenging(self) -> Result<Challenging, Self> {
        match self {
            FlowState::Challenging(s) => Ok(s),
            other => Err(other),
        }
    }

    /// The password step, or the state as it is.
    // The state moves by value either way; boxing would allocate per request.
    #[allow(clippy::result_large_err)]
    pub fn into_password(self) -> Result<AwaitingPassword, Self> {
        match self {
            FlowState::AwaitingPassword(s) => Ok(s),
            other => Err(other),
        }
    }

    /// The second-factor step, or the state as it is.
    // The state moves by value either way; boxing would allocate per request.
    #[allow(clippy::result_large_err)]
    pub fn into_mfa(self) -> Result<Box<AwaitingMfa>, Self> {
        match self {
            FlowState::AwaitingMfa(s) => Ok(s),
            other => Err(other),
        }
    }
}

/// Where a transition leads.
// Transient: built and matched once per transition, never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A state that waits for the user.
    Wait(FlowState),
    /// The directory must be asked.
    Lookup(TicketValidated),
    /// Policy must decide.
    Decide(PolicyPending),
    /// Done.
    Completed(Box<Completed>),
    /// Refused.
    Denied(Denied),
}

fn password(core: FlowCore, username: Option<String>, reason: Code) -> Next {
    Next::Wait(FlowState::AwaitingPassword(AwaitingPassword {
        core,
        username,
        reason: Some(reason),
        error: None,
        expected_user: None,
    }))
}

fn denied(core: FlowCore, code: Code) -> Next {
    Next::Denied(Denied { core, code })
}

/// Starts a flow.
pub fn begin(core: FlowCore) -> Next {
    let hint = core.request.login_hint.clone();
    let hinted = hint.is_some() || core.request.domain_hint.is_some() || core.request.tenanted;
    match core.negotiate {
        NegotiateMode::NotAllowed(code) if hint.is_some() => password(core, hint, code),
        NegotiateMode::Allowed if hinted && !core.request.prompt_login => {
            Next::Wait(FlowState::Challenging(Challenging {
                core,
                username: hint,
            }))
        }
        _ => Next::Wait(FlowState::AwaitingUsername(AwaitingUsername {
            core,
            error: None,
        })),
    }
}

/// A user name as typed: trimmed, bounded, no control characters.
pub fn clean_username(raw: &str) -> Option<String> {
    let name = raw.trim();
    (!name.is_empty() && name.len() <= MAX_USERNAME_LEN && !name.chars().any(char::is_control))
        .then(|| name.to_string())
}

impl AwaitingUsername {
    /// The user typed a name. Typing one is an explicit sign-in, so it lifts the
    /// sign-out suppression.
    pub fn submit(mut self, raw: &str) -> Next {
        let Some(username) = clean_username(raw) else {
            self.error = Some(Code::BadRequest);
            return Next::Wait(FlowState::AwaitingUsername(self));
        };
        match self.core.negotiate {
            NegotiateMode::NotAllowed(code) => password(self.core, Some(username), code),
            NegotiateMode::Allowed | NegotiateMode::Suppressed => {
                self.core.negotiate = NegotiateMode::Allowed;
                Next::Wait(FlowState::Challenging(Challenging {
                    core: self.core,
                    username: Some(username),
                }))
            }
        }
    }
}

impl Challenging {
    /// The acceptor's verdict on the Negotiate token: any refusal is a fallback to
    /// the password form with the refusal's code, never a dead end.
    pub fn on_ticket(self, verdict: Result<TicketFacts, Code>) -> Next {
        match verdict {
            Ok(ticket) => Next::Lookup(TicketValidated {
                core: self.core,
                username: self.username,
                ticket,
            }),
            Err(code) if code == Code::StoreUnavailable => denied(self.core, code),
            Err(code) => password(self.core, self.username, code),
        }
    }

    /// The page gave up (no ticket within its timeout, the background request failed).
    pub fn give_up(self, code: Code) -> Next {
        password(self.core, self.username, code)
    }
}

impl TicketValidated {
    /// What to ask the directory: the SID when the PAC has one (as Entra does),
    /// otherwise the login names the principal maps to. `None`: the ticket's realm
    /// is not trusted.
    pub fn query(&self, logins: Option<Vec<String>>) -> Option<UserQuery> {
        match &self.ticket.sid {
            Some(sid) => Some(UserQuery::Sid(sid.clone())),
            None => logins.map(UserQuery::Logins),
        }
    }

    /// The directory's answer.
    pub fn on_directory(self, answer: Result<Option<User>, BackendError>) -> Next {
        let not_found = if self.ticket.sid.is_some() {
            Code::UserNotFoundBySid
        } else {
            Code::UserNotFoundByPrincipal
        };
        let user = match answer {
            Err(e) if e.kind == BackendErrorKind::Unavailable => {
                return denied(self.core, Code::DirectoryUnavailable);
            }
            Err(_) => return denied(self.core, Code::DirectoryUnavailable),
            Ok(None) => return password(self.core, self.username, not_found),
            Ok(Some(user)) => user,
        };
        if let Some(typed) = &self.username
            && !user.answers_to(typed)
        {
            return password(self.core, self.username, Code::UserMismatch);
        }
        if let Some(code) = user.refusal() {
            return denied(self.core, code);
        }
        let auth = AuthFacts {
            methods: vec![Method::Kerberos],
            auth_time: self.ticket.auth_time,
            not_after: Some(self.ticket.end_time),
            ticket: Some(self.ticket),
        };
        Next::Decide(PolicyPending {
            core: self.core,
            user,
            auth,
        })
    }
}

impl PolicyPending {
    /// [`PolicyPending::on_decision`], carrying on only what issuance reads. The
    /// PAC's group SIDs were for policy and are dropped. The user's groups are
    /// kept up to `max_groups + 1`: tokens and sessions carry at most
    /// `max_groups` and say `hasgroups` beyond that, which the one extra still
    /// tells. So a user in a thousand groups does not carry kilobytes in every
    /// sealed flow state, sign-in token and code, where they would outgrow the
    /// limits on form posts and sealed values.
    pub fn on_decision_slimmed(mut self, decision: Decision, max_groups: usize) -> Next {
        if let Some(ticket) = self.auth.ticket.as_mut() {
            ticket.group_sids = Vec::new();
        }
        self.user.keep_groups(max_groups);
        self.on_decision(decision)
    }

    /// The policy's decision.
    pub fn on_decision(self, decision: Decision) -> Next {
        let first_factor_kerberos = self.auth.methods.first() == Some(&Method::Kerberos);
        match decision {
            Decision::Allow => Next::Completed(Box::new(Completed {
                core: self.core,
                user: self.user,
                auth: self.auth,
            })),
            Decision::RequireMfa(asked) => {
                let methods: Vec<MfaMethod> = asked
                    .into_iter()
                    .filter(|m| self.user.mfa.contains(m))
                    .collect();
                if methods.is_empty() {
                    return denied(self.core, Code::MfaNotEnrolled);
                }
                Next::Wait(FlowState::AwaitingMfa(Box::new(AwaitingMfa {
                    core: self.core,
                    user: self.user,
                    auth: self.auth,
                    methods,
                    error: None,
                })))
            }
            Decision::Deny(code) => denied(self.core, code),
            Decision::Fallback(code) if first_factor_kerberos => {
                let upn = self.user.upn.clone();
                Next::Wait(FlowState::AwaitingPassword(AwaitingPassword {
                    core: self.core,
                    username: Some(upn.clone()),
                    reason: Some(code),
                    error: None,
                    expected_user: Some(upn),
                }))
            }
            // A fallback from the fallback is a refusal.
            Decision::Fallback(code) => denied(self.core, code),
        }
    }
}

/// What checking a password found.
#[allow(clippy::large_enum_variant)] // transient, as `Next`
#[derive(Debug)]
pub enum PasswordOutcome {
    /// Correct, for this user.
    Verified(User),
    /// Wrong user name or password (uniform).
    Rejected,
    /// Too many attempts for this user or address.
    RateLimited,
    /// A backend could not answer.
    Unavailable(Code),
}

impl AwaitingPassword {
    /// The outcome of checking the submitted user name and password (`now` in Unix
    /// seconds becomes the authentication time).
    pub fn on_password(mut self, outcome: PasswordOutcome, now: i64) -> Next {
        match outcome {
            PasswordOutcome::Verified(user) => {
                if let Some(expected) = &self.expected_user
                    && !user.answers_to(expected)
                {
                    self.error = Some(Code::UserMismatch);
                    return Next::Wait(FlowState::AwaitingPassword(self));
                }
                if let Some(code) = user.refusal() {
                    return denied(self.core, code);
                }
                let auth = AuthFacts {
                    methods: vec![Method::Password],
                    auth_time: now,
                    not_after: None,
                    ticket: None,
                };
                Next::Decide(PolicyPending {
                    core: self.core,
                    user,
                    auth,
                })
            }
            PasswordOutcome::Rejected => {
                self.error = Some(Code::InvalidCredentials);
                Next::Wait(FlowState::AwaitingPassword(self))
            }
            PasswordOutcome::RateLimited => {
                self.error = Some(Code::RateLimited);
                Next::Wait(FlowState::AwaitingPassword(self))
            }
            PasswordOutcome::Unavailable(code) => denied(self.core, code),
        }
    }
}

/// What checking a second-factor code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaOutcome {
    /// The code was right.
    Accepted(MfaMethod),
    /// Wrong; this many failures so far in this flow.
    Rejected {
        /// Failures counted in the shared store.
        failures: u64,
    },
    /// The verifier or store could not answer.
    Unavailable(Code),
}

impl AwaitingMfa {
    /// The outcome of checking a code; `max_failures` wrong codes end the flow.
    pub fn on_code(mut self, outcome: MfaOutcome, max_failures: u64) -> Next {
        match outcome {
            MfaOutcome::Accepted(_) => {
                self.auth.methods.push(Method::Otp);
                Next::Completed(Box::new(Completed {
                    core: self.core,
                    user: self.user,
                    auth: self.auth,
                }))
            }
            MfaOutcome::Rejected { failures } if failures >= max_failures => {
                denied(self.core, Code::MfaFailed)
            }
            MfaOutcome::Rejected { .. } => {
                self.error = Some(Code::MfaFailed);
                Next::Wait(FlowState::AwaitingMfa(Box::new(self)))
            }
            MfaOutcome::Unavailable(code) => denied(self.core, code),
        }
    }
}
