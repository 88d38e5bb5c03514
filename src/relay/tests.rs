use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use super::message::close;
use super::*;
use crate::metrics::Metrics;

/// One peer as the relay sees it, and the test's handle on the other end.
struct Peer {
    /// What the test sends as this peer (Ok) or an injected read error.
    send: mpsc::UnboundedSender<Result<Message, WsError>>,
    /// What the relay wrote to this peer.
    recv: mpsc::UnboundedReceiver<Message>,
}

type Rx = mpsc::UnboundedReceiver<Result<Message, WsError>>;
type Tx =
    futures_util::sink::SinkMapErr<mpsc::UnboundedSender<Message>, fn(mpsc::SendError) -> WsError>;

fn peer() -> (Peer, Rx, Tx) {
    let (in_tx, in_rx) = mpsc::unbounded();
    let (out_tx, out_rx) = mpsc::unbounded();
    let to_ws: fn(mpsc::SendError) -> WsError = |_| WsError::ConnectionClosed;
    (
        Peer {
            send: in_tx,
            recv: out_rx,
        },
        in_rx,
        out_tx.sink_map_err(to_ws),
    )
}

/// A peer as the relay sees it: reads come from `rx`, writes go to `tx`.
struct Duplex<R, W> {
    rx: R,
    tx: W,
}

