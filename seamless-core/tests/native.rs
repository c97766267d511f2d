//! The native flow's documents with a client written to MSAL's published rules
//! (PROTOCOL.md §3.3, §3.5): discover the realm, parse the MEX, pick the
//! integrated endpoint (preferring WS-Trust 1.3), send an RST, extract the
//! assertion byte-exact from the RSTR, and redeem it. Plus the refusals.

mod common;

use base64::Engine as _;
use common::*;
use seamless_core::backends::RulePolicy;
use seamless_core::native::assertion::parse_grant_assertion;
use seamless_core::native::documents::{
    AssertionFacts, NS_SP_2005, NativeEndpoints, assertion, fault, mex, rstr, user_realm,
};
use seamless_core::native::wstrust::{RstError, parse_rst};
use seamless_core::native::xml::{Element, Limits, scan};
use seamless_core::testkit::sim::block_on;

const NS_HTTP_POLICY: &str = "http://schemas.microsoft.com/ws/06/2004/policy/http";
const ISSUE_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue";

fn endpoints() -> NativeEndpoints {
    NativeEndpoints {
        mex: "https://sso.example/winauth/trust/mex".into(),
        trust_2005: "https://sso.example/winauth/trust/2005/windowstransport".into(),
        trust_13: "https://sso.example/winauth/trust/13/windowstransport".into(),
        audience: AUDIENCE.into(),
    }
}

fn attr<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    e.attributes
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Where MSAL for Python looks for the integrated policy's `TransportBinding`:
/// WS-SecurityPolicy 2005 only.
const MSAL_PYTHON_SP: &[&str] = &[NS_SP_2005];
/// MSAL for Java and .NET, ADAL and Windows: 2005 or 1.2.
const MSAL_JAVA_SP: &[&str] = &[NS_SP_2005, NS_SP_12];
const NS_SP_12: &str = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702";
const NS_WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";

/// MSAL's MEX rules: IWA policies (a top-level `wsp:Policy` whose
/// `wsp:ExactlyOne/wsp:All/http:NegotiateAuthentication` path exists and which
/// holds a `TransportBinding` in one of `transport_ns`) → bindings referencing
/// them with an Issue soapAction over SOAP/HTTP → https port addresses; WS-Trust
/// 1.3 preferred.
fn msal_integrated_endpoint(mex_xml: &str, transport_ns: &[&str]) -> Option<(String, bool)> {
    let els = scan(
        mex_xml.as_bytes(),
        &Limits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_elements: 4096,
            max_text: 8192,
        },
    )
    .ok()?;
    let subtree = |i: usize| -> &[Element] {
        let depth = els[i].depth;
        let end = els[i + 1..]
            .iter()
            .position(|e| e.depth <= depth)
            .map_or(els.len(), |p| i + 1 + p);
        &els[i + 1..end]
    };
    // A path of direct children below `scope` (whose first element is one level
    // deeper than `depth`), each (namespace, local name).
    fn has_path(scope: &[Element], depth: usize, path: &[(&str, &str)]) -> bool {
        let Some(((ns, local), rest)) = path.split_first() else {
            return true;
        };
        scope.iter().enumerate().any(|(i, e)| {
            if e.depth != depth + 1 || e.ns != *ns || e.local != *local {
                return false;
            }
            let end = scope[i + 1..]
                .iter()
                .position(|x| x.depth <= e.depth)
                .map_or(scope.len(), |p| i + 1 + p);
            has_path(&scope[i + 1..end], e.depth, rest)
        })
    }
    let mut iwa_policies = Vec::new();
    for (i, e) in els.iter().enumerate() {
        // Top-level policies only: children of wsdl:definitions.
        if e.depth == 2 && e.ns == NS_WSP && e.local == "Policy" && attr(e, "Id").is_some() {
            let inner = subtree(i);
            let negotiate = has_path(
                inner,
                e.depth,
                &[
                    (NS_WSP, "ExactlyOne"),
                    (NS_WSP, "All"),
                    (NS_HTTP_POLICY, "NegotiateAuthentication"),
                ],
            );
            let transport = inner
                .iter()
                .any(|x| x.local == "TransportBinding" && transport_ns.contains(&x.ns.as_str()));
            if negotiate && transport {
                iwa_policies.push(format!("#{}", attr(e, "Id")?));
            }
        }
    }
    let mut bindings = Vec::new();
    for (i, e) in els.iter().enumerate() {
        if e.local == "binding" && e.ns == "http://schemas.xmlsoap.org/wsdl/" {
            let inner = subtree(i);
            let policy = inner
                .iter()
                .find(|x| x.local == "PolicyReference")
                .and_then(|x| attr(x, "URI"))?;
            let http = inner.iter().any(|x| {
                x.local == "binding"
                    && attr(x, "transport") == Some("http://schemas.xmlsoap.org/soap/http")
            });
            let action = inner
                .iter()
                .find(|x| x.local == "operation" && attr(x, "soapAction").is_some())
                .and_then(|x| attr(x, "soapAction"));
            if iwa_policies.iter().any(|p| p == policy) && http {
                match action {
                    Some(ISSUE_13) => bindings.push((attr(e, "name")?.to_string(), true)),
                    Some(ISSUE_2005) => bindings.push((attr(e, "name")?.to_string(), false)),
                    _ => {}
                }
            }
        }
    }
    let mut endpoints = Vec::new();
    for (i, e) in els.iter().enumerate() {
        if e.local == "port" {
            let binding = attr(e, "binding")?.rsplit(':').next()?.to_string();
            let Some((_, v13)) = bindings.iter().find(|(name, _)| *name == binding) else {
                continue;
            };
            let address = subtree(i)
                .iter()
                .find(|x| x.local == "Address")
                .map(|x| x.text.clone())?;
            if address.starts_with("https://") {
                endpoints.push((address, *v13));
            }
        }
    }
    endpoints.sort_by_key(|(_, v13)| !v13);
    endpoints.into_iter().next()
}

