//! The relaying phase: one future moves frames both ways and polls the session's timers.
//!
//! A direction ([`Leg`]) takes a pooled buffer when its source has bytes, reads them, and walks
//! the frames in place: a binary frame's header is rewritten (a fresh masking key towards the
//! upstream) and its payload unmasked and re-masked where it lies, then written on as it
//! arrives; text messages (small control and result messages the provider hooks read) are
//! collected, checked and handed to the hooks whole; control frames are answered here. Once
//! everything read is written the buffer goes back to the pool. While the destination cannot
//! take more, the source is not read (backpressure with no queue).
//!
//! A client message the session's rules refuse is not forwarded: the message that refuses it
//! goes to the client ahead of what the upstream sends next, and the client is not read again
//! until it has been handed over.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::frame::{self, Header, MAX_HEADER, OP_CLOSE, OP_PING, OP_TEXT};
use super::pool::PoolBuf;
use super::socket::{InFrame, Mode, WsSocket};
use super::{End, First, KeepAlive, RelayOptions, Source};

/// Frames one direction handles in a single poll before letting the other run.
const BURST: usize = 32;

/// What walking the buffered frames stopped at.
enum Step {
    /// Everything read is handled.
    More,
    /// A text message is complete.
    Text(Vec<u8>),
    /// A control frame is complete (its payload in the source's `rx.control`).
    Control(u8),
    /// A frame header that did not fit where the frame was: written after what precedes it.
    Head(Vec<u8>),
}

/// One direction: the buffer on loan, what of it is to be written and what is still to be read.
pub(super) struct Leg {
    source: Source,
    buf: Option<PoolBuf>,
    /// `buf[out.0..out.1]` is ready to be written.
    out: (usize, usize),
    /// `buf[pos..end]` is read and not yet handled.
    pos: usize,
    end: usize,
    /// A frame to write after `out` (a collected message, an injected one, a header).
    extra: Option<(Vec<u8>, usize)>,
    /// The start of a frame header cut by the end of a read, kept for the next one.
    partial: ([u8; MAX_HEADER], usize),
    unflushed: bool,
    /// Data was read since the last [`Leg::took_data`].
    data: bool,
    /// The reply to a message this direction refused, for the other direction to send.
    refused: Option<Message>,
    /// During a drain: text messages are checked for the finalize's markers (see [`finals`]).
    watching: bool,
    /// A text message containing one of the markers was relayed.
    marked: bool,
}

impl Leg {
    fn new(source: Source) -> Self {
        Self {
            source,
            buf: None,
            out: (0, 0),
            pos: 0,
            end: 0,
            extra: None,
            partial: ([0; MAX_HEADER], 0),
            unflushed: false,
            data: false,
            refused: None,
            watching: false,
            marked: false,
        }
    }

    /// Whether everything handled has been written.
    fn idle(&self) -> bool {
        self.out.0 == self.out.1 && self.extra.is_none()
    }

    /// Whether a data message was read since the last call.
    fn took_data(&mut self) -> bool {
        std::mem::take(&mut self.data)
    }

