//! `seamless serve`: Seamless as the organisation's identity provider with no
//! application around it (the OIDC provider, the sign-in pages, the native
//! endpoints, `/healthz` and `/readyz`), on axum, from the same configuration
//! file as the example apps.
//!
//! Plain HTTP (behind a proxy: `[server] trusted_proxies`), or TLS terminated
//! here with rustls when `[server] tls_cert` and `tls_key` are set: the pair is
//! re-read when either file changes (checked every [`TLS_CHECK`]); a pair that
//! does not load keeps the last good one and logs why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use seamless_axum::SeamlessLayer;
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run(settings))?;
    Ok(ExitCode::SUCCESS)
}

async fn run(settings: Settings) -> Result<(), String> {
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
    if let Some(listen) = &settings.metrics.listen {
        metrics_listener(listen, built.provider.clone()).await?;
    }
    let app = Router::new().layer(SeamlessLayer::new(built.provider.clone()));
    let listener = TcpListener::bind(built.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", built.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("{}", built.banner("seamless serve"));
    println!("  serving {scheme} on {}", built.listen);
    match tls {
        None => axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| e.to_string()),
        Some(files) => serve_tls(listener, app, files).await,
    }
}

/// `GET /metrics` on its own plain-HTTP listener (`[metrics] listen`), for a
/// scraper on the internal network only.
async fn metrics_listener(listen: &str, provider: seamless_core::Provider) -> Result<(), String> {
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
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// Accepts TLS connections until a shutdown signal; each connection is served
/// on its own task with the peer address the middleware needs.
async fn serve_tls(
    listener: TcpListener,
    app: Router,
    files: CertificateFiles,
) -> Result<(), String> {
    let files = Arc::new(files);
    tokio::spawn(files.clone().watch());
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(files);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let shutdown = shutdown();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
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
            let service = TowerToHyperService::new(app.layer(axum::Extension(ConnectInfo(peer))));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

/// Ctrl-C or (on Unix) SIGTERM, as systemd sends.
async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
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
