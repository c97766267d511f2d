//! Real browsers for the end-to-end tests, headless: Chromium over the DevTools
//! protocol and Firefox ESR over WebDriver BiDi, each with its own profile and
//! the Kerberos credential cache it is given, allowed to use Negotiate with
//! `localhost`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seamless_core::testkit::dev_client;

use crate::TempDir;

/// Headless Chromium driven over the DevTools protocol.
pub struct Browser {
    session: Session,
    log: Arc<Mutex<String>>,
    _profile: TempDir,
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// A browser process and its automation socket; the process dies with it.
struct Session {
    child: Child,
    socket: Socket,
    next: u64,
    rewrite: Option<Rewrite>,
}

/// A request header Chromium is made to send with another value (DevTools'
/// `Fetch` domain), and how many requests had it rewritten.
struct Rewrite {
    header: String,
    value: String,
    done: usize,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Session {
    /// Sends one command and waits for its answer (events in between are skipped).
    fn command(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next += 1;
        let id = self.next;
        let message = serde_json::json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(tungstenite::Message::text(message))
            .expect("send");
        loop {
            let reply = self.socket.read().expect("read");
            let Ok(text) = reply.to_text() else { continue };
            let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            if value["method"] == "Fetch.requestPaused" {
                self.go_on_rewritten(&value["params"]);
                continue;
            }
            if value["id"] == id {
                assert!(
                    value["type"] != "error" && value.get("error").is_none(),
                    "{method}: {value}"
                );
                return value["result"].clone();
            }
        }
    }

    /// Lets a paused request go on with the header rewritten; the answer to
    /// this command is not waited for (it is skipped as events are).
    fn go_on_rewritten(&mut self, paused: &serde_json::Value) {
        let Some(rewrite) = self.rewrite.as_mut() else {
            return;
        };
        let mut headers: Vec<serde_json::Value> = paused["request"]["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| !name.eq_ignore_ascii_case(&rewrite.header))
            .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
            .collect();
        headers.push(serde_json::json!({"name": rewrite.header, "value": rewrite.value}));
        rewrite.done += 1;
        self.next += 1;
        let message = serde_json::json!({
            "id": self.next,
            "method": "Fetch.continueRequest",
            "params": {"requestId": paused["requestId"], "headers": headers},
        });
        self.socket
            .send(tungstenite::Message::text(message.to_string()))
            .expect("send");
    }
}

/// `program` with the Kerberos configuration and credential cache it is to use.
fn with_kerberos(program: &str, krb5_conf: &Path, ccache: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env("KRB5_CONFIG", krb5_conf)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()));
    command
}

impl Browser {
    /// Starts Chromium with `ccache` (Negotiate allowed for `localhost`).
    pub fn launch(krb5_conf: &Path, ccache: &Path) -> Self {
        let profile = TempDir::new("seamless-chromium");
        let mut child = with_kerberos("chromium", krb5_conf, ccache)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--auth-server-allowlist=localhost",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.to_string());
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let browser_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("DevTools endpoint");
        let port = browser_url
            .trim_start_matches("ws://127.0.0.1:")
            .split('/')
            .next()
            .expect("port")
            .to_string();
        let targets = dev_client::call(
            http::Request::get(format!("http://127.0.0.1:{port}/json/list"))
                .body(Vec::new())
                .expect("request"),
        )
        .expect("DevTools targets");
        let targets: serde_json::Value = serde_json::from_slice(targets.body()).expect("json");
        let page = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let (socket, _) = tungstenite::connect(page).expect("DevTools socket");
        Self {
            session: Session {
                child,
                socket,
                next: 0,
                rewrite: None,
            },
            log,
            _profile: profile,
        }
    }

    /// Opens `url` (without waiting for it to load).
    pub fn navigate(&mut self, url: &str) {
        self.session
            .command("Page.navigate", serde_json::json!({"url": url}));
    }