    /// Moves frames from `src` to `dst` until one of them is not ready or the direction ends.
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut WsSocket,
        dst: &mut WsSocket,
        opts: &RelayOptions,
    ) -> Poll<End> {
        for _ in 0..BURST {
            match self.poll_write(cx, dst) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(())) => return Poll::Ready(End::SinkFailed),
                Poll::Pending => return Poll::Pending,
            }
            // owed frames go at the destination's next frame or message boundary
            if !src.rx.forwarding()
                && let Some(c) = dst.control.pop_front()
            {
                self.extra = Some((c, 0));
                continue;
            }
            if src.rx.between_messages()
                && let Some(m) = dst.inject.take()
            {
                self.extra = Some((m, 0));
                continue;
            }
            if self.refused.is_some() {
                return self.poll_flush(cx, dst);
            }
            if self.pos < self.end || zero_length_pending(src) {
                match self.walk(src, dst, opts) {
                    Ok(Step::More) => {}
                    Ok(Step::Head(head)) => self.extra = Some((head, 0)),
                    Ok(Step::Text(text)) => self.text(text, dst, opts),
                    Ok(Step::Control(OP_PING)) => src.owe_pong(&src.rx.control.clone()),
                    Ok(Step::Control(OP_CLOSE)) => {
                        return Poll::Ready(match frame::read_close(&src.rx.control) {
                            Ok(f) => {
                                src.peer_closed(f.clone());
                                End::Closed(f)
                            }
                            Err(e) => End::Failed(e),
                        });
                    }
                    Ok(Step::Control(_)) => {}
                    Err(e) => return Poll::Ready(End::Failed(e)),
                }
                continue;
            }
            match self.poll_read(cx, src) {
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) => {
                    return Poll::Ready(End::Failed(WsError::Protocol(
                        ProtocolError::ResetWithoutClosingHandshake,
                    )));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(End::Failed(WsError::Io(e))),
                Poll::Pending => return self.poll_flush(cx, dst),
            }
        }
        // a source that never runs dry must not starve the other direction
        cx.waker().wake_by_ref();
        self.poll_flush(cx, dst)
    }

    /// Writes what is ready, in order; `Ready(Ok)` once all of it is written.
    fn poll_write(&mut self, cx: &mut Context<'_>, dst: &mut WsSocket) -> Poll<Result<(), ()>> {
        while self.out.0 < self.out.1 {
            let Some(buf) = &self.buf else { break };
            let n = std::task::ready!(ready_write(cx, &mut dst.io, &buf[self.out.0..self.out.1]))?;
            self.out.0 += n;
            self.unflushed = true;
        }
        if let Some((bytes, at)) = &mut self.extra {
            while *at < bytes.len() {
                *at += std::task::ready!(ready_write(cx, &mut dst.io, &bytes[*at..]))?;
                self.unflushed = true;
            }
            self.extra = None;
        }
        self.out = (self.pos, self.pos);
        Poll::Ready(Ok(()))
    }

    /// Flushes what was written since the last flush; `Pending` unless the destination failed.
    fn poll_flush(&mut self, cx: &mut Context<'_>, dst: &mut WsSocket) -> Poll<End> {
        if self.unflushed {
            match Pin::new(&mut dst.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Poll::Ready(End::SinkFailed),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    /// Reads into a buffer from the pool: a header cut by the last read first, then what the
    /// source holds unparsed (handshake leftovers, the rest of a message-level read), else the
    /// connection. `Ok(false)` at the end of the connection. While nothing can be read the
    /// buffer goes back to the pool.
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut WsSocket,
    ) -> Poll<std::io::Result<bool>> {
        let mut buf = self
            .buf
            .take()
            .unwrap_or_else(|| PoolBuf::take(src.limits.read_chunk));
        let (head, cut) = self.partial;
        buf[..cut].copy_from_slice(&head[..cut]);
        self.partial.1 = 0;
        (self.pos, self.end, self.out) = (0, cut, (0, 0));
        if !src.carry.is_empty() {
            let n = src.carry.len().min(buf.len() - cut);
            buf[cut..cut + n].copy_from_slice(&src.carry[..n]);
            src.carry.drain(..n);
            if src.carry.is_empty() {
                src.carry = Vec::new();
            }
            self.end += n;
            self.buf = Some(buf);
            return Poll::Ready(Ok(true));
        }
        let mut read = ReadBuf::new(&mut buf[cut..]);
        match Pin::new(&mut src.io).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                self.end += n;
                self.buf = Some(buf);
                Poll::Ready(Ok(n > 0))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                // the buffer returns to the pool; a cut header waits here
                self.partial.1 = cut;
                self.end = 0;
                Poll::Pending
            }
        }
    }

    /// Walks the frames read so far: relays binary payloads in place, collects text and
    /// control frames, stops at each complete message or control frame.
    fn walk(
        &mut self,
        src: &mut WsSocket,
        dst: &WsSocket,
        opts: &RelayOptions,
    ) -> Result<Step, WsError> {
        let Some(buf) = self.buf.as_mut() else {
            return Ok(Step::More);
        };
        loop {
            if let Some(f) = src.rx.frame.as_mut() {
                let n = usize::try_from(f.remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.end - self.pos);
                let chunk = self.pos..self.pos + n;
                if let Some(key) = f.key {
                    frame::apply_mask(&mut buf[chunk.clone()], key, f.offset);
                }
                match f.mode {
                    Mode::Forward => {
                        if self.out.1 != self.pos {
                            buf.copy_within(chunk.clone(), self.out.1);
                        }
                        self.out.1 += n;
                    }
                    Mode::Collect => src.rx.data.extend_from_slice(&buf[chunk.clone()]),
                    Mode::Control => src.rx.control.extend_from_slice(&buf[chunk.clone()]),
                    Mode::Skip => {}
                }
                self.pos += n;
                f.remaining -= n as u64;
                f.offset += n;
                if f.remaining > 0 {
                    return Ok(Step::More);
                }
                let f = *f;
                src.rx.frame = None;
                match f.mode {
                    Mode::Forward | Mode::Skip => {}
                    Mode::Collect => {
                        src.rx.check_utf8(f.header.fin)?;
                        if f.header.fin {
                            return Ok(Step::Text(src.rx.take_data()));
                        }
                    }
                    Mode::Control => return Ok(Step::Control(f.header.opcode)),
                }
                continue;
            }
            if self.pos == self.end {
                return Ok(Step::More);
            }
            let Some((h, hl)) = frame::parse(&buf[self.pos..self.end])? else {
                // a cut header waits for the next read
                let cut = self.end - self.pos;
                self.partial.0[..cut].copy_from_slice(&buf[self.pos..self.end]);
                self.partial.1 = cut;
                self.pos = self.end;
                return Ok(Step::More);
            };
            let message = src.rx.admit(&h, src.role, src.limits.max_message)?;
            let head_at = self.pos;
            self.pos += hl;
            if h.is_control() {
                src.rx.control.clear();
                src.rx.frame = Some(in_frame(h, Mode::Control, h.mask));
                continue;
            }
            let opcode = src.rx.message.map_or(h.opcode, |(op, _)| op);
            let starts = src.rx.message.is_none();
            src.rx.message = message;
            self.data = true;
            if opcode == OP_TEXT {
                src.rx.frame = Some(in_frame(h, Mode::Collect, h.mask));
                continue;
            }
            meter_binary(self.source, opts, h.len, starts);
            let out_key = dst.masks().then(frame::new_key);
            let key = match (h.mask, out_key) {
                (Some(a), Some(b)) => Some(frame::rekey(a, b)),
                (a, b) => a.or(b),
            };
            src.rx.frame = Some(in_frame(h, Mode::Forward, key));
            let mut head = [0u8; MAX_HEADER];
            let n = frame::encode(&Header { mask: out_key, ..h }, &mut head);
            if self.out.1 + n <= head_at + hl {
                buf[self.out.1..self.out.1 + n].copy_from_slice(&head[..n]);
                self.out.1 += n;
            } else {
                return Ok(Step::Head(head[..n].to_vec()));
            }
        }
    }

    /// A complete text message: through the hooks, then on as one frame (or refused).
    fn text(&mut self, text: Vec<u8>, dst: &WsSocket, opts: &RelayOptions) {
        let Ok(text) = String::from_utf8(text) else {
            return;
        };
        let mut msg = Message::Text(text.into());
        match self.source {
            Source::Client => {
                if let Err(reply) = opts.meter.client_message(&mut msg, &opts.rules) {
                    self.refused = Some(reply);
                    return;
                }
            }
            Source::Upstream => {
                opts.meter.upstream_message(&msg);
                if self.watching
                    && let (Message::Text(t), Some(f)) = (&msg, opts.drain.finalize)
                    && f.done.markers().iter().any(|m| t.as_str().contains(m))
                {
                    self.marked = true;
                }
            }
        }
        self.extra = Some((dst.encode(&msg), 0));
    }

    /// Unwritten frames left when the relay stopped: whole frames only (a frame cut short
    /// cannot be finished, so nothing after it is written either).
    pub(super) fn leftover(&mut self, src: &WsSocket) -> Vec<u8> {
        let mut out = Vec::new();
        if src.rx.forwarding() {
            return out;
        }
        if let Some(buf) = &self.buf {
            out.extend_from_slice(&buf[self.out.0..self.out.1]);
        }
        if let Some((bytes, at)) = self.extra.take() {
            out.extend_from_slice(&bytes[at..]);
        }
        self.out = (0, 0);
        out
    }

    /// Gives what was read and not handled back to the source, for message-level reads.
    pub(super) fn unread(&mut self, src: &mut WsSocket) {
        let mut rest = self.partial.0[..self.partial.1].to_vec();
        if let Some(buf) = self.buf.take() {
            rest.extend_from_slice(&buf[self.pos..self.end]);
        }
        rest.append(&mut src.carry);
        src.carry = rest;
        if let Some(f) = &mut src.rx.frame
            && f.mode == Mode::Forward
        {
            f.mode = Mode::Skip;
        }
    }
}

