//! The world every case runs in: the shared test world (a provider on a
//! hand-set clock with seeded randomness, memory backends, the demo users and a
//! test KDC) with the origin `https://app.example` and two OIDC clients.

use std::ops::Deref;

use seamless_core::backends::RulePolicy;
use seamless_core::http::{Client, Provider, WebConfig};
use seamless_core::seal::SealingKey;
use seamless_core::testkit::world::World;
use seamless_core::token::SigningAlgorithm;

pub use seamless_core::testkit::world::{DOMAIN, T0, TOTP_SECRET};

/// The public origin.
pub const ORIGIN: &str = "https://app.example";
/// The public client's redirect URI.
pub const SPA_CB: &str = "https://spa.example/cb";
/// The confidential client's redirect URI.
pub const WEB_CB: &str = "https://web.example/cb";
/// A PKCE verifier.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92aXlMG8kN4jv0ty5Ic5y2c1WZ0Q12345";

/// One test's world: the shared [`World`] as the adapters' spec sees it.
pub struct Fixture {
    world: World,
    make: Option<MakeHarness>,
}

impl Deref for Fixture {
    type Target = World;

    fn deref(&self) -> &World {
        &self.world
    }
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
        let world = World::builder()
            .service("HTTP/app.example")
            .policy(RulePolicy {
                mfa_groups: vec!["mfa".into()],
                intranet: vec![
                    "127.0.0.0/8".parse().expect("net"),
                    "10.0.0.0/8".parse().expect("net"),
                ],
                ..RulePolicy::default()
            })
            .sealing_keys(vec![SealingKey::new(1, [9; 32])])
            .provider(|b| {
                b.web(web)
                    .client(
                        Client::public("spa", SPA_CB)
                            .with_algorithm(SigningAlgorithm::Es256)
                            .with_audience(API),
                    )
                    .client(Client::confidential("web", "web-secret", WEB_CB))
            })
            .build();
        Self { world, make: None }
    }
}
