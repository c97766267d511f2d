//! The background Negotiate request: the only browser endpoint that challenges
//! with `WWW-Authenticate: Negotiate` (never NTLM or Basic).

use http::StatusCode;
use http::header;
use http::request::Parts;

use super::signin::refusal_status;
use super::{Provider, Response, add_header, cookies, json, json_code};
use crate::engine::{Step, View};
use crate::error::Code;
use crate::model::Audience;

/// The header the page sends the sealed flow state in on the background request
/// (not the URL, so it stays out of access logs).
const FLOW_HEADER: &str = "seamless-flow";

impl Provider {
    /// `GET /winauth/sso`: the background Negotiate request. Only this endpoint
    /// ever sends `WWW-Authenticate: Negotiate`; it never offers NTLM or Basic.
    pub(super) async fn sso(&self, head: &Parts) -> Response {
        let flow = head.headers.get(FLOW_HEADER).and_then(|v| v.to_str().ok());
        let binding = cookies::flow_bindings(self.web(), &head.headers);
        let (Some(sealed), Some(binding)) = (flow, binding.as_deref()) else {
            return json(StatusCode::BAD_REQUEST, &json_code(Code::FlowInvalid));
        };
        let header_block: usize = head
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        let authorization = head
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let step = match authorization {
            _ if header_block > self.web().max_header_block => {
                self.engine()
                    .refuse_negotiate(sealed, binding, Code::TicketTooLarge)
                    .await
            }
            None => self.engine().negotiate(sealed, binding, None).await,
            Some(value) => match negotiate_token(value) {
                Ok(token) => self.engine().negotiate(sealed, binding, Some(token)).await,
                Err(code) => self.engine().refuse_negotiate(sealed, binding, code).await,
            },
        };
        self.sso_response(step)
    }

    pub(super) fn sso_response(&self, step: Step) -> Response {
        let (mut response, ap_rep) = match step {
            Step::Challenge(_) => {
                let mut response = json(StatusCode::UNAUTHORIZED, &json_code(Code::NoTicket));
                add_header(&mut response, header::WWW_AUTHENTICATE, "Negotiate");
                return response;
            }
            Step::Completed {
                completion,
                negotiate_response,
            } => {
                let token = self
                    .engine()
                    .issue_sign_in_token(&completion, Audience::Browser);
                let response = match token {
                    Ok(token) => json(StatusCode::OK, &serde_json::json!({"token": token})),
                    Err(code) => json(StatusCode::SERVICE_UNAVAILABLE, &json_code(code)),
                };
                (response, negotiate_response)
            }
            Step::Page(waiting) => {
                let response = match waiting.view {
                    View::Password { reason, .. } => {
                        let mut body = json_code(reason.unwrap_or(Code::NoTicket));
                        body["state"] = waiting.sealed.into();
                        json(StatusCode::FORBIDDEN, &body)
                    }
                    View::Mfa { .. } | View::Username { .. } | View::Challenge { .. } => json(
                        StatusCode::OK,
                        &serde_json::json!({"state": waiting.sealed}),
                    ),
                };
                (response, waiting.negotiate_response)
            }
            Step::Denied { code, .. } => (json(refusal_status(code), &json_code(code)), None),
            Step::Restart { code, .. } => {
                let mut body = json_code(code);
                body["restart"] = true.into();
                (json(StatusCode::BAD_REQUEST, &body), None)
            }
        };
        // The final token (mutual authentication) goes with a success only: a
        // refusal after a valid ticket is not a completed authentication.
        if let Some(ap_rep) = ap_rep.filter(|_| response.status() == StatusCode::OK) {
            add_header(
                &mut response,
                header::WWW_AUTHENTICATE,
                &format!("Negotiate {ap_rep}"),
            );
        }
        response
    }
}

/// The token of an `Authorization: Negotiate <base64>` header; other schemes
/// (NTLM, Basic, ...) are refused with a code, and `Negotiate` with no token
/// is 81006 ("no ticket"), as Entra answers it.
pub(super) fn negotiate_token(value: &[u8]) -> Result<&[u8], Code> {
    let text = std::str::from_utf8(value).map_err(|_| Code::MalformedTicket)?;
    let (scheme, token) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    if scheme.eq_ignore_ascii_case("negotiate") {
        let token = token.trim();
        if token.is_empty() {
            return Err(Code::NoTicket);
        }
        Ok(token.as_bytes())
    } else if scheme.eq_ignore_ascii_case("ntlm") {
        Err(Code::PackageNotSupported)
    } else {
        Err(Code::MalformedTicket)
    }
}
