//! The accept loop: HTTP/1.1 with upgrades (over TLS when configured), a deadline and a size cap
//! on the request head (slowloris, 431), the per-IP open-connection cap, the peer address for
//! `ConnectInfo`, and a graceful stop.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::conns::{ConnectionLimit, Counted, OverLimit};
use crate::error::Reject;
use crate::http::NO_ROUTE;
use crate::metrics::Metrics;

/// Rejection reason counted when a request head does not arrive in time.
pub(crate) const HEAD_TIMEOUT_REASON: &str = "handshake_timeout";
/// Rejection reason counted when a request head is larger than allowed (answered 431).
pub(crate) const HEAD_TOO_LARGE_REASON: &str = "request_head_too_large";
/// Longest wait to write the refusal of a connection over the per-IP cap.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Most request bytes read (already received, never waited for) before closing a refused
/// connection, so the close is a FIN rather than a reset that could destroy the answer.
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;

/// How the accept loop treats each connection.
#[derive(Clone)]
pub(crate) struct ServeOptions {
    /// Time a client has to send its whole request head.
    pub head_timeout: Duration,
    /// Largest request head accepted (at least 8192, the HTTP layer's minimum); larger → 431.
    pub max_head_bytes: usize,
    /// Where refusals are counted.
    pub metrics: Metrics,
    /// Open connections per client IP, when capped on this listener.
    pub connections: Option<Arc<ConnectionLimit>>,
    /// The listener's TLS, when `[server.tls]` is set: each connection's handshake runs in its
    /// own task within `head_timeout` (see [`crate::tls::accept`]).
    pub tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("head_timeout", &self.head_timeout)
            .field("max_head_bytes", &self.max_head_bytes)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Served (or closed by either side).
    Served,
    /// The request head did not arrive in time.
    HeadTimeout,
    /// The request head was too large (hyper answered 431).
    HeadTooLarge,
}

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait for in-flight HTTP exchanges once serving stops.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The router a listener serves: each request takes the current one, so a reload applies to
/// the next request, keep-alive connections included.
pub(crate) type Routers = Arc<arc_swap::ArcSwap<Router>>;

/// Serves the current router of `routers` on `listener` until `stop` is cancelled. A client that has not sent its
/// whole request head within the head timeout is disconnected and counted as a
/// `handshake_timeout` rejection; one whose head is too large gets 431; one over the per-IP
/// connection cap gets 429 at once (on a TLS listener it is closed without an answer: a plain
/// HTTP answer would not be understood, and a TLS handshake would spend the work the cap saves).
pub(crate) async fn serve(
    listener: TcpListener,
    routers: Routers,
    options: ServeOptions,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let options = Arc::new(options);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let guard = match options.connections.as_ref().map(|c| c.admit(peer.ip())) {
                    Some(Err(over)) if options.tls.is_some() => {
                        count_refusal(peer, over, &options.metrics);
                        continue;
                    }
                    Some(Err(over)) => {
                        connections.spawn(refuse(tcp, peer, over, options.metrics.clone()));
                        continue;
                    }
                    Some(Ok(guard)) => guard,
                    None => None,
                };
                let _ = tcp.set_nodelay(true);
                let tcp = Counted::new(tcp, guard);
                let (routers, stop, options) = (routers.clone(), stop.clone(), options.clone());
                connections.spawn(async move {
                    let (tls, deadline) = (options.tls.clone(), options.head_timeout);
                    let io = crate::tls::accept(tls, tcp, peer, deadline, &options.metrics).await;
                    let Some(io) = io else { return };
                    let reason = match connection(io, peer, routers, &options, stop).await {
                        Ended::Served => return,
                        Ended::HeadTimeout => HEAD_TIMEOUT_REASON,
                        Ended::HeadTooLarge => HEAD_TOO_LARGE_REASON,
                    };
                    debug!(%peer, reason, "request head refused");
                    let labels = [NO_ROUTE, reason];
                    options
                        .metrics
                        .rejections_total
                        .with_label_values(&labels)
                        .inc();
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

/// Serves one connection and says how it ended.
fn connection(
    io: crate::tls::Stream<Counted<TcpStream>>,
    peer: SocketAddr,
    routers: Routers,
    options: &ServeOptions,
    stop: CancellationToken,
) -> impl Future<Output = Ended> + Send + 'static {
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = Router::clone(&routers.load());
        router.oneshot(req.map(Body::new))
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.head_timeout)
        .max_buf_size(options.max_head_bytes)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    async move {
        let mut conn = pin!(conn);
        tokio::select! {
            result = conn.as_mut() => match result {
                Err(e) if e.is_timeout() => return Ended::HeadTimeout,
                Err(e) if e.is_parse_too_large() => return Ended::HeadTooLarge,
                Err(e) => debug!(%peer, error = %e, "connection ended with an error"),
                Ok(()) => {}
            },
            () = stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        Ended::Served
    }
}

/// Counts (and logs at debug) a connection refused by the per-IP cap.
fn count_refusal(peer: SocketAddr, over: OverLimit, metrics: &Metrics) -> Reject {
    let reject = Reject::ConnectionLimit(over.0);
    debug!(%peer, limit = over.0, "connection refused: per-IP connection cap");
    let labels = [NO_ROUTE, reject.reason()];
    metrics.rejections_total.with_label_values(&labels).inc();
    reject
}

/// Answers a connection over the per-IP cap with 429 JSON and closes it, without waiting for
/// its request: the point is to give the descriptor back at once.
async fn refuse(mut tcp: TcpStream, peer: SocketAddr, over: OverLimit, metrics: Metrics) {
    let reject = count_refusal(peer, over, &metrics);
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = reject.body(&request_id).to_string();
    let status = reject.status();
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    let answer = async {
        tcp.write_all(head.as_bytes()).await?;
        tcp.write_all(body.as_bytes()).await?;
        tcp.shutdown().await
    };
    if tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, answer)
        .await
        .is_err()
    {
        return;
    }
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    while drained < REFUSAL_DRAIN_BYTES {
        match tcp.try_read(&mut scratch) {
            Ok(n) if n > 0 => drained += n,
            _ => break,
        }
    }
}