#[test]
fn a_native_client_following_msal_rules_signs_in() {
    let realm = user_realm("Alice@AD.test", true, &endpoints(), false);
    assert_eq!(realm["account_type"], "Federated");
    assert_eq!(realm["federation_protocol"], "WSTrust");
    let mex_url = realm["federation_metadata_url"].as_str().expect("mex url");
    assert_eq!(mex_url, endpoints().mex);

    for rules in [MSAL_PYTHON_SP, MSAL_JAVA_SP] {
        let (endpoint, v13) = msal_integrated_endpoint(&mex(&endpoints()), rules)
            .unwrap_or_else(|| panic!("an integrated endpoint under {rules:?}"));
        assert_eq!(
            (endpoint.as_str(), v13),
            (
                "https://sso.example/winauth/trust/13/windowstransport",
                true
            ),
            "1.3 preferred"
        );
    }
    // The rules themselves tell the namespaces apart: the same document with
    // the 1.2 namespace is invisible to MSAL for Python.
    let with_12 = mex(&endpoints()).replace(NS_SP_2005, NS_SP_12);
    assert!(msal_integrated_endpoint(&with_12, MSAL_PYTHON_SP).is_none());
    assert!(msal_integrated_endpoint(&with_12, MSAL_JAVA_SP).is_some());
    // MSAL keeps https:// endpoints only.
    let plain = NativeEndpoints {
        trust_2005: "http://sso.example/winauth/trust/2005/windowstransport".into(),
        trust_13: "http://sso.example/winauth/trust/13/windowstransport".into(),
        ..endpoints()
    };
    assert!(msal_integrated_endpoint(&mex(&plain), MSAL_JAVA_SP).is_none());

    let rst = parse_rst(rst_13().as_bytes(), AUDIENCE).expect("RST");
    let w = world(RulePolicy::default());
    let completion = block_on(w.engine.sign_in_native(
        Default::default(),
        None,
        w.token("alice", 1105).as_bytes(),
    ))
    .expect("signed in");
    // The sign-in token is opaque to the documents (minting one is the
    // engine's alone; `msal_style_client_signs_in_over_http` redeems a real one once).
    let token = "sealed-sign-in-token.opaque_value-1";
    let facts = AssertionFacts {
        assertion_id: "_a1b2c3".into(),
        issuer: "https://sso.example/".into(),
        issued: "2027-01-15T08:00:00Z".into(),
        expires: "2027-01-15T08:02:00Z".into(),
        upn: completion.user.upn.clone(),
    };
    let response = rstr(&rst, &assertion(&facts, AUDIENCE, token), &facts);
    assert!(
        response.contains("RequestSecurityTokenResponseCollection"),
        "1.3 wraps the response"
    );
    assert!(
        response
            .contains("<a:RelatesTo>urn:uuid:11111111-2222-3333-4444-555555555555</a:RelatesTo>")
    );
    scan(
        response.as_bytes(),
        &Limits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_elements: 1000,
            max_text: 8192,
        },
    )
    .expect("well-formed RSTR");

    let assertion_xml = extract_assertion(&response).expect("assertion");
    let grant = base64::engine::general_purpose::STANDARD.encode(assertion_xml);
    let parsed = parse_grant_assertion(&grant).expect("grant assertion");
    assert_eq!(parsed.name_identifier.as_deref(), Some("alice@ad.test"));
    assert_eq!(parsed.audience.as_deref(), Some(AUDIENCE));
    assert_eq!(parsed.sign_in_token, token, "carried byte-exact");
}

