//! The OpenID Connect endpoints: token, discovery, JWKS, userinfo.

use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderValue};
use http::request::Parts;

use super::Provider;
use super::form::Params;
use super::{Client, Response, add_header, json};
use crate::error::Code;
use crate::grants::{Grant, GrantError};
use crate::model::SignInRequest;
use crate::model::{Audience, Completion};
use crate::native::assertion::parse_grant_assertion;
use crate::token::SigningAlgorithm;

const SAML11_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml1_1-bearer";
const SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

/// An OAuth error response (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json(
        status,
        &serde_json::json!({"error": error, "error_description": description}),
    );
    add_header(&mut response, header::PRAGMA, "no-cache");
    response
}

fn grant_error(e: GrantError) -> Response {
    match e {
        GrantError::InvalidGrant(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why),
        GrantError::Pkce => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        ),
        _ => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the grant store is unavailable",
        ),
    }
}

/// `client_id` and secret from `Authorization: Basic` (RFC 6749 §2.3.1: each
/// form-urlencoded before base64).
fn basic_credentials(head: &Parts) -> Option<Result<(String, String), ()>> {
    let value = head.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok());
    let parsed = decoded.and_then(|text| {
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        Some((unescape(id)?, unescape(secret)?))
    });
    Some(parsed.ok_or(()))
}

