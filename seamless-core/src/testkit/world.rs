//! One simulated world for the core's tests, the adapters' conformance suite and
//! the benchmarks: a hand-advanced clock, seeded randomness, a test KDC holding
//! the service key, demo users (with password hashes and a TOTP secret), memory
//! backends that fail on demand, and a [`Provider`] around them all.
//!
//! ```
//! use seamless_core::testkit::world::World;
//!
//! let world = World::builder().build();
//! let step = world.start(Some("alice@ad.test"));
//! let done = world.negotiate(&step, Some(&world.token("alice", 1105)));
//! assert_eq!(done.completion().map(|c| c.user.id.as_str()), Some("u-alice"));
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http_body_util::Full;

use super::sim::{SeededEntropy, block_on};
use super::{FlakyStore, PacSpec, TestKdc, TicketSpec};
use crate::backends::{
    Argon2Verifier, Directory, MemoryBudgets, MemoryKeyStore, MemoryStore, Password, RulePolicy,
    StaticDirectory, Store, TotpVerifier, User, UserQuery, hash_password, totp_code,
};
use crate::clock::{Clock, ManualClock};
use crate::engine::{Durability, Engine, EngineConfig, Step};
use crate::error::BackendError;
use crate::http::{Continue, Provider, ProviderBuilder, Request, Response};
use crate::kerberos::{Etype, Key};
use crate::model::SignInRequest;
use crate::seal::SealingKey;
use crate::token::{SigningAlgorithm, SigningKeys};

/// The world's start time (Unix seconds).
pub const T0: i64 = 1_800_000_000;
/// The domain SID of the demo users (`DOMAIN-1105` is alice).
pub const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";
/// The TOTP secret of alice and bob.
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// When frank's password last changed.
pub const PASSWORD_CHANGED_AT: i64 = T0 + 3600;
/// The default service principal.
pub const SERVICE: &str = "HTTP/app.ad.test";

/// Accounts as the directory answers now, by id: `None` deleted, `Some` edited.
pub type Edits = Arc<Mutex<HashMap<String, Option<User>>>>;

/// The demo users as a users file:
/// - `alice` (RID 1105, `staff`, TOTP, password `alice-pw`, also `AD\alice`);
/// - `bob` (1106, `staff` and `mfa`, TOTP, password `bob-pw`);
/// - `carol` (1107, disabled); `dave` (1108, in `blocked`);
/// - `erin` (1109, in `mfa` with no method enrolled);
/// - `frank` (1110, password changed at [`PASSWORD_CHANGED_AT`]).
pub fn users() -> &'static str {
    static USERS: OnceLock<String> = OnceLock::new();
    USERS.get_or_init(|| {
        let hash = |pw: &str| hash_password(pw).unwrap_or_else(|e| panic!("hash: {e}"));
        let (alice, bob) = (hash("alice-pw"), hash("bob-pw"));
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
display_name = "Bob"
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
    })
}

/// Token signing keys for every algorithm, generated once per process.
pub fn token_keys() -> SigningKeys {
    static KEYS: OnceLock<SigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        SigningKeys::generate(&SigningAlgorithm::ALL, T0)
            .unwrap_or_else(|e| panic!("token keys: {e}"))
    })
    .clone()
}

/// A sign-in request from client `app`, with an optional login hint.
pub fn sign_in_request(hint: Option<&str>) -> SignInRequest {
    SignInRequest {
        client_id: "app".into(),
        redirect_uri: "https://app.example/cb".into(),
        login_hint: hint.map(str::to_string),
        ..Default::default()
    }
}

/// A directory that fails on demand, and whose accounts tests can edit.
struct Scripted {
    inner: Arc<StaticDirectory>,
    down: Arc<AtomicBool>,
    edits: Edits,
}

#[async_trait]
impl Directory for Scripted {
    async fn find(&self, query: &UserQuery) -> Result<Option<User>, BackendError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(BackendError::unavailable("scripted directory outage"));
        }
        let found = self.inner.find(query).await?;
        let edits = self.edits.lock().unwrap_or_else(|e| e.into_inner());
        Ok(found.and_then(|user| match edits.get(&user.id) {
            Some(edited) => edited.clone(),
            None => Some(user),
        }))
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

/// How to build a [`World`]; every setting has a default.
pub struct WorldBuilder {
    service: String,
    policy: RulePolicy,
    config: EngineConfig,
    sealing: Vec<SealingKey>,
    store_budgets: MemoryBudgets,
    faults: bool,
    customize: Box<dyn FnOnce(ProviderBuilder) -> ProviderBuilder>,
}

impl WorldBuilder {
    /// The service principal the KDC issues tickets for (default [`SERVICE`]).
    pub fn service(mut self, principal: &str) -> Self {
        self.service = principal.to_string();
        self
    }

