//! Drives one simulated WebSocket session: feeds client frames to a protocol state machine and writes its replies.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use bytes::Bytes;
use serde_json::Value;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Largest binary frame the simulator sends.
pub(super) const MAX_AUDIO_CHUNK: usize = 4800;
/// How long to wait for the peer's close reply (and the end of the stream) after sending Close.
const CLOSE_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// Close reason sent to every live session when the simulator stops.
const SHUTDOWN_REASON: &str = "simulator shutting down";

/// One thing to write to the client.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outgoing {
    /// A JSON text frame.
    Json(Value),
    /// `len` bytes of audio, all `fill`, split into frames of at most [`MAX_AUDIO_CHUNK`].
    Silence {
        /// Total bytes of audio.
        len: usize,
        /// Byte value that encodes silence in the requested encoding.
        fill: u8,
    },
}

/// How the server ends a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closing {
    /// A close frame with a status code and reason.
    Status(u16, &'static str),
    /// A close frame without any status code (Flux after `CloseStream`).
    NoStatus,
}

/// What a protocol wants done in reaction to one event.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Step {
    /// Frames to send, in order.
    pub(super) out: Vec<Outgoing>,
    /// Close after sending `out`, if set.
    pub(super) close: Option<Closing>,
}

impl Step {
    /// A step that sends one JSON message.
    pub(super) fn json(value: Value) -> Self {
        Self {
            out: vec![Outgoing::Json(value)],
            close: None,
        }
    }

    /// A step that only closes.
    pub(super) fn close(closing: Closing) -> Self {
        Self {
            out: Vec::new(),
            close: Some(closing),
        }
    }

    /// Adds a JSON message to send.
    pub(super) fn push(&mut self, value: Value) {
        self.out.push(Outgoing::Json(value));
    }

    /// Closes after the queued frames.
    pub(super) fn then_close(mut self, closing: Closing) -> Self {
        self.close = Some(closing);
        self
    }
}

/// A simulated server protocol: pure state machine, no I/O.
pub(super) trait Protocol {
    /// Frames to send right after the upgrade.
    fn on_open(&mut self) -> Step {
        Step::default()
    }
    /// A client text frame.
    fn on_text(&mut self, text: &str) -> Step;
    /// A client binary frame.
    fn on_binary(&mut self, data: &[u8]) -> Step;
    /// How long the session may stay without client frames, if limited.
    fn idle_timeout(&self) -> Option<Duration> {
        None
    }
    /// The idle timeout expired.
    fn on_idle(&mut self) -> Step {
        Step::default()
    }
    /// How long the session may last in all, if limited.
    fn max_duration(&self) -> Option<Duration> {
        None
    }
    /// The maximum duration passed.
    fn on_expired(&mut self) -> Step {
        Step::default()
    }
}

/// Something that happened on the session.
enum Event {
    /// A frame from the client.
    Frame(Message),
    /// The idle deadline passed.
    Idle,
    /// The session reached its maximum duration.
    Expired,
    /// The simulator is shutting down.
    Shutdown,
    /// The client went away or the stream failed.
    Ended,
}

/// Whether the session goes on after a step.
enum Flow {
    /// Keep reading.
    Continue,
    /// We sent a close frame; wait for the handshake to finish.
    Closed,
    /// Writing failed; the socket is gone.
    Broken,
}

/// Runs `protocol` on `socket` until either side closes or `cancel` fires.
pub(super) async fn drive(
    mut socket: WebSocket,
    mut protocol: impl Protocol,
    cancel: CancellationToken,
) {
    let idle = protocol.idle_timeout();
    let mut deadline = idle.map(|limit| Instant::now() + limit);
    let mut expiry = protocol.max_duration().map(|limit| Instant::now() + limit);
    let mut step = protocol.on_open();
    loop {
        match apply(&mut socket, step).await {
            Flow::Continue => {}
            Flow::Closed => return drain(socket).await,
            Flow::Broken => return,
        }
        step = match next_event(&mut socket, &cancel, deadline, expiry).await {
            Event::Shutdown => Step::close(Closing::Status(close_code::AWAY, SHUTDOWN_REASON)),
            Event::Expired => {
                expiry = None;
                protocol.on_expired()
            }
            Event::Idle => {
                deadline = None;
                protocol.on_idle()
            }
            Event::Frame(Message::Text(text)) => {
                deadline = idle.map(|limit| Instant::now() + limit);
                protocol.on_text(text.as_str())
            }
            Event::Frame(Message::Binary(data)) => {
                deadline = idle.map(|limit| Instant::now() + limit);
                protocol.on_binary(&data)
            }
            // Pings are answered and a client Close is echoed by the socket itself.
            Event::Frame(_) => Step::default(),
            Event::Ended => return,
        };
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until_set(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Waits for the next client frame, the idle deadline, the expiry or shutdown, whichever comes first.
async fn next_event(
    socket: &mut WebSocket,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
    expiry: Option<Instant>,
) -> Event {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Event::Shutdown,
        frame = socket.recv() => match frame {
            Some(Ok(message)) => Event::Frame(message),
            Some(Err(err)) => {
                debug!(%err, "client stream failed");
                Event::Ended
            }
            None => Event::Ended,
        },
        () = sleep_until_set(deadline) => Event::Idle,
        () = sleep_until_set(expiry) => Event::Expired,
    }
}

/// Sends the frames of `step`, then its close frame if any.
async fn apply(socket: &mut WebSocket, step: Step) -> Flow {
    for outgoing in step.out {
        if let Err(err) = send(socket, outgoing).await {
            debug!(%err, "sending to client failed");
            return Flow::Broken;
        }
    }
    let Some(closing) = step.close else {
        return Flow::Continue;
    };
    let frame = match closing {
        Closing::Status(code, reason) => Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }),
        Closing::NoStatus => None,
    };
    match socket.send(Message::Close(frame)).await {
        Ok(()) => Flow::Closed,
        Err(err) => {
            debug!(%err, "sending close failed");
            Flow::Broken
        }
    }
}

/// Writes one outgoing item, splitting audio into frames.
async fn send(socket: &mut WebSocket, outgoing: Outgoing) -> Result<(), axum::Error> {
    match outgoing {
        Outgoing::Json(value) => socket.send(Message::Text(value.to_string().into())).await,
        Outgoing::Silence { len, fill } => {
            let chunk = Bytes::from(vec![fill; len.min(MAX_AUDIO_CHUNK)]);
            let mut left = len;
            while left > 0 {
                let size = left.min(MAX_AUDIO_CHUNK);
                socket.send(Message::Binary(chunk.slice(..size))).await?;
                left -= size;
            }
            Ok(())
        }
    }
}

/// Reads until the client completes the close handshake (bounded), so the close frame is flushed.
async fn drain(mut socket: WebSocket) {
    let finished = tokio::time::timeout(CLOSE_DRAIN_TIMEOUT, async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
    if finished.is_err() {
        debug!("client did not finish the close handshake in time");
    }
}