impl Provider {
    /// Authenticates the client at the token endpoint.
    fn token_client(&self, head: &Parts, params: &Params<'_>) -> Result<&Client, Box<Response>> {
        let invalid_client = |basic: bool| {
            let mut response = oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
            if basic {
                add_header(
                    &mut response,
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"token\"",
                );
            }
            Box::new(response)
        };
        let basic = basic_credentials(head);
        let used_basic = basic.is_some();
        let (id, secret) = match basic {
            Some(Err(())) => return Err(invalid_client(true)),
            Some(Ok(_)) if params.get("client_secret").is_some() => {
                return Err(Box::new(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "use one client authentication method",
                )));
            }
            Some(Ok((id, secret))) => {
                if params.get("client_id").is_some_and(|p| p != id) {
                    return Err(invalid_client(true));
                }
                (id, Some(secret))
            }
            None => match params.get("client_id") {
                Some(id) => (
                    id.to_string(),
                    params.get("client_secret").map(str::to_string),
                ),
                None => return Err(invalid_client(false)),
            },
        };
        let client = self
            .clients()
            .get(&id)
            .ok_or_else(|| invalid_client(used_basic))?;
        let ok = match (&client.secret, &secret) {
            (Some(expected), Some(given)) => expected.matches(given),
            (None, None) => true,
            _ => false,
        };
        if ok {
            Ok(client)
        } else {
            Err(invalid_client(used_basic))
        }
    }

    /// `POST /token`.
    pub(super) async fn token_endpoint(&self, head: &Parts, body: &Bytes) -> Response {
        let Ok(params) = Params::parse(body) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "malformed or repeated parameters",
            );
        };
        let client = match self.token_client(head, &params) {
            Ok(c) => c,
            Err(response) => return *response,
        };
        match params.get("grant_type") {
            Some("authorization_code") => {
                let (Some(code), Some(redirect_uri)) =
                    (params.get("code"), params.get("redirect_uri"))
                else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "code and redirect_uri are required",
                    );
                };
                match self
                    .grants()
                    .redeem_code(code, &client.id, redirect_uri, params.get("code_verifier"))
                    .await
                {
                    Ok((grant, refresh)) => self.tokens_json(client, &grant, refresh, true),
                    Err(e) => grant_error(e),
                }
            }
            Some("refresh_token") => {
                let Some(token) = params.get("refresh_token") else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "refresh_token is required",
                    );
                };
                self.refresh_grant(head, client, token).await
            }
            Some(SAML11_BEARER | SAML2_BEARER) => self.saml_grant(head, client, &params).await,
            Some(_) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "supported: authorization_code, refresh_token, saml1_1-bearer",
            ),
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ),
        }
    }

    /// The refresh grant. The account is looked up again before anything is
    /// issued: a deleted, disabled, locked or expired account, or one policy now
    /// refuses for this client, ends the family (`invalid_grant`); claims come
    /// from the directory as it is now. A directory outage answers 503 and leaves
    /// the refresh token usable.
    async fn refresh_grant(&self, head: &Parts, client: &Client, token: &str) -> Response {
        let addr = head.extensions.get::<super::ClientAddr>().map(|a| a.0);
        let peeked = match self.grants().peek_refresh(token).await {
            Ok(p) => p,
            Err(e) => return grant_error(e),
        };
        // The account first, before the token is used up: an outage then costs
        // the client nothing. Unknown or reused tokens: redeeming finds out which.
        let checked = match &peeked {
            Some(grant) => match self.refresh_recheck(grant, client, addr).await {
                Ok(user) => Some(user),
                Err(response) => return *response,
            },
            None => None,
        };
        let (mut grant, next) = match self
            .grants()
            .redeem_refresh(token, &client.id, peeked.as_ref())
            .await
        {
            Ok(redeemed) => redeemed,
            Err(e) => return grant_error(e),
        };
        grant.completion.user = match checked {
            Some(user) if user.id == grant.completion.user.id => user,
            // The token appeared between the look and the redemption: check it now.
            _ => match self.refresh_recheck(&grant, client, addr).await {
                Ok(user) => user,
                Err(response) => return *response,
            },
        };
        let next = match next {
            Some(next) => next,
            None => match self.grants().issue_refresh(&grant).await {
                Ok(next) => next,
                Err(e) => return grant_error(e),
            },
        };
        self.tokens_json(client, &grant, next, false)
    }

    /// The account behind a refresh, looked up again, or the answer that refuses
    /// it: a refused account ends the family and the account's sessions; a
    /// directory outage answers 503 and ends nothing.
    async fn refresh_recheck(
        &self,
        grant: &Grant,
        client: &Client,
        addr: Option<std::net::IpAddr>,
    ) -> Result<crate::model::User, Box<Response>> {
        let code = match self
            .engine()
            .recheck(&grant.completion, &client.id, addr)
            .await
        {
            Ok(user) => return Ok(user),
            Err(Code::DirectoryUnavailable) => {
                return Err(Box::new(oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the directory is unavailable",
                )));
            }
            Err(code) => code,
        };
        let revoked = self.grants().revoke(&grant.family).await;
        if code.ends_sessions() {
            self.end_sessions_of(&grant.completion.user.id).await;
        }
        tracing::info!(
            target: "seamless::token",
            code = code.number(),
            user = %grant.completion.user.id,
            "refresh refused; family revoked"
        );
        Err(Box::new(match revoked {
            Ok(()) => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the account may no longer sign in",
            ),
            Err(e) => grant_error(e),
        }))
    }

    /// The SAML bearer grant: the assertion from our RSTR, redeemed once. Only the
    /// sealed sign-in token inside is trusted; readable fields that disagree with
    /// it fail the grant.
    async fn saml_grant(&self, head: &Parts, client: &Client, params: &Params<'_>) -> Response {
        let invalid = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
        let Some(raw) = params.get("assertion") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "assertion is required",
            );
        };
        let assertion = match parse_grant_assertion(raw) {
            Ok(a) => a,
            Err(e) => return invalid(e.0),
        };
        let completion = match self
            .engine()
            .redeem_sign_in_token(&assertion.sign_in_token, Audience::Native, None)
            .await
        {
            Ok(c) => c,
            Err(Code::StoreUnavailable) => {
                return oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the store is unavailable",
                );
            }
            Err(_) => return invalid("assertion expired, already used, or not ours"),
        };
        let agrees = assertion
            .name_identifier
            .as_deref()
            .is_none_or(|n| n.eq_ignore_ascii_case(&completion.user.upn))
            && assertion
                .audience
                .as_deref()
                .is_none_or(|a| a == self.web().native.audience);
        if !agrees {
            return invalid("the assertion's readable fields disagree with its token");
        }
        // The sign-in was decided for the native application; the client that
        // redeems it gets a decision of its own.
        let addr = head.extensions.get::<super::ClientAddr>().map(|a| a.0);
        let completion = match self.engine().recheck(&completion, &client.id, addr).await {
            Ok(user) => Completion {
                user,
                request: SignInRequest {
                    client_id: client.id.clone(),
                    ..completion.request
                },
                ..completion
            },
            Err(Code::DirectoryUnavailable) => {
                return oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the directory is unavailable",
                );
            }
            Err(code) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    &format!("policy refuses this client ({})", code.number()),
                );
            }
        };
        let scope = params
            .get("scope")
            .or(params.get("resource").map(|_| "openid"))
            .unwrap_or("openid")
            .to_string();
        let Ok(family) = self.random_id() else {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "randomness",
            );
        };
        let family_ends_at = self.grants().family_deadline(&completion);
        let grant = Grant {
            completion,
            client_id: client.id.clone(),
            redirect_uri: String::new(),
            nonce: None,
            scope,
            family_ends_at,
            family,
        };
        let mut response = self.token_response(client, &grant, false).await;
        if params.get("client_info") == Some("1") && response.status() == StatusCode::OK {
            response = with_client_info(
                response,
                &grant.completion.user.id,
                &self.tokens().settings().issuer,
            );
        }
        response
    }

    async fn token_response(&self, client: &Client, grant: &Grant, with_nonce: bool) -> Response {
        match self.grants().issue_refresh(grant).await {
            Ok(refresh) => self.tokens_json(client, grant, refresh, with_nonce),
            Err(e) => grant_error(e),
        }
    }

    fn tokens_json(
        &self,
        client: &Client,
        grant: &Grant,
        refresh: String,
        with_nonce: bool,
    ) -> Response {
        let now = self.now();
        let unavailable = || {
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "token signing failed",
            )
        };
        let Ok(jti) = self.random_id() else {
            return unavailable();
        };
        let audience = client
            .audience
            .as_deref()
            .unwrap_or(self.tokens().api_audience());
        let Ok((access, exp)) = self.tokens().signed_access_token(
            audience,
            &grant.completion,
            &client.id,
            &grant.scope,
            &jti,
            client.algorithm,
            now,
        ) else {
            return unavailable();
        };
        let mut body = serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": exp - now,
            "refresh_token": refresh,
            "scope": grant.scope,
        });
        if grant.scope.split(' ').any(|s| s == "openid") {
            let nonce = if with_nonce {
                grant.nonce.as_deref()
            } else {
                None
            };
            let Ok(id_token) =
                self.tokens()
                    .id_token(&grant.completion, &client.id, nonce, client.algorithm, now)
            else {
                return unavailable();
            };
            body["id_token"] = id_token.into();
        }
        let mut response = json(StatusCode::OK, &body);
        add_header(&mut response, header::PRAGMA, "no-cache");
        response
    }

    /// `GET /.well-known/openid-configuration`.
    pub(super) fn discovery(&self) -> Response {
        let issuer = &self.tokens().settings().issuer;
        let keys = self.tokens().keys();
        let algs: Vec<&str> = SigningAlgorithm::ALL
            .into_iter()
            .filter(|a| keys.signer(*a).is_some())
            .map(SigningAlgorithm::name)
            .collect();
        let base = format!("{}{}", self.web().public_origin, self.web().base_path);
        cacheable(json(
            StatusCode::OK,
            &serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "userinfo_endpoint": format!("{base}/userinfo"),
                "jwks_uri": format!("{base}/jwks"),
                "end_session_endpoint": format!("{base}/logout"),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query", "form_post"],
                "grant_types_supported": ["authorization_code", "refresh_token", SAML11_BEARER, SAML2_BEARER],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": algs,
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "profile", "offline_access"],
                "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "upn", "name", "onprem_sid", "groups", "hasgroups"],
                "claim_types_supported": ["normal"],
                "claims_parameter_supported": false,
                "request_parameter_supported": false,
                "request_uri_parameter_supported": false,
                "require_request_uri_registration": false,
                "authorization_response_iss_parameter_supported": true,
                "prompt_values_supported": ["none", "login", "select_account"],
            }),
        ))
    }

    /// `GET /jwks`: current and previous public keys.
    pub(super) fn jwks(&self) -> Response {
        let set = self.tokens().keys().jwks();
        match serde_json::to_value(&set) {
            Ok(v) => cacheable(json(StatusCode::OK, &v)),
            Err(_) => oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "keys",
            ),
        }
    }

    /// `GET|POST /userinfo` with a Bearer access token whose scope includes
    /// `openid`. Refusals follow RFC 6750 §3.1 (see [`bearer_refusal`]).
    pub(super) fn userinfo(&self, head: &Parts) -> Response {
        let realm = &self.tokens().settings().issuer;
        let token = match bearer_credentials(head) {
            Credentials::None => return bearer_refusal(realm, BearerRefusal::NoCredentials),
            Credentials::Malformed => return bearer_refusal(realm, BearerRefusal::Malformed),
            Credentials::Token(t) => t,
        };
        // Any access token of ours, whichever client's API it is for.
        let mut audiences: Vec<&str> = self.clients().audiences().collect();
        audiences.push(self.tokens().api_audience());
        let Ok(claims) = self
            .tokens()
            .verify_access_for(token, self.now(), &audiences)
        else {
            return bearer_refusal(realm, BearerRefusal::InvalidToken);
        };
        if !claims.scope.split(' ').any(|s| s == "openid") {
            return bearer_refusal(realm, BearerRefusal::InsufficientScope("openid"));
        }
        match serde_json::to_value(&claims.user) {
            Ok(v) => json(StatusCode::OK, &v),
            Err(_) => oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "claims",
            ),
        }
    }
}

