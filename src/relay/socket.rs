//! One side of a relayed session: voxrelay's own WebSocket endpoint on an upgraded connection.
//!
//! The relay ([`super::pump`]) moves frames straight from one socket's reads to the other's
//! writes; the few message-level exchanges around it (a first message, a farewell, the close
//! handshake, refusals) use [`WsSocket::send`] and [`WsSocket::next`]. Both share the read
//! state ([`Rx`]), so either can take over where the other stopped.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::frame::{self, Header, OP_BINARY, OP_CLOSE, OP_CONTINUE, OP_PING, OP_PONG, OP_TEXT};

/// A connection a WebSocket runs on.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Which end of the connection voxrelay is: it reads masked frames and writes plain ones as the
/// server (the client leg), and the reverse as the client (the upstream leg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Accepted from a client.
    Server,
    /// Opened to an upstream.
    Client,
}

/// Size limits of one socket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest message (all of its frames).
    pub(crate) max_message: usize,
    /// Bytes read at a time (the pooled buffer's size).
    pub(crate) read_chunk: usize,
}

impl Limits {
    /// The limits a WebSocket configuration names: its message size and read buffer.
    pub(crate) fn of(config: &tokio_tungstenite::tungstenite::protocol::WebSocketConfig) -> Self {
        Self {
            max_message: config.max_message_size.unwrap_or(usize::MAX),
            read_chunk: config.read_buffer_size.max(frame::MAX_HEADER),
        }
    }
}

/// How the payload of the frame being read is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Relayed as it arrives (binary data).
    Forward,
    /// Collected into [`Rx::data`] (text, and every data frame of a message-level read).
    Collect,
    /// Collected into [`Rx::control`].
    Control,
    /// Dropped (the rest of a relayed frame, after the relay stopped).
    Skip,
}

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFrame {
    /// Its header.
    pub(crate) header: Header,
    /// Payload bytes still to come.
    pub(crate) remaining: u64,
    /// Payload bytes already seen.
    pub(crate) offset: usize,
    /// What is done with them.
    pub(crate) mode: Mode,
    /// The key the relayed payload is XORed with (unmask, re-mask or both), if any.
    pub(crate) key: Option<[u8; 4]>,
}

/// Read state: the frame in progress, the message in progress, what is being collected.
#[derive(Debug, Default)]
pub(crate) struct Rx {
    /// The frame whose payload is being read.
    pub(crate) frame: Option<InFrame>,
    /// The message in progress: its opcode and its size so far.
    pub(crate) message: Option<(u8, u64)>,
    /// A data message being collected.
    pub(crate) data: Vec<u8>,
    /// How much of `data` is known to be valid UTF-8 (text is checked as it arrives).
    pub(crate) valid: usize,
    /// A control frame's payload being collected.
    pub(crate) control: Vec<u8>,
}

impl Rx {
    /// Checks a new frame's header against the message in progress and the socket's role and
    /// limits; returns the message state once the frame is taken.
    pub(crate) fn admit(
        &self,
        h: &Header,
        role: Role,
        max: usize,
    ) -> Result<Option<(u8, u64)>, WsError> {
        match (role, h.mask.is_some()) {
            (Role::Server, false) => {
                return Err(WsError::Protocol(ProtocolError::UnmaskedFrameFromClient));
            }
            (Role::Client, true) => {
                return Err(WsError::Protocol(ProtocolError::MaskedFrameFromServer));
            }
            _ => {}
        }
        if h.is_control() {
            return Ok(self.message);
        }
        let (opcode, so_far) = match (h.opcode, self.message) {
            (OP_CONTINUE, Some(m)) => m,
            (OP_CONTINUE, None) => {
                return Err(WsError::Protocol(ProtocolError::UnexpectedContinueFrame));
            }
            (_, Some(_)) => {
                return Err(WsError::Protocol(ProtocolError::ExpectedFragment(
                    tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Continue,
                )));
            }
            (op, None) => (op, 0),
        };
        let size = so_far.saturating_add(h.len);
        if size > max as u64 {
            return Err(WsError::Capacity(CapacityError::MessageTooLong {
                size: usize::try_from(size).unwrap_or(usize::MAX),
                max_size: max,
            }));
        }
        Ok((!h.fin).then_some((opcode, size)))
    }

    /// Whether the payload of a relayed frame is still arriving (nothing else may be written
    /// to the destination until it ends).
    pub(crate) fn forwarding(&self) -> bool {
        matches!(
            self.frame,
            Some(InFrame {
                mode: Mode::Forward,
                ..
            })
        )
    }

