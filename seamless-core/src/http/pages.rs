//! The server-rendered pages: user name, the background Negotiate page, password,
//! second factor, errors. No front-end framework; one small inline script under a
//! CSP nonce; every page works without JavaScript.

use http::StatusCode;
use http::header::{self, HeaderName};

use super::{Response, WebConfig, add_header, respond};
use crate::error::Code;
use crate::model::MfaMethod;

/// Escapes text for element content and quoted attribute values (the same rules
/// as the XML documents; `&apos;` is HTML5).
pub(crate) use crate::native::documents::escape;

/// What a user (or support desk) is told for a code.
pub(crate) fn message(code: Code) -> &'static str {
    match code {
        Code::TicketTooLarge => "Your Windows sign-in ticket is too large (too many groups).",
        Code::TicketNotAcceptable | Code::TicketInvalid | Code::MalformedTicket => {
            "Windows sign-in did not work on this device."
        }
        Code::PackageNotSupported => "This browser offered NTLM; only Kerberos is accepted.",
        Code::NoTicket => "Windows sign-in is not available here.",
        Code::UserNotFoundBySid | Code::UserNotFoundByPrincipal => {
            "Your Windows account is not known to this application."
        }
        Code::UserMismatch => "You are signed in to Windows as a different user.",
        Code::InvalidCredentials => "The user name or password is incorrect.",
        Code::RateLimited => "Too many attempts. Try again later.",
        Code::AccountDisabled => "This account is disabled.",
        Code::AccountExpired => "This account or its password has expired.",
        Code::AccountLocked => "This account is locked.",
        Code::MfaNotEnrolled => "A second factor is required, but none is set up for you.",
        Code::MfaFailed => "The verification code was wrong too many times.",
        Code::PolicyDenied => "Sign-in is blocked by policy.",
        Code::SeamlessNotEnabled => "Windows sign-in is not enabled for you here.",
        Code::InteractionRequired => "This sign-in needs your interaction.",
        Code::DirectoryUnavailable
        | Code::StoreUnavailable
        | Code::VerifierUnavailable
        | Code::KeysUnavailable => "The sign-in service is temporarily unavailable.",
        Code::FlowExpired => "The sign-in took too long. Start again.",
        Code::FlowInvalid => "This sign-in is no longer valid. Start again.",
        Code::BadRequest => "That request was not understood.",
    }
}

/// A page's frame.
pub(crate) struct Page<'a> {
    pub(crate) config: &'a WebConfig,
    pub(crate) nonce: &'a str,
    /// An origin the page's form may lead to by redirect (the client's), for CSP.
    pub(crate) form_target: Option<String>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .3rem}input{width:100%;padding:.5rem;box-sizing:border-box}\
button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#a00}.code{color:#666;font-size:.8rem}.link{background:none;border:0;color:#06c;padding:0;text-decoration:underline;cursor:pointer}";

impl Page<'_> {
    pub(crate) fn render(&self, status: StatusCode, body: &str) -> Response {
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"referrer\" content=\"same-origin\">\
<title>{title}</title><style nonce=\"{nonce}\">{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>",
            title = escape(&self.config.title),
            nonce = self.nonce,
        );
        let mut response = respond(status, "text/html; charset=utf-8", html);
        let mut form_action = "'self'".to_string();
        if let Some(origin) = &self.form_target {
            form_action.push(' ');
            form_action.push_str(origin);
        }
        let csp = format!(
            "default-src 'none'; script-src 'nonce-{n}'; style-src 'nonce-{n}'; connect-src 'self'; \
img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
            n = self.nonce
        );
        add_header(&mut response, header::CONTENT_SECURITY_POLICY, &csp);
        add_header(&mut response, header::X_FRAME_OPTIONS, "DENY");
        add_header(
            &mut response,
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
        response
    }
}

fn login_action(config: &WebConfig) -> String {
    format!("{}/login", config.base_path)
}

/// What every form of a flow posts back: its sealed state, and where to start
/// again should that state no longer open (expired, or sealed by an instance
/// with another key) — a link the error page offers, never followed by itself.
pub(crate) struct FlowFields<'a> {
    pub(crate) state: &'a str,
    pub(crate) again: Option<&'a str>,
}

impl FlowFields<'_> {
    fn hidden(&self) -> String {
        let mut fields = hidden("state", self.state);
        if let Some(again) = self.again {
            fields.push_str(&hidden("again", again));
        }
        fields
    }
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

fn error_line(code: Option<Code>) -> String {
    code.map(|c| {
        format!(
            "<p class=\"error\" role=\"alert\">{} <span class=\"code\">({})</span></p>",
            escape(message(c)),
            c.number()
        )
    })
    .unwrap_or_default()
}

/// The user-name form.
pub(crate) fn username(config: &WebConfig, flow: &FlowFields<'_>, error: Option<Code>) -> String {
    format!(
        "{err}<form method=\"post\" action=\"{action}\">{step}{state}\
<label for=\"u\">User name</label><input id=\"u\" name=\"username\" autocomplete=\"username\" autofocus required maxlength=\"256\">\
<button type=\"submit\">Next</button></form>",
        err = error_line(error),
        action = escape(&login_action(config)),
        step = hidden("step", "username"),
        state = flow.hidden(),
    )
}

