//! Serving an axum app over HTTP/1.1 with a time limit on slow clients.
//!
//! `axum::serve` sets no timeout on request heads or bodies: a client that
//! connects and sends nothing, half a head, or half a body holds its
//! connection (a descriptor and a task) for as long as it likes, and a few
//! thousand such clients take the server's descriptors. [`serve`] is the same
//! loop with hyper's header timeout and a timed body:
//!
//! ```no_run
//! # async fn run(app: axum::Router) -> std::io::Result<()> {
//! use seamless_axum::serve;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let client_timeout = std::time::Duration::from_secs(30);
//! serve::serve(listener, app, client_timeout, serve::signal()).await;
//! # Ok(()) }
//! ```
//!
//! A client has `client_timeout` to send a request head (idle time on a
//! keep-alive connection included), then the connection closes; and as long
//! again for a body, counted from the first read that had to wait, after which
//! reading it fails (the sign-in endpoints answer 400) and the connection
//! closes. Handlers see the socket peer as
//! [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), as with
//! `into_make_service_with_connect_info`, which the middleware needs for the
//! client address. Upgrades (WebSockets) work as under `axum::serve`. On
//! `shutdown` ([`signal`]: Ctrl-C or SIGTERM) it stops as
//! `axum::serve(..).with_graceful_shutdown(..)` does. `seamless serve` is built
//! from the same parts.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

/// How long accepting pauses after it failed for want of resources.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener`, each connection on its own task, with
/// `client_timeout` for request heads and bodies (see the module docs), until
/// `shutdown` completes: then it stops accepting, closes idle connections, lets
/// the requests in flight finish, and returns once every connection has ended.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    client_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    after_accept_failed(e).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let (app, mut stopped) = (app.clone(), stopped.clone());
        connections.spawn(async move {
            let served = serve_connection(stream, peer, app, client_timeout, &mut stopped);
            if let Err(e) = served.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

/// Serves one accepted connection (a TCP stream, or a TLS stream once its
/// handshake is done) from `peer`, as [`serve`] does each of its own, until
/// the client closes it or `stopped` turns true: then it closes after the
/// request in flight (an idle one at once; one that was upgraded, a WebSocket
/// say, is its handler's from then on).
pub async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    client_timeout: Duration,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> hyper::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connection = http1(client_timeout)
        .serve_connection(TokioIo::new(stream), service(app, peer, client_timeout))
        .with_upgrades();
    until_stopped(connection, stopped).await
}

/// Drives `connection` to its end; once `stopped` turns true, asks it to close
/// after the request in flight.
async fn until_stopped<I, S>(
    connection: hyper::server::conn::http1::UpgradeableConnection<I, S>,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => return served,
        _ = stopped.wait_for(|stop| *stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    connection.await
}

/// Ctrl-C or (on Unix) SIGTERM, as systemd and container runtimes send: the
/// usual `shutdown` for [`serve`].
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// HTTP/1.1 with a timeout on request heads, idle time before them included:
/// without a timer hyper waits for one for ever.
fn http1(client_timeout: Duration) -> hyper::server::conn::http1::Builder {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(client_timeout);
    http
}

/// `app` as one connection's hyper service: its requests carry the peer's
/// address ([`ConnectInfo`]) and a body that must arrive within
/// `client_timeout` ([`TimedBody`]).
fn service(
    app: Router,
    peer: SocketAddr,
    client_timeout: Duration,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    let app = app.layer(axum::Extension(ConnectInfo(peer)));
    let app = tower::ServiceExt::map_request(app, move |request: hyper::Request<Incoming>| {
        request.map(|body| axum::body::Body::new(TimedBody::new(body, client_timeout)))
    });
    TowerToHyperService::new(app)
}

/// After a failed `accept`: at once when one connection was the trouble (it
/// was reset before it was accepted), else after 100 ms. Out of file
/// descriptors (or memory) the listener stays readable, and accepting again at
/// once would spin a core and flood the log until a connection closes.
pub async fn after_accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
    if !matches!(e.kind(), ConnectionAborted | ConnectionReset) {
        tracing::warn!(error = %e, "accept failed; pausing {ACCEPT_PAUSE:?}");
        tokio::time::sleep(ACCEPT_PAUSE).await;
    }
}

/// A request body that must arrive within its time, counted from the first
/// read that had to wait: after it the read fails, so a client that stops
/// half-way holds nothing for long.
struct TimedBody<B> {
    body: B,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> TimedBody<B> {
    /// `body`, to arrive within `limit`.
    fn new(body: B, limit: Duration) -> Self {
        Self {
            body,
            limit,
            deadline: None,
        }
    }
}

impl<B> hyper::body::Body for TimedBody<B>
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, axum::BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let limit = self.limit;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Some(Err("the request body did not arrive in time".into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
