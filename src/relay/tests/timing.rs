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

/// A sink that records what it was sent and counts flushes.
#[derive(Default)]
struct Counting {
    sent: Vec<Message>,
    flushes: usize,
}

impl Sink<Message> for Counting {
    type Error = WsError;

    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        self.sent.push(item);
        Ok(())
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        self.flushes += 1;
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_burst_is_flushed_once_when_the_source_runs_dry() {
    let (client_in, c_rx) = mpsc::unbounded::<Result<Message, WsError>>();
    let (_upstream_in, u_rx) = mpsc::unbounded::<Result<Message, WsError>>();
    let (c_tx, _client_out) = mpsc::unbounded::<Message>();
    let to_ws: fn(mpsc::SendError) -> WsError = |_| WsError::ConnectionClosed;
    for i in 0..10u8 {
        client_in
            .unbounded_send(Ok(Message::Binary(Bytes::from(vec![i]))))
            .unwrap();
    }
    let mut client = Duplex {
        rx: c_rx,
        tx: c_tx.sink_map_err(to_ws),
    };
    let mut upstream = Duplex {
        rx: u_rx,
        tx: Counting::default(),
    };
    let opts = options(CancellationToken::new());
    // the pump never finishes here: poll it until it has nothing left to do
    let pump = pump::pump(&mut client, &mut upstream, &opts);
    let polled = tokio::time::timeout(Duration::from_millis(50), pump).await;
    assert!(polled.is_err(), "the session is still open");
    let expected: Vec<Message> = (0..10u8)
        .map(|i| Message::Binary(Bytes::from(vec![i])))
        .collect();
    assert_eq!(upstream.tx.sent, expected);
    assert_eq!(upstream.tx.flushes, 1, "ten queued frames, one flush");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_cannot_hold_the_close_past_its_timeout() {
    let (client_in, c_rx) = mpsc::unbounded::<Result<Message, WsError>>();
    // a client that never takes anything
    let (c_tx, _client_out) = mpsc::channel::<Message>(0);
    let (upstream, u_rx, u_tx) = peer();
    let to_ws: fn(mpsc::SendError) -> WsError = |_| WsError::ConnectionClosed;
    let client = Duplex {
        rx: c_rx,
        tx: c_tx.sink_map_err(to_ws),
    };
    let up = Duplex { rx: u_rx, tx: u_tx };
    let mut opts = options(CancellationToken::new());
    opts.idle_timeout = Duration::from_secs(30);
    let task = tokio::spawn(relay(client, up, opts));
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
    drop(client_in);
}
