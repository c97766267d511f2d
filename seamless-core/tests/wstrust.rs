//! The WS-Trust request parser: MSAL-shaped requests in both dialects, each
//! refusal with its fault subcode, the classic XML attacks, and property tests.

use proptest::prelude::*;
use seamless_core::native::wstrust::{MAX_RST_BYTES, TrustVersion, parse_rst};

const AUDIENCE: &str = "urn:federation:MicrosoftOnline";

fn rst_2005(action: &str, request_type: &str, key_type: &str, applies_to: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing">
  <s:Header>
    <wsa:Action s:mustUnderstand="1">{action}</wsa:Action>
    <wsa:messageID>ignored</wsa:messageID>
    <wsa:MessageID>urn:uuid:7c8a8a0e-4c7f-4a3d-9b5e-1f2d3c4b5a69</wsa:MessageID>
    <wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>
    <wsa:To s:mustUnderstand="1">https://sso.example/winauth/trust/2005/windowstransport</wsa:To>
  </s:Header>
  <s:Body>
    <wst:RequestSecurityToken xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust">
      <wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy">
        <wsa:EndpointReference><wsa:Address>{applies_to}</wsa:Address></wsa:EndpointReference>
      </wsp:AppliesTo>
      <wst:KeyType>{key_type}</wst:KeyType>
      <wst:RequestType>{request_type}</wst:RequestType>
    </wst:RequestSecurityToken>
  </s:Body>
</s:Envelope>"#
    )
}

fn good_2005() -> String {
    rst_2005(
        "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
        "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
        AUDIENCE,
    )
}

#[test]
fn msal_shaped_requests_parse_in_both_dialects() {
    let rst = parse_rst(good_2005().as_bytes(), AUDIENCE).expect("2005");
    assert_eq!(rst.version, TrustVersion::Feb2005);
    assert_eq!(
        rst.message_id.as_deref(),
        Some("urn:uuid:7c8a8a0e-4c7f-4a3d-9b5e-1f2d3c4b5a69")
    );
    assert_eq!(
        rst.to.as_deref(),
        Some("https://sso.example/winauth/trust/2005/windowstransport")
    );
    assert_eq!(rst.applies_to, AUDIENCE);

    let v13 = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action>http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</a:Action></s:Header><s:Body><trust:RequestSecurityToken xmlns:trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>urn:federation:MicrosoftOnline</a:Address></a:EndpointReference></wsp:AppliesTo><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType></trust:RequestSecurityToken></s:Body></s:Envelope>"#;
    let rst = parse_rst(v13.as_bytes(), AUDIENCE).expect("1.3");
    assert_eq!(
        (rst.version, rst.message_id, rst.to),
        (TrustVersion::V13, None, None)
    );
    // Entities and character references in text are resolved.
    let escaped = good_2005().replace(AUDIENCE, "urn:federation:Microsoft&#x4F;nline");
    assert_eq!(
        parse_rst(escaped.as_bytes(), AUDIENCE)
            .expect("char ref")
            .applies_to,
        AUDIENCE
    );
}

#[test]
fn wrong_requests_get_their_fault_subcodes() {
    let issue = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue";
    let rt = "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue";
    let kt = "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey";
    let cases = [
        (rst_2005("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Cancel", rt, kt, AUDIENCE), "wsa:ActionNotSupported"),
        (rst_2005(issue, "http://schemas.xmlsoap.org/ws/2005/02/trust/Renew", kt, AUDIENCE), "wst:InvalidRequest"),
        (rst_2005(issue, rt, "http://schemas.xmlsoap.org/ws/2005/02/trust/SymmetricKey", AUDIENCE), "wst:InvalidRequest"),
        (rst_2005(issue, rt, kt, "urn:someone-else"), "wst:InvalidRequest"),
        (good_2005().replace("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/"), "s:VersionMismatch"),
        (good_2005().replace("<wsa:Action s:mustUnderstand=\"1\">http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue</wsa:Action>", ""), "wsa:MessageAddressingHeaderRequired"),
        (good_2005().replace("</wst:RequestType>", "</wst:RequestType><wst:RequestType>x</wst:RequestType>"), "wst:InvalidRequest"),
        (good_2005().replace("</s:Body>", "</s:Body><s:Body/>"), "wst:InvalidRequest"),
    ];
    for (body, subcode) in cases {
        let err = parse_rst(body.as_bytes(), AUDIENCE).expect_err(subcode);
        assert_eq!(err.subcode, subcode, "{err}");
    }
}