impl<R: Stream + Unpin, W: Unpin> Stream for Duplex<R, W> {
    type Item = R::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<R::Item>> {
        std::pin::Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl<R: Unpin, W: Sink<Message, Error = WsError> + Unpin> Sink<Message> for Duplex<R, W> {
    type Error = WsError;

    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        std::pin::Pin::new(&mut self.tx).poll_ready(cx)
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        std::pin::Pin::new(&mut self.tx).start_send(item)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        std::pin::Pin::new(&mut self.tx).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        std::pin::Pin::new(&mut self.tx).poll_close(cx)
    }
}

fn options(shutdown: CancellationToken) -> RelayOptions {
    let m = Metrics::default();
    let prices = crate::config::PricesConfig::UNKNOWN;
    let meter = Meter::new(
        &m,
        crate::config::RouteKind::Listen,
        None,
        &prices,
        ["t", "u", "c"],
    );
    RelayOptions {
        meter: std::sync::Arc::new(meter),
        rules: crate::route::ModelRules::default(),
        close_timeout: Duration::from_millis(200),
        shutdown,
        max_session: None,
        idle_timeout: Duration::from_secs(3600),
        keepalive: None,
        max_message_bytes: 5,
        farewell: None,
    }
}

fn start(shutdown: CancellationToken) -> (Peer, Peer, tokio::task::JoinHandle<Outcome>) {
    start_with(options(shutdown))
}

fn start_with(opts: RelayOptions) -> (Peer, Peer, tokio::task::JoinHandle<Outcome>) {
    let (client, c_rx, c_tx) = peer();
    let (upstream, u_rx, u_tx) = peer();
    let client_side = Duplex { rx: c_rx, tx: c_tx };
    let upstream_side = Duplex { rx: u_rx, tx: u_tx };
    let task = tokio::spawn(relay(client_side, upstream_side, opts));
    (client, upstream, task)
}

async fn next(p: &mut Peer) -> Message {
    p.recv.next().await.expect("relay wrote a message")
}

#[tokio::test]
async fn frames_cross_in_order_and_pings_do_not() {
    let (mut client, mut upstream, task) = start(CancellationToken::new());
    let audio: Vec<Message> = (0..50u8)
        .map(|i| Message::Binary(Bytes::from(vec![i; 320])))
        .collect();
    client
        .send
        .unbounded_send(Ok(Message::Ping(Bytes::from_static(b"x"))))
        .unwrap();
    for m in &audio {
        client.send.unbounded_send(Ok(m.clone())).unwrap();
    }
    for m in &audio {
        assert_eq!(&next(&mut upstream).await, m);
    }
    let result = Message::Text("{\"type\":\"Results\"}".into());
    upstream.send.unbounded_send(Ok(result.clone())).unwrap();
    assert_eq!(next(&mut client).await, result);
    client.send.unbounded_send(Ok(close(1000, "bye"))).unwrap();
    assert_eq!(next(&mut upstream).await, close(1000, "bye"));
    drop(client.send);
    drop(upstream.send);
    let outcome = task.await.unwrap();
    assert_eq!(outcome.label, "client_closed");
    assert_eq!(outcome.client_code, Some(1000));
}

#[tokio::test]
async fn upstream_close_code_and_reason_reach_the_client() {
    let (mut client, upstream, task) = start(CancellationToken::new());
    upstream
        .send
        .unbounded_send(Ok(Message::Text("{\"type\":\"Metadata\"}".into())))
        .unwrap();
    upstream
        .send
        .unbounded_send(Ok(close(1011, "NET-0001")))
        .unwrap();
    assert_eq!(
        next(&mut client).await,
        Message::Text("{\"type\":\"Metadata\"}".into())
    );
    assert_eq!(next(&mut client).await, close(1011, "NET-0001"));
    drop(client.send);
    let outcome = task.await.unwrap();
    assert_eq!(
        (outcome.ended_by, outcome.label),
        (Side::Upstream, "upstream_closed")
    );
}

#[tokio::test]
async fn upstream_vanishing_gives_the_client_1011() {
    let (mut client, upstream, task) = start(CancellationToken::new());
    drop(upstream.send);
    assert_eq!(
        next(&mut client).await,
        close(1011, "upstream connection lost")
    );
    drop(client.send);
    assert_eq!(task.await.unwrap().label, "upstream_gone");
}

#[tokio::test]
async fn client_vanishing_closes_the_upstream_at_once() {
    let (client, mut upstream, task) = start(CancellationToken::new());
    drop(client.send);
    assert_eq!(
        next(&mut upstream).await,
        close(1001, "client disconnected")
    );
    drop(upstream.send);
    assert_eq!(task.await.unwrap().label, "client_gone");
}

#[tokio::test]
async fn oversized_client_message_gets_1009() {
    let (mut client, mut upstream, task) = start(CancellationToken::new());
    let too_big = tokio_tungstenite::tungstenite::error::CapacityError::MessageTooLong {
        size: 10,
        max_size: 5,
    };
    client
        .send
        .unbounded_send(Err(WsError::Capacity(too_big)))
        .unwrap();
    assert_eq!(
        next(&mut client).await,
        close(1009, "message exceeds the 5-byte limit")
    );
    assert_eq!(
        next(&mut upstream).await,
        close(1001, "client disconnected")
    );
    drop((client.send, upstream.send));
    assert_eq!(task.await.unwrap().label, "client_error");
}

#[tokio::test]
async fn shutdown_sends_1001_both_ways() {
    let shutdown = CancellationToken::new();
    let (mut client, mut upstream, task) = start(shutdown.clone());
    shutdown.cancel();
    assert_eq!(
        next(&mut client).await,
        close(1001, "voxrelay shutting down")
    );
    assert_eq!(
        next(&mut upstream).await,
        close(1001, "voxrelay shutting down")
    );
    drop((client.send, upstream.send));
    assert_eq!(task.await.unwrap().ended_by, Side::Relay);
}

#[tokio::test]
async fn empty_close_crosses_as_no_status() {
    let (mut client, upstream, task) = start(CancellationToken::new());
    upstream
        .send
        .unbounded_send(Ok(Message::Close(None)))
        .unwrap();
    assert_eq!(next(&mut client).await, Message::Close(None));
    drop((client.send, upstream.send));
    assert_eq!(task.await.unwrap().client_code, None);
}

#[tokio::test]
async fn a_full_destination_pauses_reading_from_the_source() {
    let (client_in, c_rx) = mpsc::unbounded::<Result<Message, WsError>>();
    let (c_tx, _client_out) = mpsc::unbounded::<Message>();
    let (_upstream_in, u_rx) = mpsc::unbounded::<Result<Message, WsError>>();
    // an upstream that takes one message and then nothing more
    let (u_tx, mut upstream_out) = mpsc::channel::<Message>(0);
    let to_ws: fn(mpsc::SendError) -> WsError = |_| WsError::ConnectionClosed;
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = counted.clone();
    let c_rx = c_rx.inspect(move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let client = Duplex {
        rx: c_rx,
        tx: c_tx.sink_map_err(to_ws),
    };
    let upstream = Duplex {
        rx: u_rx,
        tx: u_tx.sink_map_err(to_ws),
    };
    let task = tokio::spawn(relay(client, upstream, options(CancellationToken::new())));
    for i in 0..100u8 {
        client_in
            .unbounded_send(Ok(Message::Binary(Bytes::from(vec![i]))))
            .unwrap();
    }
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    let read = counted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        read <= 3,
        "relay read {read} messages ahead of a stalled upstream"
    );
    // once the upstream drains, everything arrives in order
    for i in 0..100u8 {
        assert_eq!(
            upstream_out.next().await,
            Some(Message::Binary(Bytes::from(vec![i])))
        );
    }
    drop(client_in);
    drop(upstream_out);
    task.await.unwrap();
}

mod farewell;
mod refusal;
mod timing;
