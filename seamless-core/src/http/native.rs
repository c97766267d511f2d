//! The native-client flow over HTTP (Office / MSAL integrated Windows
//! authentication): user-realm discovery, the MEX document, the WS-Trust
//! integrated endpoints, and the SAML bearer grant at `/token`.

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use http::request::Parts;

use super::Provider;
use super::form::Params;
use super::{ClientAddr, Response, add_header, json, respond};
use crate::engine::SIGN_IN_TOKEN_TTL;
use crate::error::Code;
use crate::model::Audience;
use crate::model::SignInRequest;
use crate::native::documents::{self, AssertionFacts, NativeEndpoints};
use crate::native::wstrust::{self, RstError};

/// The client id a native sign-in carries until a client redeems its assertion.
pub(crate) const NATIVE_CLIENT: &str = "urn:seamless:native";

/// The native flow's settings.
#[derive(Debug, Clone)]
pub struct NativeSettings {
    /// UPN domains we answer `Federated` for (case-insensitive). Empty: the realms
    /// of the key ring, lower-cased.
    pub domains: Vec<String>,
    /// The audience clients put in `AppliesTo` and the assertion names.
    pub audience: String,
}

impl Default for NativeSettings {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            audience: "urn:federation:MicrosoftOnline".into(),
        }
    }
}

/// `yyyy-mm-ddThh:mm:ssZ` for Unix seconds (proleptic Gregorian, UTC).
pub(crate) fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn soap(status: StatusCode, body: String) -> Response {
    respond(status, "application/soap+xml; charset=utf-8", body)
}

fn fault(status: StatusCode, error: &RstError, code: u32) -> Response {
    soap(status, documents::fault(error, code))
}

/// The fault for a sign-in that did not complete, with its status.
fn refusal(code: Code) -> Response {
    let (status, subcode) = match code {
        c if c.is_transient() => (StatusCode::SERVICE_UNAVAILABLE, "wst:RequestFailed"),
        Code::InteractionRequired | Code::MfaNotEnrolled => {
            (StatusCode::FORBIDDEN, "wst:FailedAuthentication")
        }
        Code::NoTicket => (StatusCode::UNAUTHORIZED, "wst:FailedAuthentication"),
        _ => (StatusCode::FORBIDDEN, "wst:FailedAuthentication"),
    };
    let error = RstError {
        subcode,
        message: super::pages::message(code),
    };
    let mut response = fault(status, &error, code.number());
    if status == StatusCode::UNAUTHORIZED {
        add_header(&mut response, header::WWW_AUTHENTICATE, "Negotiate");
    }
    response
}

impl Provider {
    pub(crate) fn native_endpoints(&self) -> NativeEndpoints {
        let base = format!("{}{}", self.web().public_origin, self.web().base_path);
        NativeEndpoints {
            mex: format!("{base}/winauth/trust/mex"),
            trust_2005: format!("{base}/winauth/trust/2005/windowstransport"),
            trust_13: format!("{base}/winauth/trust/13/windowstransport"),
            audience: self.web().native.audience.clone(),
        }
    }

    async fn serves_domain(&self, domain: &str) -> bool {
        let configured = &self.web().native.domains;
        if !configured.is_empty() {
            return configured.iter().any(|d| d.eq_ignore_ascii_case(domain));
        }
        match self.backends().keys.key_ring().await.ok() {
            Some(ring) => ring
                .accounts()
                .iter()
                .any(|a| a.realm().eq_ignore_ascii_case(domain)),
            None => false,
        }
    }

    /// `GET /common/userrealm/{upn}` or `/common/userrealm?user={upn}`: the same
    /// answer for every user of a domain.
    pub(super) async fn user_realm(&self, head: &Parts, path_upn: Option<&str>) -> Response {
        let params = Params::query(&head.uri).unwrap_or_default();
        let upn = path_upn
            .map(|p| {
                form_urlencoded::parse(format!("u={p}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .or_else(|| params.get("user").map(str::to_string))
            .unwrap_or_default();
        if upn.len() > 256 || !upn.contains('@') {
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"error": "invalid_request", "message": "a user principal name is required"}),
            );
        }
        let domain = upn.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let served = self.serves_domain(domain).await;
        let v2 = params
            .get("api-version")
            .is_some_and(|v| v.starts_with('2'));
        json(
            StatusCode::OK,
            &documents::user_realm(&upn, served, &self.native_endpoints(), v2),
        )
    }

    /// `GET /winauth/trust/mex`.
    pub(super) fn mex(&self) -> Response {
        let mut response = respond(
            StatusCode::OK,
            "application/soap+xml; charset=utf-8",
            documents::mex(&self.native_endpoints()),
        );
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        response
    }

    /// `POST /winauth/trust/{2005,13}/windowstransport`: an RST with Negotiate
    /// (after a 401 challenge or sent proactively) → an RSTR with a SAML 1.1
    /// assertion around a sealed, single-use sign-in token for the token endpoint.
    pub(super) async fn windows_transport(&self, head: &Parts, body: &Bytes) -> Response {
        let audience = &self.web().native.audience;
        let rst = match wstrust::parse_rst(body, audience) {
            Ok(rst) => rst,
            Err(e) => return fault(StatusCode::BAD_REQUEST, &e, Code::BadRequest.number()),
        };
        let authorization = head
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let token = match authorization.map(super::negotiate::negotiate_token) {
            None => return refusal(Code::NoTicket),
            Some(Err(code)) => return refusal(code),
            Some(Ok(token)) => token,
        };
        let request = SignInRequest {
            client_id: NATIVE_CLIENT.into(),
            redirect_uri: String::new(),
            ..SignInRequest::default()
        };
        let addr = head.extensions.get::<ClientAddr>().map(|a| a.0);
        let (completion, mutual) = match self
            .engine()
            .sign_in_native_mutual(request, addr, token)
            .await
        {
            Ok(done) => done,
            Err(code) => return refusal(code),
        };
        let sign_in_token = match self
            .engine()
            .issue_sign_in_token(&completion, Audience::Native)
        {
            Ok(t) => t,
            Err(code) => return refusal(code),
        };
        let now = self.now();
        let Ok(id) = self.random_id() else {
            return refusal(Code::StoreUnavailable);
        };
        let facts = AssertionFacts {
            assertion_id: format!("_{id}"),
            issuer: self.tokens().settings().issuer.clone(),
            issued: rfc3339(now),
            expires: rfc3339(now + SIGN_IN_TOKEN_TTL.as_secs() as i64),
            upn: completion.user.upn.clone(),
        };
        let assertion = documents::assertion(&facts, audience, &sign_in_token);
        let mut response = soap(StatusCode::OK, documents::rstr(&rst, &assertion, &facts));
        // Mutual authentication, as on `/winauth/sso`: clients that require it
        // (MIT GSSAPI, requests-gssapi) check this AP-REP before reading the body.
        if let Some(ap_rep) = mutual {
            add_header(
                &mut response,
                header::WWW_AUTHENTICATE,
                &format!("Negotiate {ap_rep}"),
            );
        }
        response
    }
}
