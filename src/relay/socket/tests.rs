//! Message-level reads and writes against raw frames and a tungstenite peer.

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role as PeerRole;

use super::*;

const LIMITS: Limits = Limits {
    max_message: 1000,
    read_chunk: 64,
};

/// A frame as a client would send it (masked), fragment or whole.
pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame::build(fin, opcode, payload, Some([7, 1, 9, 3]))
}

fn server() -> (WsSocket, tokio::io::DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    (
        WsSocket::new(ours, Role::Server, Vec::new(), LIMITS),
        theirs,
    )
}

#[tokio::test]
async fn fragments_are_assembled_and_pings_answered_between_them() {
    let (mut ws, mut raw) = server();
    let mut bytes = client_frame(false, OP_TEXT, "héllo ".as_bytes());
    bytes.extend(client_frame(true, OP_PING, b"p"));
    bytes.extend(client_frame(true, OP_CONTINUE, b"world"));
    // written a byte at a time: every header and payload arrives in pieces
    let writer = tokio::spawn(async move {
        for b in bytes {
            raw.write_all(&[b]).await.unwrap();
        }
        raw
    });
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Ping(b"p".to_vec().into())
    );
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("héllo world")
    );
    let raw = writer.await.unwrap();
    // the pong went back, unmasked
    let mut peer = WebSocketStream::from_raw_socket(raw, PeerRole::Client, None).await;
    ws.send(Message::text("after")).await.unwrap();
    assert_eq!(
        peer.next().await.unwrap().unwrap(),
        Message::Pong(b"p".to_vec().into())
    );
    assert_eq!(peer.next().await.unwrap().unwrap(), Message::text("after"));
}

#[tokio::test]
async fn broken_input_is_refused_with_its_kind() {
    let unmasked = frame::whole(OP_BINARY, b"x", false);
    let continuation = client_frame(true, OP_CONTINUE, b"x");
    let mut interleaved = client_frame(false, OP_TEXT, b"a");
    interleaved.extend(client_frame(true, OP_TEXT, b"b"));
    let too_big = client_frame(true, OP_BINARY, &[0; 1001]);
    let bad_utf8 = client_frame(false, OP_TEXT, &[b'a', 0xFF]);
    let cases: [(Vec<u8>, &str); 5] = [
        (unmasked, "protocol"),
        (continuation, "protocol"),
        (interleaved, "protocol"),
        (too_big, "capacity"),
        (bad_utf8, "utf8"),
    ];
    for (bytes, want) in cases {
        let (mut ws, mut raw) = server();
        raw.write_all(&bytes).await.unwrap();
        let got = ws.next().await.unwrap().unwrap_err();
        let kind = match got {
            WsError::Protocol(_) => "protocol",
            WsError::Capacity(_) => "capacity",
            WsError::Utf8(_) => "utf8",
            other => panic!("{other:?}"),
        };
        assert_eq!(kind, want);
    }
}

#[tokio::test]
async fn handshake_leftovers_are_read_first_and_close_is_answered() {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    // the upstream's first message arrived with its 101
    let leftover = frame::whole(OP_TEXT, b"{\"type\":\"session.created\"}", false);
    let mut ws = WsSocket::new(ours, Role::Client, leftover, LIMITS);
    let mut peer = WebSocketStream::from_raw_socket(theirs, PeerRole::Server, None).await;
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("{\"type\":\"session.created\"}")
    );
    // frames this side writes are masked: tungstenite's server side insists
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(
        peer.next().await.unwrap().unwrap(),
        Message::Binary(vec![1, 2, 3].into())
    );
    peer.close(None).await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(None)))));
    ws.close(None).await;
    // the answer completed the peer's close handshake
    assert!(matches!(
        peer.next().await,
        Some(Ok(Message::Close(None))) | None
    ));
}

#[tokio::test]
async fn a_close_with_a_code_that_may_not_be_sent_is_answered_1002() {
    let (mut ws, mut raw) = server();
    raw.write_all(&client_frame(true, OP_CLOSE, &1005u16.to_be_bytes()))
        .await
        .unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(Some(_))))));
    let mut peer = WebSocketStream::from_raw_socket(raw, PeerRole::Client, None).await;
    let closing = tokio::spawn(async move { ws.close(None).await });
    let Some(Ok(Message::Close(Some(f)))) = peer.next().await else {
        panic!("a close answer");
    };
    assert_eq!(u16::from(f.code), 1002);
    drop(peer);
    closing.await.unwrap();
}
