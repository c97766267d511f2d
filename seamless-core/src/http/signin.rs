//! Routing, and the browser sign-in: the authorization endpoint, the pages' form
//! posts, the background Negotiate request and sign-out.

use bytes::Bytes;
use http::StatusCode;
use http::header::{self};
use http::request::Parts;

use super::Provider;
use super::form::{self, Params};
use super::pages::{self, FlowFields, Page};
use super::session::safe_return;
use super::{ClientAddr, Response, add_header, cookies, redirect};
use crate::backends::Password;
use crate::engine::{Step, View, Waiting};
use crate::error::Code;
use crate::grants::{CodeRequest, GrantError, Spend};
use crate::model::SignInRequest;
use crate::model::{Audience, Completion};

/// The client id of middleware-mode sign-ins (the application itself).
pub(crate) const APP_CLIENT: &str = "";

/// The longest `state`, `nonce` or `scope` accepted at `/authorize`. Each is
/// carried in every sealed flow state, sign-in token and code of the sign-in,
/// and `state` comes back in the redirect; bounded, the sealed values always
/// fit their limit ([`crate::seal::MAX_SEALED_LEN`]), so a page is never
/// served whose flow cannot finish. Generous for clients that keep their own
/// protected state in `state` (ASP.NET Core does).
pub const MAX_AUTHORIZE_PARAM_LEN: usize = 4096;

/// The longest start-again address a page carries (see
/// `Provider::start_again`); a request whose address is longer (several
/// parameters near [`MAX_AUTHORIZE_PARAM_LEN`]) gets an error page without
/// the link.
const MAX_AGAIN_LEN: usize = 16 * 1024;

/// A `login_hint` or `domain_hint` as the flow may use it: trimmed, bounded,
/// without control characters. Anything else is not a hint, and is ignored,
/// as OpenID Connect allows.
fn hint(params: &Params, name: &str) -> Option<String> {
    params.get(name).and_then(crate::flow::clean_username)
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

/// The origin of an `http(s)` URI: where a form may post an authorization
/// response.
fn web_origin(uri: &str) -> Option<String> {
    origin(uri).filter(|o| o.starts_with("https://") || o.starts_with("http://"))
}

/// A form post from another site (CSRF): by Fetch Metadata when the browser
/// sends it (only `same-origin` passes), else by `Origin` (ours only; `null`
/// fails). Clients that send neither are not browsers; the state's binding to
/// the flow cookie still holds for them.
pub(super) fn cross_site(provider: &Provider, head: &Parts) -> bool {
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

/// How an authorization response reaches the client: in the redirect's query
/// (the default for `code`), or as an auto-submitted form (OAuth 2.0 Form Post
/// Response Mode), which keeps the code out of URLs, logs and `Referer`.
/// `fragment` and the JWT modes are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseMode {
    Query,
    FormPost,
}

impl ResponseMode {
    /// The mode a `response_mode` value names; absent means `query`, and `None`
    /// means one we do not support.
    fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("query") => Some(Self::Query),
            Some("form_post") => Some(Self::FormPost),
            Some(_) => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }
}

