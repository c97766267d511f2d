//! A sign-in: what the application asked for, how the user proved who they are,
//! what policy made of it, and the finished result.

use serde::{Deserialize, Serialize};

use super::user::{MfaMethod, User};
use crate::error::Code;

/// What the application asked for when it sent the user to sign in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInRequest {
    /// The application (OIDC client id).
    pub client_id: String,
    /// Where to return (validated by the HTTP layer against the client's list).
    pub redirect_uri: String,
    /// `login_hint`: who is signing in; skips the user-name step.
    pub login_hint: Option<String>,
    /// `domain_hint`: the user's domain; skips the user-name step.
    pub domain_hint: Option<String>,
    /// `prompt=login`: do not sign in silently.
    pub prompt_login: bool,
    /// The request names its tenant (the application itself in middleware mode,
    /// or a tenanted authority): like a hint, Negotiate starts without a user name.
    #[serde(default)]
    pub tenanted: bool,
    /// `max_age` (OIDC Core §3.1.2.1): an authentication older than this many
    /// seconds does not count; the user authenticates again.
    #[serde(default)]
    pub max_age: Option<u64>,
    /// Protocol parameters the HTTP layer needs back at completion (state, nonce,
    /// PKCE challenge...), opaque to the machine.
    pub params: Vec<(String, String)>,
}

impl SignInRequest {
    /// Whether an authentication at `auth_time` is recent enough for this
    /// request's `max_age` at `now` (always, without one). `max_age=0` accepts
    /// none: it means "authenticate now", like `prompt=login`.
    pub fn accepts_auth_time(&self, auth_time: i64, now: i64) -> bool {
        self.max_age.is_none_or(|max| {
            max > 0 && now.saturating_sub(auth_time) <= i64::try_from(max).unwrap_or(i64::MAX)
        })
    }
}

/// How the user proved who they are so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Method {
    /// A Kerberos service ticket (seamless).
    Kerberos,
    /// A password.
    Password,
    /// A time-based one-time code.
    Otp,
}

/// Facts about the Kerberos ticket that policy may use (no key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    /// `user@REALM`.
    pub principal: String,
    /// The ticket's realm.
    pub realm: String,
    /// User SID from the PAC.
    pub sid: Option<crate::kerberos::Sid>,
    /// Group SIDs from the PAC (its groups, extra SIDs and resource groups), for
    /// [`Policy`](crate::backends::Policy), which compares them as values (parse
    /// the SIDs it looks for once, with [`str::parse`]). Empty once policy has
    /// decided: they are not carried in flow states, sign-in tokens, codes or
    /// sessions.
    pub group_sids: Vec<crate::kerberos::Sid>,
    /// UPN from the PAC.
    pub upn: Option<String>,
    /// Encryption type name.
    pub etype: String,
    /// Whether the ticket used RC4.
    pub weak_etype: bool,
    /// kvno of the key used.
    pub kvno: u32,
    /// When the user authenticated to the KDC (Unix seconds).
    pub auth_time: i64,
    /// Ticket end (Unix seconds).
    pub end_time: i64,
}

/// What policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Sign the user in.
    Allow,
    /// Ask for one of these second factors first.
    RequireMfa(Vec<MfaMethod>),
    /// Refuse; final.
    Deny(Code),
    /// Not this way: ask for the password instead (seamless sign-in only).
    Fallback(Code),
}

/// How the user authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFacts {
    /// Methods, in order (`kerberos`, `pwd`, `otp`...).
    pub methods: Vec<Method>,
    /// When the first factor happened: the ticket's authtime for Kerberos.
    pub auth_time: i64,
    /// A session must not outlive this (the ticket's end time for Kerberos).
    pub not_after: Option<i64>,
    /// The ticket, for Kerberos sign-ins.
    pub ticket: Option<TicketFacts>,
}

/// A finished sign-in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Completion {
    /// The flow id.
    pub flow_id: String,
    /// The user.
    pub user: User,
    /// How they authenticated.
    pub auth: AuthFacts,
    /// The original request.
    pub request: SignInRequest,
}

/// Who may redeem a sign-in token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// The sign-in page's form post, in the browser that ran the flow.
    Browser,
    /// The token endpoint's SAML bearer grant (native clients).
    Native,
}