    /// Whether the source is between messages (a message may be written to the destination).
    pub(crate) fn between_messages(&self) -> bool {
        self.message.is_none() && !self.forwarding()
    }
}

impl Rx {
    /// Checks the text collected since the last check: valid UTF-8, or ending inside a
    /// character that may still complete (unless the message is `complete`). Each byte is
    /// checked about once however many frames the message comes in.
    pub(crate) fn check_utf8(&mut self, complete: bool) -> Result<(), WsError> {
        let from = self.valid;
        match std::str::from_utf8(&self.data[from..]) {
            Ok(_) => self.valid = self.data.len(),
            Err(e) if e.error_len().is_none() && !complete => self.valid = from + e.valid_up_to(),
            Err(_) => return Err(WsError::Utf8(String::new())),
        }
        Ok(())
    }

    /// Takes the collected message, leaving the collector empty.
    pub(crate) fn take_data(&mut self) -> Vec<u8> {
        self.valid = 0;
        std::mem::take(&mut self.data)
    }
}

/// One WebSocket on an upgraded connection: voxrelay's own endpoint, a client towards an
/// upstream or a server towards a client.
pub struct WsSocket {
    pub(crate) io: Box<dyn Io>,
    pub(crate) role: Role,
    pub(crate) limits: Limits,
    /// Bytes read but not yet parsed: handshake leftovers, a partial header, the rest of a
    /// message-level read.
    pub(crate) carry: Vec<u8>,
    pub(crate) rx: Rx,
    /// Control frames for this socket, written at its next frame boundary (pongs).
    pub(crate) control: VecDeque<Vec<u8>>,
    /// One message for this socket, written at its next message boundary (a refusal, a
    /// keep-alive).
    pub(crate) inject: Option<Vec<u8>>,
    /// The answer owed to a close this socket's peer sent.
    pub(crate) close_reply: Option<Option<CloseFrame>>,
    /// A close frame was received.
    closed: bool,
    /// A close frame was sent.
    close_sent: bool,
}

/// Pongs waiting beyond this replace the newest (a peer is owed only the latest).
const MAX_CONTROL_QUEUE: usize = 16;

