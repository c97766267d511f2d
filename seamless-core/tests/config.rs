//! The configuration file of a real deployment: every section reaches the part
//! it configures, and every mistake is refused with the key and the fix named.

use std::path::{Path, PathBuf};

use seamless_core::backends::MemoryBudgets;
use seamless_core::config::{Built, ConfigError, Settings};
use seamless_core::error::Code;
use seamless_core::kerberos::{ChannelBindingPolicy, Etype, Key, certificate_bindings, keytab};
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::world::{DOMAIN, sign_in_request, users};
use seamless_core::testkit::{PacSpec, Shown, StepExt as _, TestKdc, TicketSpec};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seamless-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// A keytab for `HTTP/app.ad.test@AD.TEST` and a users file, in `dir`.
fn files(dir: &Path) -> (TestKdc, PathBuf, PathBuf) {
    let key = Key::new(Etype::Aes256CtsHmacSha196, &[0x31; 32]).expect("key");
    let kdc = TestKdc::with_key("AD.TEST", "HTTP/app.ad.test", key, 4);
    let keytab_path = dir.join("http.keytab");
    let entry = keytab::KeytabEntry {
        principal: kdc.service().clone(),
        timestamp: 0,
        kvno: kdc.kvno(),
        key: Ok(kdc.key().clone()),
    };
    std::fs::write(&keytab_path, keytab::write(&[entry])).expect("keytab");
    let users_path = dir.join("users.toml");
    std::fs::write(&users_path, users()).expect("users");
    (kdc, keytab_path, users_path)
}

fn cert() -> String {
    format!("{}/tests/data/rsa-sha256.pem", env!("CARGO_MANIFEST_DIR"))
}

fn build(text: &str) -> Result<Built, ConfigError> {
    block_on(Settings::parse(text, std::iter::empty())?.build())
}