/// What an `Authorization` header offers a Bearer-protected resource.
pub(crate) enum Credentials<'a> {
    /// No Bearer credentials at all (no header, or another scheme).
    None,
    /// `Bearer` with no token, or one that is not a `b64token` (RFC 6750 §2.1).
    Malformed,
    /// A token, not yet checked.
    Token(&'a str),
}

/// The Bearer credentials of a request, as RFC 6750 §2.1 spells them.
pub(crate) fn bearer_credentials(head: &Parts) -> Credentials<'_> {
    let Some(value) = head.headers.get(header::AUTHORIZATION) else {
        return Credentials::None;
    };
    let Ok(value) = value.to_str() else {
        return Credentials::Malformed;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Credentials::None;
    }
    let token = rest.trim();
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    let body = token.trim_end_matches('=');
    if body.is_empty() || !body.chars().all(b64token) {
        return Credentials::Malformed;
    }
    Credentials::Token(token)
}

/// Why a Bearer-protected resource refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BearerRefusal {
    /// Nothing was presented: a bare challenge, no error (RFC 6750 §3.1).
    NoCredentials,
    /// The header is not a well-formed Bearer credential: 400 `invalid_request`.
    Malformed,
    /// A token was presented and is not good here: 401 `invalid_token`.
    InvalidToken,
    /// A good token without this scope: 403 `insufficient_scope`.
    InsufficientScope(&'static str),
}

