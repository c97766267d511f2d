//! `seamless serve`: Seamless as the organisation's identity provider with no
//! application around it (the OIDC provider, the sign-in pages, the native
//! endpoints, `/healthz` and `/readyz`), on axum, from the same configuration
//! file as the example apps.
//!
//! Plain HTTP (behind a proxy: `[server] trusted_proxies`), or TLS terminated
//! here with rustls when `[server] tls_cert` and `tls_key` are set: the pair is
//! re-read when either file changes (checked every [`TLS_CHECK`]); a pair that
//! does not load keeps the last good one and logs why.
//!
//! Connections are shared out in turn over one single-threaded runtime per
//! core (the main thread's among them), as actix-web does: a connection stays
//! on one thread, so serving a request never wakes another. On the project's
//! 2-core machine this cut the server's CPU per sign-in against one
//! multi-threaded runtime (the README's load figures).
//!
//! A client has `[server] client_timeout_ms` to send a request head (idle
//! keep-alive time included) and as long again for its body, then its
//! connection is closed (the body: after a 400), so silent or slow clients
//! hold no connection for long.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use seamless_axum::{SeamlessLayer, serve};
use seamless_core::config::Settings;
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;

/// How often the certificate and key files are checked for changes.
pub(crate) const TLS_CHECK: Duration = Duration::from_secs(5);
/// A TLS handshake slower than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `seamless serve [--config FILE]`.
pub(crate) fn serve(config: Option<PathBuf>) -> Result<ExitCode, String> {
    let _ = tracing_subscriber::fmt().with_target(true).try_init();
    let settings = Settings::load(config.as_deref()).map_err(|e| e.to_string())?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // Every runtime is made here, outside any other: one on this thread, one
    // on each of the others.
    let rt = single_threaded()?;
    let others = start_threads(threads.saturating_sub(1))?;
    rt.block_on(run(settings, others))?;
    Ok(ExitCode::SUCCESS)
}

/// What the accepting thread sends another serving thread: first how to
/// serve, then connections.
enum Work {
    Start(Connections, tokio::sync::watch::Receiver<bool>),
    Connection(std::net::TcpStream, SocketAddr),
}

/// The serving threads besides the accepting one.
struct Threads {
    work: Vec<tokio::sync::mpsc::UnboundedSender<Work>>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

/// `count` serving threads, each with its runtime, waiting for [`Work`].
fn start_threads(count: usize) -> Result<Threads, String> {
    let (mut work, mut handles) = (Vec::new(), Vec::new());
    for i in 1..=count {
        let (send, mut received) = tokio::sync::mpsc::unbounded_channel::<Work>();
        let (ready, started) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name(format!("seamless-{i}"))
            .spawn(move || {
                let rt = match single_threaded() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                rt.block_on(async move {
                    if let Some(Work::Start(connections, stopped)) = received.recv().await {
                        serve_handed(received, connections, stopped).await;
                    }
                });
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        started
            .recv()
            .map_err(|_| "a serving thread did not start".to_string())??;
        work.push(send);
        handles.push(handle);
    }
    Ok(Threads { work, handles })
}

async fn run(settings: Settings, others: Threads) -> Result<(), String> {
    let tls = match (&settings.server.tls_cert, &settings.server.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(CertificateFiles::open(cert, key)?),
        _ => {
            return Err(
                "configuration: server.tls_cert and server.tls_key go together: set both \
                 (TLS here) or neither (plain HTTP behind a proxy)"
                    .into(),
            );
        }
    };
    let built = settings.build().await.map_err(|e| e.to_string())?;
    let client_timeout = built.provider.web().client_timeout;
    if let Some(listen) = &settings.metrics.listen {
        metrics_listener(listen, built.provider.clone(), client_timeout).await?;
    }
    let app = Router::new().layer(SeamlessLayer::new(built.provider.clone()));
    let listener = TcpListener::bind(built.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", built.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("{}", built.banner("seamless serve"));
    println!("  serving {scheme} on {}", built.listen);
    let tls = tls.map(TlsAcceptor::new);
    let connections = Connections {
        app,
        tls,
        client_timeout,
    };
    serve_connections(listener, connections, others).await
}

/// One runtime on the calling thread.
fn single_threaded() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))
}

/// What serves one connection, on whichever thread it lands.
#[derive(Clone)]
struct Connections {
    app: Router,
    tls: Option<TlsAcceptor>,
    /// How long a request head may take to arrive, idle time before it
    /// included, and then its body (`[server] client_timeout_ms`).
    client_timeout: Duration,
}

/// The TLS side: the acceptor, built once over the certificate files.
#[derive(Clone)]
struct TlsAcceptor(tokio_rustls::TlsAcceptor);

impl TlsAcceptor {
    fn new(files: CertificateFiles) -> Self {
        let files = Arc::new(files);
        tokio::spawn(files.clone().watch());
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(files);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// Accepts until a shutdown signal, handing connections in turn to this thread
/// and the `others`; then stops accepting, closes idle connections, lets the
/// requests in flight finish, and returns once every thread's connections have
/// ended. This thread's runtime drives the provider's own tasks (a Redis
/// connection's, say) for the others until then.
async fn serve_connections(
    listener: TcpListener,
    connections: Connections,
    threads: Threads,
) -> Result<(), String> {
    let Threads {
        work: others,
        handles,
    } = threads;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for other in &others {
        let _ = other.send(Work::Start(connections.clone(), stopped.clone()));
    }
    let shutdown = serve::signal();
    tokio::pin!(shutdown);
    let mut mine = tokio::task::JoinSet::new();
    let mut next = 0usize;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    serve::after_accept_failed(e).await;
                    continue;
                }
            },
            Some(_) = mine.join_next(), if !mine.is_empty() => continue,
            () = &mut shutdown => break,
        };
        next = (next + 1) % (others.len() + 1);
        let Some(other) = next.checked_sub(1).and_then(|i| others.get(i)) else {
            mine.spawn(connections.clone().serve(stream, peer, stopped.clone()));
            continue;
        };
        let handed = stream.into_std().map_err(|e| e.to_string()).and_then(|s| {
            other
                .send(Work::Connection(s, peer))
                .map_err(|_| "the thread stopped".to_string())
        });
        if let Err(e) = handed {
            tracing::warn!(%peer, error = %e, "connection dropped");
        }
    }
    drop(listener);
    let _ = stop.send(true);
    drop(others);
    while mine.join_next().await.is_some() {}
    let joined = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .map(std::thread::JoinHandle::join)
            .all(|joined| joined.is_ok())
    })
    .await;
    if !matches!(joined, Ok(true)) {
        tracing::error!("a serving thread panicked");
    }
    Ok(())
}

