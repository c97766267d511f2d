//! The one driver: runs the machine until it waits for the user or ends,
//! performing what it asks for (directory look-ups, policy). The browser path
//! turns where it settled into a [`Step`]; the native path, which cannot wait
//! for anyone, into a completion or a code.

use std::net::IpAddr;

use super::{Engine, Step, View, Waiting};
use crate::backends::{Method, PolicyInput, TicketFacts, User};
use crate::error::Code;
use crate::flow::{
    Challenging, Completed, Denied, FlowCore, FlowState, NegotiateMode, Next, PolicyPending,
    SignInRequest, TicketValidated,
};
use crate::kerberos::ValidatedTicket;
use crate::kerberos::pac::Pac;
use crate::model::Completion;

/// The sealing purpose of flow states (never opens as anything else).
pub(super) const PURPOSE_FLOW: &str = "flow";

/// Where the machine came to rest.
enum Settled {
    /// Waiting for the user.
    Wait(FlowState),
    /// Signed in.
    Completed(Box<Completed>),
    /// Refused.
    Denied(Denied),
}

impl Engine {
    /// Performs the machine's actions until it waits or ends; logs the end.
    async fn settle(&self, mut next: Next) -> Settled {
        loop {
            next = match next {
                Next::Lookup(validated) => self.lookup(validated).await,
                Next::Decide(pending) => self.decide(pending),
                // Without passwords the fallback is the refusal itself.
                Next::Wait(FlowState::AwaitingPassword(s)) if !self.inner.passwords_enabled => {
                    Next::Denied(Denied {
                        code: s.reason.unwrap_or(Code::NoTicket),
                        core: s.core,
                    })
                }
                Next::Wait(state) => return Settled::Wait(state),
                Next::Completed(done) => {
                    self.log_attempt(
                        &done.core,
                        "completed",
                        None,
                        done.auth.ticket.as_ref(),
                        Some(&done.user),
                    );
                    return Settled::Completed(done);
                }
                Next::Denied(denied) => {
                    self.log_attempt(&denied.core, "denied", Some(denied.code), None, None);
                    return Settled::Denied(denied);
                }
            }
        }
    }

    /// The browser path: where the machine settled, as a step.
    pub(super) async fn drive(&self, next: Next) -> Step {
        match self.settle(next).await {
            Settled::Wait(state) => self.wait(state, true),
            Settled::Completed(done) => Step::Completed {
                completion: Box::new(completion(*done)),
                negotiate_response: None,
            },
            Settled::Denied(denied) => Step::Denied {
                flow_id: denied.core.id,
                code: denied.code,
                request: denied.core.request,
            },
        }
    }

    /// The native-client path: one Negotiate token to a completion, with no
    /// interaction possible (a second factor yields `InteractionRequired`).
    pub async fn sign_in_native(
        &self,
        request: SignInRequest,
        client_addr: Option<IpAddr>,
        token: &[u8],
    ) -> Result<Completion, Code> {
        self.sign_in_native_mutual(request, client_addr, token)
            .await
            .map(|(completion, _)| completion)
    }

    /// [`Engine::sign_in_native`], with the final Negotiate token (the AP-REP
    /// when the client asked for mutual authentication) to send on success.
    pub(crate) async fn sign_in_native_mutual(
        &self,
        request: SignInRequest,
        client_addr: Option<IpAddr>,
        token: &[u8],
    ) -> Result<(Completion, Option<String>), Code> {
        let core = FlowCore {
            id: self.inner.backends.random_id()?,
            request,
            started_at: self.now(),
            client_addr,
            negotiate: NegotiateMode::Allowed,
        };
        let challenging = Challenging {
            core,
            username: None,
        };
        let (verdict, response) = self.validate(token).await;
        let (core, code, ticket, user) = match self.settle(challenging.on_ticket(verdict)).await {
            Settled::Completed(done) => return Ok((completion(*done), response)),
            Settled::Denied(denied) => return Err(denied.code),
            Settled::Wait(FlowState::AwaitingMfa(s)) => (
                s.core,
                Code::InteractionRequired,
                s.auth.ticket,
                Some(s.user),
            ),
            Settled::Wait(FlowState::AwaitingPassword(s)) => {
                (s.core, s.reason.unwrap_or(Code::NoTicket), None, None)
            }
            Settled::Wait(other) => (other.core().clone(), Code::BadRequest, None, None),
        };
        self.log_attempt(&core, "denied", Some(code), ticket.as_ref(), user.as_ref());
        Err(code)
    }

    /// Validates a Negotiate token: the ticket's facts or why not, and the final
    /// token for mutual authentication.
    pub(super) async fn validate(
        &self,
        token: &[u8],
    ) -> (Result<TicketFacts, Code>, Option<String>) {
        match self.accept(token).await {
            Err(code) => (Err(code), None),
            Ok(Ok(t)) => (Ok(ticket_facts(&t)), t.response_token.clone()),
            Ok(Err(e)) => {
                tracing::info!(target: "seamless::kerberos", code = e.code(), reason = e.reason(), rfc = e.rfc_name(), "ticket refused");
                (Err(Code::from_kerberos(&e)), None)
            }
        }
    }

