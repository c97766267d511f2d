//! The dev client: a whole seamless sign-in against a running Seamless server,
//! with a ticket minted from the dev realm's key instead of Active Directory.
//! `seamless dev client` prints its steps; the example apps' tests run it.
//!
//! user-name form → `401 Negotiate` → ticket → sign-in token → code → tokens →
//! the protected page (session cookie) and the API (Bearer).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;

use super::{PacSpec, TestKdc, TicketSpec};
use crate::config::{
    DEMO_USERS, DEV_CLIENT_ID, DEV_CLIENT_REDIRECT, DEV_DOMAIN_SID, DEV_UPN_DOMAIN,
};
use crate::grants::s256_challenge;
use crate::kerberos::keytab;

/// The largest response the dev client reads.
const MAX_RESPONSE: usize = 16 << 20;

/// One blocking HTTP/1.1 exchange (`Connection: close`) with a plain-http server.
pub fn call(request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, String> {
    let uri = request.uri().clone();
    let authority = uri
        .authority()
        .ok_or("the URL has no host")?
        .as_str()
        .to_string();
    if uri.scheme_str() != Some("http") {
        return Err("the dev client speaks plain http (a local server)".into());
    }
    let mut stream = TcpStream::connect(&authority).map_err(|e| format!("{authority}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        request.method(),
        request.body().len()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().map_err(|e| e.to_string())?
        ));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.body())
        .map_err(|e| e.to_string())?;
    // Read until the body is complete by its framing (some servers keep the
    // connection open despite `Connection: close`).
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let (split, length, chunked) = loop {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection before answering".into());
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err("response headers too large".into());
        }
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let header = |name: &str| {
                head.split("\r\n")
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim() == name)
                    .map(|(_, v)| v.trim().to_string())
            };
            let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
            let chunked = header("transfer-encoding").is_some_and(|v| v == "chunked");
            break (split, length, chunked);
        }
    };
    loop {
        let body = &raw[split + 4..];
        let done = match (length, chunked) {
            (Some(n), _) => body.len() >= n,
            (None, true) => body.ends_with(b"0\r\n\r\n"),
            (None, false) => false,
        };
        if done {
            break;
        }
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err("response too large".into());
        }
    }
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let mut response = http::Response::builder().status(status);
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            response = response.header(k.trim(), v.trim());
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if let Some(n) = length {
        body.truncate(n);
    } else if chunked {
        body = dechunk(&body).ok_or("bad chunked body")?;
    }
    response.body(body).map_err(|e| e.to_string())
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// One step the dev client took.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// What was sent.
    pub request: String,
    /// What came back, in short.
    pub outcome: String,
}

/// The result of a walk.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The steps, in order.
    pub steps: Vec<StepReport>,
    /// The ID token's claims.
    pub id_claims: serde_json::Value,
    /// The protected page's greeting line.
    pub greeting: String,
    /// The API's answer.
    pub api: serde_json::Value,
}

struct Session {
    origin: String,
    jar: BTreeMap<String, String>,
    steps: Vec<StepReport>,
}

impl Session {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<http::Response<Vec<u8>>, String> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.origin));
        if !self.jar.is_empty() {
            let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookie.join("; "));
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = call(
            request
                .body(body.as_bytes().to_vec())
                .map_err(|e| e.to_string())?,
        )?;
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap_or_default();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            if let Some((k, v)) = pair.split_once('=') {
                if attrs.contains("Max-Age=0") {
                    self.jar.remove(k);
                } else {
                    self.jar.insert(k.to_string(), v.to_string());
                }
            }
        }
        Ok(response)
    }

    fn note(&mut self, request: impl Into<String>, outcome: impl Into<String>) {
        self.steps.push(StepReport {
            request: request.into(),
            outcome: outcome.into(),
        });
    }
}

fn text(r: &http::Response<Vec<u8>>) -> String {
    String::from_utf8_lossy(r.body()).into_owned()
}

fn field(html: &str, name: &str) -> Result<String, String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .ok_or_else(|| format!("no {name} field in the page"))?
        + marker.len();
    let end = html[start..].find('"').ok_or("unterminated field")? + start;
    Ok(html[start..end].replace("&amp;", "&"))
}

