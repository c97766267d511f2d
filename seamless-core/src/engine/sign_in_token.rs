//! Sign-in tokens (our DesktopSsoToken): a finished sign-in sealed for the page's
//! form post (browser) or a native client's SAML bearer grant. Minted and
//! redeemed only inside the crate, so no caller can make one for any user.

use std::time::Duration;

use super::Engine;
use crate::error::Code;
use crate::grants::Spend;
use crate::model::{Audience, Completion};

/// The sealing purpose of sign-in tokens (never opens as anything else).
const PURPOSE_SIGN_IN_TOKEN: &str = "sign-in-token";

/// How long a sign-in token lives (PROTOCOL R9: minutes at most).
pub const SIGN_IN_TOKEN_TTL: Duration = Duration::from_secs(120);

/// A sign-in token's sealed body: sealed with the completion borrowed, opened
/// with it owned.
#[derive(serde::Serialize, serde::Deserialize)]
struct SignInTokenBody<C = Completion> {
    jti: String,
    aud: Audience,
    completion: C,
}

impl Engine {
    /// Seals a finished sign-in into a sign-in token: opaque, encrypted and
    /// authenticated, valid for [`SIGN_IN_TOKEN_TTL`], redeemable once, only by
    /// `audience`, and for a browser token only with the flow's binding.
    pub(crate) fn issue_sign_in_token(
        &self,
        completion: &Completion,
        audience: Audience,
    ) -> Result<String, Code> {
        let backends = &self.inner.backends;
        let body = SignInTokenBody {
            jti: backends.random_id()?,
            aud: audience,
            completion,
        };
        let expires_at = self.now() + SIGN_IN_TOKEN_TTL.as_secs() as i64;
        backends.sealer.seal(
            PURPOSE_SIGN_IN_TOKEN,
            &body,
            expires_at,
            backends.entropy.as_ref(),
        )
    }

    /// Redeems a sign-in token once. `binding` holds the flow ids of the
    /// browser's flow cookies (required for [`Audience::Browser`]). Expired, tampered, foreign, reused or
    /// wrong-audience tokens are `FlowExpired` / `FlowInvalid`; a store that cannot
    /// record the use is `StoreUnavailable` (fail closed).
    pub(crate) async fn redeem_sign_in_token(
        &self,
        token: &str,
        audience: Audience,
        binding: Option<&str>,
    ) -> Result<Completion, Code> {
        let (completion, spend) = self.open_sign_in_token(token, audience, binding)?;
        self.spend_sign_in_token(&spend).await?;
        Ok(completion)
    }

