//! The world every case runs in: one provider on a hand-set clock with seeded
//! randomness, memory backends, demo users, two OIDC clients, and a test KDC.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use seamless_core::backends::{
    MemoryKeyStore, MemoryStore, RulePolicy, StaticDirectory, Store, hash_password, totp_code,
};
use seamless_core::clock::{Clock, ManualClock};
use seamless_core::engine::Durability;
use seamless_core::http::{Client, Provider, WebConfig};
use seamless_core::kerberos::{Etype, Key};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::sim::SeededEntropy;
use seamless_core::testkit::{PacSpec, TestKdc, TicketSpec};
use seamless_core::token::{SigningAlgorithm, SigningKeys};

/// The fixed start time.
pub const T0: i64 = 1_800_000_000;
/// The domain SID of the test users.
pub const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";
/// The public origin.
pub const ORIGIN: &str = "https://app.example";
/// The public client's redirect URI.
pub const SPA_CB: &str = "https://spa.example/cb";
/// The confidential client's redirect URI.
pub const WEB_CB: &str = "https://web.example/cb";
/// A PKCE verifier.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92aXlMG8kN4jv0ty5Ic5y2c1WZ0Q12345";
/// Bob's (and alice's) TOTP secret.
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn hashes() -> &'static String {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("alice-pw").expect("hash"))
}

fn token_keys() -> SigningKeys {
    static K: OnceLock<SigningKeys> = OnceLock::new();
    K.get_or_init(|| {
        SigningKeys::generate(&[SigningAlgorithm::Rs256, SigningAlgorithm::Es256], T0)
            .expect("keys")
    })
    .clone()
}

fn directory() -> String {
    let pw = hashes();
    format!(
        r#"
[[users]]
id = "u-alice"
upn = "alice@ad.test"
display_name = "Alice"
sid = "{DOMAIN}-1105"
groups = ["staff"]
password_hash = "{pw}"

[[users]]
id = "u-bob"
upn = "bob@ad.test"
display_name = "Bob"
sid = "{DOMAIN}-1106"
groups = ["staff", "mfa"]
mfa = ["totp"]
password_hash = "{pw}"
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
"#
    )
}

/// One test's world.
pub struct Fixture {
    /// The provider every adapter wraps.
    pub provider: Provider,
    /// The clock (advance it by hand).
    pub clock: Arc<ManualClock>,
    /// The test KDC holding the service key.
    pub kdc: TestKdc,
    cusec: AtomicU32,
    make: Option<MakeHarness>,
}

/// Builds the adapter's harness around a provider (set by `conformance_tests!`).
pub type MakeHarness = Box<dyn Fn(Provider) -> Box<dyn crate::Harness>>;

/// The API the app serves: `spa`'s access tokens are for it.
pub const API: &str = "https://app.example/api";

/// The fixture's web settings: one trusted proxy network.
fn web() -> WebConfig {
    let mut web = WebConfig::new(ORIGIN);
    web.trusted_proxies = vec!["198.51.100.0/24".parse().expect("net")];
    web.bearer_audiences = vec![API.into()];
    web
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// A fresh world.
    pub fn new() -> Self {
        Self::with_web(web())
    }

    /// The same world, serving the sign-in paths under `base_path`.
    pub fn under(base_path: &str) -> Self {
        let mut web = web();
        web.base_path = base_path.to_string();
        Self::with_web(web)
    }

    /// Remembers how the adapter under test builds its harness.
    pub fn set_harness_maker(&mut self, make: MakeHarness) {
        self.make = Some(make);
    }

    /// The adapter's harness around another fixture's provider (a case that
    /// needs other settings builds one with it).
    pub fn harness_for(&self, other: &Fixture) -> Box<dyn crate::Harness> {
        let make = self
            .make
            .as_ref()
            .expect("conformance_tests! sets the maker");
        make(other.provider.clone())
    }

    fn with_web(web: WebConfig) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let key = Key::new(Etype::Aes256CtsHmacSha196, &[0x41; 32]).expect("key");
        let kdc = TestKdc::with_key("AD.TEST", "HTTP/app.example", key, 2)
            .with_entropy(Arc::new(SeededEntropy::new(11)));
        let directory = Arc::new(StaticDirectory::from_text(&directory()).expect("directory"));
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(100_000, clock.clone()));
        let provider = Provider::builder()
            .web(web)
            .client(
                Client::public("spa", SPA_CB)
                    .with_algorithm(SigningAlgorithm::Es256)
                    .with_audience(API),
            )
            .client(Client::confidential("web", "web-secret", WEB_CB))
            .token_keys(token_keys())
            .keys(Arc::new(MemoryKeyStore::new(kdc.key_ring())))
            .credentials(directory)
            .policy(RulePolicy {
                mfa_groups: vec!["mfa".into()],
                intranet: vec![
                    "127.0.0.0/8".parse().expect("net"),
                    "10.0.0.0/8".parse().expect("net"),
                ],
                ..RulePolicy::default()
            })
            .store(store, Durability::Shared)
            .clock(clock.clone())
            .entropy(Arc::new(SeededEntropy::new(42)))
            .sealing_keys(vec![SealingKey::new(1, [9; 32])])
            .build()
            .expect("provider");
        Self {
            provider,
            clock,
            kdc,
            cusec: AtomicU32::new(0),
            make: None,
        }
    }

    /// Now, as the provider sees it.
    pub fn now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    /// A fresh ticket for `user` with an AD-style PAC (user SID `DOMAIN-rid`).
    pub fn token(&self, user: &str, rid: u32) -> String {
        let pac =
            PacSpec::new(DOMAIN.parse().expect("sid"), rid).with_upn(&format!("{user}@ad.test"));
        let mut spec = TicketSpec::new(user, self.now()).with_pac(pac);
        spec.cusec = self.cusec.fetch_add(1, Ordering::SeqCst);
        self.kdc.mint(&spec).expect("mint").token
    }

    /// A ticket from `spec` (with a fresh cusec).
    pub fn mint(&self, mut spec: TicketSpec) -> String {
        spec.cusec = self.cusec.fetch_add(1, Ordering::SeqCst);
        self.kdc.mint(&spec).expect("mint").token
    }

    /// The TOTP code now.
    pub fn totp(&self) -> String {
        totp_code(TOTP_SECRET, self.clock.unix() as u64).expect("code")
    }

    /// Moves the clock.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}
