//! What a [`Step`] shows, flattened for assertions: the page of a waiting flow,
//! or how the flow ended. Tests compare one value instead of matching the
//! step's shape each time.

use crate::engine::{Step, View};
use crate::error::Code;
use crate::model::Completion;

/// A step as one comparable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A waiting flow's page ([`Step::Page`] and [`Step::Challenge`]).
    Page(View),
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
            Step::Page(w) | Step::Challenge(w) => Shown::Page(w.view.clone()),
            Step::Completed { completion, .. } => Shown::Completed(completion.clone()),
            Step::Denied { code, .. } => Shown::Denied { code: *code },
            Step::Restart { code, .. } => Shown::Restart { code: *code },
        }
    }

    fn challenged(&self) -> bool {
        matches!(self, Step::Challenge(_))
    }
}
