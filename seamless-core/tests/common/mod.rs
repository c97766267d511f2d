//! The simulated world the engine tests share: a hand-advanced clock, seeded
//! randomness, test-KDC tickets, scripted backends with failure injection.
#![allow(dead_code, unreachable_pub)]

pub mod browser;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use http_body_util::Full;
use seamless_core::backends::{
    Argon2Verifier, Directory, MemoryKeyStore, MemoryStore, Password, RulePolicy, StaticDirectory,
    Store, TotpVerifier, User, UserQuery, hash_password, totp_code,
};
use seamless_core::clock::{Clock, ManualClock};
use seamless_core::engine::View;
use seamless_core::engine::{Durability, Engine, EngineConfig, Step};
use seamless_core::error::{BackendError, Code};
use seamless_core::flow::SignInRequest;
use seamless_core::http::{Continue, Provider, ProviderBuilder, Request, Response};
use seamless_core::kerberos::{Etype, Key};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::sim::{SeededEntropy, block_on};
use seamless_core::testkit::{FlakyStore, PacSpec, TestKdc, TicketSpec};
use seamless_core::testkit::{Shown, StepExt as _};
use seamless_core::token::{SigningAlgorithm, SigningKeys};

pub const T0: i64 = 1_800_000_000;
pub const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// When frank's password last changed (in the users file).
pub const PASSWORD_CHANGED_AT: i64 = T0 + 3600;

/// Users as the directory answers now, by id: `None` deleted, `Some` edited.
pub type Edits = Arc<std::sync::Mutex<std::collections::HashMap<String, Option<User>>>>;

fn hashes() -> &'static (String, String) {
    static H: OnceLock<(String, String)> = OnceLock::new();
    H.get_or_init(|| {
        (
            hash_password("alice-pw").expect("hash"),
            hash_password("bob-pw").expect("hash"),
        )
    })
}

fn directory_text() -> String {
    let (alice, bob) = hashes();
    format!(
        r#"
[[users]]
id = "u-alice"
upn = "alice@ad.test"
display_name = "Alice"
sid = "{DOMAIN}-1105"
groups = ["staff"]
alternate_logins = ["AD\\alice"]
mfa = ["totp"]
password_hash = "{alice}"
totp_secret = "{TOTP_SECRET}"

[[users]]
id = "u-bob"
upn = "bob@ad.test"
sid = "{DOMAIN}-1106"
groups = ["staff", "mfa"]
mfa = ["totp"]
password_hash = "{bob}"
totp_secret = "{TOTP_SECRET}"

[[users]]
id = "u-carol"
upn = "carol@ad.test"
sid = "{DOMAIN}-1107"
enabled = false

[[users]]
id = "u-dave"
upn = "dave@ad.test"
sid = "{DOMAIN}-1108"
groups = ["blocked"]

[[users]]
id = "u-erin"
upn = "erin@ad.test"
sid = "{DOMAIN}-1109"
groups = ["mfa"]

[[users]]
id = "u-frank"
upn = "frank@ad.test"
sid = "{DOMAIN}-1110"
password_last_set = {PASSWORD_CHANGED_AT}
"#
    )
}

/// A directory that fails on demand, and whose accounts tests can edit.
struct Flaky {
    inner: Arc<StaticDirectory>,
    fail: Arc<AtomicBool>,
    edits: Edits,
}

#[async_trait]
impl Directory for Flaky {
    async fn find(&self, q: &UserQuery) -> Result<Option<User>, BackendError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(BackendError::unavailable("scripted directory outage"));
        }
        let found = self.inner.find(q).await?;
        let edits = self.edits.lock().expect("edits");
        Ok(match found {
            Some(u) => match edits.get(&u.id) {
                Some(edited) => edited.clone(),
                None => Some(u),
            },
            None => None,
        })
    }
}

pub struct World {
    pub clock: Arc<ManualClock>,
    pub kdc: TestKdc,
    /// The provider (HTTP surface, tokens, grants) around [`World::engine`].
    pub provider: Provider,
    /// The sign-in engine.
    pub engine: Engine,
    pub directory_down: Arc<AtomicBool>,
    pub store_down: Arc<AtomicBool>,
    pub edits: Edits,
    pub directory: Arc<StaticDirectory>,
}

pub fn world(policy: RulePolicy) -> World {
    world_with(
        policy,
        EngineConfig::default(),
        vec![SealingKey::new(1, [7; 32])],
    )
}

pub fn world_with(policy: RulePolicy, config: EngineConfig, sealing: Vec<SealingKey>) -> World {
    world_custom(policy, config, sealing, |b| b)
}

/// Token signing keys for every algorithm, generated once per test binary.
pub fn token_keys() -> SigningKeys {
    static KEYS: OnceLock<SigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| SigningKeys::generate(&SigningAlgorithm::ALL, T0).expect("token keys"))
        .clone()
}

