//! Plain requests and responses, and a client with a cookie jar over a harness.

use std::collections::BTreeMap;

use crate::Harness;

/// A request, framework-free.
#[derive(Debug, Clone, Default)]
pub struct PlainRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The socket peer (`ip:port`) the server accepted the connection from;
    /// `None`: [`DEFAULT_PEER`].
    pub peer: Option<String>,
}

/// The socket peer of requests that name none: inside the fixture's intranet.
pub const DEFAULT_PEER: &str = "127.0.0.1:40000";

impl PlainRequest {
    /// The socket peer to use.
    pub fn peer_addr(&self) -> std::net::SocketAddr {
        self.peer
            .as_deref()
            .unwrap_or(DEFAULT_PEER)
            .parse()
            .expect("peer is ip:port")
    }
}

/// A response, framework-free.
#[derive(Debug, Clone, Default)]
pub struct PlainResponse {
    /// Status code.
    pub status: u16,
    /// Headers, in order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl PlainResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<not utf-8>")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }

    /// A hidden form field's value in an HTML page.
    pub fn field(&self, name: &str) -> String {
        let html = self.text();
        let marker = format!("name=\"{name}\" value=\"");
        let start = html
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {html}"))
            + marker.len();
        let end = html[start..].find('"').expect("closing quote") + start;
        html[start..end].replace("&amp;", "&")
    }

    /// The query parameters of the `Location` header.
    pub fn location_query(&self) -> BTreeMap<String, String> {
        let location = self
            .header("location")
            .unwrap_or_else(|| panic!("no location ({})", self.status));
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// A browser-like client: a cookie jar over a harness.
pub struct Client<'h> {
    harness: &'h mut dyn Harness,
    jar: BTreeMap<String, String>,
    peer: Option<String>,
    split_cookies: bool,
}

impl<'h> Client<'h> {
    /// A client with an empty jar.
    pub fn new(harness: &'h mut dyn Harness) -> Self {
        Self {
            harness,
            jar: BTreeMap::new(),
            peer: None,
            split_cookies: false,
        }
    }

    /// Sends each cookie in a `Cookie` header of its own (as HTTP/2 clients
    /// may), so the core must read every value of a repeated header.
    pub fn one_cookie_header_each(mut self) -> Self {
        self.split_cookies = true;
        self
    }

    /// Connects from `peer` (`ip:port`) from now on.
    pub fn from_peer(mut self, peer: &str) -> Self {
        self.peer = Some(peer.to_string());
        self
    }

    /// Sends a request with the jar's cookies and stores the cookies it sets.
    pub fn send(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> PlainResponse {
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let cookies = self.jar.iter().map(|(k, v)| format!("{k}={v}"));
        if self.split_cookies {
            all.extend(cookies.map(|c| ("cookie".to_string(), c)));
        } else if !self.jar.is_empty() {
            all.push(("cookie".into(), cookies.collect::<Vec<_>>().join("; ")));
        }
        let response = self.harness.send(PlainRequest {
            method: method.into(),
            uri: uri.into(),
            headers: all,
            body: body.to_vec(),
            peer: self.peer.clone(),
        });
        for set in response.headers_named("set-cookie") {
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_string(), value.to_string());
            }
        }
        response
    }

    /// `GET`.
    pub fn get(&mut self, uri: &str) -> PlainResponse {
        self.send("GET", uri, &[("accept", "text/html")], b"")
    }

    /// `GET` with more headers.
    pub fn get_with(&mut self, uri: &str, headers: &[(&str, &str)]) -> PlainResponse {
        let mut all = vec![("accept", "text/html")];
        all.extend_from_slice(headers);
        self.send("GET", uri, &all, b"")
    }

    /// A same-origin form post, as the sign-in page makes it.
    pub fn post(&mut self, uri: &str, pairs: &[(&str, &str)]) -> PlainResponse {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.send(
            "POST",
            uri,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", crate::fixture::ORIGIN),
                ("sec-fetch-site", "same-origin"),
            ],
            body.as_bytes(),
        )
    }

    /// The page's background request.
    pub fn sso(&mut self, page: &PlainResponse, authorization: Option<&str>) -> PlainResponse {
        let state = page.field("state");
        let mut headers = vec![("seamless-flow", state.as_str())];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        self.send("GET", "/winauth/sso", &headers, b"")
    }

    /// Puts a cookie in the jar, as if a response had set it.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_string(), value.to_string());
    }

    /// Whether the jar holds a cookie.
    pub fn has_cookie(&self, name: &str) -> bool {
        self.jar.contains_key(name)
    }

    /// Whether a flow cookie (one per flow, `__Host-seamless-flow-<id start>`) is set.
    pub fn has_flow_cookie(&self) -> bool {
        self.jar
            .keys()
            .any(|k| k.starts_with("__Host-seamless-flow-"))
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    /// The underlying harness (for requests outside the jar).
    pub fn harness(&mut self) -> &mut dyn Harness {
        self.harness
    }
}
