//! The shared vocabulary: the values every layer above speaks in (users, sign-in
//! requests, how someone authenticated, policy decisions, finished sign-ins).
//! Plain data; nothing here performs I/O or depends on a layer above.

mod net;
mod sign_in;
mod user;

pub use net::address_bucket;
pub use sign_in::{Audience, AuthFacts, Completion, Decision, Method, SignInRequest, TicketFacts};
pub use user::{MfaMethod, User, UserQuery};
