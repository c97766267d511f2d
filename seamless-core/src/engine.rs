//! The engine: owns the configuration and the backends, runs the sign-in machine
//! and performs what it asks for (ticket validation and the replay check,
//! directory look-ups, policy, password and second-factor checks, rate limits).
//!
//! Every entry point takes the sealed state the page sent back and the client's
//! binding (the flow id from its cookie) and returns a [`Step`]: what to show
//! next and the new sealed state. Backend failures are typed and fail closed.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::backends::{
    AllowAll, Directory, KeyStore, MemoryKeyStore, MemoryStore, MfaMethod, MfaVerifier,
    NegotiateContext, Password, PasswordVerifier, Policy, PolicyInput, PrincipalMapping,
    StaticDirectory, Store, StoreReplayCache, TicketFacts, User, UserQuery,
};
use crate::clock::{Clock, SystemClock};
use crate::error::{BackendError, Code};
use crate::flow::seal::{Sealer, SealingKey};
use crate::flow::{
    self, AuthFacts, Challenging, FlowCore, FlowState, MfaOutcome, NegotiateMode, Next,
    PasswordOutcome, PolicyPending, SignInRequest, TicketValidated,
};
use crate::grants::{Grants, RefreshLifetimes};
use crate::http::{Client, Clients, WebConfig};
use crate::kerberos::{Acceptor, AcceptorConfig, Entropy, OsEntropy, ReplayCache, ValidatedTicket};
use crate::token::{SigningAlgorithm, SigningKeys, TokenIssuer, TokenSettings};

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

/// What the page should show next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum View {
    /// The user-name form.
    Username {
        /// Why the last entry was refused.
        error: Option<Code>,
    },
    /// The page that makes the background Negotiate request.
    Challenge {
        /// The user name being signed in.
        username: Option<String>,
    },
    /// The password form.
    Password {
        /// Prefilled user name.
        username: Option<String>,
        /// Why seamless sign-in did not happen.
        reason: Option<Code>,
        /// Why the last password was refused.
        error: Option<Code>,
    },
    /// The second-factor form.
    Mfa {
        /// Acceptable methods.
        methods: Vec<MfaMethod>,
        /// Why the last code was refused.
        error: Option<Code>,
    },
    /// Signed in.
    Completed(Box<Completion>),
    /// Refused for good.
    Denied {
        /// Why.
        code: Code,
    },
    /// The sign-in state was expired, forged or foreign: start again.
    Restart {
        /// Why.
        code: Code,
    },
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

/// The sealing purpose of sign-in tokens (never opens as anything else).
const PURPOSE_SIGN_IN_TOKEN: &str = "sign-in-token";

/// How long a sign-in token lives (PROTOCOL R9: minutes at most).
pub const SIGN_IN_TOKEN_TTL: Duration = Duration::from_secs(120);

#[derive(serde::Serialize, serde::Deserialize)]
struct SignInTokenBody {
    jti: String,
    aud: Audience,
    completion: Completion,
}

/// The result of one engine call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The flow id (the client's binding cookie value).
    pub flow_id: String,
    /// What to show.
    pub view: View,
    /// The new sealed state, when the flow waits for the user.
    pub sealed: Option<String>,
    /// Answer the request with `401` + `WWW-Authenticate: Negotiate` (no token yet).
    pub challenge: bool,
    /// A final `WWW-Authenticate: Negotiate <token>` (AP-REP for mutual auth).
    pub negotiate_response: Option<String>,
    /// The application's request, while the flow is open or when it was refused.
    pub request: Option<SignInRequest>,
}

