//! What one engine call returns: one of the things that can really happen, each
//! with exactly the data it has (a waiting flow has a sealed state; a finished
//! one has none).

use crate::error::Code;
use crate::model::{Completion, MfaMethod, SignInRequest};

/// The page a waiting flow shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum View {
    /// The user-name form.
    Username {
        /// Why the last entry was refused.
        error: Option<Code>,
    },
    /// The page that makes the background Negotiate request.
    Challenge {
        /// The user name being signed in.
        username: Option<String>,
    },
    /// The password form.
    Password {
        /// Prefilled user name.
        username: Option<String>,
        /// Why seamless sign-in did not happen.
        reason: Option<Code>,
        /// Why the last password was refused.
        error: Option<Code>,
    },
    /// The second-factor form.
    Mfa {
        /// Acceptable methods.
        methods: Vec<MfaMethod>,
        /// Why the last code was refused.
        error: Option<Code>,
    },
}

/// A flow that waits for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The flow id (the client's binding cookie value).
    pub flow_id: String,
    /// What to show.
    pub view: View,
    /// The sealed state the next request carries back.
    pub sealed: String,
    /// The application's request.
    pub request: SignInRequest,
    /// A final `WWW-Authenticate: Negotiate <token>` (AP-REP for mutual auth),
    /// when a valid ticket led here (a second factor is asked next).
    pub negotiate_response: Option<String>,
}

/// The result of one engine call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// The flow waits for the user at a page.
    Page(Waiting),
    /// No Negotiate token yet: answer `401` with `WWW-Authenticate: Negotiate`;
    /// the flow waits as it was.
    Challenge(Waiting),
    /// Signed in.
    Completed {
        /// The finished sign-in.
        completion: Box<Completion>,
        /// A final `WWW-Authenticate: Negotiate <token>` (AP-REP for mutual auth).
        negotiate_response: Option<String>,
    },
    /// Refused for good.
    Denied {
        /// The flow id.
        flow_id: String,
        /// Why.
        code: Code,
        /// The application's request (to answer it with the refusal).
        request: SignInRequest,
    },
    /// The sealed state was expired, forged or foreign: start again.
    Restart {
        /// The binding the client sent.
        flow_id: String,
        /// Why.
        code: Code,
    },
}

impl Step {
    /// The flow id (the client's binding cookie value).
    pub fn flow_id(&self) -> &str {
        match self {
            Step::Page(w) | Step::Challenge(w) => &w.flow_id,
            Step::Completed { completion, .. } => &completion.flow_id,
            Step::Denied { flow_id, .. } | Step::Restart { flow_id, .. } => flow_id,
        }
    }

    /// The sealed state, while the flow waits.
    pub fn sealed(&self) -> Option<&str> {
        self.waiting().map(|w| w.sealed.as_str())
    }

    /// The page, while the flow waits.
    pub fn view(&self) -> Option<&View> {
        self.waiting().map(|w| &w.view)
    }

    /// The waiting flow, if it waits.
    pub fn waiting(&self) -> Option<&Waiting> {
        match self {
            Step::Page(w) | Step::Challenge(w) => Some(w),
            _ => None,
        }
    }

    /// The finished sign-in, if it finished.
    pub fn completion(&self) -> Option<&Completion> {
        match self {
            Step::Completed { completion, .. } => Some(completion),
            _ => None,
        }
    }

    /// Start again: the sealed state was expired, forged or foreign.
    pub(crate) fn restart(flow_id: String, code: Code) -> Self {
        Step::Restart { flow_id, code }
    }

    /// Attaches the final Negotiate token of a validated ticket.
    pub(crate) fn with_negotiate_response(mut self, token: Option<String>) -> Self {
        match &mut self {
            Step::Page(w) | Step::Challenge(w) => w.negotiate_response = token,
            Step::Completed {
                negotiate_response, ..
            } => *negotiate_response = token,
            Step::Denied { .. } | Step::Restart { .. } => {}
        }
        self
    }
}
