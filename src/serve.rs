//! The accept loop: HTTP/1.1 with upgrades (over TLS when configured), a deadline on the request
//! head (slowloris), the peer address for `ConnectInfo`, and a graceful stop.

use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::http::NO_ROUTE;
use crate::metrics::Metrics;

/// Rejection reason counted when a request head does not arrive in time.
pub const HEAD_TIMEOUT_REASON: &str = "handshake_timeout";

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait for in-flight HTTP exchanges once serving stops.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `stop` is cancelled. A client that has not sent its
/// whole request head within `head_timeout` is disconnected and counted as a
/// `handshake_timeout` rejection. With `tls`, each connection's TLS handshake runs in its own
/// task, also within `head_timeout` (see [`crate::tls::accept`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    head_timeout: Duration,
    metrics: Metrics,
    stop: CancellationToken,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let (router, stop, tls) = (router.clone(), stop.clone(), tls.clone());
                let metrics = metrics.clone();
                connections.spawn(async move {
                    let tls = crate::tls::accept(tls, tcp, peer, head_timeout, &metrics);
                    let Some(io) = tls.await else { return };
                    if connection(io, peer, router, head_timeout, stop).await {
                        debug!(%peer, "request head not received in time");
                        let labels = [NO_ROUTE, HEAD_TIMEOUT_REASON];
                        metrics.rejections_total.with_label_values(&labels).inc();
                    }
                });
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    connections.close();
    let _ = tokio::time::timeout(STOP_GRACE, connections.wait()).await;
    Ok(())
}

/// Serves one connection; true when it ended because the request head was too slow.
async fn connection(
    io: crate::tls::Stream,
    peer: SocketAddr,
    router: Router,
    head_timeout: Duration,
    stop: CancellationToken,
) -> bool {
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        router.oneshot(req.map(Body::new))
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = pin!(conn);
    tokio::select! {
        result = conn.as_mut() => match result {
            Err(e) if e.is_timeout() => return true,
            Err(e) => debug!(%peer, error = %e, "connection ended with an error"),
            Ok(()) => {}
        },
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    false
}
