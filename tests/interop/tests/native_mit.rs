//! The native flow end to end with a real MIT KDC and a real GSSAPI client: curl
//! (MIT GSSAPI) posts a WS-Trust 1.3 RST to the provider served on loopback,
//! answers its 401 with a Negotiate token for a ticket the KDC issued, and gets an
//! RSTR; the assertion inside is then redeemed at the token endpoint.

use std::process::Command;
use std::sync::Arc;

use seamless_core::Provider;
use seamless_core::backends::{MemoryKeyStore, StaticDirectory};
use seamless_core::http::{Client, WebConfig};
use seamless_core::kerberos::{KeyRing, keytab};
use seamless_interop::{MitRealm, loopback};

const AUDIENCE: &str = "urn:federation:MicrosoftOnline";

fn rst(endpoint: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</a:Action><a:MessageID>urn:uuid:6a6ad5b3-1f7d-4d1e-9b1e-4b0b8f0c8e01</a:MessageID><a:To s:mustUnderstand="1">{endpoint}</a:To></s:Header><s:Body><trust:RequestSecurityToken xmlns:trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>{AUDIENCE}</a:Address></a:EndpointReference></wsp:AppliesTo><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType></trust:RequestSecurityToken></s:Body></s:Envelope>"#
    )
}

#[test]
fn curl_with_an_mit_ticket_gets_an_assertion_that_redeems_once() {
    let Some(realm) = MitRealm::start() else {
        return;
    };
    assert!(seamless_interop::require(&["curl"]));
    realm.add_user("alice", "alice-pw-1");
    let keytab_path = realm.add_service("HTTP/sso.example.test", None);
    let ccache = realm.kinit("alice", "alice-pw-1");
    let entries = keytab::parse(&std::fs::read(&keytab_path).expect("keytab")).expect("parse");
    let ring = KeyRing::from_keytab(&entries).expect("ring");

    let server = loopback::serve(|origin| {
        let mut web = WebConfig::new(origin);
        web.dangerous().insecure_cookies();
        Provider::builder()
            .web(web)
            .keys(Arc::new(MemoryKeyStore::new(ring)))
            .directory(Arc::new(
                StaticDirectory::from_text(
                    "[[users]]\nid = \"u-alice\"\nupn = \"alice@example.test\"\n",
                )
                .expect("directory"),
            ))
            .client(Client::public("office", "urn:ietf:wg:oauth:2.0:oob"))
            .with_engine(|b| b.dangerous().no_passwords())
            .build()
            .expect("engine")
    });
    let port = server.addr.port();
    let endpoint = format!("http://sso.example.test:{port}/winauth/trust/13/windowstransport");
    let output = Command::new("curl")
        .env("KRB5_CONFIG", realm.dir().join("krb5.conf"))
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .args(["-sS", "--max-time", "20", "--negotiate", "-u", ":"])
        .args(["--resolve", &format!("sso.example.test:{port}:127.0.0.1")])
        .args(["-H", "Content-Type: application/soap+xml; charset=utf-8"])
        .args(["--data-binary", &rst(&endpoint)])
        .args(["-w", "\n%{http_code}"])
        .arg(&endpoint)
        .output()
        .expect("run curl");
    let out = String::from_utf8_lossy(&output.stdout).to_string();
    let (rstr, status) = out.rsplit_once('\n').expect("status line");
    assert_eq!(
        status,
        "200",
        "{rstr}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let start = rstr.find("<saml:Assertion").expect("assertion");
    let end = rstr.find("</saml:Assertion>").expect("end") + "</saml:Assertion>".len();
    let assertion = &rstr[start..end];
    assert!(assertion.contains("alice@example.test"));

    let redeem = || {
        let form = seamless_interop::saml_grant_form(assertion, "office");
        let request = http::Request::post(format!("{}/token", server.origin()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.into_bytes())
            .expect("request");
        let response = loopback::call(request).expect("token endpoint");
        let body: serde_json::Value = serde_json::from_slice(response.body()).expect("json");
        (response.status(), body)
    };
    let (status, body) = redeem();
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string() && body["access_token"].is_string());
    let (status, body) = redeem();
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
