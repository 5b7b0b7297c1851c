//! The accept loop of both listeners: at most `max_connections` connections at once (the next
//! waits in the kernel's backlog), on HTTPS a TLS handshake (bounded in time) per connection,
//! then the router, served by hyper-util with upgrades (WebSockets) enabled, request headers
//! bounded in time (slow-loris), `ConnectInfo<SocketAddr>` (and on HTTPS [`ViaTls`]) on every
//! request, and graceful shutdown like `axum::serve`'s.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::ViaTls;

/// Longest a client may take to finish the TLS handshake before the connection is dropped, so
/// a slow (or stalled) handshake cannot hold a task for ever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits on connections, whatever the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers (also the first request's, and the
    /// next one's on a kept-alive connection: an idle connection is closed after it).
    pub header_timeout: Duration,
}

impl Default for ConnLimits {
    /// 1 024 connections, 10 s for headers.
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` completes; then stops accepting,
/// abandons handshakes in progress and lets open requests finish.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, Some(tls), limits, shutdown).await
}

/// Serves `router` on `listener` — over TLS when `tls` is given, else plain HTTP — until
/// `shutdown` completes.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tls = tls.is_some(), "listening on {addr}");
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // `stop` tells connections to wind down; every connection task holds a `running` receiver,
    // so `closed()` on its sender waits for the last one.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (running_tx, running_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first: at the limit, new connections wait in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(
            acceptor.clone(),
            tcp,
            peer,
            router.clone(),
            limits,
            stop_rx.clone(),
            (running_rx.clone(), slot),
        ));
    }
    drop(listener);
    drop(running_rx);
    let _ = stop_tx.send(true);
    running_tx.closed().await;
    Ok(())
}

/// One connection: the handshake (on HTTPS), then HTTP/1.1 with upgrades until the client
/// leaves or shutdown drains it. `_held` is released when it ends.
async fn connection(
    acceptor: Option<TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
    _held: (watch::Receiver<()>, OwnedSemaphorePermit),
) {
    let Some(acceptor) = acceptor else {
        return http(TokioIo::new(tcp), peer, router, limits, false, stop).await;
    };
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            // A client that cannot or will not speak our TLS is not the server's error.
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = stopped(&mut stop) => return,
    };
    http(TokioIo::new(stream), peer, router, limits, true, stop).await;
}

/// HTTP/1.1 with upgrades on an established connection.
async fn http<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: ConnLimits,
    via_tls: bool,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router.map_request(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        if via_tls {
            req.extensions_mut().insert(ViaTls);
        }
        req
    }));
    let mut builder = Builder::new(TokioExecutor::new());
    // With a timer, hyper bounds how long a request's headers may take to arrive.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection_with_upgrades(io, service);
    let mut conn = std::pin::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = stopped(&mut stop) => {
            // Finish the request in progress, then close (an upgraded socket is no longer
            // hyper's: the application closes those).
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Completes once shutdown has begun.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// What `axum::serve` does with accept errors: a peer's reset is nothing; anything else (out of
/// file descriptors) is logged and waited out for a second instead of spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
