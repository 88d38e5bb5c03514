use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role as PeerRole;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use super::message::close;
use super::socket::{Io, Limits, Role};
use super::*;
use crate::metrics::Metrics;

/// One peer of the relay, a tungstenite endpoint on an in-memory connection, driven by the test.
struct Peer {
    /// What the peer sends (`Ok`); an `Err`, or dropping this, makes it vanish without a close.
    send: mpsc::UnboundedSender<Result<Message, WsError>>,
    /// What the peer received (pongs left out).
    recv: mpsc::UnboundedReceiver<Message>,
}

/// A peer on `theirs`, the other end of the relay's socket.
fn drive(theirs: impl Io + 'static, role: PeerRole) -> Peer {
    let (send, mut cmds) = mpsc::unbounded::<Result<Message, WsError>>();
    let (out, recv) = mpsc::unbounded();
    tokio::spawn(async move {
        let mut ws = WebSocketStream::from_raw_socket(theirs, role, None).await;
        loop {
            tokio::select! {
                cmd = cmds.next() => match cmd {
                    Some(Ok(m)) => {
                        if ws.send(m).await.is_err() {
                            break;
                        }
                    }
                    _ => break,
                },
                msg = ws.next() => match msg {
                    Some(Ok(Message::Pong(_))) => {}
                    Some(Ok(m)) => {
                        let _ = out.unbounded_send(m);
                    }
                    _ => break,
                },
            }
        }
    });
    Peer { send, recv }
}

/// The relay's socket for one side and the peer on its other end; `capacity` bytes fit in
/// the connection each way.
fn side(role: Role, max_message: usize, capacity: usize) -> (WsSocket, Peer) {
    let (ours, theirs) = tokio::io::duplex(capacity);
    let peer_role = match role {
        Role::Server => PeerRole::Client,
        Role::Client => PeerRole::Server,
    };
    let limits = Limits {
        max_message,
        read_chunk: 4096,
    };
    (
        WsSocket::new(ours, role, Vec::new(), limits),
        drive(theirs, peer_role),
    )
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
        revoked: None,
        max_session: None,
        idle_timeout: Duration::from_secs(3600),
        keepalive: None,
        max_message_bytes: 1 << 20,
        farewell: None,
        drain: DrainOptions::default(),
    }
}

fn start(shutdown: CancellationToken) -> (Peer, Peer, tokio::task::JoinHandle<Outcome>) {
    start_with(options(shutdown))
}

fn start_with(opts: RelayOptions) -> (Peer, Peer, tokio::task::JoinHandle<Outcome>) {
    let (client_side, client) = side(Role::Server, opts.max_message_bytes, 1 << 16);
    let (upstream_side, upstream) = side(Role::Client, opts.max_message_bytes, 1 << 16);
    let task = tokio::spawn(relay(Box::new(client_side), Box::new(upstream_side), opts));
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
    let mut opts = options(CancellationToken::new());
    opts.max_message_bytes = 5;
    let (mut client, mut upstream, task) = start_with(opts);
    client
        .send
        .unbounded_send(Ok(Message::Binary(Bytes::from_static(b"0123456789"))))
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
async fn without_a_finalize_shutdown_closes_the_client_1012_and_the_upstream_1000_at_once() {
    let shutdown = CancellationToken::new();
    let (mut client, mut upstream, task) = start(shutdown.clone());
    shutdown.cancel();
    assert_eq!(next(&mut client).await, close(1012, "voxrelay restarting"));
    // nothing but the close reaches the upstream
    assert_eq!(
        next(&mut upstream).await,
        close(1000, "voxrelay restarting")
    );
    drop((client.send, upstream.send));
    let outcome = task.await.unwrap();
    assert_eq!((outcome.ended_by, outcome.label), (Side::Relay, "drained"));
    assert_eq!(
        (outcome.client_code, outcome.upstream_code),
        (Some(1012), Some(1000))
    );
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
    let opts = options(CancellationToken::new());
    let limits = Limits {
        max_message: 1 << 20,
        read_chunk: 4096,
    };
    let (ours, client_end) = tokio::io::duplex(4096);
    let client_side = WsSocket::new(ours, Role::Server, Vec::new(), limits);
    // an upstream that reads nothing until the test says so
    let (ours, upstream_end) = tokio::io::duplex(4096);
    let upstream_side = WsSocket::new(ours, Role::Client, Vec::new(), limits);
    let task = tokio::spawn(relay(Box::new(client_side), Box::new(upstream_side), opts));
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let frames: Vec<Message> = (0..100u8)
        .map(|i| Message::Binary(Bytes::from(vec![i; 1024])))
        .collect();
    let to_send = frames.clone();
    let sender = tokio::spawn(async move {
        let mut ws = WebSocketStream::from_raw_socket(client_end, PeerRole::Client, None).await;
        for m in to_send {
            ws.send(m).await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        ws
    });
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
    // the client's frames wait in the connections' buffers and one pooled buffer, no more
    let taken = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        taken < 30,
        "{taken} frames of 1 KiB taken by a stalled relay"
    );
    let mut upstream = drive(upstream_end, PeerRole::Server);
    for m in &frames {
        assert_eq!(&next(&mut upstream).await, m);
    }
    drop(sender.await.unwrap());
    drop(upstream.send);
    task.await.unwrap();
}

mod drain;
mod farewell;
mod frames;
mod refusal;
mod revoked;
mod timing;
