//! Sessions (a sealed cookie, checked without any asymmetric cryptography) and
//! Bearer access tokens: who is calling the application.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::{Continue, Response, cookies, form, json, redirect};
use crate::backends::{Method as Factor, UserQuery};
use crate::engine::{Completion, Engine};
use crate::error::Code;
use crate::flow::{AuthFacts, SignInRequest};
use crate::token::jwt::UserClaims;

/// Opened session cookies kept per thread.
const SESSION_CACHE: usize = 64;

struct CachedSession {
    engine: u64,
    sealed: Box<str>,
    identity: Arc<Identity>,
}

#[derive(Default)]
struct SessionCache {
    entries: Vec<CachedSession>,
    next: usize,
}

thread_local! {
    static SESSIONS: std::cell::RefCell<SessionCache> = std::cell::RefCell::new(SessionCache::default());
}

/// The sealing purpose of session cookies.
const PURPOSE_SESSION: &str = "session";

/// Browsers drop cookies over 4096 bytes; beyond this the session leaves its
/// groups out (and says `hasgroups`).
const MAX_SESSION_COOKIE: usize = 3800;

#[derive(Serialize, Deserialize)]
struct Session {
    user: UserClaims,
    /// The factors, for silent sign-in to further clients.
    methods: Vec<Factor>,
    /// The ticket's end, if any.
    not_after: Option<i64>,
    iat: i64,
    exp: i64,
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The session cookie set at sign-in.
    Session,
    /// A Bearer access token we issued.
    Bearer {
        /// The client it was issued to.
        client_id: String,
        /// Its scope.
        scope: String,
    },
}

/// The signed-in user, as the application sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's claims (subject, UPN, name, on-premises SID, groups, methods).
    pub claims: UserClaims,
    /// When the session or token ends (Unix seconds).
    pub expires_at: i64,
    /// How the caller proved it.
    pub source: Source,
}

impl Engine {
    /// A `Set-Cookie` value holding a new session for `completion`. Its lifetime is
    /// the configured session lifetime, capped at the ticket's end time.
    pub(crate) fn session_cookie(&self, completion: &Completion) -> Result<String, Code> {
        let now = self.now();
        let mut exp = now + self.web().session_ttl.as_secs() as i64;
        if let Some(not_after) = completion.auth.not_after {
            exp = exp.min(not_after);
        }
        let max_groups = self.tokens().settings().max_groups;
        let mut session = Session {
            user: UserClaims::from_completion(completion, max_groups),
            methods: completion.auth.methods.clone(),
            not_after: completion.auth.not_after,
            iat: now,
            exp,
        };
        let mut sealed =
            self.sealer()
                .seal_value(PURPOSE_SESSION, &session, exp, self.entropy())?;
        if sealed.len() > MAX_SESSION_COOKIE {
            session.user.groups.clear();
            session.user.hasgroups = true;
            sealed = self
                .sealer()
                .seal_value(PURPOSE_SESSION, &session, exp, self.entropy())?;
        }
        Ok(cookies::set(
            self.web(),
            cookies::SESSION,
            &sealed,
            Some((exp - now).max(0) as u64),
        ))
    }

    fn open_session(&self, head: &Parts) -> Option<Session> {
        let sealed = cookies::get(self.web(), &head.headers, cookies::SESSION)?;
        self.sealer()
            .open_value(PURPOSE_SESSION, sealed, self.now())
            .ok()
    }

    /// The session cookie's identity, through a small per-thread cache of opened
    /// cookies: the same sealed bytes always open to the same session, so only
    /// its expiry is checked again. Keyed by engine, bounded.
    fn session_identity(&self, head: &Parts) -> Option<Arc<Identity>> {
        let sealed = cookies::get(self.web(), &head.headers, cookies::SESSION)?;
        let now = self.now();
        let instance = self.instance();
        let hit = SESSIONS.with(|cache| {
            cache
                .borrow()
                .entries
                .iter()
                .find(|e| e.engine == instance && *e.sealed == *sealed)
                .map(|e| e.identity.clone())
        });
        if let Some(identity) = hit {
            return (now <= identity.expires_at).then_some(identity);
        }
        let session: Session = self
            .sealer()
            .open_value(PURPOSE_SESSION, sealed, now)
            .ok()?;
        let identity = Arc::new(Identity {
            claims: session.user,
            expires_at: session.exp,
            source: Source::Session,
        });
        SESSIONS.with(|cache| {
            let mut cache = cache.borrow_mut();
            let entry = CachedSession {
                engine: instance,
                sealed: sealed.into(),
                identity: identity.clone(),
            };
            if cache.entries.len() < SESSION_CACHE {
                cache.entries.push(entry);
            } else {
                let at = cache.next % SESSION_CACHE;
                cache.entries[at] = entry;
                cache.next = cache.next.wrapping_add(1);
            }
        });
        Some(identity)
    }

