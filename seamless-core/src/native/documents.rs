//! What the native flow sends back: user-realm discovery JSON, the WS-MetadataExchange
//! document, the RSTR carrying a SAML 1.1 assertion around our sign-in token, and
//! SOAP faults (PROTOCOL.md §3.2–3.5). Every value is XML-escaped.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::wstrust::{NS_SOAP12, NS_TRUST_13, NS_TRUST_2005, NS_WSA, Rst, RstError, TrustVersion};

/// SAML 1.0/1.1 assertion namespace.
pub const NS_SAML1: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// SAML 1.1 token type in RSTRs.
pub const TOKEN_TYPE_SAML11: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// Windows integrated authentication method.
pub const AUTH_METHOD_WINDOWS: &str = "urn:federation:authentication:windows";
/// WS-SecurityPolicy as AD FS writes the integrated-auth policy (the 2005
/// draft). MSAL for Python looks for the integrated `TransportBinding` only
/// here; MSAL for Java and .NET, ADAL and Windows accept either this or 1.2.
pub const NS_SP_2005: &str = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy";
/// Where our sign-in token lives inside the assertion.
pub const NS_SEAMLESS: &str = "urn:seamless:sign-in-token";

/// Escapes text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // The five are ASCII, so each found byte is a whole character: the runs
    // between them are copied at once.
    while let Some(at) = rest
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        let (run, tail) = rest.split_at(at);
        out.push_str(run);
        let (special, tail) = tail.split_at(1);
        out.push_str(match special {
            "&" => "&amp;",
            "<" => "&lt;",
            ">" => "&gt;",
            "\"" => "&quot;",
            _ => "&apos;",
        });
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Where our native endpoints live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeEndpoints {
    /// The MEX URL (https).
    pub mex: String,
    /// The WS-Trust 2005 integrated endpoint (https).
    pub trust_2005: String,
    /// The WS-Trust 1.3 integrated endpoint (https).
    pub trust_13: String,
    /// The audience clients put in AppliesTo (`urn:federation:MicrosoftOnline`).
    pub audience: String,
}

/// User-realm discovery (`/common/userrealm/{upn}`): the same shape for every user
/// of a domain, so it reveals nothing about whether a user exists. `served` says
/// whether the UPN's domain is ours (then `Federated`, which is what makes MSAL
/// proceed with integrated Windows authentication).
///
/// `api-version=1.0` (what MSAL asks for) answers Entra's 1.0 shape: `ver`,
/// `account_type`, `domain_name`, the federation URLs, `cloud_audience_urn`,
/// `cloud_instance_name`. `api-version=2.x` answers Entra's 2.x shape instead:
/// `NameSpaceType`, `Login`, `DomainName`, `federation_protocol` (federated
/// domains), `cloud_instance_name`, and `is_dsso_enabled`.
pub fn user_realm(upn: &str, served: bool, endpoints: &NativeEndpoints, api_2: bool) -> Value {
    let domain = upn
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    match (api_2, served) {
        (false, true) => json!({
            "ver": "1.0",
            "account_type": "Federated",
            "domain_name": domain,
            "federation_protocol": "WSTrust",
            "federation_metadata_url": endpoints.mex,
            "federation_active_auth_url": endpoints.trust_2005,
            "cloud_audience_urn": endpoints.audience,
            "cloud_instance_name": CLOUD_INSTANCE,
        }),
        (false, false) => json!({
            "ver": "1.0",
            "account_type": "Unknown",
            "domain_name": domain,
            "cloud_instance_name": CLOUD_INSTANCE,
        }),
        (true, true) => json!({
            "NameSpaceType": "Federated",
            "federation_protocol": "WSTrust",
            "Login": upn,
            "DomainName": domain,
            "cloud_instance_name": CLOUD_INSTANCE,
            "is_dsso_enabled": true,
        }),
        (true, false) => json!({
            "NameSpaceType": "Unknown",
            "Login": upn,
            "DomainName": domain,
            "cloud_instance_name": CLOUD_INSTANCE,
            "is_dsso_enabled": false,
        }),
    }
}

/// The `cloud_instance_name` of our realm answers.
const CLOUD_INSTANCE: &str = "seamless";

