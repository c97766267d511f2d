//! The engine tests' helpers around the shared [`World`] (a hand-advanced clock,
//! seeded randomness, test-KDC tickets, scripted backends with failure injection).
#![allow(dead_code, unreachable_pub)]

pub mod browser;

use seamless_core::backends::RulePolicy;
use seamless_core::engine::View;
use seamless_core::engine::{EngineConfig, Step};
use seamless_core::error::Code;
use seamless_core::http::ProviderBuilder;
use seamless_core::seal::SealingKey;
use seamless_core::testkit::{Shown, StepExt as _};

#[allow(unused_imports)] // each test binary uses its own part
pub use seamless_core::testkit::world::{
    DOMAIN, Outcome, PASSWORD_CHANGED_AT, T0, TOTP_SECRET, World, sign_in_request as request,
};

pub fn world(policy: RulePolicy) -> World {
    World::builder().policy(policy).build()
}

pub fn world_with(policy: RulePolicy, config: EngineConfig, sealing: Vec<SealingKey>) -> World {
    world_custom(policy, config, sealing, |b| b)
}

pub fn world_custom(
    policy: RulePolicy,
    config: EngineConfig,
    sealing: Vec<SealingKey>,
    customize: impl FnOnce(ProviderBuilder) -> ProviderBuilder + 'static,
) -> World {
    World::builder()
        .policy(policy)
        .config(config)
        .sealing_keys(sealing)
        .provider(customize)
        .build()
}

pub fn completed(step: &Step) -> &seamless_core::model::Completion {
    step.completion()
        .unwrap_or_else(|| panic!("expected completion, got {:?}", step.shown()))
}

pub fn fallback_reason(step: &Step) -> Option<Code> {
    match &step.shown() {
        Shown::Page(View::Password {
            reason,
            error: None,
            ..
        }) => *reason,
        other => panic!("expected the password form, got {other:?}"),
    }
}

/// The native clients' audience.
pub const AUDIENCE: &str = "urn:federation:MicrosoftOnline";
/// The WS-Trust 1.3 Issue action.
pub const ISSUE_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";

/// A WS-Trust 1.3 RST as MSAL sends it.
pub fn rst_13() -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">{ISSUE_13}</a:Action><a:MessageID>urn:uuid:11111111-2222-3333-4444-555555555555</a:MessageID><a:To s:mustUnderstand="1">https://sso.example/winauth/trust/13/windowstransport</a:To></s:Header><s:Body><trust:RequestSecurityToken xmlns:trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>{AUDIENCE}</a:Address></a:EndpointReference></wsp:AppliesTo><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType></trust:RequestSecurityToken></s:Body></s:Envelope>"#
    )
}

/// MSAL-Python extracts the assertion with a regular expression to keep it
/// byte-exact; this does the same with string search.
pub fn extract_assertion(rstr_xml: &str) -> Option<&str> {
    let start = rstr_xml.find("<saml:Assertion")?;
    let end = rstr_xml[start..].find("</saml:Assertion>")? + start + "</saml:Assertion>".len();
    Some(&rstr_xml[start..end])
}
