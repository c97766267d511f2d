//! Routing, and the browser sign-in: the authorization endpoint, the pages' form
//! posts, the background Negotiate request and sign-out.

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::request::Parts;
use http::{Method, StatusCode};

use super::Provider;
use super::form::{self, Params};
use super::pages::{self, Page};
use super::session::safe_return;
use super::{ClientAddr, Response, add_header, cookies, json, json_code, redirect};
use crate::backends::Password;
use crate::engine::{Step, View};
use crate::error::Code;
use crate::grants::CodeRequest;
use crate::model::SignInRequest;
use crate::model::{Audience, Completion};

/// The client id of middleware-mode sign-ins (the application itself).
pub(crate) const APP_CLIENT: &str = "";

/// The header the page sends the sealed flow state in on the background request
/// (not the URL, so it stays out of access logs).
const FLOW_HEADER: &str = "seamless-flow";

/// One of our endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Authorize,
    SignIn,
    Login,
    Sso,
    Probe,
    Token,
    Discovery,
    Jwks,
    UserInfo,
    Logout,
    UserRealm,
    Mex,
    WindowsTransport,
}

impl Route {
    /// The endpoint at `path` (inside the base), whatever the method.
    pub(crate) fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/authorize" => Route::Authorize,
            "/signin" => Route::SignIn,
            "/login" => Route::Login,
            "/winauth/sso" => Route::Sso,
            "/winauth/ssoprobe" => Route::Probe,
            "/token" => Route::Token,
            "/.well-known/openid-configuration" => Route::Discovery,
            "/jwks" => Route::Jwks,
            "/userinfo" => Route::UserInfo,
            "/logout" => Route::Logout,
            "/common/userrealm" => Route::UserRealm,
            p if p.starts_with("/common/userrealm/") => Route::UserRealm,
            "/winauth/trust/mex" => Route::Mex,
            "/winauth/trust/2005/windowstransport" | "/winauth/trust/13/windowstransport" => {
                Route::WindowsTransport
            }
            _ => return None,
        })
    }

    /// The methods the route serves; `HEAD` wherever `GET` is.
    fn methods(self) -> &'static [Method] {
        match self {
            Route::Login | Route::Token | Route::WindowsTransport => &[Method::POST],
            Route::Logout | Route::UserInfo => &[Method::GET, Method::HEAD, Method::POST],
            _ => &[Method::GET, Method::HEAD],
        }
    }

    /// `405` with `Allow` for a method the route does not serve.
    pub(crate) fn refuse_method(self, method: &Method) -> Option<Response> {
        if self.methods().contains(method) {
            return None;
        }
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method_not_allowed"}),
        );
        let allow: Vec<&str> = self.methods().iter().map(Method::as_str).collect();
        add_header(&mut response, header::ALLOW, &allow.join(", "));
        Some(response)
    }
}

/// A random value for CSP nonces.
fn nonce(provider: &Provider) -> String {
    provider.random_id().unwrap_or_else(|_| "0".repeat(32))
}

/// `scheme://authority` of an absolute URI.
fn origin(uri: &str) -> Option<String> {
    let parsed: http::Uri = uri.parse().ok()?;
    Some(format!(
        "{}://{}",
        parsed.scheme_str()?,
        parsed.authority()?.as_str()
    ))
}