#[test]
fn realm_answers_do_not_reveal_users() {
    for v2 in [false, true] {
        let mut a = user_realm("alice@ad.test", true, &endpoints(), v2);
        let mut b = user_realm("nobody@ad.test", true, &endpoints(), v2);
        // 2.x echoes the name it was asked about, as Entra does; nothing else differs.
        assert_eq!(a["Login"].take().as_str().is_some(), v2);
        b["Login"].take();
        assert_eq!(a, b, "same answer for any user of a served domain");
    }
}

#[test]
fn realm_answers_have_entras_shape_for_each_api_version() {
    // 1.0, what MSAL asks for.
    let v1 = user_realm("Alice@AD.test", true, &endpoints(), false);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v1),
        [
            "account_type",
            "cloud_audience_urn",
            "cloud_instance_name",
            "domain_name",
            "federation_active_auth_url",
            "federation_metadata_url",
            "federation_protocol",
            "ver"
        ]
    );
    assert_eq!(
        (v1["ver"].as_str(), v1["domain_name"].as_str()),
        (Some("1.0"), Some("ad.test"))
    );
    // 2.x, the login page's shape: NameSpaceType, DomainName, is_dsso_enabled.
    let v2 = user_realm("Alice@AD.test", true, &endpoints(), true);
    assert_eq!(
        keys(&v2),
        [
            "DomainName",
            "Login",
            "NameSpaceType",
            "cloud_instance_name",
            "federation_protocol",
            "is_dsso_enabled"
        ]
    );
    assert_eq!(
        (
            v2["NameSpaceType"].as_str(),
            v2["DomainName"].as_str(),
            v2["Login"].as_str(),
            v2["is_dsso_enabled"].as_bool()
        ),
        (
            Some("Federated"),
            Some("ad.test"),
            Some("Alice@AD.test"),
            Some(true)
        )
    );
    let other = user_realm("x@elsewhere.test", false, &endpoints(), true);
    assert_eq!(
        (
            other["NameSpaceType"].as_str(),
            other["is_dsso_enabled"].as_bool()
        ),
        (Some("Unknown"), Some(false))
    );
    assert!(other.get("federation_protocol").is_none());
    let other = user_realm("x@elsewhere.test", false, &endpoints(), false);
    assert_eq!(other["account_type"], "Unknown");
    assert!(other.get("federation_metadata_url").is_none());
}