/// The WS-MetadataExchange / WSDL document advertising the integrated endpoints,
/// written so MSAL's MEX rules find them: a policy with
/// `http:NegotiateAuthentication` and a transport binding, SOAP 1.2 bindings
/// referencing it with the Issue soapActions, and ports with https addresses.
pub fn mex(endpoints: &NativeEndpoints) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="SecurityTokenService" targetNamespace="urn:seamless:mex"
 xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
 xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"
 xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
 xmlns:sp="{NS_SP_2005}"
 xmlns:http="http://schemas.microsoft.com/ws/06/2004/policy/http"
 xmlns:wsa10="{NS_WSA}" xmlns:tns="urn:seamless:mex">
 <wsp:Policy wsu:Id="IntegratedWindowsAuthentication_policy">
  <wsp:ExactlyOne><wsp:All>
   <http:NegotiateAuthentication/>
   <sp:TransportBinding><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken RequireClientCertificate="false"/></wsp:Policy></sp:TransportToken><sp:AlgorithmSuite><wsp:Policy><sp:Basic256/></wsp:Policy></sp:AlgorithmSuite><sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout></wsp:Policy></sp:TransportBinding>
  </wsp:All></wsp:ExactlyOne>
 </wsp:Policy>
 <wsdl:binding name="Trust2005Binding" type="tns:SecurityTokenServiceContract">
  <wsp:PolicyReference URI="#IntegratedWindowsAuthentication_policy"/>
  <soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
  <wsdl:operation name="Trust2005Issue"><soap12:operation soapAction="{a2005}" style="document"/></wsdl:operation>
 </wsdl:binding>
 <wsdl:binding name="Trust13Binding" type="tns:SecurityTokenServiceContract">
  <wsp:PolicyReference URI="#IntegratedWindowsAuthentication_policy"/>
  <soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
  <wsdl:operation name="Trust13Issue"><soap12:operation soapAction="{a13}" style="document"/></wsdl:operation>
 </wsdl:binding>
 <wsdl:service name="SecurityTokenService">
  <wsdl:port name="Trust2005Port" binding="tns:Trust2005Binding">
   <soap12:address location="{e2005}"/>
   <wsa10:EndpointReference><wsa10:Address>{e2005}</wsa10:Address></wsa10:EndpointReference>
  </wsdl:port>
  <wsdl:port name="Trust13Port" binding="tns:Trust13Binding">
   <soap12:address location="{e13}"/>
   <wsa10:EndpointReference><wsa10:Address>{e13}</wsa10:Address></wsa10:EndpointReference>
  </wsdl:port>
 </wsdl:service>
</wsdl:definitions>"##,
        a2005 = escape(TrustVersion::Feb2005.issue_action()),
        a13 = escape(TrustVersion::V13.issue_action()),
        e2005 = escape(&endpoints.trust_2005),
        e13 = escape(&endpoints.trust_13),
    );
    out
}

/// The facts the assertion states (readable copies of what the sealed token says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionFacts {
    /// Unique assertion id (starts with a letter, as SAML requires).
    pub assertion_id: String,
    /// Our issuer URI.
    pub issuer: String,
    /// Issue instant, NotBefore (RFC 3339, UTC).
    pub issued: String,
    /// NotOnOrAfter (RFC 3339, UTC).
    pub expires: String,
    /// The user's UPN (NameIdentifier).
    pub upn: String,
}

/// The SAML 1.1 assertion wrapping our sealed sign-in token.
pub fn assertion(facts: &AssertionFacts, audience: &str, sign_in_token: &str) -> String {
    format!(
        r#"<saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="{id}" Issuer="{issuer}" IssueInstant="{issued}" xmlns:saml="{NS_SAML1}"><saml:Conditions NotBefore="{issued}" NotOnOrAfter="{expires}"><saml:AudienceRestrictionCondition><saml:Audience>{audience}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions><saml:AuthenticationStatement AuthenticationMethod="{AUTH_METHOD_WINDOWS}" AuthenticationInstant="{issued}"><saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{upn}</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject></saml:AuthenticationStatement><DesktopSsoToken xmlns="{NS_SEAMLESS}">{token}</DesktopSsoToken></saml:Assertion>"#,
        id = escape(&facts.assertion_id),
        issuer = escape(&facts.issuer),
        issued = escape(&facts.issued),
        expires = escape(&facts.expires),
        audience = escape(audience),
        upn = escape(&facts.upn),
        token = escape(sign_in_token),
    )
}

