//! Microsoft's MSAL for Python (the `msal` package from PyPI, run by `python3`)
//! reads what our native endpoints answer, with its own code: the MEX document
//! through `msal.mex.Mex` (which looks for the integrated-auth policy's
//! `TransportBinding` only in the WS-SecurityPolicy 2005 namespace and keeps only
//! `https://` endpoints), and the RSTR and the SOAP fault through
//! `msal.wstrust_response`. The assertion MSAL extracts is then redeemed at our
//! token endpoint, so its extraction is proven byte-exact.
//!
//! Under `CI=true` a missing `python3` or `msal` is a failure.

use std::io::Write as _;
use std::process::{Command, Stdio};

use bytes::Bytes;
use http::Request;
use seamless_core::http::{Client, Response, WebConfig};
use seamless_core::testkit::sim::block_on;
use seamless_core::testkit::world::World;
use seamless_interop::{in_ci, require};

const ORIGIN: &str = "https://sso.example";
const AUDIENCE: &str = "urn:federation:MicrosoftOnline";
const ISSUE_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";

/// Runs MSAL's parsers over the documents; prints what they found as JSON.
const MSAL_SCRIPT: &str = r#"
import json, sys
import msal
from msal.mex import Mex
from msal.wstrust_response import parse_response, parse_error
doc = json.load(sys.stdin)
mex = Mex(doc["mex"])
endpoints = mex._get_endpoints(mex._get_bindings(), mex._get_iwa_policy_ids())
plain = Mex(doc["mex_http"])
plain_endpoints = plain._get_endpoints(plain._get_bindings(), plain._get_iwa_policy_ids())
token = parse_response(doc["rstr"])
print(json.dumps({
    "version": msal.__version__,
    "endpoints": endpoints,
    "plain_endpoints": plain_endpoints,
    "token": token["token"].decode("utf-8"),
    "type": token["type"],
    "fault": parse_error(doc["fault"]),
}))
"#;

/// `python3` with `msal` importable; `None` (a panic in CI) otherwise.
fn msal_python() -> Option<String> {
    if !require(&["python3"]) {
        return None;
    }
    let probe = Command::new("python3")
        .args(["-c", "import msal; print(msal.__version__)"])
        .output()
        .ok()?;
    if !probe.status.success() {
        let msg =
            "missing real component: the msal Python package (run scripts/test.sh to install)";
        assert!(!in_ci(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    Some(String::from_utf8_lossy(&probe.stdout).trim().to_string())
}

fn world(origin: &str) -> World {
    let origin = origin.to_string();
    World::builder()
        .no_faults()
        .provider(move |b| {
            b.web(WebConfig::new(&origin))
                .client(Client::public("office", "https://office.example/cb"))
        })
        .build()
}

fn send(w: &World, request: http::request::Builder, body: &str) -> Response {
    let request = request
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
        .expect("request");
    block_on(w.provider.serve(request))
}

fn text(r: &Response) -> String {
    String::from_utf8(r.body().to_vec()).expect("utf-8")
}

fn rst(endpoint: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">{ISSUE_13}</a:Action><a:MessageID>urn:uuid:7c1e2a55-0d1f-4b8e-9a57-2f5c0e3d4b21</a:MessageID><a:To s:mustUnderstand="1">{endpoint}</a:To></s:Header><s:Body><trust:RequestSecurityToken xmlns:trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>{AUDIENCE}</a:Address></a:EndpointReference></wsp:AppliesTo><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType></trust:RequestSecurityToken></s:Body></s:Envelope>"#
    )
}

#[test]
fn msal_for_python_finds_our_endpoints_and_extracts_a_redeemable_assertion() {
    let Some(version) = msal_python() else {
        return;
    };
    let w = world(ORIGIN);
    let mex = text(&send(&w, Request::get("/winauth/trust/mex"), ""));
    let mex_http = text(&send(
        &world("http://sso.example"),
        Request::get("/winauth/trust/mex"),
        "",
    ));
    let endpoint = format!("{ORIGIN}/winauth/trust/13/windowstransport");
    let soap = |r: http::request::Builder| r.header("content-type", "application/soap+xml");
    let fault = text(&send(
        &w,
        soap(Request::post("/winauth/trust/13/windowstransport")),
        &rst(&endpoint),
    ));
    let rstr = send(
        &w,
        soap(Request::post("/winauth/trust/13/windowstransport")).header(
            "authorization",
            format!("Negotiate {}", w.token("alice", 1105)),
        ),
        &rst(&endpoint),
    );
    assert_eq!(rstr.status(), 200, "{}", text(&rstr));

    let input = serde_json::json!({
        "mex": mex, "mex_http": mex_http, "rstr": text(&rstr), "fault": fault,
    });
    let mut child = Command::new("python3")
        .args(["-c", MSAL_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("msal run");
    assert!(
        out.status.success(),
        "MSAL {version} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).expect("msal output");
    eprintln!("MSAL for Python {}", found["version"]);

    // Both integrated endpoints, with their Issue actions.
    let mut endpoints: Vec<(String, String)> = found["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            (
                e["address"].as_str().expect("address").to_string(),
                e["action"].as_str().expect("action").to_string(),
            )
        })
        .collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        [
            (
                format!("{ORIGIN}/winauth/trust/13/windowstransport"),
                ISSUE_13.to_string()
            ),
            (
                format!("{ORIGIN}/winauth/trust/2005/windowstransport"),
                "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue".to_string()
            ),
        ]
    );
    // Served over plain HTTP, MSAL finds nothing: the README says so.
    assert_eq!(found["plain_endpoints"], serde_json::json!([]));

    // The fault, as MSAL reports it.
    assert_eq!(found["fault"]["code"], "wst:FailedAuthentication");
    // The assertion, as MSAL extracts it, redeems at our token endpoint.
    assert_eq!(found["type"], "urn:oasis:names:tc:SAML:1.0:assertion");
    let assertion = found["token"].as_str().expect("token");
    let grant = seamless_interop::saml_grant_form(assertion, "office");
    let tokens = send(
        &w,
        Request::post("/token").header("content-type", "application/x-www-form-urlencoded"),
        &grant,
    );
    assert_eq!(tokens.status(), 200, "{}", text(&tokens));
    let tokens: serde_json::Value = serde_json::from_slice(tokens.body()).expect("json");
    assert!(tokens["access_token"].is_string() && tokens["id_token"].is_string());
}
