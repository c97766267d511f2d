//! Passwords and second factors, and the limits on trying them. Every attempt
//! is counted before it is checked, so concurrent attempts each see their own
//! count; a right answer gives its slots back.

use super::Engine;
use crate::backends::{Password, UserQuery};
use crate::error::Code;
use crate::flow::{self, AwaitingMfa, FlowCore, MfaOutcome, PasswordOutcome};
use crate::model::address_bucket;

impl Engine {
    pub(super) async fn check_password(
        &self,
        core: &FlowCore,
        username: &str,
        password: &Password,
    ) -> PasswordOutcome {
        let Some(login) = flow::clean_username(username) else {
            return PasswordOutcome::Rejected;
        };
        let backends = &self.inner.backends;
        let query = UserQuery::Logins(vec![login.clone()]);
        let user = match backends.directory.find(&query).await {
            Ok(u) => u,
            Err(_) => return PasswordOutcome::Unavailable(Code::DirectoryUnavailable),
        };
        let limits = &self.inner.config.limits;
        // Every spelling of one account (`alice`, `AD\alice`, `alice@ad.test`)
        // shares the account's counter; a name that is no account counts by name.
        let user_key = match &user {
            Some(u) => format!("pw-fail:user:{}", u.id),
            None => format!("pw-fail:name:{}", login.to_lowercase()),
        };
        let addr_key = core
            .client_addr
            .map(|a| format!("pw-fail:addr:{}", address_bucket(a)));
        let slots = [
            (Some(user_key), limits.password_per_user),
            (addr_key, limits.password_per_address),
        ];
        match self.take_slots(&slots).await {
            Ok(true) => {}
            Ok(false) => return PasswordOutcome::RateLimited,
            Err(code) => return PasswordOutcome::Unavailable(code),
        }
        match self.inner.passwords.verify(user.as_ref(), password).await {
            Ok(true) => match user {
                Some(u) => {
                    // A right password is not a failure: its slots go back.
                    for key in slots.iter().filter_map(|(k, _)| k.as_deref()) {
                        let _ = backends.store.release(key).await;
                    }
                    PasswordOutcome::Verified(u)
                }
                None => PasswordOutcome::Rejected,
            },
            Ok(false) => PasswordOutcome::Rejected,
            Err(_) => PasswordOutcome::Unavailable(Code::VerifierUnavailable),
        }
    }

    /// Counts one attempt against each `(key, limit)` first and compares after, so
    /// concurrent attempts each see their own count: `Ok(false)` once any limit
    /// is passed (no check may run then).
    async fn take_slots(&self, slots: &[(Option<String>, u64)]) -> Result<bool, Code> {
        let window = self.inner.config.limits.window;
        let mut within = true;
        for (key, limit) in slots {
            let Some(key) = key else { continue };
            match self.inner.backends.store.increment(key, window).await {
                Ok(n) if n > *limit => within = false,
                Ok(_) => {}
                Err(_) => return Err(Code::StoreUnavailable),
            }
        }
        Ok(within)
    }

    /// Checks a second-factor code against each method the user may use.
    pub(super) async fn check_code(&self, state: &AwaitingMfa, code: &str) -> MfaOutcome {
        let limits = &self.inner.config.limits;
        let store = &self.inner.backends.store;
        // Counted per flow id in the store, before the code is checked: replaying
        // an earlier sealed state of this flow does not buy another try.
        let flow_key = format!("mfa-try:flow:{}", state.core.id);
        let user_key = format!("mfa-try:user:{}", state.user.id);
        let window = limits.window.max(self.inner.config.flow_ttl);
        let (flow, user) = match (
            store.increment(&flow_key, window).await,
            store.increment(&user_key, limits.window).await,
        ) {
            (Ok(flow), Ok(user)) => (flow, user),
            _ => return MfaOutcome::Unavailable(Code::StoreUnavailable),
        };
        if flow > limits.mfa_per_flow {
            return MfaOutcome::Rejected { failures: flow };
        }
        if user > limits.mfa_per_user {
            return MfaOutcome::Rejected {
                failures: limits.mfa_per_flow,
            };
        }
        let mut unavailable = false;
        for method in &state.methods {
            match self
                .inner
                .mfa
                .verify(&state.user, *method, code.trim())
                .await
            {
                Ok(true) => {
                    let _ = store.release(&user_key).await;
                    return MfaOutcome::Accepted(*method);
                }
                Ok(false) => {}
                Err(_) => unavailable = true,
            }
        }
        if unavailable {
            MfaOutcome::Unavailable(Code::VerifierUnavailable)
        } else {
            MfaOutcome::Rejected { failures: flow }
        }
    }
}