pub fn world_custom(
    policy: RulePolicy,
    config: EngineConfig,
    sealing: Vec<SealingKey>,
    customize: impl FnOnce(ProviderBuilder) -> ProviderBuilder,
) -> World {
    let clock = Arc::new(ManualClock::new(T0));
    let entropy = Arc::new(SeededEntropy::new(42));
    let key = Key::new(Etype::Aes256CtsHmacSha196, &[0x11; 32]).expect("key");
    let kdc = TestKdc::with_key("AD.TEST", "HTTP/app.ad.test", key, 2)
        .with_entropy(Arc::new(SeededEntropy::new(7)));
    let directory = Arc::new(StaticDirectory::from_text(&directory_text()).expect("directory"));
    let directory_down = Arc::new(AtomicBool::new(false));

    let edits: Edits = Arc::default();
    let flaky = FlakyStore::new(MemoryStore::new(10_000, clock.clone()));
    let store_down = flaky.switch();
    let store: Arc<dyn Store> = Arc::new(flaky);
    let builder = Provider::builder()
        .config(config)
        .keys(Arc::new(MemoryKeyStore::new(kdc.key_ring())))
        .directory(Arc::new(Flaky {
            inner: directory.clone(),
            fail: directory_down.clone(),
            edits: edits.clone(),
        }))
        .policy(Arc::new(policy))
        .mfa(Arc::new(TotpVerifier::new(
            directory.clone(),
            store.clone(),
            clock.clone(),
        )))
        .passwords(Arc::new(Argon2Verifier::new(directory.clone())))
        .store(store, Durability::Shared)
        .clock(clock.clone())
        .entropy(entropy)
        .sealing_keys(sealing)
        .token_keys(token_keys());
    let provider = customize(builder).build().expect("provider");
    World {
        clock,
        kdc,
        engine: provider.engine().clone(),
        provider,
        directory_down,
        store_down,
        edits,
        directory,
    }
}

pub fn request(hint: Option<&str>) -> SignInRequest {
    SignInRequest {
        client_id: "app".into(),
        redirect_uri: "https://app.example/cb".into(),
        login_hint: hint.map(str::to_string),
        ..Default::default()
    }
}

/// What the adapter protocol does with a request, in one call.
#[derive(Debug)]
pub enum Outcome {
    /// A sign-in route: the provider's answer.
    Respond(Response),
    /// The application's request, and what the middleware learned about it.
    Continue(Continue),
}

impl World {
    /// One request through the adapter protocol: `serve` for a sign-in route,
    /// `identify` for anything else.
    pub async fn handle(&self, request: Request) -> Outcome {
        if self.provider.wants(request.uri().path()) {
            Outcome::Respond(self.provider.serve(request.map(Full::new)).await)
        } else {
            Outcome::Continue(self.provider.identify(&request.into_parts().0).await)
        }
    }

    /// Changes an account as the directory will answer from now on.
    pub fn edit_user(&self, upn: &str, edit: impl FnOnce(&mut User)) {
        let mut user = block_on(self.directory.find(&UserQuery::Logins(vec![upn.into()])))
            .expect("directory")
            .expect("user");
        let mut edits = self.edits.lock().expect("edits");
        if let Some(Some(edited)) = edits.get(&user.id) {
            user = edited.clone();
        }
        edit(&mut user);
        edits.insert(user.id.clone(), Some(user));
    }

    /// Deletes an account.
    pub fn delete_user(&self, id: &str) {
        self.edits
            .lock()
            .expect("edits")
            .insert(id.to_string(), None);
    }

    pub fn now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    pub fn token(&self, user: &str, rid: u32) -> String {
        let pac =
            PacSpec::new(DOMAIN.parse().expect("sid"), rid).with_upn(&format!("{user}@ad.test"));
        self.kdc
            .mint(&TicketSpec::new(user, self.now()).with_pac(pac))
            .expect("mint")
            .token
    }

    pub fn start(&self, hint: Option<&str>) -> Step {
        block_on(self.engine.start(request(hint), None, false))
    }

    pub fn negotiate(&self, step: &Step, token: Option<&str>) -> Step {
        block_on(self.engine.negotiate(
            step.sealed().expect("sealed"),
            step.flow_id(),
            token.map(str::as_bytes),
        ))
    }

    pub fn password(&self, step: &Step, user: &str, pw: &str) -> Step {
        block_on(self.engine.submit_password(
            step.sealed().expect("sealed"),
            step.flow_id(),
            user,
            &Password::new(pw),
        ))
    }

    pub fn mfa(&self, step: &Step, code: &str) -> Step {
        block_on(
            self.engine
                .submit_mfa(step.sealed().expect("sealed"), step.flow_id(), code),
        )
    }

    pub fn code_now(&self) -> String {
        totp_code(TOTP_SECRET, self.clock.unix() as u64).expect("code")
    }
}

pub fn completed(step: &Step) -> &seamless_core::model::Completion {
    step.completion()
        .unwrap_or_else(|| panic!("expected completion, got {:?}", step.shown()))
}

pub fn fallback_reason(step: &Step) -> Option<Code> {
    match &step.shown() {
        Shown::Page(View::Password {
            reason,
            error: None,
            ..
        }) => *reason,
        other => panic!("expected the password form, got {other:?}"),
    }
}

/// The native clients' audience.
pub const AUDIENCE: &str = "urn:federation:MicrosoftOnline";
/// The WS-Trust 1.3 Issue action.
pub const ISSUE_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";

/// A WS-Trust 1.3 RST as MSAL sends it.
pub fn rst_13() -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">{ISSUE_13}</a:Action><a:MessageID>urn:uuid:11111111-2222-3333-4444-555555555555</a:MessageID><a:To s:mustUnderstand="1">https://sso.example/winauth/trust/13/windowstransport</a:To></s:Header><s:Body><trust:RequestSecurityToken xmlns:trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>{AUDIENCE}</a:Address></a:EndpointReference></wsp:AppliesTo><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType></trust:RequestSecurityToken></s:Body></s:Envelope>"#
    )
}

/// MSAL-Python extracts the assertion with a regular expression to keep it
/// byte-exact; this does the same with string search.
pub fn extract_assertion(rstr_xml: &str) -> Option<&str> {
    let start = rstr_xml.find("<saml:Assertion")?;
    let end = rstr_xml[start..].find("</saml:Assertion>")? + start + "</saml:Assertion>".len();
    Some(&rstr_xml[start..end])
}
