//! Revocation: sign-out everywhere and accounts that may no longer sign in.
//! Entries live in the shared store; each instance caches its answers briefly.

use http::request::Parts;

use super::Provider;
use super::session::SessionRef;
use crate::model::UserQuery;

/// How long an instance trusts its last answer from the store about whether a
/// session was revoked: sign-out and a refused account reach every instance
/// within this.
pub const REVOCATION_CACHE: std::time::Duration = std::time::Duration::from_secs(5);

/// Entries in an instance's revocation cache before it starts over.
const REVOCATION_CACHE_ENTRIES: usize = 65_536;

/// Per instance: session id → (checked at, live), and user id → ended at.
#[derive(Default)]
pub(crate) struct RevocationCache {
    sessions: std::sync::Mutex<std::collections::HashMap<String, (i64, bool)>>,
    /// User id → (looked up at, the account may sign in).
    accounts: std::sync::Mutex<std::collections::HashMap<String, (i64, bool)>>,
}

impl Provider {
    /// Whether a session is still live: not signed out, and its account not
    /// ended since it was issued. Asks the store at most every
    /// [`REVOCATION_CACHE`] per session and instance. When the store cannot
    /// answer, the last answer stands, and a session never checked is honoured as
    /// sealed (pages keep working through a store outage; see SECURITY.md).
    pub(super) async fn session_live(&self, session: &SessionRef) -> bool {
        let now = self.now();
        let cache = self.revocations();
        if let Ok(map) = cache.sessions.lock()
            && let Some((checked, live)) = map.get(&*session.sid)
            && now - checked < REVOCATION_CACHE.as_secs() as i64
        {
            return *live;
        }
        let revoked = self
            .backends()
            .store
            .get(&format!("session-revoked:{}", session.sid))
            .await;
        let ended = self
            .backends()
            .store
            .get(&format!("sessions-ended:{}", session.sub))
            .await;
        let live = match (revoked, ended) {
            (Ok(revoked), Ok(ended)) => {
                let ended_at = ended
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|v| v.parse::<i64>().ok());
                revoked.is_none() && ended_at.is_none_or(|t| session.iat > t)
            }
            _ => {
                tracing::warn!(target: "seamless::session", "store unavailable: session revocation not checked");
                return cache
                    .sessions
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&*session.sid).map(|(_, live)| *live))
                    .unwrap_or(true);
            }
        };
        let live = live && self.account_may_sign_in(session).await;
        if let Ok(mut map) = cache.sessions.lock() {
            if map.len() >= REVOCATION_CACHE_ENTRIES {
                map.clear();
            }
            map.insert(session.sid.to_string(), (now, live));
        }
        live
    }

    /// Whether the session's account may still sign in, asking the directory at
    /// most every [`WebConfig::session_recheck`](super::WebConfig::session_recheck)
    /// per account and instance. An account found disabled, locked, expired or
    /// gone ends all its sessions everywhere. A directory that cannot answer
    /// leaves the last answer standing.
    async fn account_may_sign_in(&self, session: &SessionRef) -> bool {
        let now = self.now();
        let every = self.web().session_recheck.as_secs() as i64;
        let cache = &self.revocations().accounts;
        let last = cache
            .lock()
            .ok()
            .and_then(|m| m.get(&*session.sub).copied());
        if let Some((checked, ok)) = last
            && now - checked < every
        {
            return ok;
        }
        // Claim the check before the look-up, so concurrent requests of one
        // account do not all ask the directory.
        let previous = last.is_none_or(|(_, ok)| ok);
        if let Ok(mut map) = cache.lock() {
            if map.len() >= REVOCATION_CACHE_ENTRIES {
                map.clear();
            }
            map.insert(session.sub.to_string(), (now, previous));
        }
        let query = match session.onprem_sid.as_deref().and_then(|s| s.parse().ok()) {
            Some(sid) => UserQuery::Sid(sid),
            None => UserQuery::Logins(vec![session.upn.to_string()]),
        };
        let ok = match self.backends().directory.as_ref().find(&query).await {
            Ok(Some(user)) => user.id == *session.sub && user.refusal().is_none(),
            Ok(None) => false,
            Err(_) => return previous,
        };
        if let Ok(mut map) = cache.lock() {
            map.insert(session.sub.to_string(), (now, ok));
        }
        if !ok {
            tracing::info!(target: "seamless::session", user = %session.sub, "account refused; its sessions end");
            self.end_sessions_of(&session.sub).await;
        }
        ok
    }

    /// Signs the request's session out everywhere (every cookie re-issued from
    /// it), for as long as it could have lived.
    pub(crate) async fn end_session(&self, head: &Parts) {
        let Some(session) = self.open_session(head) else {
            return;
        };
        let left = (session.exp - self.now()).max(1) as u64;
        let _ = self
            .backends()
            .store
            .put(
                &format!("session-revoked:{}", session.sid),
                b"1",
                std::time::Duration::from_secs(left),
            )
            .await;
        if let Ok(mut map) = self.revocations().sessions.lock() {
            map.insert(session.sid, (self.now(), false));
        }
    }

    /// Ends every session `user_id` has now (the account was found refused):
    /// sessions issued before this moment no longer open anywhere.
    pub(crate) async fn end_sessions_of(&self, user_id: &str) {
        let ttl = self.web().session_max_lifetime;
        let _ = self
            .backends()
            .store
            .put(
                &format!("sessions-ended:{user_id}"),
                self.now().to_string().as_bytes(),
                ttl,
            )
            .await;
        if let Ok(mut map) = self.revocations().sessions.lock() {
            map.clear();
        }
    }
}
