//! Sessions (a sealed cookie, checked without any asymmetric cryptography) and
//! Bearer access tokens: who is calling the application.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::Provider;
use super::oidc::{BearerRefusal, Credentials, bearer_credentials, bearer_refusal};
use super::{Continue, Response, cookies, form, redirect};
use crate::error::Code;
use crate::model::Completion;
use crate::model::{AuthFacts, SignInRequest};
use crate::model::{Method as Factor, User};
use crate::token::jwt::{UserClaims, UserClaimsRef};

/// Opened session cookies kept per thread.
const SESSION_CACHE: usize = 64;

struct CachedSession {
    engine: u64,
    /// A keyed hash of the cookie: finds the candidate without comparing the
    /// secret itself against a guess.
    hash: u64,
    sealed: Box<str>,
    identity: Arc<Identity>,
    session: SessionRef,
}

/// What the revocation check needs of an opened session.
#[derive(Clone)]
pub(super) struct SessionRef {
    pub(super) sid: Arc<str>,
    pub(super) sub: Arc<str>,
    pub(super) upn: Arc<str>,
    pub(super) onprem_sid: Option<Arc<str>>,
    pub(super) iat: i64,
}

/// The logical session of one authentication of one user: every cookie
/// re-issued from it (silent sign-ins) shares it, so one sign-out ends them all.
fn session_id(user_id: &str, auth_time: i64) -> String {
    let digest = sha2::Sha256::new()
        .chain_update(b"seamless/session\0")
        .chain_update(user_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(auth_time.to_be_bytes())
        .finalize();
    crate::kerberos::crypto::hex(&digest[..16])
}

#[derive(Default)]
struct SessionCache {
    entries: Vec<CachedSession>,
    next: usize,
    /// SipHash with keys random per thread: an attacker can neither choose
    /// collisions nor learn anything from how a lookup ends.
    keys: std::collections::hash_map::RandomState,
}

thread_local! {
    static SESSIONS: std::cell::RefCell<SessionCache> = std::cell::RefCell::new(SessionCache::default());
}

/// The sealing purpose of session cookies.
const PURPOSE_SESSION: &str = "session";

/// Browsers drop cookies over 4096 bytes; beyond this the session leaves its
/// groups out (and says `hasgroups`).
const MAX_SESSION_COOKIE: usize = 3800;

/// A session cookie's sealed value: sealed with the claims and factors
/// borrowed from the sign-in, opened with them owned.
#[derive(Serialize, Deserialize)]
pub(super) struct Session<U = UserClaims, F = Vec<Factor>> {
    /// The logical session: the same for every cookie re-issued from it.
    #[serde(default)]
    pub(super) sid: String,
    user: U,
    /// The factors, for silent sign-in to further clients.
    methods: F,
    /// The ticket's end, if any.
    not_after: Option<i64>,
    iat: i64,
    pub(super) exp: i64,
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

impl Provider {
    /// A `Set-Cookie` value holding a new session for `completion`. Its lifetime is
    /// the configured session lifetime, capped at the ticket's end time.
    pub(crate) fn session_cookie(&self, completion: &Completion) -> Result<String, Code> {
        let now = self.now();
        let mut exp = now + self.web().session_ttl.as_secs() as i64;
        // Re-issued cookies (a silent sign-in) keep the original authentication's
        // deadline: no chain of silent sign-ins makes a session immortal.
        exp = exp.min(
            completion
                .auth
                .auth_time
                .saturating_add(self.web().session_max_lifetime.as_secs() as i64),
        );
        if exp <= now {
            return Err(Code::FlowExpired);
        }
        if let Some(not_after) = completion.auth.not_after {
            exp = exp.min(not_after);
        }
        let max_groups = self.tokens().settings().max_groups;
        let mut session = Session {
            sid: session_id(&completion.user.id, completion.auth.auth_time),
            user: UserClaimsRef::new(completion, max_groups),
            methods: &completion.auth.methods[..],
            not_after: completion.auth.not_after,
            iat: now,
            exp,
        };
        let mut sealed = self.backends().sealer.seal(
            PURPOSE_SESSION,
            &session,
            exp,
            self.backends().entropy.as_ref(),
        )?;
        if sealed.len() > MAX_SESSION_COOKIE {
            session.user.groups = &[];
            session.user.hasgroups = true;
            sealed = self.backends().sealer.seal(
                PURPOSE_SESSION,
                &session,
                exp,
                self.backends().entropy.as_ref(),
            )?;
        }
        Ok(cookies::set(
            self.web(),
            cookies::SESSION,
            &sealed,
            Some((exp - now).max(0) as u64),
        ))
    }

    pub(super) fn open_session(&self, head: &Parts) -> Option<Session> {
        let sealed = cookies::get(self.web(), &head.headers, cookies::SESSION)?;
        self.backends()
            .sealer
            .open(PURPOSE_SESSION, sealed, self.now())
            .ok()
    }

    /// The session cookie's identity, through a small per-thread cache of opened
    /// cookies: the same sealed bytes always open to the same session, so only
    /// its expiry is checked again. Keyed by engine and by a keyed hash of the
    /// cookie (SipHash, keys random per thread), so no comparison of the secret
    /// itself runs against a guess; bounded.
    fn session_identity(&self, head: &Parts) -> Option<(Arc<Identity>, SessionRef)> {
        let sealed = cookies::get(self.web(), &head.headers, cookies::SESSION)?;
        let now = self.now();
        let instance = self.instance();
        let (hash, hit) = SESSIONS.with(|cache| {
            let cache = cache.borrow();
            let hash = std::hash::BuildHasher::hash_one(&cache.keys, sealed);
            let hit = cache
                .entries
                .iter()
                // Only a cookie whose keyed hash matches is compared at all, and
                // without the keys nobody can make one match but the cookie
                // itself: the comparison's timing tells an attacker nothing.
                .find(|e| e.engine == instance && e.hash == hash && *e.sealed == *sealed)
                .map(|e| (e.identity.clone(), e.session.clone()));
            (hash, hit)
        });
        if let Some((identity, session)) = hit {
            return (now <= identity.expires_at).then_some((identity, session));
        }
        let session: Session = self
            .backends()
            .sealer
            .open(PURPOSE_SESSION, sealed, now)
            .ok()?;
        let reference = SessionRef {
            sid: session.sid.clone().into(),
            sub: session.user.sub.clone().into(),
            upn: session.user.upn.clone().into(),
            onprem_sid: session.user.onprem_sid.clone().map(Into::into),
            iat: session.iat,
        };
        let identity = Arc::new(Identity {
            claims: session.user,
            expires_at: session.exp,
            source: Source::Session,
        });
        SESSIONS.with(|cache| {
            let mut cache = cache.borrow_mut();
            let entry = CachedSession {
                engine: instance,
                hash,
                sealed: sealed.into(),
                identity: identity.clone(),
                session: reference.clone(),
            };
            if cache.entries.len() < SESSION_CACHE {
                cache.entries.push(entry);
            } else {
                let at = cache.next % SESSION_CACHE;
                cache.entries[at] = entry;
                cache.next = cache.next.wrapping_add(1);
            }
        });
        Some((identity, reference))
    }

    /// A finished sign-in for `request` from the session in the request's cookie,
    /// for silent sign-in (an OIDC client, `prompt=none`): the user is looked up
    /// again and policy decides for `request`'s client, so a disabled or deleted
    /// account, or one this client may not have, gets nothing more. Past the
    /// session's absolute lifetime there is no silent sign-in.
    pub(crate) async fn completion_from_session(
        &self,
        head: &Parts,
        request: &SignInRequest,
    ) -> Option<Completion> {
        let (_, live) = self.session_identity(head)?;
        if !self.session_live(&live).await {
            return None;
        }
        let session = self.open_session(head)?;
        let deadline = session
            .user
            .auth_time
            .saturating_add(self.web().session_max_lifetime.as_secs() as i64);
        if self.now() >= deadline {
            return None;
        }
        let mut user = User::new(session.user.sub.clone(), session.user.upn.clone());
        user.sid = session
            .user
            .onprem_sid
            .as_deref()
            .and_then(|s| s.parse().ok());
        let mut completion = Completion {
            flow_id: self.random_id().ok()?,
            user,
            auth: AuthFacts {
                methods: session.methods,
                auth_time: session.user.auth_time,
                not_after: session.not_after,
                ticket: None,
            },
            request: request.clone(),
        };
        let addr = head.extensions.get::<super::ClientAddr>().map(|a| a.0);
        match self
            .engine()
            .recheck(&completion, &completion.request.client_id, addr)
            .await
        {
            Ok(user) => completion.user = user,
            Err(code) => {
                if code.ends_sessions() {
                    self.end_sessions_of(&completion.user.id).await;
                }
                return None;
            }
        }
        Some(completion)
    }

    /// Who is calling: a live session cookie, or a valid Bearer access token of
    /// ours meant for this application. A session check is at most one AEAD open
    /// (no signature is verified) and, every few seconds, a look at the store for
    /// its revocation.
    pub async fn authenticate(&self, head: &Parts) -> Option<Identity> {
        self.authenticate_shared(head)
            .await
            .map(Arc::unwrap_or_clone)
    }

    async fn authenticate_shared(&self, head: &Parts) -> Option<Arc<Identity>> {
        if let Some(token) = bearer(head) {
            // Only tokens meant for this application: an access token issued to
            // another client (another API) must not open it.
            let audiences: Vec<&str> = self
                .web()
                .bearer_audiences
                .iter()
                .map(String::as_str)
                .collect();
            let claims = self
                .tokens()
                .verify_access_for(token, self.now(), &audiences)
                .ok()?;
            return Some(Arc::new(Identity {
                expires_at: claims.exp,
                source: Source::Bearer {
                    client_id: claims.client_id,
                    scope: claims.scope,
                },
                claims: claims.user,
            }));
        }
        let (identity, session) = self.session_identity(head)?;
        self.session_live(&session).await.then_some(identity)
    }

    /// For a request to the application: who is calling ([`Provider::authenticate`]),
    /// and a header clearing a session cookie that no longer opens (expired, or
    /// sealed under a retired key).
    pub async fn identify(&self, head: &Parts) -> Continue {
        let identity = self.authenticate_shared(head).await;
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

/// What the middleware leaves in a request for the extractors: the provider and
/// who is calling. Adapters store it in their request extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    provider: Provider,
    identity: Option<Arc<Identity>>,
}

impl Caller {
    /// The caller of a request the middleware identified.
    pub fn new(provider: Provider, identity: Option<Arc<Identity>>) -> Self {
        Self { provider, identity }
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
            .ok_or_else(|| Box::new(self.provider.sign_in_required(&head())))
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

/// The relative path a sign-in may return to, normalised: same origin (a path
/// starting with one `/`), no backslash or control characters, dot segments
/// (`.`, `..`, and their percent-encoded forms, which browsers also resolve)
/// and repeated slashes collapsed, and every byte a URL may not carry
/// percent-encoded. A scheme-relative `//host` is refused outright;
/// `/.//evil.example` becomes `/evil.example`, never the `//evil.example` a
/// browser would resolve it to; a raw space never reaches a `Location` header.
pub(crate) fn safe_return(path: &str) -> Option<String> {
    if !path.starts_with('/')
        || path.starts_with("//")
        || path.len() > 2048
        || path.bytes().any(|b| b.is_ascii_control() || b == b'\\')
    {
        return None;
    }
    // A fragment never reaches a server; one in `return` is dropped.
    let path = path.split('#').next().unwrap_or_default();
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut segments: Vec<&str> = Vec::new();
    let mut raw = path.split('/').skip(1).peekable();
    let mut trailing_slash = false;
    while let Some(segment) = raw.next() {
        let last = raw.peek().is_none();
        match dot_segment(segment) {
            Some(Dots::One) => trailing_slash = last,
            Some(Dots::Two) => {
                segments.pop();
                trailing_slash = last;
            }
            None if segment.is_empty() => trailing_slash = last,
            None => {
                segments.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for segment in &segments {
        out.push('/');
        percent_encode_into(&mut out, segment, b"!$&'()*+,;=:@");
    }
    if segments.is_empty() || trailing_slash {
        out.push('/');
    }
    if let Some(query) = query {
        out.push('?');
        percent_encode_into(&mut out, query, b"!$&'()*+,;=:@/?");
    }
    Some(out)
}

enum Dots {
    One,
    Two,
}

/// `.` or `..`, with any dot written `%2e` (RFC 3986 §6.2.2.2; browsers do the same).
fn dot_segment(segment: &str) -> Option<Dots> {
    let lowered = segment.to_ascii_lowercase();
    match lowered.replace("%2e", ".").as_str() {
        "." => Some(Dots::One),
        ".." => Some(Dots::Two),
        _ => None,
    }
}

/// Appends `text`, keeping unreserved characters, `allowed` and well-formed
/// percent-escapes, and percent-encoding every other byte.
fn percent_encode_into(out: &mut String, text: &str, allowed: &[u8]) {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || allowed.contains(&b) || escape {
            out.push(char::from(b));
        } else {
            let _ = std::fmt::Write::write_fmt(out, format_args!("%{b:02X}"));
        }
    }
}

pub(crate) fn sign_in_required(provider: &Provider, head: &Parts) -> Response {
    let web = provider.web();
    if is_api(head) {
        // RFC 6750 §3.1: an error only when credentials were presented.
        let why = match bearer_credentials(head) {
            Credentials::None => BearerRefusal::NoCredentials,
            Credentials::Malformed => BearerRefusal::Malformed,
            Credentials::Token(_) => BearerRefusal::InvalidToken,
        };
        return bearer_refusal(&web.issuer(), why);
    }
    let back = if head.method == Method::GET || head.method == Method::HEAD {
        head.uri
            .path_and_query()
            .and_then(|p| safe_return(p.as_str()))
    } else {
        None
    };
    redirect(&format!(
        "{}/signin?{}",
        web.base_path,
        form::encode([("return", back.as_deref().unwrap_or("/"))])
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod return_path_properties {
    use proptest::prelude::*;

    use super::safe_return;

    /// Pieces an attacker would put in `return`: slashes of both kinds, dots
    /// plain and encoded, an encoded slash, query and fragment marks,
    /// whitespace, controls, user info, a host, and non-ASCII.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "/",
            "//",
            "\\",
            ".",
            "..",
            "%2e",
            "%2E",
            "%2f",
            "%5c",
            "?",
            "#",
            " ",
            "\t",
            "\n",
            "@",
            ":",
            "%",
            "a",
            "evil.example",
            "\u{3002}",
            "\u{ff0f}",
            "é",
            "%00",
            "&",
            "=",
        ])
    }

    fn hostile_return() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(piece(), 0..14).prop_map(|p| p.concat()),
            prop::collection::vec(piece(), 0..14).prop_map(|p| format!("/{}", p.concat())),
            "\\PC{0,40}",
        ]
    }

    proptest! {
        /// Whatever `return` holds, what a sign-in goes back to stays on this
        /// origin when a browser resolves it (the WHATWG parser of the `url`
        /// crate), carries no byte a `Location` header may not, and is its own
        /// normal form.
        #[test]
        fn a_return_path_never_leaves_the_origin(input in hostile_return()) {
            if let Some(out) = safe_return(&input) {
                prop_assert!(out.starts_with('/') && !out.starts_with("//"), "{out:?}");
                prop_assert!(out.bytes().all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'#'), "{out:?}");
                let base = url::Url::parse("https://app.example/some/page").unwrap();
                let joined = base.join(&out).unwrap();
                prop_assert_eq!(joined.origin(), base.origin(), "{:?} -> {}", out, joined);
                prop_assert_eq!(safe_return(&out), Some(out.clone()));
            }
        }
    }
}
