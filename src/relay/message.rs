//! The client's socket as the relay drives it, and close frames.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// The client's WebSocket on its upgraded connection.
pub(crate) type ClientStream = WebSocketStream<TokioIo<Upgraded>>;

/// The client's upgraded socket, whole (not split), for the relay.
/// Boxed, so the session's futures carry a pointer rather than the whole socket.
pub(crate) struct ClientSocket(Box<ClientStream>);

impl ClientSocket {
    /// Wraps the client's WebSocket.
    pub(crate) fn new(socket: ClientStream) -> Self {
        Self(Box::new(socket))
    }
}

impl Stream for ClientSocket {
    type Item = Result<Message, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0).poll_next(cx)
    }
}

impl Sink<Message> for ClientSocket {
    type Error = WsError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.0).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        Pin::new(&mut *self.0).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut *self.0).poll_close(cx)
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
}