    /// A finished sign-in for `request` from the session in the request's cookie,
    /// for silent sign-in (an OIDC client, `prompt=none`): the user is looked up
    /// again, so a disabled or deleted account gets nothing more.
    pub(crate) async fn completion_from_session(
        &self,
        head: &Parts,
        flow_id: String,
        request: SignInRequest,
    ) -> Option<Completion> {
        let session = self.open_session(head)?;
        let user = self
            .directory()
            .find(&UserQuery::Logins(vec![session.user.upn.clone()]))
            .await
            .ok()??;
        if user.id != session.user.sub || !user.enabled || user.locked || user.expired {
            return None;
        }
        Some(Completion {
            flow_id,
            user,
            auth: AuthFacts {
                methods: session.methods,
                auth_time: session.user.auth_time,
                not_after: session.not_after,
                ticket: None,
            },
            request,
        })
    }

    /// Who is calling: a valid session cookie, or a valid Bearer access token of
    /// ours. A session check is at most one AEAD open (no signature is verified).
    pub fn authenticate(&self, head: &Parts) -> Option<Identity> {
        self.authenticate_shared(head).map(Arc::unwrap_or_clone)
    }

    fn authenticate_shared(&self, head: &Parts) -> Option<Arc<Identity>> {
        if let Some(token) = bearer(head) {
            let claims = self.tokens().verify_access(token, self.now()).ok()?;
            return Some(Arc::new(Identity {
                expires_at: claims.exp,
                source: Source::Bearer {
                    client_id: claims.client_id,
                    scope: claims.scope,
                },
                claims: claims.user,
            }));
        }
        self.session_identity(head)
    }

    /// For a request to the application: who is calling ([`Engine::authenticate`]),
    /// and a header clearing a session cookie that no longer opens (expired, or
    /// sealed under a retired key).
    pub fn identify(&self, head: &Parts) -> Continue {
        let identity = self.authenticate_shared(head);
        let mut out = Continue {
            identity,
            ..Continue::default()
        };
        if out.identity.is_none()
            && bearer(head).is_none()
            && cookies::get(self.web(), &head.headers, cookies::SESSION).is_some()
            && let Ok(v) = HeaderValue::from_str(&cookies::clear(self.web(), cookies::SESSION))
        {
            out.response_headers.append(header::SET_COOKIE, v);
        }
        out
    }
}

/// What the middleware leaves in a request for the extractors: the engine and
/// who is calling. Adapters store it in their request extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    engine: Engine,
    identity: Option<Arc<Identity>>,
}

impl Caller {
    /// The caller of a request the middleware identified.
    pub fn new(engine: Engine, identity: Option<Arc<Identity>>) -> Self {
        Self { engine, identity }
    }

    /// Who is signed in, if anyone (`MaybeSignedIn`).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }

    /// The signed-in user, or the response that asks for one (`SignedIn`): a
    /// redirect to sign in for browsers, `401` for API clients.
    pub fn require(&self, head: &Parts) -> Result<Identity, Box<Response>> {
        self.require_with(|| head.clone())
    }

    /// [`Caller::require`] for adapters that must build the head from their own
    /// types: `head` runs only when there is nobody signed in.
    pub fn require_with(&self, head: impl FnOnce() -> Parts) -> Result<Identity, Box<Response>> {
        self.identity
            .as_deref()
            .cloned()
            .ok_or_else(|| Box::new(self.engine.sign_in_required(&head())))
    }
}

/// The answer when an extractor finds no [`Caller`]: the application forgot the
/// middleware. A `500` that says so (and a log line), never a silent pass.
pub fn missing_middleware() -> Response {
    tracing::error!(
        target: "seamless::http",
        "SignedIn/MaybeSignedIn used on a route without the Seamless middleware"
    );
    super::respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        "text/plain; charset=utf-8",
        "seamless: this route uses SignedIn/MaybeSignedIn but the Seamless middleware is not installed on it",
    )
}

/// The token of an `Authorization: Bearer` header.
pub(crate) fn bearer(head: &Parts) -> Option<&str> {
    let value = head.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether the caller is an API client rather than a browser.
fn is_api(head: &Parts) -> bool {
    let tried_bearer = head
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("bearer")));
    let accept = head
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tried_bearer || (accept.contains("application/json") && !accept.contains("text/html"))
}

/// The relative path a sign-in may return to: same origin, no scheme-relative
/// or backslash tricks, no control characters.
pub(crate) fn safe_return(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && !path.bytes().any(|b| b.is_ascii_control() || b == b'\\');
    ok.then_some(path)
}

pub(crate) fn sign_in_required(engine: &Engine, head: &Parts) -> Response {
    let web = engine.web();
    if is_api(head) {
        let mut challenge = format!("Bearer realm=\"{}\"", web.issuer());
        if bearer(head).is_some() {
            challenge.push_str(", error=\"invalid_token\"");
        }
        let mut response = json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"error": "unauthorized", "message": "sign-in required"}),
        );
        super::add_header(&mut response, header::WWW_AUTHENTICATE, &challenge);
        return response;
    }
    let back = if head.method == Method::GET || head.method == Method::HEAD {
        head.uri
            .path_and_query()
            .map(|p| p.as_str())
            .and_then(safe_return)
            .unwrap_or("/")
    } else {
        "/"
    };
    redirect(&format!(
        "{}/signin?{}",
        web.base_path,
        form::encode([("return", back)])
    ))
}
