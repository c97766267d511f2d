//! What one engine call returns: what to show next, and the sealed state.

use crate::error::Code;
use crate::model::{Completion, MfaMethod, SignInRequest};

/// What the page should show next.
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
    /// Signed in.
    Completed(Box<Completion>),
    /// Refused for good.
    Denied {
        /// Why.
        code: Code,
    },
    /// The sign-in state was expired, forged or foreign: start again.
    Restart {
        /// Why.
        code: Code,
    },
}

/// The result of one engine call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The flow id (the client's binding cookie value).
    pub flow_id: String,
    /// What to show.
    pub view: View,
    /// The new sealed state, when the flow waits for the user.
    pub sealed: Option<String>,
    /// Answer the request with `401` + `WWW-Authenticate: Negotiate` (no token yet).
    pub challenge: bool,
    /// A final `WWW-Authenticate: Negotiate <token>` (AP-REP for mutual auth).
    pub negotiate_response: Option<String>,
    /// The application's request, while the flow is open or when it was refused.
    pub request: Option<SignInRequest>,
}

impl Step {
    /// A step that shows `view` and holds no state.
    pub(crate) fn ended(flow_id: String, view: View, request: Option<SignInRequest>) -> Self {
        Self {
            flow_id,
            view,
            sealed: None,
            challenge: false,
            negotiate_response: None,
            request,
        }
    }

    /// Start again: the sealed state was expired, forged or foreign.
    pub(crate) fn restart(flow_id: String, code: Code) -> Self {
        Self::ended(flow_id, View::Restart { code }, None)
    }
}
