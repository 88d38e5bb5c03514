//! Frame-level relaying: fragments, frames cut across reads, control frames answered per hop,
//! broken client frames refused with their close codes, binary metered by length.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::relay::frame::{self, OP_BINARY, OP_CONTINUE, OP_PING, OP_PONG, OP_TEXT};
use crate::relay::socket::tests::client_frame;

/// A relay whose client side the test writes raw bytes to.
fn raw_client(
    opts: RelayOptions,
) -> (
    tokio::io::DuplexStream,
    Peer,
    tokio::task::JoinHandle<Outcome>,
) {
    let limits = Limits {
        max_message: opts.max_message_bytes,
        read_chunk: 4096,
    };
    let (ours, raw) = tokio::io::duplex(1 << 16);
    let client_side = WsSocket::new(ours, Role::Server, Vec::new(), limits);
    let (upstream_side, upstream) = side(Role::Client, opts.max_message_bytes, 1 << 16);
    (
        raw,
        upstream,
        tokio::spawn(relay(Box::new(client_side), Box::new(upstream_side), opts)),
    )
}

fn roomy() -> RelayOptions {
    options(CancellationToken::new())
}

#[tokio::test]
async fn fragments_and_frames_cut_across_reads_arrive_whole() {
    let opts = roomy();
    let meter = opts.meter.clone();
    let (mut raw, mut upstream, task) = raw_client(opts);
    let mut bytes = client_frame(false, OP_BINARY, &[1; 300]);
    bytes.extend(client_frame(true, OP_PING, b"x"));
    bytes.extend(client_frame(true, OP_CONTINUE, &[2; 70_000]));
    bytes.extend(client_frame(false, OP_TEXT, "{\"type\":".as_bytes()));
    bytes.extend(client_frame(true, OP_CONTINUE, "\"KeepAlive\"}".as_bytes()));
    // odd-sized writes cut headers, masking keys and payloads at every offset
    for chunk in bytes.chunks(7) {
        raw.write_all(chunk).await.unwrap();
    }
    let mut want = vec![1u8; 300];
    want.extend([2u8; 70_000]);
    assert_eq!(next(&mut upstream).await, Message::Binary(want.into()));
    assert_eq!(
        next(&mut upstream).await,
        Message::text("{\"type\":\"KeepAlive\"}")
    );
    // the ping was answered to the client, unmasked, and not crossed
    let mut head = [0u8; 3];
    raw.read_exact(&mut head).await.unwrap();
    assert_eq!(head, [0x80 | OP_PONG, 1, b'x']);
    raw.write_all(&client_frame(true, frame::OP_CLOSE, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    assert_eq!(
        next(&mut upstream).await,
        Message::Close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: 1000.into(),
            reason: "".into(),
        }))
    );
    drop(upstream.send);
    assert_eq!(task.await.unwrap().label, "client_closed");
    let usage = meter.finish();
    // one binary message of two frames, one text message
    assert_eq!(usage.messages_in, 2);
    assert_eq!(usage.bytes_in, 70_300 + 20);
}

#[tokio::test]
async fn upstream_pings_are_answered_to_the_upstream() {
    let opts = roomy();
    let limits = Limits {
        max_message: 1 << 20,
        read_chunk: 4096,
    };
    let (ours, mut raw) = tokio::io::duplex(1 << 16);
    let upstream_side = WsSocket::new(ours, Role::Client, Vec::new(), limits);
    let (client_side, mut client) = side(Role::Server, 1 << 20, 1 << 16);
    let task = tokio::spawn(relay(Box::new(client_side), Box::new(upstream_side), opts));
    raw.write_all(&frame::build(true, OP_PING, b"hi", None))
        .await
        .unwrap();
    raw.write_all(&frame::build(true, OP_TEXT, b"{}", None))
        .await
        .unwrap();
    assert_eq!(next(&mut client).await, Message::text("{}"));
    let mut pong = [0u8; 8];
    raw.read_exact(&mut pong).await.unwrap();
    let (h, n) = frame::parse(&pong).unwrap().unwrap();
    assert_eq!((h.opcode, h.len, n), (OP_PONG, 2, 6));
    let mut payload = pong[n..].to_vec();
    frame::apply_mask(
        &mut payload,
        h.mask.expect("masked towards the upstream"),
        0,
    );
    assert_eq!(payload, b"hi");
    drop(client.send);
    drop(raw);
    task.await.unwrap();
}

#[tokio::test]
async fn broken_client_frames_get_their_close_codes() {
    let mut bad_utf8 = client_frame(false, OP_TEXT, b"ok");
    bad_utf8.extend(client_frame(true, OP_CONTINUE, &[0xC3, 0x28]));
    let cases = [
        (bad_utf8, 1007, "invalid UTF-8 in text frame"),
        (
            frame::build(true, OP_BINARY, b"x", None),
            1002,
            "protocol error",
        ),
        (
            client_frame(true, OP_CONTINUE, b"x"),
            1002,
            "protocol error",
        ),
        (client_frame(true, 3, b"x"), 1002, "protocol error"),
        (
            client_frame(true, OP_BINARY, &[0; 2_000_000]),
            1009,
            "message exceeds the 1048576-byte limit",
        ),
    ];
    for (bytes, code, reason) in cases {
        let (mut raw, mut upstream, task) = raw_client(roomy());
        // enough for the refusal: a relay that refuses a frame reads no more of it
        raw.write_all(&bytes[..bytes.len().min(1000)])
            .await
            .unwrap();
        let mut got = Vec::new();
        raw.read_to_end(&mut got).await.unwrap();
        let (h, n) = frame::parse(&got).unwrap().unwrap();
        assert_eq!(h.opcode, frame::OP_CLOSE);
        let close = frame::read_close(&got[n..n + h.len as usize])
            .unwrap()
            .unwrap();
        assert_eq!(
            (u16::from(close.code), close.reason.as_str()),
            (code, reason)
        );
        assert_eq!(
            next(&mut upstream).await,
            super::close(1001, "client disconnected")
        );
        drop(upstream.send);
        assert_eq!(task.await.unwrap().label, "client_error");
    }
}