#[test]
fn grant_assertions_are_checked_strictly() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let ns = r#"xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion""#;
    let tok = r#"<DesktopSsoToken xmlns="urn:seamless:sign-in-token">abc</DesktopSsoToken>"#;
    let ok =
        format!(r#"<saml:Assertion MajorVersion="1" MinorVersion="1" {ns}>{tok}</saml:Assertion>"#);
    assert_eq!(
        parse_grant_assertion(&b64(&ok))
            .expect("minimal")
            .sign_in_token,
        "abc"
    );
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&ok);
    assert!(
        parse_grant_assertion(&url_safe).is_ok(),
        "url-safe base64 accepted"
    );
    let cases = [
        ("not base64", "%%%".to_string()),
        (
            "SAML 2",
            b64(&ok.replace(
                "urn:oasis:names:tc:SAML:1.0:assertion",
                "urn:oasis:names:tc:SAML:2.0:assertion",
            )),
        ),
        (
            "no token",
            b64(&format!(
                r#"<saml:Assertion MajorVersion="1" {ns}></saml:Assertion>"#
            )),
        ),
        ("two tokens", b64(&ok.replace(tok, &format!("{tok}{tok}")))),
        (
            "nested assertion",
            b64(&ok.replace(tok, &format!(r#"{tok}<saml:Assertion MajorVersion="1"/>"#))),
        ),
        (
            "xxe",
            b64(&format!(
                r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><saml:Assertion MajorVersion="1" {ns}>&x;</saml:Assertion>"#
            )),
        ),
        ("two roots", b64(&format!("{ok}{ok}"))),
        ("huge", b64(&ok.replace("abc", &"a".repeat(20_000)))),
        (
            "wrong major version",
            b64(&ok.replace(r#"MajorVersion="1""#, r#"MajorVersion="2""#)),
        ),
    ];
    for (name, input) in cases {
        assert!(
            parse_grant_assertion(&input).is_err(),
            "{name} must be refused"
        );
    }
}

#[test]
fn faults_carry_the_stable_code_and_are_well_formed() {
    let xml = fault(
        &RstError {
            subcode: "wst:InvalidRequest",
            message: "AppliesTo names an audience <this> service does not serve",
        },
        90012,
    );
    let els = scan(
        xml.as_bytes(),
        &Limits {
            max_bytes: 1 << 16,
            max_depth: 16,
            max_elements: 100,
            max_text: 4096,
        },
    )
    .expect("well-formed");
    assert!(
        els.iter()
            .any(|e| e.local == "text" && e.text.starts_with("SEAMLESS90012:"))
    );
    assert!(
        els.iter()
            .any(|e| e.local == "Value" && e.text == "wst:InvalidRequest")
    );
    assert!(
        els.iter()
            .any(|e| e.local == "Text" && e.text.contains("<this>")),
        "escaped, then read back"
    );
}

mod over_http {
    //! The same client, now over the engine's HTTP surface.

    use super::*;
    use bytes::Bytes;
    use http::{Method, StatusCode};
    use seamless_core::engine::EngineConfig;
    use seamless_core::http::{Client, Response, WebConfig};
    use seamless_core::seal::SealingKey;

    fn http_world(policy: RulePolicy) -> World {
        world_custom(
            policy,
            EngineConfig::default(),
            vec![SealingKey::new(1, [7; 32])],
            |b| {
                b.web(WebConfig::new("https://sso.example"))
                    .client(Client::public(
                        "office",
                        "https://login.microsoftonline.com/common/oauth2/nativeclient",
                    ))
            },
        )
    }

    fn send(
        w: &World,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        match block_on(w.handle(b.body(Bytes::from(body.to_string())).expect("request"))) {
            crate::common::Outcome::Respond(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn body(r: &Response) -> &str {
        std::str::from_utf8(r.body()).expect("utf-8")
    }

    fn json(r: &Response) -> serde_json::Value {
        serde_json::from_slice(r.body()).expect("json")
    }

    fn rst_for(endpoint: &str) -> String {
        rst_13().replace(
            "https://sso.example/winauth/trust/13/windowstransport",
            endpoint,
        )
    }

    fn grant(w: &World, assertion_xml: &str) -> Response {
        let b64 = base64::engine::general_purpose::STANDARD.encode(assertion_xml);
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:saml1_1-bearer",
                ),
                ("assertion", &b64),
                ("client_id", "office"),
                ("scope", "openid profile offline_access"),
                ("client_info", "1"),
            ])
            .finish();
        send(
            w,
            Method::POST,
            "/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            &form,
        )
    }

    #[test]
    fn msal_style_client_signs_in_over_http() {
        let w = http_world(RulePolicy::default());
        let realm = send(
            &w,
            Method::GET,
            "/common/userrealm/alice@ad.test?api-version=1.0",
            &[],
            "",
        );
        assert_eq!(realm.status(), StatusCode::OK);
        let realm = json(&realm);
        assert_eq!(realm["account_type"], "Federated");
        let mex_url = realm["federation_metadata_url"]
            .as_str()
            .expect("mex")
            .to_string();
        let mex_path = mex_url.strip_prefix("https://sso.example").expect("ours");
        let mex = send(&w, Method::GET, mex_path, &[], "");
        let (endpoint, v13) =
            msal_integrated_endpoint(body(&mex), MSAL_PYTHON_SP).expect("integrated endpoint");
        assert!(v13, "1.3 preferred");
        let path = endpoint
            .strip_prefix("https://sso.example")
            .expect("ours")
            .to_string();

        // First without credentials: the challenge.
        let headers = [("content-type", "application/soap+xml; charset=utf-8")];
        let challenge = send(&w, Method::POST, &path, &headers, &rst_for(&endpoint));
        assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.headers()["www-authenticate"], "Negotiate");
        assert!(body(&challenge).contains("<psf:code>81006</psf:code>"));

        let auth = format!("Negotiate {}", w.token("alice", 1105));
        let answer = send(
            &w,
            Method::POST,
            &path,
            &[headers[0], ("authorization", &auth)],
            &rst_for(&endpoint),
        );
        assert_eq!(answer.status(), StatusCode::OK, "{}", body(&answer));
        assert!(body(&answer).contains("RequestSecurityTokenResponseCollection"));
        let assertion_xml = extract_assertion(body(&answer))
            .expect("assertion")
            .to_string();
        assert!(assertion_xml.contains("alice@ad.test"));

        let tokens = grant(&w, &assertion_xml);
        assert_eq!(tokens.status(), StatusCode::OK, "{}", body(&tokens));
        let t = json(&tokens);
        assert!(
            t["access_token"].is_string()
                && t["refresh_token"].is_string()
                && t["id_token"].is_string()
        );
        let info: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t["client_info"].as_str().expect("client_info"))
                .expect("b64"),
        )
        .expect("json");
        assert_eq!(info["uid"], "u-alice");
        // The assertion is single-use.
        let again = grant(&w, &assertion_xml);
        assert_eq!(
            (again.status(), json(&again)["error"].clone()),
            (StatusCode::BAD_REQUEST, "invalid_grant".into())
        );
    }

    #[test]
    fn native_refusals_are_coded_faults() {
        let w = http_world(RulePolicy {
            mfa_groups: vec!["mfa".into()],
            ..RulePolicy::default()
        });
        let endpoint = "https://sso.example/winauth/trust/13/windowstransport";
        let path = "/winauth/trust/13/windowstransport";
        let cases: Vec<(String, String, StatusCode, &str)> = vec![
            (
                format!("Negotiate {}", w.token("bob", 1106)),
                rst_for(endpoint),
                StatusCode::FORBIDDEN,
                "50079",
            ),
            (
                "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==".into(),
                rst_for(endpoint),
                StatusCode::FORBIDDEN,
                "81005",
            ),
            (
                "Negotiate %%%".into(),
                rst_for(endpoint),
                StatusCode::FORBIDDEN,
                "81009",
            ),
            (
                format!("Negotiate {}", w.token("ghost", 9999)),
                rst_for(endpoint),
                StatusCode::FORBIDDEN,
                "81011",
            ),
            (
                format!("Negotiate {}", w.token("alice", 1105)),
                rst_for(endpoint).replace(AUDIENCE, "urn:evil"),
                StatusCode::BAD_REQUEST,
                "90012",
            ),
            (
                format!("Negotiate {}", w.token("alice", 1105)),
                r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#.into(),
                StatusCode::BAD_REQUEST,
                "90012",
            ),
            (
                format!("Negotiate {}", w.token("alice", 1105)),
                "<a>".repeat(100),
                StatusCode::BAD_REQUEST,
                "90012",
            ),
        ];
        for (auth, rst, status, code) in cases {
            let r = send(&w, Method::POST, path, &[("authorization", &auth)], &rst);
            assert_eq!(r.status(), status, "{code}: {}", body(&r));
            assert!(
                body(&r).contains(&format!("<psf:code>{code}</psf:code>")),
                "{code}: {}",
                body(&r)
            );
        }
        // Tampered readable fields fail the grant even with a valid token inside.
        let auth = format!("Negotiate {}", w.token("alice", 1105));
        let answer = send(
            &w,
            Method::POST,
            path,
            &[("authorization", &auth)],
            &rst_for(endpoint),
        );
        let assertion_xml = extract_assertion(body(&answer))
            .expect("assertion")
            .to_string();
        let forged = grant(&w, &assertion_xml.replace("alice@ad.test", "dave@ad.test"));
        assert_eq!(json(&forged)["error"], "invalid_grant");
        // Expired: two minutes and a second later.
        let answer = send(
            &w,
            Method::POST,
            path,
            &[(
                "authorization",
                &format!("Negotiate {}", {
                    w.clock.advance(std::time::Duration::from_secs(1));
                    w.token("alice", 1105)
                }),
            )],
            &rst_for(endpoint),
        );
        let assertion_xml = extract_assertion(body(&answer))
            .expect("assertion")
            .to_string();
        w.clock.advance(std::time::Duration::from_secs(121));
        assert_eq!(json(&grant(&w, &assertion_xml))["error"], "invalid_grant");
        // Unknown domains get the same shape, saying so.
        let r = json(&send(
            &w,
            Method::GET,
            "/common/userrealm?user=x%40other.example&api-version=2.1",
            &[],
            "",
        ));
        assert_eq!(
            (r["NameSpaceType"].as_str(), r["is_dsso_enabled"].as_bool()),
            (Some("Unknown"), Some(false))
        );
    }
}