    /// The policy (default: [`RulePolicy::default`]).
    pub fn policy(mut self, policy: RulePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The engine's settings.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The sealing keys (default: one, id 1).
    pub fn sealing_keys(mut self, keys: Vec<SealingKey>) -> Self {
        self.sealing = keys;
        self
    }

    /// How many live entries of each kind the memory store holds (default
    /// 100,000).
    pub fn store_capacity(mut self, entries: usize) -> Self {
        self.store_budgets = MemoryBudgets::uniform(entries);
        self
    }

    /// The memory store's budget per kind of entry.
    pub fn store_budgets(mut self, budgets: MemoryBudgets) -> Self {
        self.store_budgets = budgets;
        self
    }

    /// Plain memory backends, with no outage switches or account edits (the
    /// benchmarks measure the library, not the test scaffolding). Then
    /// [`World::directory_outage`], [`World::store_outage`],
    /// [`World::edit_user`] and [`World::delete_user`] panic.
    pub fn no_faults(mut self) -> Self {
        self.faults = false;
        self
    }

    /// Anything else: web settings, clients, another backend.
    pub fn provider(
        mut self,
        customize: impl FnOnce(ProviderBuilder) -> ProviderBuilder + 'static,
    ) -> Self {
        self.customize = Box::new(customize);
        self
    }

    /// The world.
    pub fn build(self) -> World {
        let clock = Arc::new(ManualClock::new(T0));
        let key = Key::new(Etype::Aes256CtsHmacSha196, &[0x11; 32])
            .unwrap_or_else(|e| panic!("key: {e}"));
        let kdc = TestKdc::with_key("AD.TEST", &self.service, key, 2)
            .with_entropy(Arc::new(SeededEntropy::new(7)));
        let directory =
            Arc::new(StaticDirectory::from_text(users()).unwrap_or_else(|e| panic!("users: {e}")));
        let directory_down = Arc::new(AtomicBool::new(false));
        let edits = Edits::default();
        let memory = Arc::new(MemoryStore::with_budgets(self.store_budgets, clock.clone()));
        let (store, store_down, store_operations): (Arc<dyn Store>, _, _) = if self.faults {
            let flaky = FlakyStore::new(memory.clone());
            let (down, operations) = (flaky.switch(), flaky.operations());
            (Arc::new(flaky), Some(down), Some(operations))
        } else {
            (memory.clone(), None, None)
        };
        let builder = Provider::builder()
            .config(self.config)
            .keys(Arc::new(MemoryKeyStore::new(kdc.key_ring())));
        let builder = if self.faults {
            builder.directory(Arc::new(Scripted {
                inner: directory.clone(),
                down: directory_down.clone(),
                edits: edits.clone(),
            }))
        } else {
            builder.directory(directory.clone())
        };
        let builder = builder
            .policy(Arc::new(self.policy))
            .mfa(Arc::new(TotpVerifier::new(
                directory.clone(),
                store.clone(),
                clock.clone(),
            )))
            .passwords(Arc::new(Argon2Verifier::new(directory.clone())))
            .store(store, Durability::Shared)
            .clock(clock.clone())
            .entropy(Arc::new(SeededEntropy::new(42)))
            .sealing_keys(self.sealing)
            .token_keys(token_keys());
        let provider = (self.customize)(builder)
            .build()
            .unwrap_or_else(|e| panic!("provider: {e}"));
        World {
            clock,
            kdc,
            engine: provider.engine().clone(),
            provider,
            faults: self.faults.then_some(Faults {
                directory_down,
                store_down: store_down.unwrap_or_default(),
                store_operations: store_operations.unwrap_or_default(),
                edits,
            }),
            directory,
            store: memory,
            minted: AtomicU32::new(0),
        }
    }
}

/// One test's world. Fields are public so a test can reach any part of it.
pub struct World {
    /// The clock every component reads (advance it by hand).
    pub clock: Arc<ManualClock>,
    /// The KDC holding the service key.
    pub kdc: TestKdc,
    /// The provider (HTTP surface, tokens, grants) around [`World::engine`].
    pub provider: Provider,
    /// The sign-in engine.
    pub engine: Engine,
    /// The users file, unedited (the password and TOTP backends read it).
    pub directory: Arc<StaticDirectory>,
    /// The memory store behind the provider (under the outage switch, if any).
    pub store: Arc<MemoryStore>,
    faults: Option<Faults>,
    minted: AtomicU32,
}

/// The switches of a world built with faults.
struct Faults {
    directory_down: Arc<AtomicBool>,
    store_down: Arc<AtomicBool>,
    store_operations: Arc<std::sync::atomic::AtomicU64>,
    edits: Edits,
}

impl World {
    /// Settings for a world.
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            service: SERVICE.to_string(),
            policy: RulePolicy::default(),
            config: EngineConfig::default(),
            sealing: vec![SealingKey::new(1, [7; 32])],
            store_budgets: MemoryBudgets::uniform(100_000),
            faults: true,
            customize: Box::new(|b| b),
        }
    }

    /// One request through the adapter protocol: `serve` for a sign-in route,
    /// `identify` for anything else.
    pub async fn handle(&self, request: Request) -> Outcome {
        if self.provider.wants(request.uri().path()) {
            Outcome::Respond(self.provider.serve(request.map(Full::new)).await)
        } else {
            Outcome::Continue(self.provider.identify(&request.into_parts().0).await)
        }
    }

    fn faults(&self) -> &Faults {
        self.faults
            .as_ref()
            .unwrap_or_else(|| panic!("this world was built with no_faults()"))
    }

    /// Starts (`true`) or ends a directory outage: every look-up fails.
    pub fn directory_outage(&self, down: bool) {
        self.faults().directory_down.store(down, Ordering::SeqCst);
    }

    /// Starts (`true`) or ends a store outage: every operation fails.
    pub fn store_outage(&self, down: bool) {
        self.faults().store_down.store(down, Ordering::SeqCst);
    }

    /// Operations asked of the store so far: each would be one round trip to
    /// Redis.
    pub fn store_operations(&self) -> u64 {
        self.faults().store_operations.load(Ordering::SeqCst)
    }

    /// Changes an account as the directory answers from now on.
    pub fn edit_user(&self, upn: &str, edit: impl FnOnce(&mut User)) {
        let found = block_on(self.directory.find(&UserQuery::Logins(vec![upn.into()])));
        let mut user = match found {
            Ok(Some(user)) => user,
            other => panic!("{upn}: {other:?}"),
        };
        let mut edits = self
            .faults()
            .edits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(Some(edited)) = edits.get(&user.id) {
            user = edited.clone();
        }
        edit(&mut user);
        edits.insert(user.id.clone(), Some(user));
    }

    /// Deletes an account.
    pub fn delete_user(&self, id: &str) {
        self.faults()
            .edits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), None);
    }

    /// Now, as every component sees it.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// A fresh Negotiate token for `user` with an AD-style PAC (SID
    /// `DOMAIN-rid`, UPN `user@ad.test`).
    pub fn token(&self, user: &str, rid: u32) -> String {
        let sid = DOMAIN
            .parse()
            .unwrap_or_else(|_| unreachable!("a valid SID literal"));
        self.ticket(
            user,
            PacSpec::new(sid, rid).with_upn(&format!("{user}@ad.test")),
        )
    }

    /// A fresh Negotiate token for `user` with `pac`, authenticated now. Each
    /// is distinct, so none is a replay of another: after a million the clock
    /// moves on a second.
    pub fn ticket(&self, user: &str, pac: PacSpec) -> String {
        let n = self.minted.load(Ordering::SeqCst);
        if n > 0 && n.is_multiple_of(1_000_000) {
            self.advance(1);
        }
        self.mint(TicketSpec::new(user, self.now()).with_pac(pac))
    }

    /// A Negotiate token from `spec`, with a fresh authenticator `cusec`.
    pub fn mint(&self, mut spec: TicketSpec) -> String {
        spec.cusec = self.minted.fetch_add(1, Ordering::SeqCst) % 1_000_000;
        match self.kdc.mint(&spec) {
            Ok(minted) => minted.token,
            Err(e) => panic!("mint: {e}"),
        }
    }

    /// The TOTP code now.
    pub fn totp(&self) -> String {
        totp_code(TOTP_SECRET, self.clock.unix() as u64).unwrap_or_else(|e| panic!("totp: {e}"))
    }

    /// Starts a sign-in for client `app`.
    pub fn start(&self, hint: Option<&str>) -> Step {
        block_on(self.engine.start(sign_in_request(hint), None, false))
    }

    /// Answers `step`'s challenge with `token` (or with none).
    pub fn negotiate(&self, step: &Step, token: Option<&str>) -> Step {
        block_on(
            self.engine
                .negotiate(sealed(step), step.flow_id(), token.map(str::as_bytes)),
        )
    }

    /// Submits the password form.
    pub fn password(&self, step: &Step, user: &str, password: &str) -> Step {
        block_on(self.engine.submit_password(
            sealed(step),
            step.flow_id(),
            user,
            &Password::new(password),
        ))
    }

    /// Submits the MFA form.
    pub fn mfa(&self, step: &Step, code: &str) -> Step {
        block_on(self.engine.submit_mfa(sealed(step), step.flow_id(), code))
    }
}

fn sealed(step: &Step) -> &str {
    step.sealed()
        .unwrap_or_else(|| panic!("the step waits for nothing: {step:?}"))
}