/// The RequestSecurityTokenResponse for `rst`, around an assertion (2005: bare;
/// 1.3: inside a RequestSecurityTokenResponseCollection).
pub fn rstr(rst: &Rst, assertion_xml: &str, facts: &AssertionFacts) -> String {
    let (ns, action) = match rst.version {
        TrustVersion::Feb2005 => (
            NS_TRUST_2005,
            "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue",
        ),
        TrustVersion::V13 => (
            NS_TRUST_13,
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal",
        ),
    };
    let relates = rst
        .message_id
        .as_deref()
        .map(|m| format!("<a:RelatesTo>{}</a:RelatesTo>", escape(m)))
        .unwrap_or_default();
    let response = format!(
        r#"<t:RequestSecurityTokenResponse><t:Lifetime><u:Created>{c}</u:Created><u:Expires>{e}</u:Expires></t:Lifetime><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>{aud}</a:Address></a:EndpointReference></wsp:AppliesTo><t:RequestedSecurityToken>{assertion_xml}</t:RequestedSecurityToken><t:TokenType>{TOKEN_TYPE_SAML11}</t:TokenType><t:RequestType>{rt}</t:RequestType><t:KeyType>{kt}</t:KeyType></t:RequestSecurityTokenResponse>"#,
        c = escape(&facts.issued),
        e = escape(&facts.expires),
        aud = escape(&rst.applies_to),
        rt = rst.version.issue_request_type(),
        kt = rst.version.bearer_key_type(),
    );
    let body = match rst.version {
        TrustVersion::Feb2005 => response,
        TrustVersion::V13 => format!(
            "<t:RequestSecurityTokenResponseCollection>{response}</t:RequestSecurityTokenResponseCollection>"
        ),
    };
    format!(
        r#"<s:Envelope xmlns:s="{NS_SOAP12}" xmlns:a="{NS_WSA}" xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><s:Header><a:Action s:mustUnderstand="1">{action}</a:Action>{relates}</s:Header><s:Body xmlns:t="{ns}">{body}</s:Body></s:Envelope>"#
    )
}

/// A SOAP 1.2 fault with our stable code in the detail (as Entra's `psf:text`
/// carries its AADSTS code).
pub fn fault(error: &RstError, code: u32) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{NS_SOAP12}" xmlns:wst="{NS_TRUST_2005}" xmlns:wsa="{NS_WSA}"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{sub}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{msg}</s:Text></s:Reason><s:Detail><psf:error xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault"><psf:value>0x80048800</psf:value><psf:internalerror><psf:code>{code}</psf:code><psf:text>SEAMLESS{code}: {msg}</psf:text></psf:internalerror></psf:error></s:Detail></s:Fault></s:Body></s:Envelope>"#,
        sub = escape(error.subcode),
        msg = escape(error.message),
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    /// One character at a time: what `escape` must equal.
    fn reference(text: &str) -> String {
        text.chars()
            .map(|c| match c {
                '&' => "&amp;".to_string(),
                '<' => "&lt;".to_string(),
                '>' => "&gt;".to_string(),
                '"' => "&quot;".to_string(),
                '\'' => "&apos;".to_string(),
                c => c.to_string(),
            })
            .collect()
    }

    #[test]
    fn escape_replaces_the_five_and_keeps_everything_else() {
        assert_eq!(
            escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;"
        );
        assert_eq!(escape("名前 & 🎉"), "名前 &amp; 🎉");
        assert_eq!(escape(""), "");
    }

    proptest::proptest! {
        #[test]
        fn escape_matches_the_reference(text in "[&<>\"'a-z名🎉 ]{0,40}|.{0,40}") {
            proptest::prop_assert_eq!(escape(&text), reference(&text));
        }
    }
}
