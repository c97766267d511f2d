//! `GET|POST /logout`: OIDC RP-Initiated Logout.

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::request::Parts;
use http::{Method, StatusCode};

use super::form::{self, Params};
use super::pages;
use super::signin::cross_site;
use super::{Provider, Response, add_header, cookies, redirect};
use crate::error::Code;

impl Provider {
    /// `GET|POST /logout` (OIDC RP-Initiated Logout): ends the session, and marks
    /// the browser so seamless sign-in does not start by itself until the user
    /// signs in again. A `GET` does so only with a valid `id_token_hint` (proof
    /// that a client of ours sent the user); without one it asks the user to
    /// confirm, with a form whose same-origin `POST` does it. So a cross-site
    /// page cannot sign anyone out, nor set the 30-day suppression marker.
    pub(super) async fn logout(&self, head: &Parts, body: &Bytes) -> Response {
        let post = head.method == Method::POST;
        if post && cross_site(self, head) {
            return self.error_page(StatusCode::FORBIDDEN, Code::FlowInvalid, None);
        }
        let params = if post {
            Params::parse(body)
        } else {
            Params::query(&head.uri)
        }
        .unwrap_or_default();
        let hint = params
            .get("id_token_hint")
            .map(|t| self.tokens().verify_id_token_hint(t));
        let hinted_client = match hint {
            Some(Ok(claims)) => Some(claims.aud),
            Some(Err(_)) => {
                return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
            }
            None => None,
        };
        // The client: the hint's audience, which `client_id` must agree with.
        let client_id = match (&hinted_client, params.get("client_id")) {
            (Some(aud), Some(id)) if aud != id => {
                return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
            }
            (Some(aud), _) => Some(aud.as_str()),
            (None, id) => id,
        };
        if !post && hinted_client.is_none() {
            let mut carried = Vec::new();
            for name in ["client_id", "post_logout_redirect_uri", "state"] {
                if let Some(v) = params.get(name) {
                    carried.push((name, v));
                }
            }
            let web = self.web();
            return self.page(StatusCode::OK, None, |_| {
                pages::confirm_logout(web, &carried)
            });
        }
        // Only to a registered post-logout URI of a known client (never open).
        let target = params.get("post_logout_redirect_uri").and_then(|uri| {
            let client = client_id.and_then(|id| self.clients().get(id))?;
            client
                .post_logout_redirect_uris
                .iter()
                .any(|r| r == uri)
                .then(|| match params.get("state") {
                    Some(state) => form::append_query(uri, &form::encode([("state", state)])),
                    None => uri.to_string(),
                })
        });
        self.end_session(head).await;
        let mut response = match target {
            Some(uri) => redirect(&uri),
            None => self.page(StatusCode::OK, None, |_| {
                pages::notice("You have signed out.")
            }),
        };
        add_header(
            &mut response,
            header::SET_COOKIE,
            &cookies::clear(self.web(), cookies::SESSION),
        );
        add_header(
            &mut response,
            header::SET_COOKIE,
            &cookies::signed_out(self.web()),
        );
        add_header(
            &mut response,
            HeaderName::from_static("clear-site-data"),
            "\"cookies\"",
        );
        response
    }
}
