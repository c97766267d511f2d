//! The engine served over real HTTP/1.1 on a loopback port (hyper), and a small
//! blocking HTTP client, so independent clients (an OpenID Connect relying party)
//! talk to it over the wire.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use seamless_core::http::{PeerAddr, Provider};

/// A running loopback server; stops when dropped.
pub struct Loopback {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The provider it serves.
    pub provider: Provider,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Loopback {
    /// The base URL (`http://127.0.0.1:port`).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds a loopback port, builds the provider for that origin, and serves it.
/// Requests the provider does not want get 404 (there is no application here).
pub fn serve(make: impl FnOnce(&str) -> Provider) -> Loopback {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let provider = make(&format!("http://{addr}"));
    let served = provider.clone();
    runtime.spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let provider = served.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let provider = provider.clone();
                    async move {
                        let (mut head, body) = request.into_parts();
                        head.extensions.insert(PeerAddr(peer.ip()));
                        let response = provider.serve(http::Request::from_parts(head, body)).await;
                        Ok::<_, Infallible>(response.map(Full::new))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Loopback {
        addr,
        provider,
        runtime: Some(runtime),
    }
}

/// Why a loopback HTTP call failed.
#[derive(Debug, thiserror::Error)]
#[error("loopback HTTP: {0}")]
pub struct CallError(String);

/// One blocking HTTP/1.1 request (`Connection: close`) to a loopback URL.
pub fn call(request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, CallError> {
    let err = |e: &dyn std::fmt::Display| CallError(e.to_string());
    let uri = request.uri().clone();
    let authority = uri
        .authority()
        .ok_or_else(|| CallError("no authority".into()))?;
    let mut stream = TcpStream::connect(authority.as_str()).map_err(|e| err(&e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| err(&e))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        request.method(),
        request.body().len()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().map_err(|e| err(&e))?
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(|e| err(&e))?;
    stream.write_all(request.body()).map_err(|e| err(&e))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| err(&e))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| CallError("no header end".into()))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| err(&e))?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CallError("bad status line".into()))?;
    let mut response = http::Response::builder().status(status);
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            response = response.header(k.trim(), v.trim());
        }
    }
    response
        .body(raw[split + 4..].to_vec())
        .map_err(|e| err(&e))
}
