//! The LDAP directory and pass-through password checks against a real Active
//! Directory (Samba AD DC over LDAPS), and a whole seamless sign-in through the
//! engine with a ticket from Samba's KDC and the user from its LDAP, the engine
//! configured by a TOML file alone (`[directory.ldap]`, LDAP-bind passwords).
#![cfg(feature = "ldap")]

use std::sync::Arc;

use seamless_core::backends::{
    Directory, LdapBindVerifier, LdapConfig, LdapDirectory, Password, PasswordVerifier, UserQuery,
};
use seamless_core::config::Settings;
use seamless_core::engine::Engine;
use seamless_core::engine::View;
use seamless_core::error::BackendErrorKind;
use seamless_core::error::Code;
use seamless_core::flow::SignInRequest;
use seamless_core::testkit::{Shown, StepExt as _};
use seamless_interop::curl_negotiate;
use seamless_interop::samba::{ADMIN_PASSWORD, SambaDc};

fn config(dc: &SambaDc) -> LdapConfig {
    toml::from_str(&format!(
        "url = \"ldaps://127.0.0.1:636\"\nca_file = \"{}\"\nbind_dn = \"Administrator@ad.test\"\n\
         bind_password = \"{ADMIN_PASSWORD}\"\nbase_dn = \"DC=ad,DC=test\"\ntimeout_secs = 5\n",
        dc.ca_file().display()
    ))
    .expect("config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_directory_and_bind_against_samba_ad_and_a_whole_sign_in() {
    let Some(dc) = SambaDc::start() else { return };
    dc.add_person("alice", "Al1ce-Passw0rd!", "Alice", "Liddell");
    dc.tool(&["user", "create", "bob", "B0b-Passw0rd!!"]);
    dc.tool(&["user", "disable", "bob"]);
    dc.tool(&["group", "add", "staff"]);
    dc.tool(&["group", "addmembers", "staff", "alice"]);
    let sid = dc.attribute("alice", "objectSid").expect("objectSid");
    let guid = dc.attribute("alice", "objectGUID").expect("objectGUID");

    let directory = LdapDirectory::new(config(&dc)).expect("directory");
    let alice = directory
        .find(&UserQuery::Sid(sid.parse().expect("sid")))
        .await
        .expect("search")
        .expect("alice by SID");
    assert_eq!(alice.id, guid, "id is objectGUID");
    assert_eq!(alice.upn, "alice@ad.test");
    assert_eq!(alice.display_name, "Alice Liddell");
    assert_eq!(
        alice.sid.as_ref().map(ToString::to_string),
        Some(sid.clone())
    );
    assert!(
        alice.groups.iter().any(|g| g == "staff"),
        "{:?}",
        alice.groups
    );
    assert!(alice.enabled && !alice.locked && !alice.expired);
    // The same contract the static directory passes (same population: alice in
    // staff, bob disabled), against AD.
    let shared: Arc<dyn Directory> = Arc::new(LdapDirectory::new(config(&dc)).expect("directory"));
    seamless_core::testkit::directory_contract::run_all(shared).await;

    let passwords = LdapBindVerifier::new(config(&dc)).expect("verifier");
    assert!(
        passwords
            .verify(Some(&alice), &Password::new("Al1ce-Passw0rd!"))
            .await
            .expect("bind")
    );
    assert!(
        !passwords
            .verify(Some(&alice), &Password::new("wrong"))
            .await
            .expect("bind")
    );
    assert!(
        !passwords
            .verify(Some(&alice), &Password::new(""))
            .await
            .expect("bind"),
        "no anonymous bind"
    );
    assert!(
        !passwords
            .verify(None, &Password::new("Al1ce-Passw0rd!"))
            .await
            .expect("bind")
    );

    let mut unreachable = config(&dc);
    unreachable.url = "ldaps://127.0.0.1:1".into();
    let err = LdapDirectory::new(unreachable)
        .expect("dir")
        .find(&UserQuery::Logins(vec!["alice".into()]))
        .await
        .expect_err("down");
    assert_eq!(err.kind, BackendErrorKind::Unavailable);
    let mut untrusted = config(&dc);
    untrusted.ca_file = std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    let err = LdapDirectory::new(untrusted)
        .expect("dir")
        .find(&UserQuery::Logins(vec!["alice".into()]))
        .await
        .expect_err("TLS");
    assert_eq!(
        err.kind,
        BackendErrorKind::Unavailable,
        "a DC certificate from an unknown CA is refused"
    );
    assert!(
        err.message.contains("not issued by a CA in ca_file"),
        "{}",
        err.message
    );
    // A certificate that does not carry the name asked for: the cause is named,
    // not the CA.
    let mut misnamed = config(&dc);
    misnamed.tls_server_name = Some("other.ad.test".into());
    let err = LdapDirectory::new(misnamed)
        .expect("dir")
        .find(&UserQuery::Logins(vec!["alice".into()]))
        .await
        .expect_err("name");
    assert!(
        err.message.contains("subjectAltName=DNS:other.ad.test"),
        "{}",
        err.message
    );

    // A whole seamless sign-in: Samba's ticket, our acceptor, AD's user.
    dc.tool(&["user", "create", "httpsvc", "Svc-Passw0rd-1!"]);
    dc.tool(&["spn", "add", "HTTP/app.ad.test", "httpsvc"]);
    dc.set_enctypes("httpsvc", 24);
    dc.tool(&[
        "user",
        "setpassword",
        "httpsvc",
        "--newpassword=Svc-Passw0rd-2!",
    ]);
    let keytab = dc.export_keytab("HTTP/app.ad.test", "http.keytab");
    // From here the engine is what a TOML file alone configures: the keytab,
    // [directory.ldap] (the bind password in a file), LDAP-bind passwords and a
    // deny group; no users file.
    dc.tool(&["user", "create", "dave", "D4ve-Passw0rd!!"]);
    dc.tool(&["group", "add", "blocked"]);
    dc.tool(&["group", "addmembers", "blocked", "dave"]);
    let password_file = dc.dir().join("bind.pw");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).expect("password file");
    let text = format!(
        r#"
[server]
public_origin = "https://app.ad.test"

[kerberos]
keytab = "{keytab}"
require_pac = true

[directory.ldap]
url = "ldaps://127.0.0.1:636"
ca_file = "{ca}"
bind_dn = "Administrator@ad.test"
bind_password_file = "{password}"
base_dn = "DC=ad,DC=test"

[passwords]
ldap_bind = true

[policy]
deny_groups = ["blocked"]
"#,
        keytab = keytab.display(),
        ca = dc.ca_file().display(),
        password = password_file.display(),
    );
    let built = Settings::parse(&text, [])
        .expect("settings")
        .build()
        .await
        .expect("built from the file");
    let engine = built.provider.engine().clone();
    // A ticket from after the start (a memory store refuses older authenticators
    // for one skew window: it cannot know what it saw before).
    let token = negotiate_token(
        dc.krb5_conf(),
        dc.kinit("alice", "Al1ce-Passw0rd!", "alice.cc"),
    )
    .await;
    match &sign_in(&engine, &token).await {
        Shown::Completed(c) => {
            assert_eq!(c.user.id, guid);
            assert_eq!(
                c.auth
                    .ticket
                    .as_ref()
                    .and_then(|t| t.sid.as_ref())
                    .map(ToString::to_string),
                Some(sid)
            );
        }
        other => panic!("expected a seamless sign-in, got {other:?}"),
    }
    // And the password fallback, checked by AD itself.
    let step = engine.start(hinted(), None, false).await;
    let form = engine
        .give_up(step.sealed().expect("sealed"), step.flow_id())
        .await;
    let done = engine
        .submit_password(
            form.sealed().expect("sealed"),
            form.flow_id(),
            "AD\\alice",
            &Password::new("Al1ce-Passw0rd!"),
        )
        .await;
    assert!(
        matches!(done.shown(), Shown::Completed(_)),
        "{:?}",
        done.shown()
    );

    // With the right password, a disabled AD account is refused (AD refuses the
    // bind: the uniform wrong-credentials answer) and a member of a deny group is
    // denied by policy.
    let refused = |user: &'static str, password: &'static str| {
        let engine = engine.clone();
        async move {
            let request = SignInRequest {
                client_id: "app".into(),
                login_hint: Some(format!("{user}@ad.test")),
                ..Default::default()
            };
            let step = engine.start(request, None, false).await;
            let step = engine
                .give_up(step.sealed().expect("sealed"), step.flow_id())
                .await;
            engine
                .submit_password(
                    step.sealed().expect("sealed"),
                    step.flow_id(),
                    user,
                    &Password::new(password),
                )
                .await
                .shown()
        }
    };
    let bob = refused("bob", "B0b-Passw0rd!!").await;
    assert!(
        matches!(
            bob,
            Shown::Page(View::Password {
                error: Some(Code::InvalidCredentials),
                ..
            })
        ),
        "{bob:?}"
    );
    let dave = refused("dave", "D4ve-Passw0rd!!").await;
    assert!(
        matches!(
            dave,
            Shown::Denied {
                code: Code::PolicyDenied,
                ..
            }
        ),
        "{dave:?}"
    );

    // R7: alice's password changes in AD. A ticket from her logon before the
    // change (her old TGT, still cached) falls back to the password form; a
    // logon with the new password signs her in seamlessly.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    dc.tool(&[
        "user",
        "setpassword",
        "alice",
        "--newpassword=Al1ce-Passw0rd-2!",
    ]);
    // The cache from alice's logon before the change: a new AP-REQ, old authtime.
    let stale = negotiate_token(dc.krb5_conf(), dc.dir().join("alice.cc")).await;
    let view = sign_in(&engine, &stale).await;
    assert!(
        matches!(
            view,
            Shown::Page(View::Password {
                reason: Some(Code::TicketInvalid),
                ..
            })
        ),
        "a ticket from before the password change: {view:?}"
    );
    let fresh = negotiate_token(
        dc.krb5_conf(),
        dc.kinit("alice", "Al1ce-Passw0rd-2!", "alice-new.cc"),
    )
    .await;
    let view = sign_in(&engine, &fresh).await;
    assert!(matches!(view, Shown::Completed(_)), "{view:?}");
}

/// A `Negotiate` token from MIT's GSSAPI (curl) with the tickets in `ccache`.
async fn negotiate_token(krb5: std::path::PathBuf, ccache: std::path::PathBuf) -> String {
    tokio::task::spawn_blocking(move || {
        curl_negotiate(&krb5, &ccache, "app.ad.test", |_| (200, None)).0
    })
    .await
    .expect("curl")
    .expect("token")
}

/// A hinted sign-in as alice answered with `token`: where it ends.
async fn sign_in(engine: &Engine, token: &str) -> Shown {
    let step = engine.start(hinted(), None, false).await;
    engine
        .negotiate(
            step.sealed().expect("sealed"),
            step.flow_id(),
            Some(token.as_bytes()),
        )
        .await
        .shown()
}

fn hinted() -> SignInRequest {
    SignInRequest {
        client_id: "app".into(),
        login_hint: Some("alice@ad.test".into()),
        ..Default::default()
    }
}