/// A frame with an empty payload still to be completed.
fn zero_length_pending(src: &WsSocket) -> bool {
    src.rx.frame.is_some_and(|f| f.remaining == 0)
}

fn in_frame(header: Header, mode: Mode, key: Option<[u8; 4]>) -> InFrame {
    InFrame {
        header,
        remaining: header.len,
        offset: 0,
        mode,
        key,
    }
}

/// Counts a relayed binary frame: audio and bytes by its length, a message at its first frame.
fn meter_binary(source: Source, opts: &RelayOptions, len: u64, starts: bool) {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    match source {
        Source::Client => opts.meter.client_binary(len, starts),
        Source::Upstream => opts.meter.upstream_binary(len, starts),
    }
}

/// One write: the bytes taken, or `Err` when the destination failed or took nothing.
fn ready_write(
    cx: &mut Context<'_>,
    io: &mut Box<dyn super::socket::Io>,
    bytes: &[u8],
) -> Poll<Result<usize, ()>> {
    match Pin::new(io).poll_write(cx, bytes) {
        Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(Err(())),
        Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
        Poll::Pending => Poll::Pending,
    }
}

/// When data last crossed: either way (idle timeout), from the client or as an injected
/// keep-alive message (keep-alive interval).
struct Activity {
    data: Instant,
    client: Instant,
}

