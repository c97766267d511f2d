//! The engine's settings.

use std::time::Duration;

use crate::backends::PrincipalMapping;
use crate::grants::RefreshLifetimes;
use crate::kerberos::AcceptorConfig;
use crate::token::TokenSettings;

/// Attempt limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wrong passwords per user name within `window` before further tries are refused.
    pub password_per_user: u64,
    /// Wrong passwords per client address within `window`.
    pub password_per_address: u64,
    /// Wrong second-factor codes per flow before it is denied.
    pub mfa_per_flow: u64,
    /// Wrong second-factor codes per user within `window`.
    pub mfa_per_user: u64,
    /// The counting window.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            password_per_user: 10,
            password_per_address: 100,
            mfa_per_flow: 5,
            mfa_per_user: 20,
            window: Duration::from_secs(900),
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Acceptor settings.
    pub acceptor: AcceptorConfig,
    /// Principal → user rules for tickets without a SID.
    pub mapping: PrincipalMapping,
    /// How long a sign-in may take from start to finish.
    pub flow_ttl: Duration,
    /// Attempt limits.
    pub limits: Limits,
    /// Token lifetimes.
    pub tokens: TokenSettings,
    /// How long refresh-token families live (idle and absolute).
    pub refresh: RefreshLifetimes,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            acceptor: AcceptorConfig::default(),
            mapping: PrincipalMapping::default(),
            flow_ttl: Duration::from_secs(600),
            limits: Limits::default(),
            tokens: TokenSettings::default(),
            refresh: RefreshLifetimes::default(),
        }
    }
}

/// How long what the store holds lasts, which decides how replays are refused
/// across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The store starts empty with the process (the memory store): after a
    /// restart the replay cache cannot know what it saw before, so tickets whose
    /// authenticator predates the start are refused for one skew window.
    ProcessLocal,
    /// The store outlives the process and is shared by every instance (Redis).
    Shared,
}