/// The sign-in engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: EngineConfig,
    acceptor: Acceptor,
    keys: Arc<dyn KeyStore>,
    directory: Arc<dyn Directory>,
    policy: Arc<dyn Policy>,
    mfa: Arc<dyn MfaVerifier>,
    passwords: Arc<dyn PasswordVerifier>,
    store: Arc<dyn Store>,
    replay: Arc<dyn ReplayCache>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    sealer: Sealer,
    web: WebConfig,
    clients: Clients,
    tokens: TokenIssuer,
    grants: Grants,
    revocations: crate::http::RevocationCache,
    /// Random per engine: keys per-thread caches so engines never share entries.
    instance: u64,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`]. Every backend has a default: an empty key ring, an empty
/// directory, allow-all policy, no second factors, no passwords, the memory store,
/// the system clock, OS randomness and a random sealing key.
pub struct EngineBuilder {
    config: EngineConfig,
    keys: Option<Arc<dyn KeyStore>>,
    directory: Option<Arc<dyn Directory>>,
    policy: Option<Arc<dyn Policy>>,
    mfa: Option<Arc<dyn MfaVerifier>>,
    passwords: Option<Arc<dyn PasswordVerifier>>,
    store: Option<(Arc<dyn Store>, bool)>,
    clock: Option<Arc<dyn Clock>>,
    entropy: Option<Arc<dyn Entropy>>,
    sealing_keys: Vec<SealingKey>,
    web: WebConfig,
    clients: Vec<Client>,
    token_keys: Option<SigningKeys>,
    token_key_file: Option<std::path::PathBuf>,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident, $field:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: Arc<$ty>) -> Self {
            self.$field = Some(value);
            self
        }
    };
}

impl EngineBuilder {
    /// Settings.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }
    setter!(/// The key store.
        keys, keys, dyn KeyStore);
    setter!(/// The directory.
        directory, directory, dyn Directory);
    setter!(/// The policy.
        policy, policy, dyn Policy);
    setter!(/// The second-factor verifier.
        mfa, mfa, dyn MfaVerifier);
    setter!(/// The password verifier.
        passwords, passwords, dyn PasswordVerifier);
    setter!(/// The clock.
        clock, clock, dyn Clock);
    setter!(/// The randomness source.
        entropy, entropy, dyn Entropy);

    /// The shared store. `outlives_process`: true for Redis and the like, false for
    /// a store that starts empty with the process (see [`StoreReplayCache`]).
    pub fn store(mut self, store: Arc<dyn Store>, outlives_process: bool) -> Self {
        self.store = Some((store, outlives_process));
        self
    }

    /// Sealing keys: the first seals, all open.
    pub fn sealing_keys(mut self, keys: Vec<SealingKey>) -> Self {
        self.sealing_keys = keys;
        self
    }

    /// The HTTP surface's settings.
    pub fn web(mut self, web: WebConfig) -> Self {
        self.web = web;
        self
    }

    /// Registers an OpenID Connect client.
    pub fn client(mut self, client: Client) -> Self {
        self.clients.push(client);
        self
    }

    /// Token signing keys. Without them the engine generates, in memory, one key
    /// for RS256 and for each algorithm a client uses (tokens then do not survive
    /// a restart; give keys, e.g. [`SigningKeys::load_or_generate`], in production).
    pub fn token_keys(mut self, keys: SigningKeys) -> Self {
        self.token_keys = Some(keys);
        self
    }

    /// Token signing keys from a key file, created (owner-only) with a key for
    /// RS256 and for each algorithm a client uses if absent, and followed when it
    /// changes (`seamless signing-keys rotate`). Takes precedence over
    /// [`EngineBuilder::token_keys`].
    pub fn token_key_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.token_key_file = Some(path.into());
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Result<Engine, BackendError> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let entropy = self.entropy.unwrap_or_else(|| Arc::new(OsEntropy));
        let (store, outlives) = self
            .store
            .unwrap_or_else(|| (Arc::new(MemoryStore::new(1 << 20, clock.clone())), false));
        let replay: Arc<dyn ReplayCache> = if outlives {
            Arc::new(StoreReplayCache::new(store.clone()))
        } else {
            Arc::new(StoreReplayCache::process_local(store.clone(), clock.unix()))
        };
        let mut sealing_keys = self.sealing_keys;
        if sealing_keys.is_empty() {
            sealing_keys.push(
                SealingKey::generate(0, entropy.as_ref())
                    .map_err(|e| BackendError::unavailable(e.to_string()))?,
            );
        }
        let sealer =
            Sealer::new(sealing_keys).ok_or_else(|| BackendError::corrupt("no sealing key"))?;
        let directory = match self.directory {
            Some(d) => d,
            None => Arc::new(StaticDirectory::from_text("")?),
        };
        let clients = Clients::new(self.clients);
        let mut algs = vec![SigningAlgorithm::Rs256];
        for alg in clients.algorithms() {
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        let mut token_settings = self.config.tokens.clone();
        if token_settings.issuer.is_empty() {
            token_settings.issuer = self.web.issuer();
        }
        let key_error = |e: crate::token::KeyError| BackendError::unavailable(e.to_string());
        let tokens = match (self.token_key_file, self.token_keys) {
            (Some(path), _) => TokenIssuer::from_file(token_settings, &path, &algs, clock.unix())
                .map_err(key_error)?,
            (None, Some(keys)) => TokenIssuer::new(token_settings, keys),
            (None, None) => TokenIssuer::new(
                token_settings,
                SigningKeys::generate(&algs, clock.unix()).map_err(key_error)?,
            ),
        };
        let grants = Grants::new(
            store.clone(),
            entropy.clone(),
            clock.clone(),
            self.config.refresh,
        );
        let mut instance = [0u8; 8];
        OsEntropy
            .fill(&mut instance)
            .map_err(|e| BackendError::unavailable(e.to_string()))?;
        Ok(Engine {
            inner: Arc::new(Inner {
                acceptor: Acceptor::new(self.config.acceptor.clone()).with_entropy(entropy.clone()),
                config: self.config,
                keys: self
                    .keys
                    .unwrap_or_else(|| Arc::new(MemoryKeyStore::default())),
                directory,
                policy: self.policy.unwrap_or_else(|| Arc::new(AllowAll)),
                mfa: self.mfa.unwrap_or_else(|| Arc::new(NoVerifier)),
                passwords: self.passwords.unwrap_or_else(|| Arc::new(NoVerifier)),
                store,
                replay,
                clock,
                entropy,
                sealer,
                web: self.web,
                clients,
                tokens,
                grants,
                revocations: Default::default(),
                instance: u64::from_le_bytes(instance),
            }),
        })
    }
}

/// Refuses every code and password (the default when none is configured).
struct NoVerifier;

#[async_trait::async_trait]
impl MfaVerifier for NoVerifier {
    async fn verify(&self, _: &User, _: MfaMethod, _: &str) -> Result<bool, BackendError> {
        Ok(false)
    }
}

#[async_trait::async_trait]
impl PasswordVerifier for NoVerifier {
    async fn verify(&self, _: Option<&User>, _: &Password) -> Result<bool, BackendError> {
        Ok(false)
    }
}

fn ticket_facts(t: &ValidatedTicket) -> TicketFacts {
    let pac = t.pac.as_ref();
    TicketFacts {
        principal: t.client.to_string(),
        realm: t.client.realm.clone(),
        sid: pac.and_then(|p| p.user_sid().cloned()),
        group_sids: pac
            .map(|p| p.group_sids().iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        upn: pac.and_then(|p| p.upn_dns_info.as_ref().map(|u| u.upn.clone())),
        etype: t.etype.name().to_string(),
        weak_etype: t.etype.is_weak(),
        kvno: t.kvno,
        auth_time: t.auth_time,
        end_time: t.end_time,
    }
}

impl Engine {
    /// A builder with defaults for everything.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            config: EngineConfig::default(),
            keys: None,
            directory: None,
            policy: None,
            mfa: None,
            passwords: None,
            store: None,
            clock: None,
            entropy: None,
            sealing_keys: Vec::new(),
            web: WebConfig::default(),
            clients: Vec::new(),
            token_keys: None,
            token_key_file: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The HTTP surface's settings.
    pub fn web(&self) -> &WebConfig {
        &self.inner.web
    }

    /// The token issuer (keys, JWKS, signing).
    pub fn tokens(&self) -> &TokenIssuer {
        &self.inner.tokens
    }

    /// Codes and refresh tokens.
    pub fn grants(&self) -> &Grants {
        &self.inner.grants
    }

    pub(crate) fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    pub(crate) async fn key_ring(&self) -> Option<Arc<crate::kerberos::KeyRing>> {
        self.inner.keys.key_ring().await.ok()
    }

    pub(crate) fn directory(&self) -> &dyn Directory {
        self.inner.directory.as_ref()
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub(crate) fn revocations(&self) -> &crate::http::RevocationCache {
        &self.inner.revocations
    }

    pub(crate) fn instance(&self) -> u64 {
        self.inner.instance
    }

    pub(crate) fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    pub(crate) fn entropy(&self) -> &dyn Entropy {
        self.inner.entropy.as_ref()
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.unix()
    }

    pub(crate) fn random_id(&self) -> Result<String, Code> {
        let mut id = [0u8; 16];
        self.inner
            .entropy
            .fill(&mut id)
            .map_err(|_| Code::StoreUnavailable)?;
        Ok(crate::kerberos::crypto::hex(&id))
    }

    /// Starts a sign-in. `suppressed`: the client carries the sign-out marker, so
    /// Negotiate must not start by itself.
    pub async fn start(
        &self,
        request: SignInRequest,
        client_addr: Option<IpAddr>,
        suppressed: bool,
    ) -> Step {
        let id = match self.random_id() {
            Ok(id) => id,
            Err(code) => return restart(String::new(), code),
        };
        let ctx = NegotiateContext {
            client_addr,
            application: &request.client_id,
        };
        let negotiate = match self.inner.policy.allow_negotiate(&ctx) {
            Err(code) => NegotiateMode::NotAllowed(code),
            Ok(()) if suppressed => NegotiateMode::Suppressed,
            Ok(()) => NegotiateMode::Allowed,
        };
        let core = FlowCore {
            id,
            request,
            started_at: self.now(),
            client_addr,
            negotiate,
        };
        self.drive(flow::begin(core)).await
    }

    fn open(&self, sealed: &str, binding: &str) -> Result<FlowState, Code> {
        let state = self.inner.sealer.open(sealed, self.now())?;
        // The state is bound to the browser that started it: its cookie holds the id.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            state.core().id.as_bytes(),
            binding.as_bytes(),
        )) {
            return Err(Code::FlowInvalid);
        }
        Ok(state)
    }

    /// The user-name form was posted.
    pub async fn submit_username(&self, sealed: &str, binding: &str, username: &str) -> Step {
        match self.open(sealed, binding) {
            Ok(FlowState::AwaitingUsername(s)) => self.drive(s.submit(username)).await,
            Ok(other) => self.wrong_step(other).await,
            Err(code) => restart(binding.to_string(), code),
        }
    }

    /// The background Negotiate request: `authorization` is the base64 token after
    /// `Negotiate `, or `None` when the browser sent none yet.
    pub async fn negotiate(
        &self,
        sealed: &str,
        binding: &str,
        authorization: Option<&[u8]>,
    ) -> Step {
        let state = match self.open(sealed, binding) {
            Ok(FlowState::Challenging(s)) => s,
            Ok(other) => return self.wrong_step(other).await,
            Err(code) => return restart(binding.to_string(), code),
        };
        let Some(token) = authorization else {
            let mut step = self.drive(Next::Wait(FlowState::Challenging(state))).await;
            step.challenge = true;
            return step;
        };
        let (verdict, response) = self.validate(token).await;
        let mut step = self.drive(state.on_ticket(verdict)).await;
        step.negotiate_response = response;
        step
    }

    async fn validate(&self, token: &[u8]) -> (Result<TicketFacts, Code>, Option<String>) {
        let ring = match self.inner.keys.key_ring().await {
            Ok(r) => r,
            Err(_) => return (Err(Code::KeysUnavailable), None),
        };
        let now = self.inner.clock.now();
        match self
            .inner
            .acceptor
            .accept(token, &ring, self.inner.replay.as_ref(), now)
            .await
        {
            Ok(t) => (Ok(ticket_facts(&t)), t.response_token.clone()),
            Err(e) => {
                tracing::info!(target: "seamless::kerberos", code = e.code(), reason = e.reason(), rfc = e.rfc_name(), "ticket refused");
                (Err(Code::from_kerberos(&e)), None)
            }
        }
    }

    /// The background Negotiate request carried something that is not a usable
    /// Negotiate token (another scheme, an oversized header): `code` says why.
    pub async fn refuse_negotiate(&self, sealed: &str, binding: &str, code: Code) -> Step {
        match self.open(sealed, binding) {
            Ok(FlowState::Challenging(s)) => self.drive(s.on_ticket(Err(code))).await,
            Ok(other) => self.wrong_step(other).await,
            Err(c) => restart(binding.to_string(), c),
        }
    }

    /// Shows the step a sealed state waits at (the page posts back a state the
    /// background request returned).
    pub async fn show(&self, sealed: &str, binding: &str) -> Step {
        match self.open(sealed, binding) {
            Ok(state) => self.wait(state, false),
            Err(c) => restart(binding.to_string(), c),
        }
    }

    /// The page gave up on Negotiate (timeout, probe failure) and asks for the form.
    pub async fn give_up(&self, sealed: &str, binding: &str) -> Step {
        match self.open(sealed, binding) {
            Ok(FlowState::Challenging(s)) => self.drive(s.give_up(Code::NoTicket)).await,
            Ok(other) => self.wrong_step(other).await,
            Err(code) => restart(binding.to_string(), code),
        }
    }

    /// The password form was posted.
    pub async fn submit_password(
        &self,
        sealed: &str,
        binding: &str,
        username: &str,
        password: &Password,
    ) -> Step {
        let state = match self.open(sealed, binding) {
            Ok(FlowState::AwaitingPassword(s)) => s,
            Ok(other) => return self.wrong_step(other).await,
            Err(code) => return restart(binding.to_string(), code),
        };
        let outcome = self.check_password(&state.core, username, password).await;
        let now = self.now();
        self.drive(state.on_password(outcome, now)).await
    }

    async fn check_password(
        &self,
        core: &FlowCore,
        username: &str,
        password: &Password,
    ) -> PasswordOutcome {
        let Some(login) = flow::clean_username(username) else {
            return PasswordOutcome::Rejected;
        };
        let user = match self
            .inner
            .directory
            .find(&UserQuery::Logins(vec![login.clone()]))
            .await
        {
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
            .map(|a| format!("pw-fail:addr:{}", crate::http::address_bucket(a)));
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
                        let _ = self.inner.store.release(key).await;
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
            match self.inner.store.increment(key, window).await {
                Ok(n) if n > *limit => within = false,
                Ok(_) => {}
                Err(_) => return Err(Code::StoreUnavailable),
            }
        }
        Ok(within)
    }

    /// The second-factor form was posted.
    pub async fn submit_mfa(&self, sealed: &str, binding: &str, code: &str) -> Step {
        let state = match self.open(sealed, binding) {
            Ok(FlowState::AwaitingMfa(s)) => s,
            Ok(other) => return self.wrong_step(other).await,
            Err(c) => return restart(binding.to_string(), c),
        };
        let limits = self.inner.config.limits.clone();
        // Counted per flow id in the store, before the code is checked: replaying
        // an earlier sealed state of this flow does not buy another try.
        let flow_key = format!("mfa-try:flow:{}", state.core.id);
        let user_key = format!("mfa-try:user:{}", state.user.id);
        let window = limits.window.max(self.inner.config.flow_ttl);
        let tries = match (
            self.inner.store.increment(&flow_key, window).await,
            self.inner.store.increment(&user_key, limits.window).await,
        ) {
            (Ok(flow), Ok(user)) => Some((flow, user)),
            _ => None,
        };
        let outcome = match tries {
            None => MfaOutcome::Unavailable(Code::StoreUnavailable),
            Some((flow, _)) if flow > limits.mfa_per_flow => {
                MfaOutcome::Rejected { failures: flow }
            }
            Some((_, user)) if user > limits.mfa_per_user => MfaOutcome::Rejected {
                failures: limits.mfa_per_flow,
            },
            Some((flow, _)) => {
                let mut accepted = None;
                let mut unavailable = false;
                for method in &state.methods {
                    match self
                        .inner
                        .mfa
                        .verify(&state.user, *method, code.trim())
                        .await
                    {
                        Ok(true) => {
                            accepted = Some(*method);
                            break;
                        }
                        Ok(false) => {}
                        Err(_) => unavailable = true,
                    }
                }
                match (accepted, unavailable) {
                    (Some(m), _) => {
                        let _ = self.inner.store.release(&user_key).await;
                        MfaOutcome::Accepted(m)
                    }
                    (None, true) => MfaOutcome::Unavailable(Code::VerifierUnavailable),
                    (None, false) => MfaOutcome::Rejected { failures: flow },
                }
            }
        };
        self.drive(state.on_code(outcome, limits.mfa_per_flow))
            .await
    }

    /// A sealed state that does not belong to this step: show it again.
    async fn wrong_step(&self, state: FlowState) -> Step {
        self.wait(state, false)
    }

    /// Runs the machine until it waits for the user or ends, performing its actions.
    async fn drive(&self, mut next: Next) -> Step {
        loop {
            next = match next {
                Next::Lookup(validated) => self.lookup(validated).await,
                Next::Decide(pending) => self.decide(pending),
                Next::Wait(state) => return self.wait(state, true),
                Next::Completed(done) => {
                    log_attempt(
                        &done.core,
                        "completed",
                        None,
                        done.auth.ticket.as_ref(),
                        Some(&done.user),
                    );
                    let flow_id = done.core.id.clone();
                    let completion = Completion {
                        flow_id: flow_id.clone(),
                        user: done.user,
                        auth: done.auth,
                        request: done.core.request,
                    };
                    return Step {
                        flow_id,
                        view: View::Completed(Box::new(completion)),
                        sealed: None,
                        challenge: false,
                        negotiate_response: None,
                        request: None,
                    };
                }
                Next::Denied(denied) => {
                    log_attempt(&denied.core, "denied", Some(denied.code), None, None);
                    return Step {
                        flow_id: denied.core.id,
                        view: View::Denied { code: denied.code },
                        sealed: None,
                        challenge: false,
                        negotiate_response: None,
                        request: Some(denied.core.request),
                    };
                }
            }
        }
    }

    fn decide(&self, pending: PolicyPending) -> Next {
        let input = PolicyInput {
            user: &pending.user,
            method: pending
                .auth
                .methods
                .first()
                .copied()
                .unwrap_or(crate::backends::Method::Password),
            ticket: pending.auth.ticket.as_ref(),
            client_addr: pending.core.client_addr,
            application: &pending.core.request.client_id,
            now: self.now(),
        };
        let decision = self.inner.policy.decide(&input);
        pending.on_decision(decision)
    }

    async fn lookup(&self, validated: TicketValidated) -> Next {
        let mut mapping = self.inner.config.mapping.clone();
        if mapping.trusted_realms.is_empty()
            && let Ok(ring) = self.inner.keys.key_ring().await
        {
            mapping.trusted_realms = ring
                .accounts()
                .iter()
                .map(|a| a.realm().to_string())
                .collect();
        }
        let logins = validated
            .ticket
            .principal
            .parse()
            .ok()
            .and_then(|p| mapping.logins(&p));
        let answer = match validated.query(logins) {
            Some(query) => self.inner.directory.find(&query).await,
            None => Ok(None),
        };
        validated.on_directory(answer)
    }

    /// Seals a waiting state. `fresh`: the machine just arrived here (log a
    /// fallback once), rather than showing a state again.
    fn wait(&self, state: FlowState, fresh: bool) -> Step {
        let core = state.core();
        let flow_id = core.id.clone();
        let expires_at = core.started_at + self.inner.config.flow_ttl.as_secs() as i64;
        let view = match &state {
            FlowState::AwaitingUsername(s) => View::Username { error: s.error },
            FlowState::Challenging(s) => View::Challenge {
                username: s.username.clone(),
            },
            FlowState::AwaitingPassword(s) => {
                if fresh && s.error.is_none() {
                    log_attempt(&s.core, "fallback", s.reason, None, None);
                }
                View::Password {
                    username: s.username.clone(),
                    reason: s.reason,
                    error: s.error,
                }
            }
            FlowState::AwaitingMfa(s) => View::Mfa {
                methods: s.methods.clone(),
                error: s.error,
            },
        };
        match self
            .inner
            .sealer
            .seal(&state, expires_at, self.inner.entropy.as_ref())
        {
            Ok(sealed) => Step {
                flow_id,
                view,
                sealed: Some(sealed),
                challenge: false,
                negotiate_response: None,
                request: Some(state.core().request.clone()),
            },
            Err(code) => restart(flow_id, code),
        }
    }

    /// The native-client path: one Negotiate token to a completion or a code, with
    /// no interaction possible (a second factor yields `InteractionRequired`).
    pub async fn sign_in_native(
        &self,
        request: SignInRequest,
        client_addr: Option<IpAddr>,
        token: &[u8],
    ) -> Result<Completion, Code> {
        self.sign_in_native_mutual(request, client_addr, token)
            .await
            .map(|(completion, _)| completion)
    }

    /// [`Engine::sign_in_native`], with the final Negotiate token (the AP-REP
    /// when the client asked for mutual authentication) to send on success.
    pub(crate) async fn sign_in_native_mutual(
        &self,
        request: SignInRequest,
        client_addr: Option<IpAddr>,
        token: &[u8],
    ) -> Result<(Completion, Option<String>), Code> {
        let id = self.random_id()?;
        let core = FlowCore {
            id,
            request,
            started_at: self.now(),
            client_addr,
            negotiate: NegotiateMode::Allowed,
        };
        let challenging = Challenging {
            core,
            username: None,
        };
        let (verdict, response) = self.validate(token).await;
        let mut next = challenging.on_ticket(verdict);
        loop {
            next = match next {
                Next::Lookup(v) => self.lookup(v).await,
                Next::Decide(p) => self.decide(p),
                Next::Completed(done) => {
                    log_attempt(
                        &done.core,
                        "completed",
                        None,
                        done.auth.ticket.as_ref(),
                        Some(&done.user),
                    );
                    let completion = Completion {
                        flow_id: done.core.id,
                        user: done.user,
                        auth: done.auth,
                        request: done.core.request,
                    };
                    return Ok((completion, response));
                }
                Next::Denied(d) => {
                    log_attempt(&d.core, "denied", Some(d.code), None, None);
                    return Err(d.code);
                }
                Next::Wait(FlowState::AwaitingMfa(s)) => {
                    log_attempt(
                        &s.core,
                        "denied",
                        Some(Code::InteractionRequired),
                        s.auth.ticket.as_ref(),
                        Some(&s.user),
                    );
                    return Err(Code::InteractionRequired);
                }
                Next::Wait(FlowState::AwaitingPassword(s)) => {
                    let code = s.reason.unwrap_or(Code::NoTicket);
                    log_attempt(&s.core, "denied", Some(code), None, None);
                    return Err(code);
                }
                Next::Wait(other) => {
                    log_attempt(other.core(), "denied", Some(Code::BadRequest), None, None);
                    return Err(Code::BadRequest);
                }
            };
        }
    }

    /// Seals a finished sign-in into a sign-in token (our DesktopSsoToken): opaque,
    /// encrypted and authenticated, valid for [`SIGN_IN_TOKEN_TTL`], redeemable once,
    /// only by `audience`, and for a browser token only with the flow's binding.
    pub fn issue_sign_in_token(
        &self,
        completion: &Completion,
        audience: Audience,
    ) -> Result<String, Code> {
        let body = SignInTokenBody {
            jti: self.random_id()?,
            aud: audience,
            completion: completion.clone(),
        };
        let expires_at = self.now() + SIGN_IN_TOKEN_TTL.as_secs() as i64;
        self.inner.sealer.seal_value(
            PURPOSE_SIGN_IN_TOKEN,
            &body,
            expires_at,
            self.inner.entropy.as_ref(),
        )
    }

    /// Redeems a sign-in token once. `binding` is the browser's flow cookie (required
    /// for [`Audience::Browser`]). Expired, tampered, foreign, reused or
    /// wrong-audience tokens are `FlowExpired` / `FlowInvalid`; a store that cannot
    /// record the use is `StoreUnavailable` (fail closed).
    pub async fn redeem_sign_in_token(
        &self,
        token: &str,
        audience: Audience,
        binding: Option<&str>,
    ) -> Result<Completion, Code> {
        let body: SignInTokenBody =
            self.inner
                .sealer
                .open_value(PURPOSE_SIGN_IN_TOKEN, token, self.now())?;
        if body.aud != audience {
            return Err(Code::FlowInvalid);
        }
        if audience == Audience::Browser {
            let bound = binding.is_some_and(|b| {
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    b.as_bytes(),
                    body.completion.flow_id.as_bytes(),
                ))
            });
            if !bound {
                return Err(Code::FlowInvalid);
            }
        }
        let key = format!("sign-in-token:{}", body.jti);
        match self
            .inner
            .store
            .insert_if_absent(&key, b"1", SIGN_IN_TOKEN_TTL + Duration::from_secs(60))
            .await
        {
            Ok(true) => Ok(body.completion),
            Ok(false) => Err(Code::FlowInvalid),
            Err(_) => Err(Code::StoreUnavailable),
        }
    }

    /// Looks the user of an earlier sign-in up again and applies the same refusals
    /// as a sign-in, for `application`: used before anything is issued without a
    /// fresh authentication (a refresh, a silent sign-in from a session, a native
    /// assertion redeemed by a client). Returns the user as the directory has them
    /// now (fresh groups), or why not: the account's refusal, a policy denial,
    /// `InteractionRequired` when policy now wants a factor the sign-in did not
    /// have, `UserNotFoundBySid` when the account is gone or is someone else now,
    /// `DirectoryUnavailable` when the directory cannot answer.
    pub async fn recheck(
        &self,
        completion: &Completion,
        application: &str,
        client_addr: Option<IpAddr>,
    ) -> Result<User, Code> {
        let before = &completion.user;
        let query = match &before.sid {
            Some(sid) => UserQuery::Sid(sid.clone()),
            None => UserQuery::Logins(vec![before.upn.clone()]),
        };
        let user = match self.inner.directory.find(&query).await {
            Ok(Some(u)) if u.id == before.id => u,
            Ok(_) => return Err(Code::UserNotFoundBySid),
            Err(_) => return Err(Code::DirectoryUnavailable),
        };
        if let Some(code) = user.refusal() {
            return Err(code);
        }
        let methods = &completion.auth.methods;
        let input = PolicyInput {
            user: &user,
            method: methods
                .first()
                .copied()
                .unwrap_or(crate::backends::Method::Password),
            ticket: None,
            client_addr,
            application,
            now: self.now(),
        };
        match self.inner.policy.decide(&input) {
            crate::backends::Decision::Allow => Ok(user),
            crate::backends::Decision::RequireMfa(_)
                if methods.contains(&crate::backends::Method::Otp) =>
            {
                Ok(user)
            }
            crate::backends::Decision::RequireMfa(_) => Err(Code::InteractionRequired),
            crate::backends::Decision::Deny(code) | crate::backends::Decision::Fallback(code) => {
                Err(code)
            }
        }
    }

    /// Validates a Negotiate token on its own (for middleware that only needs the
    /// Kerberos identity), including the replay check.
    pub async fn accept_token(&self, token: &[u8]) -> Result<ValidatedTicket, Code> {
        let ring = self
            .inner
            .keys
            .key_ring()
            .await
            .map_err(|_| Code::KeysUnavailable)?;
        self.inner
            .acceptor
            .accept(
                token,
                &ring,
                self.inner.replay.as_ref(),
                self.inner.clock.now(),
            )
            .await
            .map_err(|e| Code::from_kerberos(&e))
    }
}

fn restart(flow_id: String, code: Code) -> Step {
    Step {
        flow_id,
        view: View::Restart { code },
        sealed: None,
        challenge: false,
        negotiate_response: None,
        request: None,
    }
}

/// One structured event per sign-in attempt. Never a ticket, key, password or code.
fn log_attempt(
    core: &FlowCore,
    outcome: &str,
    code: Option<Code>,
    ticket: Option<&TicketFacts>,
    user: Option<&User>,
) {
    tracing::info!(
        target: "seamless::signin",
        flow = %core.id,
        outcome,
        code = code.map(Code::number),
        client = %core.request.client_id,
        realm = ticket.map(|t| t.realm.as_str()),
        kvno = ticket.map(|t| t.kvno),
        etype = ticket.map(|t| t.etype.as_str()),
        sid = ticket.and_then(|t| t.sid.as_ref()).map(tracing::field::display),
        user = user.map(|u| u.id.as_str()),
        "sign-in attempt"
    );
}
