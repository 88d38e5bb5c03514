//! Timers and buffering: keep-alive injection, the idle timeout, flushing and the close
//! timeout.

use super::*;
use crate::relay::KeepAlive;

/// The message these tests' routes send: any text the client would not send.
const KEEPALIVE: &str = r#"{"type":"StillHere"}"#;

fn keepalive(every: Duration, sent: prometheus::IntCounter) -> KeepAlive {
    KeepAlive {
        every,
        message: KEEPALIVE,
        sent,
    }
}

#[tokio::test(start_paused = true)]
async fn silent_clients_get_keepalives_injected_upstream() {
    let counter = prometheus::IntCounter::new("k", "k").unwrap();
    let mut opts = options(CancellationToken::new());
    opts.keepalive = Some(keepalive(Duration::from_secs(5), counter.clone()));
    let (client, mut upstream, task) = start_with(opts);
    assert_eq!(next(&mut upstream).await, Message::Text(KEEPALIVE.into()));
    assert_eq!(next(&mut upstream).await, Message::Text(KEEPALIVE.into()));
    client
        .send
        .unbounded_send(Ok(Message::Binary(Bytes::from_static(&[1]))))
        .unwrap();
    assert_eq!(
        next(&mut upstream).await,
        Message::Binary(Bytes::from_static(&[1]))
    );
    assert_eq!(next(&mut upstream).await, Message::Text(KEEPALIVE.into()));
    assert_eq!(counter.get(), 3);
    drop((client.send, upstream.send));
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn no_data_either_way_closes_both_sides_with_the_idle_reason() {
    let mut opts = options(CancellationToken::new());
    opts.idle_timeout = Duration::from_secs(30);
    // injected keep-alives do not count as activity
    opts.keepalive = Some(keepalive(
        Duration::from_secs(5),
        prometheus::IntCounter::new("k", "k").unwrap(),
    ));
    let (mut client, mut upstream, task) = start_with(opts);
    client
        .send
        .unbounded_send(Ok(Message::Text("hi".into())))
        .unwrap();
    assert_eq!(next(&mut upstream).await, Message::Text("hi".into()));
    let reason = "idle timeout: no data for 30s";
    assert_eq!(next(&mut client).await, close(1001, reason));
    let mut seen = next(&mut upstream).await;
    while seen == Message::Text(KEEPALIVE.into()) {
        seen = next(&mut upstream).await;
    }
    assert_eq!(seen, close(1001, reason));
    drop((client.send, upstream.send));
    assert_eq!(task.await.unwrap().label, "idle_timeout");
}

/// A connection that counts the writes made to it.
struct Counting<T> {
    inner: T,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counting<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn frames_read_together_leave_in_one_write() {
    let limits = Limits {
        max_message: 1 << 20,
        read_chunk: 4096,
    };
    let (ours, client_end) = tokio::io::duplex(1 << 16);
    let mut client = WsSocket::new(ours, Role::Server, Vec::new(), limits);
    let mut peer = WebSocketStream::from_raw_socket(client_end, PeerRole::Client, None).await;
    for i in 0..10u8 {
        peer.send(Message::Binary(Bytes::from(vec![i; 100])))
            .await
            .unwrap();
    }
    let (ours, upstream_end) = tokio::io::duplex(1 << 16);
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Counting {
        inner: ours,
        writes: writes.clone(),
    };
    let mut upstream = WsSocket::new(counted, Role::Client, Vec::new(), limits);
    let opts = options(CancellationToken::new());
    let mut legs = pump::legs();
    // the pump never finishes here: poll it until it has nothing left to do
    let pump = pump::pump(&mut client, &mut upstream, &opts, &mut legs);
    let polled = tokio::time::timeout(Duration::from_millis(50), pump).await;
    assert!(polled.is_err(), "the session is still open");
    let mut upstream_peer = drive(upstream_end, PeerRole::Server);
    for i in 0..10u8 {
        assert_eq!(
            next(&mut upstream_peer).await,
            Message::Binary(Bytes::from(vec![i; 100]))
        );
    }
    assert_eq!(
        writes.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "ten frames read at once, one write"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_cannot_hold_the_close_past_its_timeout() {
    let mut opts = options(CancellationToken::new());
    opts.idle_timeout = Duration::from_secs(30);
    // a client that never reads, on a connection that holds 16 bytes
    let (ours, _client_end) = tokio::io::duplex(16);
    let limits = Limits {
        max_message: 1 << 20,
        read_chunk: 4096,
    };
    let client_side = WsSocket::new(ours, Role::Server, Vec::new(), limits);
    let (upstream_side, upstream) = side(Role::Client, 1 << 20, 1 << 16);
    let task = tokio::spawn(relay(Box::new(client_side), Box::new(upstream_side), opts));
    for i in 0..3u8 {
        upstream
            .send
            .unbounded_send(Ok(Message::Text(format!("result {i}").into())))
            .unwrap();
    }
    upstream
        .send
        .unbounded_send(Ok(close(1000, "done")))
        .unwrap();
    // the upstream's close waits behind results the client never takes; the idle timeout
    // ends the session, and the 1001 that cannot be delivered waits only the close timeout
    let outcome = tokio::time::timeout(Duration::from_secs(31), task)
        .await
        .expect("the relay ends within the idle timeout plus the close timeout")
        .unwrap();
    assert_eq!(outcome.label, "idle_timeout");
}