    /// Evaluates `expression` in the page; its value.
    pub fn eval(&mut self, expression: &str) -> serde_json::Value {
        self.session.command(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true}),
        )["result"]["value"]
            .clone()
    }

    /// From now on, requests to addresses matching `url_pattern` (DevTools
    /// wildcards: `*`, `?`) go out with `header` set to `value`, as a
    /// misconfigured proxy or another instance would make them arrive.
    pub fn rewrite_header(&mut self, url_pattern: &str, header: &str, value: &str) {
        self.session.rewrite = Some(Rewrite {
            header: header.to_string(),
            value: value.to_string(),
            done: 0,
        });
        self.session.command(
            "Fetch.enable",
            serde_json::json!({"patterns": [{"urlPattern": url_pattern, "requestStage": "Request"}]}),
        );
    }

    /// Forgets every cookie (the browser process, and its Kerberos state, stay).
    pub fn clear_cookies(&mut self) {
        self.session
            .command("Network.clearBrowserCookies", serde_json::json!({}));
    }

    /// How many requests [`Browser::rewrite_header`] rewrote so far.
    pub fn rewritten(&mut self) -> usize {
        self.eval("true");
        self.session.rewrite.as_ref().map_or(0, |r| r.done)
    }

    /// Waits until the page's text contains `needle`; returns the text.
    pub fn wait_for_text(&mut self, needle: &str) -> String {
        self.wait_for("document.body ? document.body.innerText : ''", needle)
    }

    /// Waits until the page's address contains `needle`; returns it.
    pub fn wait_for_url(&mut self, needle: &str) -> String {
        self.wait_for("location.href", needle)
    }

    fn wait_for(&mut self, expression: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.eval(expression);
            let text = text.as_str().unwrap_or_default().to_string();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the page; last text: {text}\nchromium log:\n{}",
                self.log.lock().map(|l| l.clone()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Headless Firefox ESR driven over WebDriver BiDi, with Negotiate allowed for
/// `localhost` in its profile (`network.negotiate-auth.trusted-uris`).
pub struct Firefox {
    session: Session,
    context: String,
    _profile: TempDir,
}

impl Firefox {
    /// Starts Firefox ESR with `ccache` (Negotiate allowed for `localhost`).
    pub fn launch(krb5_conf: &Path, ccache: &Path) -> Self {
        let profile = TempDir::new("seamless-firefox");
        std::fs::write(
            profile.path().join("user.js"),
            "user_pref(\"network.negotiate-auth.trusted-uris\", \"localhost\");\n\
             user_pref(\"network.negotiate-auth.allow-non-fqdn\", true);\n",
        )
        .expect("user.js");
        let mut child = with_kerberos("firefox-esr", krb5_conf, ccache)
            .env("MOZ_HEADLESS", "1")
            .args([
                "--headless",
                "--no-remote",
                "--remote-debugging-port=0",
                "--profile",
            ])
            .arg(profile.path())
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start firefox");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("WebDriver BiDi listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the BiDi endpoint");
        let (socket, _) = tungstenite::connect(format!("{url}/session")).expect("BiDi socket");
        let mut session = Session {
            child,
            socket,
            next: 0,
            rewrite: None,
        };
        session.command("session.new", serde_json::json!({"capabilities": {}}));
        let tree = session.command("browsingContext.getTree", serde_json::json!({}));
        let mut firefox = Self {
            session,
            context: String::new(),
            _profile: profile,
        };
        firefox.context = tree["contexts"][0]["context"]
            .as_str()
            .expect("a browsing context")
            .to_string();
        firefox
    }

    /// Opens `url` (without waiting for it to load).
    pub fn navigate(&mut self, url: &str) {
        let context = self.context.clone();
        self.session.command(
            "browsingContext.navigate",
            serde_json::json!({"context": context, "url": url, "wait": "none"}),
        );
    }

    /// Waits until the page's text contains `needle`; returns the text.
    pub fn wait_for_text(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let context = self.context.clone();
        loop {
            let result = self.session.command(
                "script.evaluate",
                serde_json::json!({
                    "expression": "document.body ? document.body.innerText : ''",
                    "target": {"context": context},
                    "awaitPromise": false
                }),
            );
            let text = result["result"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the page; last text: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