/// A form post from another site (CSRF): by Fetch Metadata when the browser
/// sends it (only `same-origin` passes), else by `Origin` (ours only; `null`
/// fails). Clients that send neither are not browsers; the state's binding to
/// the flow cookie still holds for them.
fn cross_site(provider: &Provider, head: &Parts) -> bool {
    let header = |name: &str| {
        head.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    if let Some(site) = header("sec-fetch-site") {
        return site != "same-origin";
    }
    header("origin").is_some_and(|o| o != provider.web().public_origin.to_ascii_lowercase())
}

impl Provider {
    /// Answers a request whose method the route serves. `HEAD` is answered as
    /// `GET` would be, without the body.
    pub(super) async fn route(&self, route: Route, head: &Parts, body: &Bytes) -> Response {
        if head.method == Method::HEAD {
            let mut get = head.clone();
            get.method = Method::GET;
            let mut response = Box::pin(self.route(route, &get, body)).await;
            *response.body_mut() = Bytes::new();
            return response;
        }
        match route {
            Route::Authorize => self.authorize(head).await,
            Route::SignIn => self.sign_in_to_app(head).await,
            Route::Login => self.login(head, body).await,
            Route::Sso => self.sso(head).await,
            Route::Probe => probe(head),
            Route::Token => self.token_endpoint(head, body).await,
            Route::Discovery => self.discovery(),
            Route::Jwks => self.jwks(),
            Route::UserInfo => self.userinfo(head),
            Route::Logout => self.logout(head, body).await,
            Route::UserRealm => {
                let upn = head
                    .uri
                    .path()
                    .rsplit_once("/common/userrealm/")
                    .map(|(_, upn)| upn)
                    .filter(|upn| !upn.is_empty());
                self.user_realm(head, upn).await
            }
            Route::Mex => self.mex(),
            Route::WindowsTransport => self.windows_transport(head, body).await,
        }
    }

    fn page(
        &self,
        status: StatusCode,
        form_target: Option<String>,
        body: impl FnOnce(&str) -> String,
    ) -> Response {
        let nonce = nonce(self);
        let page = Page {
            config: self.web(),
            nonce: &nonce,
            form_target,
        };
        page.render(status, &body(&nonce))
    }

    fn error_page(&self, status: StatusCode, code: Code, restart: Option<&str>) -> Response {
        self.page(status, None, |_| pages::error(code, restart))
    }

    /// `GET /authorize`: validate the client and redirect URI before anything
    /// else (never redirect to an unregistered URI), then start the sign-in.
    async fn authorize(&self, head: &Parts) -> Response {
        let Ok(params) = Params::query(&head.uri) else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
        };
        let Some(client) = params
            .get("client_id")
            .and_then(|id| self.clients().get(id))
        else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
        };
        let Some(redirect_uri) = params
            .get("redirect_uri")
            .filter(|uri| client.redirect_uris.iter().any(|r| r == uri))
        else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
        };
        // From here errors go back to the application (RFC 6749 §4.1.2.1).
        let state = params.get("state");
        let fail = |error: &str, description: &str| {
            let mut pairs = vec![("error", error), ("error_description", description)];
            if let Some(s) = state {
                pairs.push(("state", s));
            }
            let issuer = self.tokens().settings().issuer.clone();
            pairs.push(("iss", &issuer));
            redirect(&form::append_query(redirect_uri, &form::encode(pairs)))
        };
        if params.get("response_type") != Some("code") {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
        let challenge = params.get("code_challenge");
        match (challenge, params.get("code_challenge_method")) {
            (Some(c), Some("S256")) if c.len() == 43 => {}
            (Some(_), _) => return fail("invalid_request", "code_challenge must be S256"),
            (None, Some(_)) => {
                return fail(
                    "invalid_request",
                    "code_challenge_method without code_challenge",
                );
            }
            (None, None) if client.secret.is_none() => {
                return fail("invalid_request", "public clients must use PKCE (S256)");
            }
            (None, None) => {}
        }
        let prompts: Vec<&str> = params
            .get("prompt")
            .unwrap_or_default()
            .split(' ')
            .collect();
        let prompt_none = prompts.contains(&"none");
        let prompt_login = prompts.contains(&"login") || prompts.contains(&"select_account");
        if prompt_none && prompts.len() > 1 {
            return fail("invalid_request", "prompt=none cannot be combined");
        }
        let scope = params.get("scope").unwrap_or("openid").to_string();
        let mut carried = vec![("scope".to_string(), scope)];
        for name in ["state", "nonce", "code_challenge"] {
            if let Some(v) = params.get(name) {
                carried.push((name.to_string(), v.to_string()));
            }
        }
        let request = SignInRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_string(),
            login_hint: params.get("login_hint").map(str::to_string),
            domain_hint: params.get("domain_hint").map(str::to_string),
            prompt_login,
            tenanted: false,
            params: carried,
        };
        if !prompt_login {
            let flow_id = self.random_id().unwrap_or_default();
            if let Some(completion) = self
                .completion_from_session(head, flow_id, request.clone())
                .await
                .filter(|c| hint_fits(request.login_hint.as_deref(), &c.user.upn))
            {
                return self.finish(completion).await;
            }
        }
        if prompt_none {
            return fail("login_required", "no session; interaction required");
        }
        self.start_flow(head, request).await
    }

    /// `GET /signin?return=/path`: middleware mode, sign in to this application.
    async fn sign_in_to_app(&self, head: &Parts) -> Response {
        let params = Params::query(&head.uri).unwrap_or_default();
        let back = params.get("return").and_then(safe_return).unwrap_or("/");
        let request = SignInRequest {
            client_id: APP_CLIENT.to_string(),
            redirect_uri: back.to_string(),
            login_hint: params.get("login_hint").map(str::to_string),
            domain_hint: params.get("domain_hint").map(str::to_string),
            prompt_login: false,
            // The application is its own tenant: Negotiate starts at once.
            tenanted: true,
            params: Vec::new(),
        };
        self.start_flow(head, request).await
    }

    async fn start_flow(&self, head: &Parts, request: SignInRequest) -> Response {
        let addr = head.extensions.get::<ClientAddr>().map(|a| a.0);
        let suppressed = cookies::get(self.web(), &head.headers, cookies::SIGNED_OUT).is_some();
        let step = self.engine().start(request, addr, suppressed).await;
        let mut response = self.render(step.clone()).await;
        if step.sealed.is_some() {
            let cookie = cookies::set(
                self.web(),
                cookies::FLOW,
                &step.flow_id,
                Some(self.engine().config().flow_ttl.as_secs()),
            );
            add_header(&mut response, header::SET_COOKIE, &cookie);
        }
        response
    }

    /// The page for a step.
    async fn render(&self, step: Step) -> Response {
        let target = step
            .request
            .as_ref()
            .filter(|r| r.client_id != APP_CLIENT)
            .and_then(|r| origin(&r.redirect_uri));
        let sealed = step.sealed.unwrap_or_default();
        let web = self.web();
        match step.view {
            View::Username { error } => self.page(StatusCode::OK, target, |_| {
                pages::username(web, &sealed, error)
            }),
            View::Challenge { username } => self.page(StatusCode::OK, target, |n| {
                pages::challenge(web, &sealed, username.as_deref(), n)
            }),
            View::Password {
                username,
                reason,
                error,
            } => {
                let status = if error == Some(Code::RateLimited) {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::OK
                };
                self.page(status, target, |_| {
                    pages::password(web, &sealed, username.as_deref(), reason, error)
                })
            }
            View::Mfa { methods, error } => self.page(StatusCode::OK, target, |_| {
                pages::mfa(web, &sealed, &methods, error)
            }),
            View::Completed(completion) => self.finish(*completion).await,
            View::Denied { code } => {
                let status = if code.is_transient() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::FORBIDDEN
                };
                self.error_page(status, code, None)
            }
            View::Restart { code } => self.error_page(StatusCode::BAD_REQUEST, code, None),
        }
    }

    /// A finished sign-in: the session cookie, then back to the application
    /// (middleware mode) or to the client's redirect URI with a code.
    pub(crate) async fn finish(&self, completion: Completion) -> Response {
        let session = match self.session_cookie(&completion) {
            Ok(c) => c,
            Err(code) => return self.error_page(StatusCode::SERVICE_UNAVAILABLE, code, None),
        };
        let request = &completion.request;
        let location = if request.client_id == APP_CLIENT {
            safe_return(&request.redirect_uri)
                .unwrap_or("/")
                .to_string()
        } else {
            let param = |name: &str| {
                request
                    .params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let code_request = CodeRequest {
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: param("code_challenge"),
                nonce: param("nonce"),
                scope: param("scope").unwrap_or_default(),
            };
            let code = match self.grants().issue_code(&completion, &code_request).await {
                Ok(c) => c,
                Err(_) => {
                    return self.error_page(
                        StatusCode::SERVICE_UNAVAILABLE,
                        Code::StoreUnavailable,
                        None,
                    );
                }
            };
            let state = param("state");
            let issuer = self.tokens().settings().issuer.clone();
            let mut pairs = vec![("code", code.as_str())];
            if let Some(s) = &state {
                pairs.push(("state", s));
            }
            pairs.push(("iss", &issuer));
            form::append_query(&request.redirect_uri, &form::encode(pairs))
        };
        let mut response = redirect(&location);
        add_header(&mut response, header::SET_COOKIE, &session);
        add_header(
            &mut response,
            header::SET_COOKIE,
            &cookies::clear(self.web(), cookies::FLOW),
        );
        // A new sign-in ends the sign-out marker.
        add_header(
            &mut response,
            header::SET_COOKIE,
            &cookies::clear(self.web(), cookies::SIGNED_OUT),
        );
        response
    }

    /// `POST /login`: every form of the sign-in page.
    async fn login(&self, head: &Parts, body: &Bytes) -> Response {
        if cross_site(self, head) {
            return self.error_page(StatusCode::FORBIDDEN, Code::FlowInvalid, None);
        }
        let Ok(params) = Params::parse(body) else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
        };
        let Some(binding) = cookies::get(self.web(), &head.headers, cookies::FLOW) else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::FlowInvalid, None);
        };
        let Some(state) = params.get("state") else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
        };
        let field = |name| params.get(name).unwrap_or_default();
        let step = match params.get("step") {
            Some("username") => {
                self.engine()
                    .submit_username(state, binding, field("username"))
                    .await
            }
            Some("fallback") => self.engine().give_up(state, binding).await,
            Some("resume") => self.engine().show(state, binding).await,
            Some("password") => {
                let password = Password::new(field("password"));
                self.engine()
                    .submit_password(state, binding, field("username"), &password)
                    .await
            }
            Some("mfa") => {
                self.engine()
                    .submit_mfa(state, binding, field("code"))
                    .await
            }
            Some("sso") => {
                match self
                    .engine()
                    .redeem_sign_in_token(field("token"), Audience::Browser, Some(binding))
                    .await
                {
                    Ok(completion) => return self.finish(completion).await,
                    Err(code) => self.engine().refuse_negotiate(state, binding, code).await,
                }
            }
            _ => return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None),
        };
        self.render(step).await
    }

    /// `GET /winauth/sso`: the background Negotiate request. Only this endpoint
    /// ever sends `WWW-Authenticate: Negotiate`; it never offers NTLM or Basic.
    async fn sso(&self, head: &Parts) -> Response {
        let flow = head.headers.get(FLOW_HEADER).and_then(|v| v.to_str().ok());
        let binding = cookies::get(self.web(), &head.headers, cookies::FLOW);
        let (Some(sealed), Some(binding)) = (flow, binding) else {
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

    fn sso_response(&self, step: Step) -> Response {
        if step.challenge {
            let mut response = json(StatusCode::UNAUTHORIZED, &json_code(Code::NoTicket));
            add_header(&mut response, header::WWW_AUTHENTICATE, "Negotiate");
            return response;
        }
        let mut response = match step.view {
            View::Completed(completion) => {
                match self
                    .engine()
                    .issue_sign_in_token(&completion, Audience::Browser)
                {
                    Ok(token) => json(StatusCode::OK, &serde_json::json!({"token": token})),
                    Err(code) => json(StatusCode::SERVICE_UNAVAILABLE, &json_code(code)),
                }
            }
            View::Password { reason, .. } => {
                let code = reason.unwrap_or(Code::NoTicket);
                let mut body = json_code(code);
                body["state"] = step.sealed.clone().unwrap_or_default().into();
                json(StatusCode::FORBIDDEN, &body)
            }
            View::Mfa { .. } | View::Username { .. } | View::Challenge { .. } => json(
                StatusCode::OK,
                &serde_json::json!({"state": step.sealed.clone().unwrap_or_default()}),
            ),
            View::Denied { code } => {
                let status = if code.is_transient() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::FORBIDDEN
                };
                json(status, &json_code(code))
            }
            View::Restart { code } => {
                let mut body = json_code(code);
                body["restart"] = true.into();
                json(StatusCode::BAD_REQUEST, &body)
            }
        };
        // The final token (mutual authentication) goes with a success only: a
        // refusal after a valid ticket is not a completed authentication.
        if let Some(ap_rep) = step
            .negotiate_response
            .as_ref()
            .filter(|_| response.status() == StatusCode::OK)
        {
            add_header(
                &mut response,
                header::WWW_AUTHENTICATE,
                &format!("Negotiate {ap_rep}"),
            );
        }
        response
    }

    /// `GET|POST /logout` (OIDC RP-Initiated Logout): ends the session, and marks
    /// the browser so seamless sign-in does not start by itself until the user
    /// signs in again. A `GET` does so only with a valid `id_token_hint` (proof
    /// that a client of ours sent the user); without one it asks the user to
    /// confirm, with a form whose same-origin `POST` does it. So a cross-site
    /// page cannot sign anyone out, nor set the 30-day suppression marker.
    async fn logout(&self, head: &Parts, body: &Bytes) -> Response {
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

/// `GET /winauth/ssoprobe`: a cheap Negotiate-protected URL the page calls
/// first. Chromium drops the first Negotiate challenge of a fresh browser
/// process; this one absorbs it, so the real request works on the first page
/// load. The token, if any, is not validated (nothing is granted here).
fn probe(head: &Parts) -> Response {
    if head.headers.contains_key(header::AUTHORIZATION) {
        return json(StatusCode::OK, &serde_json::json!({"ok": true}));
    }
    let mut response = json(StatusCode::UNAUTHORIZED, &json_code(Code::NoTicket));
    add_header(&mut response, header::WWW_AUTHENTICATE, "Negotiate");
    response
}

/// Every sign-in path (inside the base); `/common/userrealm/` also takes a UPN
/// after it. For adapters that must declare routes (rocket).
pub const SIGN_IN_PATHS: &[&str] = &[
    "/authorize",
    "/signin",
    "/login",
    "/winauth/sso",
    "/winauth/ssoprobe",
    "/token",
    "/.well-known/openid-configuration",
    "/jwks",
    "/userinfo",
    "/logout",
    "/common/userrealm",
    "/winauth/trust/mex",
    "/winauth/trust/2005/windowstransport",
    "/winauth/trust/13/windowstransport",
];

/// Whether a `login_hint` (if any) names the session's user.
fn hint_fits(hint: Option<&str>, upn: &str) -> bool {
    hint.is_none_or(|h| h.eq_ignore_ascii_case(upn))
}

/// The token of an `Authorization: Negotiate <base64>` header; other schemes
/// (NTLM, Basic, ...) and empty tokens are refused with a code.
pub(super) fn negotiate_token(value: &[u8]) -> Result<&[u8], Code> {
    let text = std::str::from_utf8(value).map_err(|_| Code::MalformedTicket)?;
    let (scheme, token) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    if scheme.eq_ignore_ascii_case("negotiate") {
        let token = token.trim();
        if token.is_empty() {
            return Err(Code::MalformedTicket);
        }
        Ok(token.as_bytes())
    } else if scheme.eq_ignore_ascii_case("ntlm") {
        Err(Code::PackageNotSupported)
    } else {
        Err(Code::MalformedTicket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_is_routed() {
        for path in SIGN_IN_PATHS {
            assert!(Route::of(path).is_some(), "{path}");
        }
        assert_eq!(Route::of("/common/userrealm/a@b.c"), Some(Route::UserRealm));
        assert_eq!(Route::of("/app"), None);
    }
}
