//! What a [`Step`] shows, flattened for assertions: the page of a waiting flow,
//! or how the flow ended. Tests compare one value instead of matching the
//! step's shape each time.

use crate::engine::{Step, View};
use crate::error::Code;
use crate::model::{Completion, MfaMethod};

/// A step as one comparable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// [`View::Username`].
    Username {
        /// Why the last entry was refused.
        error: Option<Code>,
    },
    /// [`View::Challenge`] (also when answered with a Negotiate challenge).
    Challenge {
        /// The user name being signed in.
        username: Option<String>,
    },
    /// [`View::Password`].
    Password {
        /// Prefilled user name.
        username: Option<String>,
        /// Why seamless sign-in did not happen.
        reason: Option<Code>,
        /// Why the last password was refused.
        error: Option<Code>,
    },
    /// [`View::Mfa`].
    Mfa {
        /// Acceptable methods.
        methods: Vec<MfaMethod>,
        /// Why the last code was refused.
        error: Option<Code>,
    },
    /// [`Step::Completed`].
    Completed(Box<Completion>),
    /// [`Step::Denied`].
    Denied {
        /// Why.
        code: Code,
    },
    /// [`Step::Restart`].
    Restart {
        /// Why.
        code: Code,
    },
}

/// Assertion helpers on [`Step`].
pub trait StepExt {
    /// What the step shows.
    fn shown(&self) -> Shown;
    /// Whether the step answers with a Negotiate challenge.
    fn challenged(&self) -> bool;
}

impl StepExt for Step {
    fn shown(&self) -> Shown {
        match self {
            Step::Page(w) | Step::Challenge(w) => match w.view.clone() {
                View::Username { error } => Shown::Username { error },
                View::Challenge { username } => Shown::Challenge { username },
                View::Password {
                    username,
                    reason,
                    error,
                } => Shown::Password {
                    username,
                    reason,
                    error,
                },
                View::Mfa { methods, error } => Shown::Mfa { methods, error },
            },
            Step::Completed { completion, .. } => Shown::Completed(completion.clone()),
            Step::Denied { code, .. } => Shown::Denied { code: *code },
            Step::Restart { code, .. } => Shown::Restart { code: *code },
        }
    }

    fn challenged(&self) -> bool {
        matches!(self, Step::Challenge(_))
    }
}