impl Activity {
    /// Records what the two directions read in this poll.
    fn saw(&mut self, client: bool, upstream: bool) {
        if client || upstream {
            self.data = Instant::now();
            if client {
                self.client = self.data;
            }
        }
    }
}

/// A deadline that is pushed back lazily: data only records the time, and the timer, when it
/// fires early, re-arms itself from that record.
fn expired(timer: Pin<&mut Sleep>, cx: &mut Context<'_>, due: Instant) -> bool {
    let mut timer = timer;
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        if due <= Instant::now() {
            return true;
        }
        timer.as_mut().reset(due);
    }
}

/// The two directions, kept after the relaying phase for what they still hold.
pub(super) struct Legs {
    pub(super) up: Leg,
    pub(super) down: Leg,
}

/// Relays both ways until one direction ends, the session runs out of time, goes idle, or the
/// process shuts down.
pub(super) async fn pump(
    client: &mut WsSocket,
    upstream: &mut WsSocket,
    opts: &RelayOptions,
    legs: &mut Legs,
) -> First {
    let start = Instant::now();
    let mut shutdown = std::pin::pin!(opts.shutdown.cancelled());
    // once `shutdown` fires, the session's moment in the drain spread (boxed: only then)
    let mut spread: Option<Pin<Box<Sleep>>> = None;
    let mut revoked = std::pin::pin!(opts.revoked.as_ref().map(|r| r.cancelled()));
    let mut limit = std::pin::pin!(opts.max_session.map(tokio::time::sleep));
    let mut idle = std::pin::pin!(tokio::time::sleep(opts.idle_timeout));
    let keepalive: Option<&KeepAlive> = opts.keepalive.as_ref();
    let mut keepalive_timer = std::pin::pin!(keepalive.map(|k| tokio::time::sleep(k.every)));
    let mut activity = Activity {
        data: start,
        client: start,
    };
    let Legs { up, down } = legs;
    poll_fn(|cx| {
        if spread.is_none() && shutdown.as_mut().poll(cx).is_ready() {
            let delay = spread_delay(opts.drain.spread);
            if delay.is_zero() {
                return Poll::Ready(First::Shutdown);
            }
            spread = Some(Box::pin(tokio::time::sleep(delay)));
        }
        if let Some(timer) = spread.as_mut()
            && timer.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(First::Shutdown);
        }
        if let (Some(fired), Some(r)) = (revoked.as_mut().as_pin_mut(), &opts.revoked)
            && fired.poll(cx).is_ready()
        {
            return Poll::Ready(First::Revoked(r.reason().to_owned()));
        }
        if let Some(timer) = limit.as_mut().as_pin_mut()
            && timer.poll(cx).is_ready()
        {
            return Poll::Ready(First::TimeLimit(opts.max_session.unwrap_or_default()));
        }
        if let (Some(timer), Some(k)) = (keepalive_timer.as_mut().as_pin_mut(), keepalive) {
            let mut timer = timer;
            if expired(timer.as_mut(), cx, activity.client + k.every) {
                let now = Instant::now();
                activity.client = now;
                timer.as_mut().reset(now + k.every);
                let _ = timer.poll(cx);
                // a destination still busy with client data needs no keep-alive
                if up.idle() && upstream.inject.is_none() && client.inject.is_none() {
                    upstream.inject = Some(upstream.frame(OP_TEXT, k.message.as_bytes()));
                    k.sent.inc();
                }
            }
        }
        // while a refusal waits for the client, the client is not read
        if client.inject.is_none() {
            if let Poll::Ready(end) = up.poll(cx, client, upstream, opts) {
                return Poll::Ready(First::Ended(Source::Client, end));
            }
            if let Some(reply) = up.refused.take() {
                client.inject = Some(client.encode(&reply));
            }
        }
        let parked = client.inject.is_some();
        if let Poll::Ready(end) = down.poll(cx, upstream, client, opts) {
            return Poll::Ready(First::Ended(Source::Upstream, end));
        }
        let pong_waits = !upstream.control.is_empty() && up.idle() && !client.rx.forwarding();
        if (parked && client.inject.is_none()) || (!parked && pong_waits) {
            // a refusal went out (read the client again), or the upstream is owed a pong
            // (written by the client's direction): nothing else would wake them
            cx.waker().wake_by_ref();
        }
        activity.saw(up.took_data(), down.took_data());
        if expired(idle.as_mut(), cx, activity.data + opts.idle_timeout) {
            return Poll::Ready(First::Idle(opts.idle_timeout));
        }
        Poll::Pending
    })
    .await
}

/// A moment drawn uniformly from `[0, spread)` in whole milliseconds: when this session's drain
/// starts. Timers fire on millisecond ticks, rounded up: a finer draw just below the end of the
/// window would fire at its end.
pub(super) fn spread_delay(spread: Duration) -> Duration {
    let millis = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random_range(0..millis))
}

/// The drain's relaying phase: what the upstream sends still goes to the client (frame by
/// frame, metered as ever) while the client is no longer read. `None` once a text message
/// containing one of the finalize's markers has been written to the client (and no frame is
/// half relayed); the direction's end when the upstream closes or either side fails. Bounded by
/// the caller.
pub(super) async fn finals(
    client: &mut WsSocket,
    upstream: &mut WsSocket,
    opts: &RelayOptions,
    down: &mut Leg,
) -> Option<End> {
    down.watching = true;
    poll_fn(|cx| {
        if let Poll::Ready(end) = down.poll(cx, upstream, client, opts) {
            return Poll::Ready(Some(end));
        }
        if down.marked && down.idle() && !down.unflushed && !upstream.rx.forwarding() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// A leg for each direction.
pub(super) fn legs() -> Legs {
    Legs {
        up: Leg::new(Source::Client),
        down: Leg::new(Source::Upstream),
    }
}
