//! Conversions between axum's and tungstenite's WebSocket message types, and error mapping.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws as ax;
use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// axum → tungstenite. Binary and control payloads move without copying; text is re-wrapped.
pub(crate) fn from_axum(msg: ax::Message) -> Message {
    match msg {
        ax::Message::Text(t) => Message::Text(Utf8Bytes::from(t.as_str())),
        ax::Message::Binary(b) => Message::Binary(b),
        ax::Message::Ping(b) => Message::Ping(b),
        ax::Message::Pong(b) => Message::Pong(b),
        ax::Message::Close(f) => Message::Close(f.map(|f| CloseFrame {
            code: CloseCode::from(f.code),
            reason: Utf8Bytes::from(f.reason.as_str()),
        })),
    }
}

/// tungstenite → axum. Raw `Frame`s never come out of a read, so they map to an empty pong.
pub(crate) fn to_axum(msg: Message) -> ax::Message {
    match msg {
        Message::Text(t) => ax::Message::Text(ax::Utf8Bytes::from(t.as_str())),
        Message::Binary(b) => ax::Message::Binary(b),
        Message::Ping(b) => ax::Message::Ping(b),
        Message::Pong(b) => ax::Message::Pong(b),
        Message::Close(f) => ax::Message::Close(f.map(|f| ax::CloseFrame {
            code: f.code.into(),
            reason: ax::Utf8Bytes::from(f.reason.as_str()),
        })),
        Message::Frame(_) => ax::Message::Pong(Bytes::new()),
    }
}

/// Recovers the tungstenite error inside an axum error, so both sides classify alike.
pub(crate) fn from_axum_error(e: axum::Error) -> WsError {
    match e.into_inner().downcast::<WsError>() {
        Ok(ws) => *ws,
        Err(other) => WsError::Io(std::io::Error::other(other)),
    }
}

/// The client's upgraded socket seen with tungstenite's types, whole (not split), for the relay.
/// Boxed, so the session's futures carry a pointer rather than the whole socket.
pub(crate) struct ClientSocket(Box<ax::WebSocket>);

impl ClientSocket {
    /// Wraps an upgraded axum socket.
    pub(crate) fn new(socket: ax::WebSocket) -> Self {
        Self(Box::new(socket))
    }
}

impl Stream for ClientSocket {
    type Item = Result<Message, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0)
            .poll_next(cx)
            .map(|next| next.map(|r| r.map(from_axum).map_err(from_axum_error)))
    }
}

impl Sink<Message> for ClientSocket {
    type Error = WsError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.0)
            .poll_ready(cx)
            .map_err(from_axum_error)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        Pin::new(&mut *self.0)
            .start_send(to_axum(item))
            .map_err(from_axum_error)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.0)
            .poll_flush(cx)
            .map_err(from_axum_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.0)
            .poll_close(cx)
            .map_err(from_axum_error)
    }
}

/// Longest close reason a frame can carry (125-byte control payload less the code).
const MAX_REASON: usize = 123;

/// A close frame with a code and a reason (cut at a character boundary to fit).
pub(crate) fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(&reason[..end]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_close_reasons_are_cut_to_fit_a_frame() {
        let Message::Close(Some(f)) = close(1008, &"é".repeat(100)) else {
            panic!()
        };
        assert!(f.reason.len() <= 123 && f.reason.len() >= 122);
    }

    #[test]
    fn round_trips_preserve_payloads() {
        let cases = [
            Message::Text("{\"type\":\"KeepAlive\"}".into()),
            Message::Binary(Bytes::from_static(&[0, 1, 2])),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Pong(Bytes::new()),
            close(1011, "NET-0001"),
            Message::Close(None),
        ];
        for m in cases {
            assert_eq!(from_axum(to_axum(m.clone())), m);
        }
    }

    #[test]
    fn binary_is_not_copied() {
        let b = Bytes::from(vec![7u8; 3200]);
        let ptr = b.as_ptr();
        let Message::Binary(out) = from_axum(ax::Message::Binary(b)) else {
            panic!("binary stays binary");
        };
        assert_eq!(out.as_ptr(), ptr);
    }
}