fn refused(text: &str) -> String {
    match build(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_deployment_sections_reach_what_they_configure() {
    let dir = scratch("sections");
    let (kdc, keytab_path, users_path) = files(&dir);
    let text = format!(
        r#"
[server]
public_origin = "https://sso.example.test"
sso_timeout_ms = 2500
client_timeout_ms = 1500
max_header_bytes = 16384

[kerberos]
keytab = "{keytab}"
max_token_bytes = 32768
allow_rc4 = true
require_pac = true
max_ticket_lifetime_secs = 36000
max_skew_secs = 120
channel_bindings = "verify"
channel_binding_cert = "{cert}"
spn_aliases = ["HTTP/app.ad.test@AD.TEST=HTTP/alias.ad.test@AD.TEST"]

[directory]
file = "{users}"

[passwords]
enabled = false

[mapping]
trusted_realms = ["AD.TEST"]
upn_suffixes = {{ "AD.TEST" = "ad.test" }}

[tokens]
issuer = "https://sso.example.test/tenant"
id_token_ttl_secs = 1800
access_token_ttl_secs = 300
api_audience = "https://api.example.test"
max_groups = 40
key_file_check_secs = 30

[native]
domains = ["example.test"]
audience = "urn:example:native"

[limits]
password_per_user = 3
password_per_address = 30
mfa_per_flow = 2
mfa_per_user = 7
window_secs = 60
flow_ttl_secs = 120
max_body_bytes = 4096

[store.memory]
replay = 5000
refresh = 777
"#,
        keytab = keytab_path.display(),
        cert = cert(),
        users = users_path.display(),
    );
    let built = build(&text).expect("built");
    let engine = built.provider.engine();
    let config = engine.config();
    let acceptor = &config.acceptor;
    assert!(acceptor.allow_rc4 && acceptor.require_pac);
    assert_eq!(
        acceptor.max_ticket_lifetime.map(|d| d.as_secs()),
        Some(36000)
    );
    assert_eq!(acceptor.max_skew.as_secs(), 120);
    let expected = certificate_bindings(&std::fs::read(cert()).expect("cert")).expect("bindings");
    assert!(
        matches!(acceptor.channel_bindings, ChannelBindingPolicy::Verify { expected: e } if e == expected),
        "{:?}",
        acceptor.channel_bindings
    );
    let require = build(&text.replace("\"verify\"", "\"require\"")).expect("built");
    assert!(
        matches!(require.provider.engine().config().acceptor.channel_bindings, ChannelBindingPolicy::Require { expected: e } if e == expected)
    );
    assert_eq!(config.mapping.trusted_realms, ["AD.TEST"]);
    assert_eq!(config.mapping.upn_suffixes["AD.TEST"], "ad.test");
    let limits = &config.limits;
    assert_eq!(
        (
            limits.password_per_user,
            limits.password_per_address,
            limits.mfa_per_flow,
            limits.mfa_per_user,
            limits.window.as_secs()
        ),
        (3, 30, 2, 7, 60)
    );
    assert_eq!(config.flow_ttl.as_secs(), 120);
    let budgets: Vec<(&str, usize)> = built
        .provider
        .store_usage()
        .iter()
        .map(|u| (u.kind.name(), u.budget))
        .collect();
    let defaults = MemoryBudgets::default();
    assert_eq!(
        budgets,
        [
            ("replay", 5000),
            ("single_use", defaults.single_use),
            ("counters", defaults.counters),
            ("revocations", defaults.revocations),
            ("refresh", 777),
            ("other", defaults.other),
        ]
    );
    let web = built.provider.web();
    assert_eq!(web.max_body, 4096);
    assert_eq!(web.sso_timeout.as_millis(), 2500);
    assert_eq!(web.client_timeout.as_millis(), 1500);
    assert_eq!(web.max_header_block, 16384);
    assert_eq!(web.native.domains, ["example.test"]);
    assert_eq!(web.native.audience, "urn:example:native");
    assert_eq!(acceptor.max_token_bytes, 32768);
    let tokens = &config.tokens;
    assert_eq!(
        (
            tokens.id_token_ttl.as_secs(),
            tokens.access_token_ttl.as_secs(),
            tokens.max_groups,
            tokens.key_file_check.as_secs()
        ),
        (1800, 300, 40, 30)
    );
    assert_eq!(
        tokens.api_audience.as_deref(),
        Some("https://api.example.test")
    );
    // The issuer reaches discovery.
    let discovery = block_on(
        built.provider.serve(
            http::Request::get("/.well-known/openid-configuration")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .expect("request"),
        ),
    );
    let discovery: serde_json::Value = serde_json::from_slice(discovery.body()).expect("json");
    assert_eq!(discovery["issuer"], "https://sso.example.test/tenant");

    // The alias: a ticket for the other SPN is accepted with the account's key
    // (`verify` accepts a client that sent no bindings).
    let alias = TestKdc::with_key("AD.TEST", "HTTP/alias.ad.test", kdc.key().clone(), 4);
    let pac = PacSpec::new(DOMAIN.parse().expect("sid"), 1105).with_upn("alice@ad.test");
    let now = std::time::SystemTime::now();
    let token = alias
        .mint(&TicketSpec::new("alice", now).with_pac(pac))
        .expect("mint")
        .token;
    let accepted = block_on(engine.accept_token(token.as_bytes())).expect("the alias's ticket");
    assert_eq!(accepted.service.to_string(), "HTTP/alias.ad.test@AD.TEST");

    // Passwords off: giving up on Windows sign-in is a refusal with its code,
    // not a password form that could never succeed.
    assert!(!engine.passwords_enabled());
    let step = block_on(engine.start(sign_in_request(Some("alice@ad.test")), None, false));
    let done = block_on(engine.give_up(step.sealed().expect("sealed"), step.flow_id()));
    assert!(
        matches!(
            done.shown(),
            Shown::Denied {
                code: Code::NoTicket
            }
        ),
        "{:?}",
        done.shown()
    );
}

#[test]
fn mistakes_name_the_key_and_the_fix() {
    let dir = scratch("mistakes");
    let (_, keytab_path, users_path) = files(&dir);
    let head = format!(
        "[server]\npublic_origin = \"https://sso.example.test\"\n[kerberos]\nkeytab = \"{}\"\n",
        keytab_path.display()
    );
    let users = format!("[directory]\nfile = \"{}\"\n", users_path.display());
    let ldap = "[directory.ldap]\nurl = \"ldaps://dc.example.test\"\nca_file = \"/nonexistent/ca.pem\"\n\
                bind_dn = \"svc@example.test\"\nbase_dn = \"DC=example,DC=test\"\n";
    let cases: Vec<(String, &[&str])> = vec![
        (head.clone(), &["no [directory]", "[directory.ldap]"]),
        (
            format!(
                "{head}[directory]\nfile = \"{}\"\n{ldap}",
                users_path.display()
            ),
            &["exactly one"],
        ),
        (
            format!("{head}{users}[passwords]\nldap_bind = true\n"),
            &["passwords.ldap_bind", "[directory.ldap]"],
        ),
        (
            format!("{head}{ldap}"),
            with_ldap(&["bind_password_file", "SEAMLESS_LDAP_BIND_PASSWORD"]),
        ),
        (
            format!("{head}channel_bindings = \"require\"\n{users}"),
            &["channel_binding_cert"],
        ),
        (
            format!(
                "{head}{users}[store]\nurl = \"redis://127.0.0.1:1/0\"\n[store.memory]\nrefresh = 10\n"
            ),
            &["[store.memory]", "Redis"],
        ),
        (
            format!("{head}spn_aliases = [\"no-equals-sign\"]\n{users}"),
            &["kerberos.spn_aliases", "ACCOUNT=SPN"],
        ),
        (
            format!("{head}{ldap}bind_password = \"inline\"\n[passwords]\nldap_bind = true\n"),
            with_ldap(&["directory.ldap.bind_password", "bind_password_file"]),
        ),
        (
            format!(
                "{}{users}",
                head.replace("[kerberos]", "insecure_cookies = true\n[kerberos]")
            ),
            &["server.insecure_cookies", "loopback"],
        ),
        (
            format!("{head}{users}[limits]\npasswords_per_user = 3\n"),
            &["passwords_per_user"],
        ),
    ];
    for (text, needles) in cases {
        let message = refused(&text);
        for needle in needles {
            assert!(
                message.contains(needle),
                "{needle:?} not in {message:?} for\n{text}"
            );
        }
    }
}

/// What a mistake in `[directory.ldap]` is told: `with` in a build with the
/// `ldap` feature; without it, that the feature is missing (checked first).
fn with_ldap<'a>(with: &'a [&'a str]) -> &'a [&'a str] {
    if cfg!(feature = "ldap") {
        with
    } else {
        &["[directory.ldap]", "`ldap` feature"]
    }
}

#[test]
#[cfg(feature = "ldap")]
fn the_ldap_bind_password_comes_from_a_file_not_the_file_itself() {
    let dir = scratch("ldap-password");
    let (_, keytab_path, _) = files(&dir);
    let password = dir.join("bind.pw");
    std::fs::write(&password, "s3cret\n").expect("password");
    let text = format!(
        "[server]\npublic_origin = \"https://sso.example.test\"\n[kerberos]\nkeytab = \"{}\"\n\
         [directory.ldap]\nurl = \"ldaps://dc.example.test\"\nca_file = \"/nonexistent/ca.pem\"\n\
         bind_dn = \"svc@example.test\"\nbind_password_file = \"{}\"\nbase_dn = \"DC=example,DC=test\"\n\
         [passwords]\nldap_bind = true\n",
        keytab_path.display(),
        password.display()
    );
    // The password file is read; the next thing checked is the CA file, whose
    // error names it and never the password.
    let message = refused(&text);
    assert!(message.contains("/nonexistent/ca.pem"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}