/// The RFC 6750 §3 answer to a refused Bearer request: the challenge carries an
/// `error` only when credentials were presented, and the body says no more than
/// the challenge.
pub(crate) fn bearer_refusal(realm: &str, why: BearerRefusal) -> Response {
    let realm = realm.replace(['"', '\\'], "");
    let (status, error, description, scope) = match why {
        BearerRefusal::NoCredentials => {
            let mut response =
                super::respond(StatusCode::UNAUTHORIZED, "text/plain; charset=utf-8", "");
            add_header(
                &mut response,
                header::WWW_AUTHENTICATE,
                &format!("Bearer realm=\"{realm}\""),
            );
            return response;
        }
        BearerRefusal::Malformed => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the Authorization header is not a Bearer token",
            None,
        ),
        BearerRefusal::InvalidToken => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is expired, revoked, malformed or not for this resource",
            None,
        ),
        BearerRefusal::InsufficientScope(scope) => (
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token's scope does not cover this resource",
            Some(scope),
        ),
    };
    let mut challenge =
        format!("Bearer realm=\"{realm}\", error=\"{error}\", error_description=\"{description}\"");
    let mut body = serde_json::json!({"error": error, "error_description": description});
    if let Some(scope) = scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
        body["scope"] = scope.into();
    }
    let mut response = json(status, &body);
    add_header(&mut response, header::WWW_AUTHENTICATE, &challenge);
    response
}

/// Adds MSAL's `client_info` (base64url JSON with `uid` and `utid`) to a token
/// response.
fn with_client_info(response: Response, uid: &str, utid: &str) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return Response::from_parts(parts, body);
    };
    let info = serde_json::json!({"uid": uid, "utid": utid}).to_string();
    value["client_info"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(info)
        .into();
    Response::from_parts(parts, Bytes::from(value.to_string()))
}

/// Public metadata may be cached for a few minutes (keys rotate with overlap).
fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