impl std::fmt::Debug for WsSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSocket")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl WsSocket {
    /// A WebSocket on `io`, whose handshake is done; `leftover` is what was read past it.
    pub(crate) fn new(
        io: impl Io + 'static,
        role: Role,
        leftover: Vec<u8>,
        limits: Limits,
    ) -> Self {
        Self::boxed(Box::new(io), role, leftover, limits)
    }

    /// [`WsSocket::new`] on a connection already boxed (each kind of stream boxed at its own
    /// size: a plain TCP stream does not carry the room a TLS one needs).
    pub(crate) fn boxed(io: Box<dyn Io>, role: Role, leftover: Vec<u8>, limits: Limits) -> Self {
        Self {
            io,
            role,
            limits,
            carry: leftover,
            rx: Rx::default(),
            control: VecDeque::new(),
            inject: None,
            close_reply: None,
            closed: false,
            close_sent: false,
        }
    }

    /// Whether frames this socket writes are masked.
    pub(crate) fn masks(&self) -> bool {
        self.role == Role::Client
    }

    /// A whole frame for this socket.
    pub(crate) fn frame(&self, opcode: u8, payload: &[u8]) -> Vec<u8> {
        frame::whole(opcode, payload, self.masks())
    }

    /// `msg` as a frame for this socket.
    pub(crate) fn encode(&self, msg: &Message) -> Vec<u8> {
        match msg {
            Message::Text(t) => self.frame(OP_TEXT, t.as_bytes()),
            Message::Binary(b) => self.frame(OP_BINARY, b),
            Message::Ping(b) => self.frame(OP_PING, b),
            Message::Pong(b) => self.frame(OP_PONG, b),
            Message::Close(f) => self.frame(OP_CLOSE, &frame::close_payload(f.as_ref())),
            Message::Frame(_) => Vec::new(),
        }
    }

    /// Queues a pong for a ping this socket's peer sent.
    pub(crate) fn owe_pong(&mut self, payload: &[u8]) {
        let pong = self.frame(OP_PONG, payload);
        if self.control.len() >= MAX_CONTROL_QUEUE {
            self.control.pop_back();
        }
        self.control.push_back(pong);
    }

    /// Records the peer's close: it is answered when this side closes.
    pub(crate) fn peer_closed(&mut self, frame: Option<CloseFrame>) {
        self.closed = true;
        self.close_reply = Some(frame::close_reply(frame));
    }

    /// Writes `bytes` (after any control frames owed) and flushes.
    async fn write_now(&mut self, bytes: &[u8]) -> Result<(), WsError> {
        while let Some(c) = self.control.pop_front() {
            self.io.write_all(&c).await?;
        }
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Sends one message and flushes.
    pub async fn send(&mut self, msg: Message) -> Result<(), WsError> {
        if self.close_sent {
            return Err(WsError::Protocol(ProtocolError::SendAfterClosing));
        }
        self.close_sent = matches!(msg, Message::Close(_));
        let bytes = self.encode(&msg);
        self.write_now(&bytes).await
    }

    /// Writes bytes the relay left unwritten for this socket (complete frames only).
    pub(crate) async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), WsError> {
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// The next message; pings and a close are answered as they come. `None` once a close
    /// has been received.
    pub async fn next(&mut self) -> Option<Result<Message, WsError>> {
        if self.closed {
            return None;
        }
        loop {
            match self.take_message() {
                Ok(Some(Message::Ping(p))) => {
                    self.owe_pong(&p);
                    if let Err(e) = self.write_now(&[]).await {
                        return Some(Err(e));
                    }
                    return Some(Ok(Message::Ping(p)));
                }
                Ok(Some(Message::Close(f))) => {
                    self.peer_closed(f.clone());
                    if let Some(reply) = self.close_reply.take()
                        && !self.close_sent
                        && let Err(e) = self.send(Message::Close(reply)).await
                    {
                        return Some(Err(e));
                    }
                    return Some(Ok(Message::Close(f)));
                }
                Ok(Some(msg)) => return Some(Ok(msg)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
            let at = self.carry.len();
            self.carry.resize(at + self.limits.read_chunk, 0);
            let read = self.io.read(&mut self.carry[at..]).await;
            self.carry.truncate(at + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => {
                    return Some(Err(WsError::Protocol(
                        ProtocolError::ResetWithoutClosingHandshake,
                    )));
                }
                Ok(_) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }

    /// Takes one whole message from what has been read, if it is all there.
    fn take_message(&mut self) -> Result<Option<Message>, WsError> {
        loop {
            // the rest of a frame the relay was forwarding when it stopped
            if let Some(f) = &mut self.rx.frame {
                let n = usize::try_from(f.remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.carry.len());
                self.carry.drain(..n);
                f.remaining -= n as u64;
                if f.remaining > 0 {
                    return Ok(None);
                }
                let fin = f.header.fin;
                self.rx.frame = None;
                if fin {
                    self.rx.message = None;
                }
            }
            let Some((h, hl)) = frame::parse(&self.carry)? else {
                return Ok(None);
            };
            let message = self.rx.admit(&h, self.role, self.limits.max_message)?;
            let total = hl + usize::try_from(h.len).unwrap_or(usize::MAX);
            if self.carry.len() < total {
                return Ok(None);
            }
            let mut payload: Vec<u8> = self.carry.drain(..total).skip(hl).collect();
            if let Some(key) = h.mask {
                frame::apply_mask(&mut payload, key, 0);
            }
            if h.is_control() {
                return match h.opcode {
                    OP_PING => Ok(Some(Message::Ping(payload.into()))),
                    OP_PONG => Ok(Some(Message::Pong(payload.into()))),
                    _ => Ok(Some(Message::Close(frame::read_close(&payload)?))),
                };
            }
            let opcode = self.rx.message.map_or(h.opcode, |(op, _)| op);
            self.rx.message = message;
            self.rx.data.extend_from_slice(&payload);
            if opcode == OP_TEXT {
                self.rx.check_utf8(h.fin)?;
            }
            if h.fin {
                let data = self.rx.take_data();
                return Ok(Some(if opcode == OP_TEXT {
                    let text = String::from_utf8(data).map_err(|_| WsError::Utf8(String::new()))?;
                    Message::Text(text.into())
                } else {
                    Message::Binary(Bytes::from(data))
                }));
            }
        }
    }

    /// Ends the connection without a close frame.
    pub(crate) async fn disconnect(&mut self) {
        let _ = self.io.shutdown().await;
    }

    /// Closes this side: answers the peer's close if it sent one, else sends `frame` (if
    /// any), then reads until the peer's close or the connection's end.
    pub async fn close(&mut self, frame: Option<Message>) {
        let frame = match self.close_reply.take() {
            Some(reply) => Some(Message::Close(reply)),
            None => frame,
        };
        if let Some(frame) = frame
            && !self.close_sent
            && self.send(frame).await.is_err()
        {
            return;
        }
        while let Some(Ok(_)) = self.next().await {}
        let _ = self.io.shutdown().await;
    }
}

#[cfg(test)]
pub(crate) mod tests;
