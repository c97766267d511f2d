//! Policy: a pure, synchronous decision over typed facts.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::Code;
pub use crate::model::{Decision, Method, TicketFacts};
use crate::model::{MfaMethod, User};

/// The request context before any challenge.
#[derive(Debug, Clone, Copy)]
pub struct NegotiateContext<'a> {
    /// The client's address, after trusted-proxy handling.
    pub client_addr: Option<IpAddr>,
    /// The application (OIDC client id).
    pub application: &'a str,
}

/// Everything a policy decision may depend on.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// The user.
    pub user: &'a User,
    /// How they authenticated.
    pub method: Method,
    /// The ticket, for Kerberos sign-ins.
    pub ticket: Option<&'a TicketFacts>,
    /// The client's address.
    pub client_addr: Option<IpAddr>,
    /// The application.
    pub application: &'a str,
    /// Now (Unix seconds).
    pub now: i64,
}

/// Decides sign-ins. Synchronous and pure: no I/O, the same input gives the same
/// answer.
pub trait Policy: Send + Sync {
    /// Whether to attempt seamless (Negotiate) sign-in at all for this request.
    /// Refusing here sends the user straight to the password form with `Err(code)`.
    fn allow_negotiate(&self, ctx: &NegotiateContext<'_>) -> Result<(), Code> {
        let _ = ctx;
        Ok(())
    }

    /// The decision for an authenticated user.
    fn decide(&self, input: &PolicyInput<'_>) -> Decision;
}

/// Allows every sign-in (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl Policy for AllowAll {
    fn decide(&self, _: &PolicyInput<'_>) -> Decision {
        Decision::Allow
    }
}

/// Policy from configuration rules, checked in this order: denied groups,
/// staged rollout, ticket age, authtime before the last password change, MFA
/// groups, RC4 tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePolicy {
    /// Seamless sign-in only for members of these groups (Entra's staged rollout);
    /// everyone else gets the password form. Empty: everyone.
    #[serde(default)]
    pub rollout_groups: Vec<String>,
    /// Negotiate is attempted only from these networks. Empty: from anywhere.
    #[serde(default)]
    pub intranet: Vec<IpNet>,
    /// Members must pass a second factor.
    #[serde(default)]
    pub mfa_groups: Vec<String>,
    /// Members may not sign in at all.
    #[serde(default)]
    pub deny_groups: Vec<String>,
    /// A ticket under RC4 requires a second factor.
    #[serde(default)]
    pub rc4_requires_mfa: bool,
    /// Tickets whose user authenticated to the KDC longer ago than this (seconds)
    /// fall back to the password.
    #[serde(default)]
    pub max_ticket_age_secs: Option<i64>,
    /// Tickets whose authentication time is before the user's last password change
    /// fall back to the password (PROTOCOL.md R7: a forged "silver" ticket often
    /// carries an old authtime; a real one predating the change is stale anyway).
    /// Default on; applies when the directory knows `pwdLastSet`.
    #[serde(default = "default_true")]
    pub authtime_after_password_change: bool,
}

fn default_true() -> bool {
    true
}

impl Default for RulePolicy {
    fn default() -> Self {
        Self {
            rollout_groups: Vec::new(),
            intranet: Vec::new(),
            mfa_groups: Vec::new(),
            deny_groups: Vec::new(),
            rc4_requires_mfa: false,
            max_ticket_age_secs: None,
            authtime_after_password_change: true,
        }
    }
}

fn member(user: &User, groups: &[String]) -> bool {
    groups
        .iter()
        .any(|g| user.groups.iter().any(|u| u.eq_ignore_ascii_case(g)))
}

impl Policy for RulePolicy {
    fn allow_negotiate(&self, ctx: &NegotiateContext<'_>) -> Result<(), Code> {
        if self.intranet.is_empty() {
            return Ok(());
        }
        match ctx.client_addr {
            Some(addr) if self.intranet.iter().any(|net| net.contains(&addr)) => Ok(()),
            _ => Err(Code::SeamlessNotEnabled),
        }
    }

    fn decide(&self, input: &PolicyInput<'_>) -> Decision {
        let user = input.user;
        if member(user, &self.deny_groups) {
            return Decision::Deny(Code::PolicyDenied);
        }
        if let Some(ticket) = input.ticket {
            if !self.rollout_groups.is_empty() && !member(user, &self.rollout_groups) {
                return Decision::Fallback(Code::SeamlessNotEnabled);
            }
            if self
                .max_ticket_age_secs
                .is_some_and(|max| input.now - ticket.auth_time > max)
            {
                return Decision::Fallback(Code::TicketInvalid);
            }
            if self.authtime_after_password_change
                && user
                    .password_last_set
                    .is_some_and(|set| ticket.auth_time < set)
            {
                // R7: the user authenticated to the KDC before the password changed
                // (a stale session, or a forged ticket with an old authtime).
                tracing::info!(
                    target: "seamless::policy",
                    user = %user.id,
                    "ticket authenticated before the last password change"
                );
                return Decision::Fallback(Code::TicketInvalid);
            }
        }
        let weak = input.ticket.is_some_and(|t| t.weak_etype) && self.rc4_requires_mfa;
        if member(user, &self.mfa_groups) || weak {
            return Decision::RequireMfa(vec![MfaMethod::Totp]);
        }
        Decision::Allow
    }
}