    fn decide(&self, pending: PolicyPending) -> Next {
        let input = PolicyInput {
            user: &pending.user,
            method: pending
                .auth
                .methods
                .first()
                .copied()
                .unwrap_or(Method::Password),
            ticket: pending.auth.ticket.as_ref(),
            client_addr: pending.core.client_addr,
            application: &pending.core.request.client_id,
            now: self.now(),
        };
        let decision = self.inner.policy.decide(&input);
        pending.on_decision_slimmed(decision, self.inner.config.tokens.max_groups)
    }

    async fn lookup(&self, validated: TicketValidated) -> Next {
        let backends = &self.inner.backends;
        let mut mapping = self.inner.config.mapping.clone();
        if mapping.trusted_realms.is_empty()
            && let Ok(ring) = backends.keys.key_ring().await
        {
            mapping.trusted_realms = ring
                .accounts()
                .iter()
                .map(|a| a.realm().to_string())
                .collect();
        }
        let logins = validated
            .ticket
            .principal
            .parse()
            .ok()
            .and_then(|p| mapping.logins(&p));
        let answer = match validated.query(logins) {
            Some(query) => backends.directory.find(&query).await,
            None => Ok(None),
        };
        validated.on_directory(answer)
    }

    /// Seals a waiting state. `fresh`: the machine just arrived here (log a
    /// fallback once), rather than showing a state again.
    /// A Negotiate challenge for a flow that waits for its ticket. Nothing
    /// changed: the state the client sent (`sealed`, just opened) is the one
    /// it carries on, not sealed again.
    pub(super) fn challenge(state: Challenging, sealed: &str) -> Step {
        Step::Challenge(Waiting {
            flow_id: state.core.id,
            view: View::Challenge {
                username: state.username,
            },
            sealed: sealed.to_string(),
            request: state.core.request,
            negotiate_response: None,
        })
    }

    pub(super) fn wait(&self, state: FlowState, fresh: bool) -> Step {
        let core = state.core();
        let expires_at = core.started_at + self.inner.config.flow_ttl.as_secs() as i64;
        if let FlowState::AwaitingPassword(s) = &state
            && fresh
            && s.error.is_none()
        {
            self.log_attempt(&s.core, "fallback", s.reason, None, None);
        }
        let backends = &self.inner.backends;
        let sealed =
            backends
                .sealer
                .seal(PURPOSE_FLOW, &state, expires_at, backends.entropy.as_ref());
        // The state is sealed: what the page shows moves out of it.
        let (core, view) = match state {
            FlowState::AwaitingUsername(s) => (s.core, View::Username { error: s.error }),
            FlowState::Challenging(s) => (
                s.core,
                View::Challenge {
                    username: s.username,
                },
            ),
            FlowState::AwaitingPassword(s) => (
                s.core,
                View::Password {
                    username: s.username,
                    reason: s.reason,
                    error: s.error,
                },
            ),
            FlowState::AwaitingMfa(s) => (
                s.core,
                View::Mfa {
                    methods: s.methods,
                    error: s.error,
                },
            ),
        };
        match sealed {
            Ok(sealed) => Step::Page(Waiting {
                flow_id: core.id,
                view,
                sealed,
                request: core.request,
                negotiate_response: None,
            }),
            Err(code) => Step::restart(core.id, code),
        }
    }
}

fn completion(done: Completed) -> Completion {
    Completion {
        flow_id: done.core.id,
        user: done.user,
        auth: done.auth,
        request: done.core.request,
    }
}

fn ticket_facts(t: &ValidatedTicket) -> TicketFacts {
    let pac = t.pac.as_ref();
    TicketFacts {
        principal: t.client.to_string(),
        realm: t.client.realm.clone(),
        sid: pac.and_then(|p| p.user_sid().cloned()),
        group_sids: pac.map(Pac::group_sids).unwrap_or_default(),
        upn: pac.and_then(|p| p.upn_dns_info.as_ref().map(|u| u.upn.clone())),
        etype: t.etype.name().to_string(),
        weak_etype: t.etype.is_weak(),
        kvno: t.kvno,
        auth_time: t.auth_time,
        end_time: t.end_time,
    }
}

/// One structured event per sign-in attempt. Never a ticket, key, password or code.
impl Engine {
    /// Logs a finished attempt once and counts it.
    fn log_attempt(
        &self,
        core: &FlowCore,
        outcome: &'static str,
        code: Option<Code>,
        ticket: Option<&TicketFacts>,
        user: Option<&User>,
    ) {
        tracing::info!(
            target: "seamless::signin",
            flow = %core.id,
            outcome,
            code = code.map(Code::number),
            client = %core.request.client_id,
            realm = ticket.map(|t| t.realm.as_str()),
            kvno = ticket.map(|t| t.kvno),
            etype = ticket.map(|t| t.etype.as_str()),
            sid = ticket.and_then(|t| t.sid.as_ref()).map(tracing::field::display),
            user = user.map(|u| u.id.as_str()),
            "sign-in attempt"
        );
        let metrics = &self.inner.backends.metrics;
        metrics.sign_in(outcome, code.map(Code::number));
        match code {
            Some(Code::KeysUnavailable) => metrics.backend_error("keys"),
            Some(Code::DirectoryUnavailable) => metrics.backend_error("directory"),
            Some(Code::StoreUnavailable) => metrics.backend_error("store"),
            _ => {}
        }
    }
}