/// Serves the connections handed to this thread until the accepting thread
/// stops handing them, then waits for them to finish.
async fn serve_handed(
    mut handed: tokio::sync::mpsc::UnboundedReceiver<Work>,
    connections: Connections,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut mine = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            next = handed.recv() => {
                let Some(Work::Connection(stream, peer)) = next else { break };
                match tokio::net::TcpStream::from_std(stream) {
                    Ok(stream) => {
                        mine.spawn(connections.clone().serve(stream, peer, stopped.clone()));
                    }
                    Err(e) => tracing::warn!(%peer, error = %e, "connection dropped"),
                }
            }
            Some(_) = mine.join_next(), if !mine.is_empty() => {}
        }
    }
    while mine.join_next().await.is_some() {}
}

impl Connections {
    /// One connection: the TLS handshake (when TLS is on), then HTTP/1.1 with
    /// the peer address the middleware needs, until the client closes it or
    /// the server stops (idle connections close at once, a request in flight
    /// finishes first).
    async fn serve(
        self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        let (app, timeout) = (self.app, self.client_timeout);
        let served = match self.tls {
            None => serve::serve_connection(stream, peer, app, timeout, &mut stopped).await,
            Some(TlsAcceptor(acceptor)) => {
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                serve::serve_connection(stream, peer, app, timeout, &mut stopped).await
            }
        };
        if let Err(e) = served {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    }
}

/// `GET /metrics` on its own plain-HTTP listener (`[metrics] listen`), for a
/// scraper on the internal network only.
async fn metrics_listener(
    listen: &str,
    provider: seamless_core::Provider,
    client_timeout: Duration,
) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("metrics.listen {listen}: {e}"))?;
    let app = Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let provider = provider.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    provider.metrics().await,
                )
            }
        }),
    );
    println!("  metrics on http://{listen}/metrics");
    // As the main listener: the same timeout on request heads, the same
    // pause when accepting fails; it ends with the process.
    tokio::spawn(serve::serve(
        listener,
        app,
        client_timeout,
        std::future::pending(),
    ));
    Ok(())
}

/// The certificate chain and key files, the pair in use, and their digest.
struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, [u8; 32])>,
}

impl std::fmt::Debug for CertificateFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CertificateFiles {
    fn open(cert: &Path, key: &Path) -> Result<Self, String> {
        let (pair, digest) = load(cert, key)?;
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new((pair, digest)),
        })
    }

    /// Re-reads the files every [`TLS_CHECK`]; a changed pair that loads
    /// replaces the current one.
    async fn watch(self: Arc<Self>) {
        loop {
            tokio::time::sleep(TLS_CHECK).await;
            let seen = self.current.read().unwrap_or_else(|p| p.into_inner()).1;
            match digest(&self.cert, &self.key) {
                Ok(now) if now == seen => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate unreadable; keeping the last good one");
                    continue;
                }
            }
            match load(&self.cert, &self.key) {
                Ok(next) => {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
                    tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate reload failed; keeping the last good one");
                    // Do not retry the same broken pair every interval.
                    let digest = digest(&self.cert, &self.key).unwrap_or(seen);
                    self.current.write().unwrap_or_else(|p| p.into_inner()).1 = digest;
                }
            }
        }
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .clone(),
        )
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("server.{what} {}: {e}", path.display()))
}

fn digest(cert: &Path, key: &Path) -> Result<[u8; 32], String> {
    let mut h = Sha256::new();
    for (path, what) in [(cert, "tls_cert"), (key, "tls_key")] {
        let bytes = read(path, what)?;
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().into())
}

/// The pair as rustls serves it, and the digest of the files it came from.
fn load(cert: &Path, key: &Path) -> Result<(Arc<CertifiedKey>, [u8; 32]), String> {
    let digest = digest(cert, key)?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read(cert, "tls_cert")?)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("server.tls_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "server.tls_cert {}: no CERTIFICATE block",
            cert.display()
        ));
    }
    let private = PrivateKeyDer::from_pem_slice(&read(key, "tls_key")?)
        .map_err(|e| format!("server.tls_key {}: {e}", key.display()))?;
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&private)
        .map_err(|e| format!("server.tls_key {}: {e}", key.display()))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match().map_err(|e| {
        format!(
            "server.tls_key {} does not match server.tls_cert: {e}",
            key.display()
        )
    })?;
    Ok((Arc::new(pair), digest))
}