impl Provider {
    /// An authorization response (a code or an error) for a registered
    /// `redirect_uri`, with `iss` (RFC 9207), delivered in `mode`.
    fn answer_client<'a>(
        &'a self,
        redirect_uri: &str,
        mode: ResponseMode,
        mut pairs: Vec<(&'a str, &'a str)>,
    ) -> Response {
        pairs.push(("iss", &self.tokens().settings().issuer));
        match mode {
            ResponseMode::Query => {
                redirect(&form::append_query(redirect_uri, &form::encode(pairs)))
            }
            ResponseMode::FormPost => {
                self.page(StatusCode::OK, web_origin(redirect_uri), |nonce| {
                    pages::form_post(redirect_uri, &pairs, nonce)
                })
            }
        }
    }

    pub(super) fn page(
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

    pub(super) fn error_page(
        &self,
        status: StatusCode,
        code: Code,
        restart: Option<&str>,
    ) -> Response {
        self.page(status, None, |_| pages::error(code, restart))
    }

    /// `GET /authorize`: validate the client and redirect URI before anything
    /// else (never redirect to an unregistered URI), then start the sign-in.
    pub(super) async fn authorize(&self, head: &Parts) -> Response {
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
        // From here errors go back to the application (RFC 6749 §4.1.2.1), in the
        // response mode it asked for once that is known to be one we speak.
        let requested_mode = ResponseMode::parse(params.get("response_mode"));
        let mode = requested_mode
            .filter(|m| *m == ResponseMode::Query || web_origin(redirect_uri).is_some())
            .unwrap_or(ResponseMode::Query);
        let state = params
            .get("state")
            .filter(|s| s.len() <= MAX_AUTHORIZE_PARAM_LEN);
        let fail = |error: &str, description: &str| {
            let mut pairs = vec![("error", error), ("error_description", description)];
            if let Some(s) = state {
                pairs.push(("state", s));
            }
            self.answer_client(redirect_uri, mode, pairs)
        };
        match requested_mode {
            None => {
                return fail(
                    "invalid_request",
                    "response_mode must be query or form_post",
                );
            }
            Some(m) if m != mode => {
                return fail(
                    "invalid_request",
                    "response_mode=form_post needs an http(s) redirect_uri",
                );
            }
            Some(_) => {}
        }
        // An overlong `state` is not sent back (the answer above leaves it out).
        for name in ["state", "nonce", "scope"] {
            if params
                .get(name)
                .is_some_and(|v| v.len() > MAX_AUTHORIZE_PARAM_LEN)
            {
                return fail(
                    "invalid_request",
                    &format!("{name} is longer than {MAX_AUTHORIZE_PARAM_LEN} bytes"),
                );
            }
        }
        // Request objects (OIDC Core §6) are not supported: say so rather than
        // act on the plain parameters alone (discovery says so too).
        if params.get("request").is_some() {
            return fail("request_not_supported", "request objects are not supported");
        }
        if params.get("request_uri").is_some() {
            return fail("request_uri_not_supported", "request_uri is not supported");
        }
        if params.get("response_type") != Some("code") {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
        let max_age = match params.get("max_age").map(str::parse::<u64>) {
            None => None,
            Some(Ok(seconds)) => Some(seconds),
            Some(Err(_)) => {
                return fail("invalid_request", "max_age must be a non-negative integer");
            }
        };
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
        let mut carried = vec![
            ("scope".to_string(), scope),
            ("response_mode".to_string(), mode.name().to_string()),
        ];
        for name in ["state", "nonce", "code_challenge"] {
            if let Some(v) = params.get(name) {
                carried.push((name.to_string(), v.to_string()));
            }
        }
        let request = SignInRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_string(),
            login_hint: hint(&params, "login_hint"),
            domain_hint: hint(&params, "domain_hint"),
            prompt_login,
            tenanted: false,
            max_age,
            params: carried,
        };
        if !prompt_login {
            let now = self.now();
            // A session older than `max_age` is not used: the user authenticates
            // again (and `auth_time`, in every ID token, tells the client when).
            if let Some(completion) = self
                .completion_from_session(head, &request)
                .await
                .filter(|c| hint_fits(request.login_hint.as_deref(), &c.user.upn))
                .filter(|c| request.accepts_auth_time(c.auth.auth_time, now))
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
    pub(super) async fn sign_in_to_app(&self, head: &Parts) -> Response {
        let params = Params::query(&head.uri).unwrap_or_default();
        let back = params.get("return").and_then(safe_return);
        let request = SignInRequest {
            client_id: APP_CLIENT.to_string(),
            redirect_uri: back.unwrap_or_else(|| "/".to_string()),
            login_hint: hint(&params, "login_hint"),
            domain_hint: hint(&params, "domain_hint"),
            prompt_login: false,
            // The application is its own tenant: Negotiate starts at once.
            tenanted: true,
            max_age: None,
            params: Vec::new(),
        };
        self.start_flow(head, request).await
    }

    pub(super) async fn start_flow(&self, head: &Parts, request: SignInRequest) -> Response {
        let addr = head.extensions.get::<ClientAddr>().map(|a| a.0);
        let suppressed = cookies::get(self.web(), &head.headers, cookies::SIGNED_OUT).is_some();
        let step = self.engine().start(request, addr, suppressed).await;
        let flow_cookie = step.waiting().map(|w| {
            let ttl = self.engine().config().flow_ttl.as_secs();
            cookies::set(
                self.web(),
                &cookies::flow_name(&w.flow_id),
                &w.flow_id,
                Some(ttl),
            )
        });
        let mut response = self.render(step).await;
        if let Some(cookie) = flow_cookie {
            add_header(&mut response, header::SET_COOKIE, &cookie);
        }
        response
    }

    /// The page for a step.
    pub(super) async fn render(&self, step: Step) -> Response {
        match step {
            Step::Page(waiting) | Step::Challenge(waiting) => self.waiting_page(waiting),
            Step::Completed { completion, .. } => self.finish(*completion).await,
            Step::Denied { code, .. } => self.error_page(refusal_status(code), code, None),
            Step::Restart { code, .. } => self.error_page(StatusCode::BAD_REQUEST, code, None),
        }
    }

    /// Where a sign-in for `request` starts again: `/authorize` with the
    /// client's parameters, or `/signin` back to the same page. `None` when
    /// that address would be longer than [`MAX_AGAIN_LEN`].
    fn start_again(&self, request: &SignInRequest) -> Option<String> {
        let base = &self.web().base_path;
        let hints = [
            ("login_hint", request.login_hint.as_deref()),
            ("domain_hint", request.domain_hint.as_deref()),
        ];
        let hints = hints
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)));
        let href = if request.client_id == APP_CLIENT {
            let back = [("return", request.redirect_uri.as_str())];
            format!(
                "{base}/signin?{}",
                form::encode(back.into_iter().chain(hints))
            )
        } else {
            let max_age = request.max_age.map(|s| s.to_string());
            let has_challenge = request.params.iter().any(|(k, _)| k == "code_challenge");
            let pairs = [
                ("client_id", Some(request.client_id.as_str())),
                ("redirect_uri", Some(request.redirect_uri.as_str())),
                ("response_type", Some("code")),
                ("code_challenge_method", has_challenge.then_some("S256")),
                ("max_age", max_age.as_deref()),
                ("prompt", request.prompt_login.then_some("login")),
            ];
            let carried = request.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let pairs = pairs
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?)))
                .chain(carried)
                .chain(hints);
            format!("{base}/authorize?{}", form::encode(pairs))
        };
        (href.len() <= MAX_AGAIN_LEN).then_some(href)
    }

    /// A start-again address a form posted back, if it is one this provider
    /// could have written: ours, to `/authorize` or `/signin`, bounded, its
    /// query in the characters form encoding writes. Whatever it asks is
    /// checked again when followed, as any link to `/authorize` is.
    fn posted_again<'a>(&self, params: &'a Params<'_>) -> Option<&'a str> {
        let base = &self.web().base_path;
        let encoded = |b: u8| b.is_ascii_alphanumeric() || b"-._*%+&=".contains(&b);
        params.get("again").filter(|href| {
            href.len() <= MAX_AGAIN_LEN
                && href
                    .strip_prefix(base.as_str())
                    .and_then(|rest| {
                        rest.strip_prefix("/authorize?")
                            .or_else(|| rest.strip_prefix("/signin?"))
                    })
                    .is_some_and(|query| query.bytes().all(encoded))
        })
    }

    /// The form a waiting flow shows.
    fn waiting_page(&self, waiting: Waiting) -> Response {
        let request = &waiting.request;
        let target = (request.client_id != APP_CLIENT)
            .then(|| origin(&request.redirect_uri))
            .flatten();
        let again = self.start_again(request);
        let flow = FlowFields {
            state: &waiting.sealed,
            again: again.as_deref(),
        };
        let web = self.web();
        match waiting.view {
            View::Username { error } => self.page(StatusCode::OK, target, |_| {
                pages::username(web, &flow, error)
            }),
            View::Challenge { username } => {
                let passwords = self.engine().passwords_enabled();
                self.page(StatusCode::OK, target, |n| {
                    pages::challenge(web, &flow, username.as_deref(), passwords, n)
                })
            }
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
                    pages::password(web, &flow, username.as_deref(), reason, error)
                })
            }
            View::Mfa { methods, error } => self.page(StatusCode::OK, target, |_| {
                pages::mfa(web, &flow, &methods, error)
            }),
        }
    }

    /// A finished sign-in: the session cookie, then back to the application
    /// (middleware mode) or to the client's redirect URI with a code.
    pub(crate) async fn finish(&self, completion: Completion) -> Response {
        match self.finish_spending(completion, None).await {
            Ok(response) => response,
            Err(code) => self.error_page(StatusCode::SERVICE_UNAVAILABLE, code, None),
        }
    }

    /// [`Self::finish`], spending the sign-in token the sign-in came with in
    /// the same store step as the code (one round trip). `Err`: the token was
    /// spent before (`FlowInvalid`), or the store or randomness failed; nothing
    /// was issued.
    pub(crate) async fn finish_spending(
        &self,
        completion: Completion,
        spend: Option<&Spend>,
    ) -> Result<Response, Code> {
        let session = self.session_cookie(&completion)?;
        let request = &completion.request;
        let mut response = if request.client_id == APP_CLIENT {
            if let Some(spend) = spend {
                self.engine().spend_sign_in_token(spend).await?;
            }
            redirect(&safe_return(&request.redirect_uri).unwrap_or_else(|| "/".to_string()))
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
            let code = match self
                .grants()
                .issue_code(&completion, &code_request, spend)
                .await
            {
                Ok(c) => c,
                Err(GrantError::InvalidGrant(_)) => return Err(Code::FlowInvalid),
                Err(_) => return Err(Code::StoreUnavailable),
            };
            let state = param("state");
            let mode = ResponseMode::parse(param("response_mode").as_deref())
                .unwrap_or(ResponseMode::Query);
            let mut pairs = vec![("code", code.as_str())];
            if let Some(s) = &state {
                pairs.push(("state", s));
            }
            self.answer_client(&request.redirect_uri, mode, pairs)
        };
        add_header(&mut response, header::SET_COOKIE, &session);
        add_header(
            &mut response,
            header::SET_COOKIE,
            &cookies::clear(self.web(), &cookies::flow_name(&completion.flow_id)),
        );
        // A new sign-in ends the sign-out marker.
        add_header(
            &mut response,
            header::SET_COOKIE,
            &cookies::clear(self.web(), cookies::SIGNED_OUT),
        );
        Ok(response)
    }

    /// `POST /login`: every form of the sign-in page.
    pub(super) async fn login(&self, head: &Parts, body: &Bytes) -> Response {
        if cross_site(self, head) {
            return self.error_page(StatusCode::FORBIDDEN, Code::FlowInvalid, None);
        }
        let Ok(params) = Params::parse(body) else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None);
        };
        // A flow that can no longer go on (its cookie expired, its state does
        // not open) ends on an error page with the way to start again.
        let again = self.posted_again(&params);
        let Some(bindings) = cookies::flow_bindings(self.web(), &head.headers) else {
            return self.error_page(StatusCode::BAD_REQUEST, Code::FlowInvalid, again);
        };
        let binding = bindings.as_str();
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
                let opened = self.engine().open_sign_in_token(
                    field("token"),
                    Audience::Browser,
                    Some(binding),
                );
                let refused = match opened {
                    Ok((completion, spend)) => {
                        match self.finish_spending(completion, Some(&spend)).await {
                            Ok(response) => return response,
                            Err(code) => code,
                        }
                    }
                    Err(code) => code,
                };
                self.engine()
                    .refuse_negotiate(state, binding, refused)
                    .await
            }
            _ => return self.error_page(StatusCode::BAD_REQUEST, Code::BadRequest, None),
        };
        match step {
            Step::Restart { code, .. } => self.error_page(StatusCode::BAD_REQUEST, code, again),
            step => self.render(step).await,
        }
    }
}

/// Whether a `login_hint` (if any) names the session's user.
fn hint_fits(hint: Option<&str>, upn: &str) -> bool {
    hint.is_none_or(|h| h.eq_ignore_ascii_case(upn))
}

/// The status of a final refusal: `503` when trying later may work, else `403`.
pub(super) fn refusal_status(code: Code) -> StatusCode {
    if code.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::FORBIDDEN
    }
}