/// The page that makes the background Negotiate request, with a way on for
/// browsers without JavaScript. A browser answers the request's `401`
/// challenge with its ticket, so a sign-in is two background requests. A fresh
/// Chromium drops its first Negotiate challenge (and a busy one sometimes the
/// next): a `401` that reaches the script is tried again, twice at most, before
/// the fallback, all within `sso_timeout`. Any other answer without a token or a state (a state
/// that no longer opens says `restart`) posts the fallback too, whose answer is
/// the error page with its link to start again: the page never reloads or
/// navigates by itself, so no misconfiguration can turn it into a loop.
pub(crate) fn challenge(
    config: &WebConfig,
    flow: &FlowFields<'_>,
    username: Option<&str>,
    passwords: bool,
    nonce: &str,
) -> String {
    let base = &config.base_path;
    let who = username
        .map(|u| format!("<p>Signing in as <b>{}</b>…</p>", escape(u)))
        .unwrap_or_else(|| "<p>Signing you in…</p>".into());
    format!(
        "{who}<form id=\"f\" method=\"post\" action=\"{action}\">{step}{state}{token}{way_on}</form>\
<script nonce=\"{nonce}\">(function(){{\
var f=document.getElementById('f'),s=f.elements.state.value,done=false;\
function go(step,name,value){{if(done)return;done=true;f.elements.step.value=step;\
if(name){{f.elements[name].value=value;}}f.submit();}}\
var c=new AbortController(),t=setTimeout(function(){{c.abort();go('fallback');}},{timeout});\
function sso(){{return fetch('{sso}',{{credentials:'same-origin',cache:'no-store',signal:c.signal,headers:{{'Seamless-Flow':s}}}});}}\
function again(r){{return r.status===401?sso():r;}}\
sso().then(again).then(again).then(function(r){{return r.json();}}).then(function(j){{clearTimeout(t);\
if(j.token){{go('sso','token',j.token);}}else if(j.state){{go('resume','state',j.state);}}\
else{{go('fallback');}}}})\
.catch(function(){{clearTimeout(t);go('fallback');}});}})();</script>",
        action = escape(&login_action(config)),
        step = hidden("step", "fallback"),
        state = flow.hidden(),
        token = hidden("token", ""),
        timeout = config.sso_timeout.as_millis(),
        // Without passwords the way on (for browsers without JavaScript) is
        // the same post, which then says why sign-in cannot go on.
        way_on = if passwords {
            "<p><button type=\"submit\" class=\"link\">Use a password instead</button></p>"
        } else {
            "<noscript><p><button type=\"submit\">Continue</button></p></noscript>"
        },
        sso = format_args!("{base}/winauth/sso"),
    )
}

/// The password form.
pub(crate) fn password(
    config: &WebConfig,
    flow: &FlowFields<'_>,
    username: Option<&str>,
    reason: Option<Code>,
    error: Option<Code>,
) -> String {
    let note = match reason {
        Some(code) if error.is_none() && code != Code::NoTicket => format!(
            "<p class=\"code\">{} ({})</p>",
            escape(message(code)),
            code.number()
        ),
        _ => String::new(),
    };
    format!(
        "{note}{err}<form method=\"post\" action=\"{action}\">{step}{state}\
<label for=\"u\">User name</label><input id=\"u\" name=\"username\" autocomplete=\"username\" required maxlength=\"256\" value=\"{user}\">\
<label for=\"p\">Password</label><input id=\"p\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
<button type=\"submit\">Sign in</button></form>",
        err = error_line(error),
        action = escape(&login_action(config)),
        step = hidden("step", "password"),
        state = flow.hidden(),
        user = escape(username.unwrap_or_default()),
    )
}

/// The second-factor form.
pub(crate) fn mfa(
    config: &WebConfig,
    flow: &FlowFields<'_>,
    methods: &[MfaMethod],
    error: Option<Code>,
) -> String {
    let prompt = if methods.contains(&MfaMethod::Totp) {
        "Enter the code from your authenticator app."
    } else {
        "Enter your verification code."
    };
    format!(
        "<p>{prompt}</p>{err}<form method=\"post\" action=\"{action}\">{step}{state}\
<label for=\"c\">Code</label><input id=\"c\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus maxlength=\"10\">\
<button type=\"submit\">Verify</button></form>",
        err = error_line(error),
        action = escape(&login_action(config)),
        step = hidden("step", "mfa"),
        state = flow.hidden(),
    )
}

/// An error page, with a way to start again when there is one.
pub(crate) fn error(code: Code, restart: Option<&str>) -> String {
    let again = restart
        .map(|href| format!("<p><a href=\"{}\">Start again</a></p>", escape(href)))
        .unwrap_or_default();
    format!("{}{again}", error_line(Some(code)))
}

/// The Form Post Response Mode page: the authorization response as hidden
/// fields of a form to the client's `redirect_uri`, submitted by a script under
/// the page's CSP nonce, or by the user's click without JavaScript.
pub(crate) fn form_post(redirect_uri: &str, pairs: &[(&str, &str)], nonce: &str) -> String {
    let fields: String = pairs.iter().map(|(k, v)| hidden(k, v)).collect();
    format!(
        "<form id=\"f\" method=\"post\" action=\"{action}\">{fields}\
<noscript><p>JavaScript is off: continue to the application.</p><button type=\"submit\">Continue</button></noscript></form>\
<script nonce=\"{nonce}\">document.getElementById('f').submit();</script>",
        action = escape(redirect_uri),
    )
}

/// A plain message.
/// Asks the user to confirm a sign-out nobody can prove they asked for (no
/// `id_token_hint`): the form posts back with the same parameters, and a post
/// passes the same-origin check a cross-site request cannot.
pub(crate) fn confirm_logout(config: &WebConfig, carried: &[(&str, &str)]) -> String {
    let fields: String = carried.iter().map(|(k, v)| hidden(k, v)).collect();
    format!(
        "<p>Sign out of {title}?</p><form method=\"post\" action=\"{action}\">{fields}\
<button type=\"submit\">Sign out</button></form>",
        title = escape(&config.title),
        action = escape(&format!("{}/logout", config.base_path)),
    )
}

pub(crate) fn notice(text: &str) -> String {
    format!("<p>{}</p>", escape(text))
}