    /// Spends an opened sign-in token with nothing written beside it: used
    /// before is `FlowInvalid`, a store that cannot record it `StoreUnavailable`.
    pub(crate) async fn spend_sign_in_token(&self, spend: &Spend) -> Result<(), Code> {
        match self
            .inner
            .backends
            .store
            .claim(&spend.marker, spend.ttl, None)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(Code::FlowInvalid),
            Err(_) => Err(Code::StoreUnavailable),
        }
    }

    /// Opens a sign-in token without spending it: the sign-in, and what spends
    /// it. Whoever acts on the sign-in spends the token in the same store step
    /// as what it writes ([`crate::grants::Grants::issue_code`]), so a token
    /// buys one code, in one round trip. Errors as
    /// [`Engine::redeem_sign_in_token`] says.
    pub(crate) fn open_sign_in_token(
        &self,
        token: &str,
        audience: Audience,
        binding: Option<&str>,
    ) -> Result<(Completion, Spend), Code> {
        let backends = &self.inner.backends;
        let body: SignInTokenBody =
            backends
                .sealer
                .open(PURPOSE_SIGN_IN_TOKEN, token, self.now())?;
        if body.aud != audience {
            return Err(Code::FlowInvalid);
        }
        if audience == Audience::Browser {
            let bound = binding.is_some_and(|b| super::bound(b, &body.completion.flow_id));
            if !bound {
                return Err(Code::FlowInvalid);
            }
        }
        // The jti is the hash tag of the marker and, for a code bought with the
        // token, of every key of the code's family (one cluster slot).
        let spend = Spend {
            marker: format!("sign-in-token:{{{}}}", body.jti),
            ttl: SIGN_IN_TOKEN_TTL + Duration::from_secs(60),
            family: body.jti,
        };
        Ok((body.completion, spend))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::backends::{MemoryKeyStore, MemoryStore, StaticDirectory};
    use crate::clock::{Clock, ManualClock};
    use crate::engine::{Durability, Step};
    use crate::kerberos::Etype;
    use crate::model::SignInRequest;
    use crate::testkit::sim::block_on;
    use crate::testkit::{FlakyStore, PacSpec, TestKdc, TicketSpec};

    const T0: i64 = 1_800_000_000;
    const SID: &str = "S-1-5-21-1004336348-1177238915-682003330";

    /// A finished seamless sign-in of alice, and the engine that made it.
    fn signed_in() -> (Engine, Completion, Arc<ManualClock>, Arc<AtomicBool>) {
        let clock = Arc::new(ManualClock::new(T0));
        let kdc = TestKdc::new("AD.TEST", "HTTP/app.ad.test", Etype::Aes256CtsHmacSha196);
        let users =
            format!("[[users]]\nid = \"u-alice\"\nupn = \"alice@ad.test\"\nsid = \"{SID}-1105\"\n");
        let store = FlakyStore::new(MemoryStore::new(1000, clock.clone()));
        let down = store.switch();
        let engine = Engine::builder()
            .keys(MemoryKeyStore::new(kdc.key_ring()))
            .directory(StaticDirectory::from_text(&users).expect("users"))
            .store(Arc::new(store), Durability::Shared)
            .clock(clock.clone())
            .dangerous()
            .no_passwords()
            .build()
            .expect("engine");
        let request = SignInRequest {
            client_id: "app".into(),
            login_hint: Some("alice@ad.test".into()),
            ..Default::default()
        };
        let pac = PacSpec::new(SID.parse().expect("sid"), 1105);
        let token = kdc
            .mint(&TicketSpec::new("alice", clock.now()).with_pac(pac))
            .expect("mint")
            .token;
        let step = block_on(engine.start(request, None, false));
        let sealed = step.sealed().expect("sealed");
        let done = block_on(engine.negotiate(sealed, step.flow_id(), Some(token.as_bytes())));
        let Step::Completed { completion, .. } = done else {
            panic!("{done:?}");
        };
        (engine, *completion, clock, down)
    }

    #[test]
    fn sign_in_tokens_are_sealed_short_lived_single_use_bound_and_audience_restricted() {
        let (engine, completion, clock, store_down) = signed_in();
        let redeem = |token: &str, audience, binding| {
            block_on(engine.redeem_sign_in_token(token, audience, binding))
        };
        let browser = engine
            .issue_sign_in_token(&completion, Audience::Browser)
            .expect("issue");
        assert!(!browser.contains("alice"), "opaque");

        // Bound to the browser that ran the flow, and to its audience.
        let flow = completion.flow_id.as_str();
        assert_eq!(
            redeem(&browser, Audience::Browser, Some("other")),
            Err(Code::FlowInvalid)
        );
        assert_eq!(
            redeem(&browser, Audience::Browser, None),
            Err(Code::FlowInvalid)
        );
        assert_eq!(
            redeem(&browser, Audience::Native, None),
            Err(Code::FlowInvalid)
        );
        // Redeemed once.
        assert_eq!(
            redeem(&browser, Audience::Browser, Some(flow)),
            Ok(completion.clone())
        );
        assert_eq!(
            redeem(&browser, Audience::Browser, Some(flow)),
            Err(Code::FlowInvalid),
            "single use"
        );

        // Domain separation: a sealed flow state is not a sign-in token, nor the reverse.
        let another = engine
            .issue_sign_in_token(&completion, Audience::Browser)
            .expect("issue");
        let as_state = block_on(engine.negotiate(&another, flow, None));
        assert!(
            matches!(
                as_state,
                Step::Restart {
                    code: Code::FlowInvalid,
                    ..
                }
            ),
            "{as_state:?}"
        );
        let state = block_on(engine.start(completion.request.clone(), None, false));
        let sealed = state.sealed().expect("sealed");
        assert_eq!(
            redeem(sealed, Audience::Native, None),
            Err(Code::FlowInvalid)
        );

        // Native tokens need no binding; tampering and age are refused.
        let native = engine
            .issue_sign_in_token(&completion, Audience::Native)
            .expect("issue");
        let mut tampered = native.clone().into_bytes();
        let i = tampered.len() / 3;
        tampered[i] = if tampered[i] == b'x' { b'y' } else { b'x' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(
            redeem(&tampered, Audience::Native, None),
            Err(Code::FlowInvalid)
        );

        // A store that cannot record the use refuses the token, and does not use it up.
        let fresh = engine
            .issue_sign_in_token(&completion, Audience::Native)
            .expect("issue");
        store_down.store(true, Ordering::SeqCst);
        assert_eq!(
            redeem(&fresh, Audience::Native, None),
            Err(Code::StoreUnavailable)
        );
        store_down.store(false, Ordering::SeqCst);
        assert!(
            redeem(&fresh, Audience::Native, None).is_ok(),
            "not consumed"
        );

        clock.advance(SIGN_IN_TOKEN_TTL + Duration::from_secs(1));
        assert_eq!(
            redeem(&native, Audience::Native, None),
            Err(Code::FlowExpired)
        );
    }
}
