//! The README's "On a real Active Directory" walkthrough, step for step,
//! against Samba AD:
//! 1. `seamless ad setup` creates the service account and writes the keytab;
//! 2. a configuration file with the walkthrough's sections (Samba's values);
//! 3. `seamless serve --config` runs it (ready: keys, LDAP and store answer);
//! 4. a domain user's browser (Chromium holding alice's ticket, Negotiate allowed
//!    for the host) signs in to an OpenID Connect client without typing (the
//!    client sends `domain_hint`, as intranet clients of Entra do), and the code
//!    is redeemed for tokens that name her.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use seamless_interop::browser::Browser;
use seamless_interop::samba::{ADMIN_PASSWORD, SambaDc};
use seamless_interop::{TempDir, require};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn the_real_ad_walkthrough_signs_a_domain_user_in_without_typing() {
    let Some(dc) = SambaDc::start() else { return };
    if !require(&["chromium", "curl"]) {
        return;
    }
    dc.add_person("alice", "Al1ce-Passw0rd!", "Alice", "Liddell");
    let dir = TempDir::new("seamless-walkthrough");
    let keytab = dir.path().join("http.keytab");
    let ca = dc.ca_file();

    // 1. The service account and its keys.
    let setup = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args([
            "ad",
            "setup",
            "--realm",
            "AD.TEST",
            "--dc",
            "ldaps://127.0.0.1:636",
            "--ca-file",
        ])
        .arg(&ca)
        .args(["--admin", "Administrator@ad.test", "--keytab"])
        .arg(&keytab)
        .args(["--host", "localhost"])
        .env("SEAMLESS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .expect("ad setup");
    assert!(
        setup.status.success(),
        "{}{}",
        String::from_utf8_lossy(&setup.stdout),
        String::from_utf8_lossy(&setup.stderr)
    );

    // 2. The configuration file. The client's redirect URI is a listener that
    // answers anything with 200, so the browser shows the code in its address.
    let client = TcpListener::bind("127.0.0.1:0").expect("client");
    let callback = client.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut stream in client.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    let port = free_port();
    let origin = format!("http://localhost:{port}");
    let redirect = format!("http://localhost:{callback}/cb");
    let password = dir.path().join("ldap.pw");
    std::fs::write(&password, format!("{ADMIN_PASSWORD}\n")).expect("password file");
    let config = dir.path().join("seamless.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
public_origin = "{origin}"

[kerberos]
keytab = "{keytab}"
require_pac = true
max_ticket_lifetime_secs = 36000

[directory.ldap]
url = "ldaps://127.0.0.1:636"
ca_file = "{ca}"
bind_dn = "Administrator@ad.test"
bind_password_file = "{password}"
base_dn = "DC=ad,DC=test"

[passwords]
ldap_bind = true

[metrics]
enabled = true

[[clients]]
id = "intranet"
secret = "intranet-secret"
redirect_uris = ["{redirect}"]
"#,
            keytab = keytab.display(),
            ca = ca.display(),
            password = password.display(),
        ),
    )
    .expect("config");

    // 3. The server.
    let mut server = Command::new(env!("CARGO_BIN_EXE_seamless"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = curl(&[&format!("{origin}/readyz")]);
        if code == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready: {code} {body}; exited: {:?}",
            server.try_wait()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // 4. Alice's browser, holding her ticket from the domain logon.
    let ccache = dc.kinit("alice", "Al1ce-Passw0rd!", "alice.cc");
    let mut browser = Browser::launch(&dc.krb5_conf(), &ccache);
    let authorize = format!(
        "{origin}/authorize?client_id=intranet&redirect_uri={}&response_type=code&scope=openid&state=st-1&nonce=n-1&domain_hint=ad.test",
        form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let started = Instant::now();
    browser.navigate(&authorize);
    let landed = browser.wait_for_url("code=");
    eprintln!("signed in to the client in {:?}", started.elapsed());
    assert!(landed.starts_with(&redirect), "{landed}");
    assert!(landed.contains("state=st-1"), "{landed}");
    let code = landed
        .split("code=")
        .nth(1)
        .and_then(|c| c.split('&').next())
        .expect("code")
        .to_string();
    drop(browser);

    let (status, tokens) = curl(&[
        "-u",
        "intranet:intranet-secret",
        "-d",
        "grant_type=authorization_code",
        "-d",
        &format!("code={code}"),
        "--data-urlencode",
        &format!("redirect_uri={redirect}"),
        &format!("{origin}/token"),
    ]);
    assert_eq!(status, 200, "{tokens}");
    let tokens: serde_json::Value = serde_json::from_str(&tokens).expect("json");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let payload = id_token.split('.').nth(1).expect("payload");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("claims");
    assert_eq!(claims["iss"], origin);
    assert_eq!(claims["aud"], "intranet");
    assert!(
        claims.to_string().contains("alice@ad.test"),
        "the tokens name alice: {claims}"
    );
    let (_, metrics) = curl(&[&format!("{origin}/metrics")]);
    assert!(
        metrics.contains("seamless_sign_ins_total{outcome=\"completed\",code=\"\"} 1"),
        "{metrics}"
    );
    let _ = server.kill();
    let _ = server.wait();
}