#[test]
fn xml_attacks_are_refused() {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">&lol2;</s:Envelope>"#;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">&xxe;</s:Envelope>"#;
    let undefined = good_2005().replace(AUDIENCE, "&secret;");
    let deep = format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>{}{}</s:Body></s:Envelope>"#,
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    let wide = format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>{}</s:Body></s:Envelope>"#,
        "<a/>".repeat(1000)
    );
    let long_text = good_2005().replace(AUDIENCE, &"x".repeat(10_000));
    let huge = format!("{}{}", good_2005(), " ".repeat(MAX_RST_BYTES));
    let undeclared = good_2005()
        .replace("<wst:KeyType>", "<nope:KeyType>")
        .replace("</wst:KeyType>", "</nope:KeyType>");
    let unclosed = good_2005().replace("</s:Envelope>", "");
    for (name, body) in [
        ("billion laughs", laughs.to_string()),
        ("external entity", xxe.to_string()),
        ("undefined entity", undefined),
        ("deep nesting", deep),
        ("many elements", wide),
        ("huge text", long_text),
        ("oversized body", huge),
        ("undeclared prefix", undeclared),
        ("unclosed", unclosed),
        ("not UTF-8", "\u{feff}".to_string() + "<\u{0}"),
    ] {
        assert!(
            parse_rst(body.as_bytes(), AUDIENCE).is_err(),
            "{name} must be refused"
        );
    }
    assert!(parse_rst(&[0xff, 0xfe, 0x3c], AUDIENCE).is_err());
}

fn cases() -> u32 {
    std::env::var("SEAMLESS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_requests_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)) {
        let mut body = good_2005().into_bytes();
        for (i, v, kind) in edits {
            let len = body.len();
            match kind {
                0 => body[i % len] = v,
                1 => body.insert(i % (len + 1), v),
                _ => { body.truncate(i % (len + 1)); if body.is_empty() { break; } }
            }
        }
        let _ = parse_rst(&body, AUDIENCE);
    }

    #[test]
    fn mutated_grant_assertions_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        use base64::Engine as _;
        let mut xml = br#"<saml:Assertion MajorVersion="1" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion"><saml:Conditions NotOnOrAfter="2027-01-01T00:00:00Z"><saml:AudienceRestrictionCondition><saml:Audience>urn:x</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions><DesktopSsoToken xmlns="urn:seamless:sign-in-token">abc&amp;def</DesktopSsoToken></saml:Assertion>"#.to_vec();
        for (i, v) in edits {
            let len = xml.len();
            xml[i % len] = v;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&xml);
        let _ = seamless_core::native::assertion::parse_grant_assertion(&encoded);
        let _ = seamless_core::native::assertion::parse_grant_assertion(&String::from_utf8_lossy(&xml));
    }

    #[test]
    fn random_markup_never_panics(parts in prop::collection::vec(prop_oneof![
        Just("<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">".to_string()),
        Just("<s:Body>".to_string()), Just("</s:Body>".to_string()), Just("<![CDATA[x]]>".to_string()),
        Just("&amp;".to_string()), Just("&#0;".to_string()), Just("&#x110000;".to_string()), Just("<?pi x?>".to_string()),
        Just("<!-- c -->".to_string()), Just("<a b='1' b='2'>".to_string()), Just("</a>".to_string()), "[ -~]{0,20}",
    ], 0..40)) {
        let body: String = parts.concat();
        let _ = parse_rst(body.as_bytes(), AUDIENCE);
    }
}