fn expect(r: &http::Response<Vec<u8>>, status: u16, what: &str) -> Result<(), String> {
    if r.status().as_u16() == status {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected {status}, got {}: {}",
            r.status(),
            text(r)
        ))
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Walks a whole seamless sign-in for `user` (a demo user) against the server
/// at `origin`, minting the ticket with the dev realm keytab at `keytab_path`.
pub fn walk(origin: &str, keytab_path: &Path, user: &str) -> Result<Walk, String> {
    let (_, rid, _, _) = DEMO_USERS.iter().find(|u| u.0 == user).ok_or_else(|| {
        format!(
            "{user} is not a demo user ({})",
            DEMO_USERS
                .iter()
                .map(|u| u.0)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let bytes =
        std::fs::read(keytab_path).map_err(|e| format!("{}: {e}", keytab_path.display()))?;
    let entries = keytab::parse(&bytes).map_err(|e| e.to_string())?;
    let entry = entries
        .iter()
        .find(|e| e.key.is_ok())
        .ok_or("the keytab holds no usable key")?;
    let key = entry
        .key
        .clone()
        .map_err(|e| format!("unsupported key type {e}"))?;
    let service = entry.principal.components.join("/");
    let kdc = TestKdc::with_key(&entry.principal.realm, &service, key, entry.kvno);
    let upn = format!("{user}@{DEV_UPN_DOMAIN}");
    let mut s = Session {
        origin: origin.trim_end_matches('/').to_string(),
        jar: BTreeMap::new(),
        steps: Vec::new(),
    };

    let verifier = "seamless-dev-client-verifier-0123456789abcdefghijklmnop";
    let authorize = format!(
        "/authorize?{}",
        form(&[
            ("client_id", DEV_CLIENT_ID),
            ("redirect_uri", DEV_CLIENT_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "dev-state"),
            ("nonce", "dev-nonce"),
            ("code_challenge", &s256_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ])
    );
    let page = s.send("GET", &authorize, &[], "")?;
    expect(&page, 200, "authorize")?;
    let html = text(&page);
    s.note(
        "GET /authorize (client seamless-dev-client, PKCE S256)",
        "200 the user-name form",
    );

    let page = s.send(
        "POST",
        "/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        &form(&[
            ("step", "username"),
            ("state", &field(&html, "state")?),
            ("username", &upn),
        ]),
    )?;
    expect(&page, 200, "user name")?;
    let state = field(&text(&page), "state")?;
    s.note(
        format!("POST /login user name {upn}"),
        "200 the page that makes the background Negotiate request",
    );

    let challenge = s.send("GET", "/winauth/sso", &[("seamless-flow", &state)], "")?;
    expect(&challenge, 401, "background request")?;
    let offered = challenge
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    s.note(
        "GET /winauth/sso (no credentials)",
        format!("401 WWW-Authenticate: {offered}"),
    );

    let domain = DEV_DOMAIN_SID
        .parse()
        .map_err(|_| "bad dev SID".to_string())?;
    let mut pac = PacSpec::new(domain, *rid).with_upn(&upn);
    pac.logon_domain_name = "DEV".into();
    pac.dns_domain = DEV_UPN_DOMAIN.into();
    let minted = kdc
        .mint(&TicketSpec::new(user, SystemTime::now()).with_pac(pac))
        .map_err(|e| e.to_string())?;
    let answer = s.send(
        "GET",
        "/winauth/sso",
        &[
            ("seamless-flow", &state),
            ("authorization", &format!("Negotiate {}", minted.token)),
        ],
        "",
    )?;
    expect(&answer, 200, "Negotiate")?;
    let body: serde_json::Value =
        serde_json::from_slice(answer.body()).map_err(|e| e.to_string())?;
    let token = body["token"]
        .as_str()
        .ok_or("no sign-in token (a second factor?)")?
        .to_string();
    s.note(
        format!(
            "GET /winauth/sso + Authorization: Negotiate <{} bytes: ticket for {user}@{} from the dev realm key, kvno {}, PAC SID {DEV_DOMAIN_SID}-{rid}>",
            minted.token.len(),
            &entry.principal.realm,
            entry.kvno
        ),
        format!("200 sign-in token ({} characters, single use, 2 minutes)", token.len()),
    );

    let done = s.send(
        "POST",
        "/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        &form(&[("step", "sso"), ("state", &state), ("token", &token)]),
    )?;
    expect(&done, 303, "sign-in token")?;
    let location = done
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let code = form_urlencoded::parse(
        location
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .as_bytes(),
    )
    .find(|(k, _)| k == "code")
    .map(|(_, v)| v.into_owned())
    .ok_or("no code in the redirect")?;
    s.note(
        "POST /login (the sign-in token)",
        format!(
            "303 {}?code=…&state=dev-state (and a session cookie)",
            DEV_CLIENT_REDIRECT
        ),
    );

    let tokens = s.send(
        "POST",
        "/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEV_CLIENT_REDIRECT),
            ("client_id", DEV_CLIENT_ID),
            ("code_verifier", verifier),
        ]),
    )?;
    expect(&tokens, 200, "token endpoint")?;
    let tokens: serde_json::Value =
        serde_json::from_slice(tokens.body()).map_err(|e| e.to_string())?;
    let id_token = tokens["id_token"].as_str().ok_or("no ID token")?;
    let payload = id_token.split('.').nth(1).ok_or("malformed ID token")?;
    let id_claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    s.note(
        "POST /token (code + PKCE verifier)",
        "200 access token, ID token, refresh token",
    );

    let me = s.send("GET", "/me", &[("accept", "text/html")], "")?;
    expect(&me, 200, "protected page")?;
    let html = text(&me);
    let greeting = html
        .find("Hello")
        .map(|i| html[i..].split('<').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    s.note("GET /me (session cookie)", format!("200 \"{greeting}\""));

    let access = tokens["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_string();
    let api = call(
        http::Request::get(format!("{}/api/me", s.origin))
            .header("authorization", format!("Bearer {access}"))
            .body(Vec::new())
            .map_err(|e| e.to_string())?,
    )?;
    expect(&api, 200, "API")?;
    let api: serde_json::Value = serde_json::from_slice(api.body()).map_err(|e| e.to_string())?;
    s.note(
        "GET /api/me (Authorization: Bearer <access token>)",
        format!("200 {api}"),
    );

    Ok(Walk {
        steps: s.steps,
        id_claims,
        greeting,
        api,
    })
}
