//! The relaying phase: one future polls both directions and the session's timers.
//!
//! Both sockets stay whole (no split halves, so no lock per poll). Each direction holds at most
//! one message its destination has not accepted yet: while it waits, its source is not read
//! (backpressure with no queue). A direction copies what its source has ready, then flushes once
//! when the source runs dry, so a burst of frames leaves in one write.
//!
//! A client message the session's rules refuse is not forwarded: the message that refuses it
//! goes to the client ahead of what the upstream sends next, and the client is not read again
//! until it has been handed over (at most one refusal waits).

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::{End, First, KeepAlive, RelayOptions, Source};
use crate::usage::Meter;

/// Messages one direction moves in a single poll before letting the other run.
const BURST: usize = 32;

/// One direction: a message read from the source that the destination has not accepted yet.
#[derive(Default)]
struct Leg {
    pending: Option<Message>,
    unflushed: bool,
    /// A data message was read since the last [`Leg::took_data`].
    data: bool,
    /// A message to send ahead of what is read next (a refusal, on the way to the client).
    inject: Option<Message>,
    /// The reply to a message this direction refused, for the other direction to send.
    refused: Option<Message>,
}

impl Leg {
    /// Copies from `src` to `dst` until one of them is not ready (`Pending`) or the direction
    /// ends; `seen` is called with each data message as it is read (it may rewrite it: a
    /// credential field taken out), and a message it refuses
    /// (returning the reply) is not forwarded: the direction then stops until the reply is
    /// taken from [`Leg::refused`].
    fn poll<S, D>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut S,
        dst: &mut D,
        mut seen: impl FnMut(&mut Message) -> Result<(), Message>,
    ) -> Poll<End>
    where
        S: Stream<Item = Result<Message, WsError>> + Unpin,
        D: Sink<Message, Error = WsError> + Unpin,
    {
        for _ in 0..BURST {
            if let Some(msg) = self.pending.take() {
                match Pin::new(&mut *dst).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        if Pin::new(&mut *dst).start_send(msg).is_err() {
                            return Poll::Ready(End::SinkFailed);
                        }
                        self.unflushed = true;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(End::SinkFailed),
                    Poll::Pending => {
                        self.pending = Some(msg);
                        return Poll::Pending;
                    }
                }
            }
            // an injected message goes next, ahead of what the source has ready
            if let Some(msg) = self.inject.take() {
                self.pending = Some(msg);
                continue;
            }
            match Pin::new(&mut *src).poll_next(cx) {
                Poll::Ready(Some(Ok(mut msg))) => match msg {
                    Message::Text(_) | Message::Binary(_) => {
                        self.data = true;
                        if let Err(reply) = seen(&mut msg) {
                            self.refused = Some(reply);
                            return self.poll_flush(cx, dst);
                        }
                        self.pending = Some(msg);
                    }
                    Message::Close(frame) => return Poll::Ready(End::Closed(frame)),
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(End::Failed(e)),
                Poll::Ready(None) => return Poll::Ready(End::Failed(WsError::ConnectionClosed)),
                Poll::Pending => return self.poll_flush(cx, dst),
            }
        }
        // a source that never runs dry must not starve the other direction
        cx.waker().wake_by_ref();
        self.poll_flush(cx, dst)
    }

    /// Whether a data message was read since the last call.
    fn took_data(&mut self) -> bool {
        std::mem::take(&mut self.data)
    }

    /// Flushes what was sent since the last flush; `Pending` unless the destination failed.
    fn poll_flush<D>(&mut self, cx: &mut Context<'_>, dst: &mut D) -> Poll<End>
    where
        D: Sink<Message, Error = WsError> + Unpin,
    {
        if self.unflushed {
            match Pin::new(dst).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Poll::Ready(End::SinkFailed),
                Poll::Pending => {}
            }
        }
        Poll::Pending
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

/// Relays both ways until one direction ends, the session runs out of time, goes idle, or the
/// process shuts down.
pub(super) async fn pump<C, U>(client: &mut C, upstream: &mut U, opts: &RelayOptions) -> First
where
    C: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
    U: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    let meter: &Meter = &opts.meter;
    let start = Instant::now();
    let mut shutdown = std::pin::pin!(opts.shutdown.cancelled());
    let mut limit = std::pin::pin!(opts.max_session.map(tokio::time::sleep));
    let mut idle = std::pin::pin!(tokio::time::sleep(opts.idle_timeout));
    let keepalive: Option<&KeepAlive> = opts.keepalive.as_ref();
    let mut keepalive_timer = std::pin::pin!(keepalive.map(|k| tokio::time::sleep(k.every)));
    let mut activity = Activity {
        data: start,
        client: start,
    };
    let (mut up, mut down) = (Leg::default(), Leg::default());
    let rules = &opts.rules;
    let client_seen = |msg: &mut Message| meter.client_message(msg, rules);
    let upstream_seen = |msg: &mut Message| {
        meter.upstream_message(msg);
        Ok(())
    };
    poll_fn(|cx| {
        if shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(First::Shutdown);
        }
        if let Some(timer) = limit.as_mut().as_pin_mut()
            && timer.poll(cx).is_ready()
        {
            return Poll::Ready(First::TimeLimit(opts.max_session.unwrap_or_default()));
        }
        // while a refusal waits for the client, the client is not read
        let mut parked = down.inject.is_some();
        if !parked {
            if let Poll::Ready(end) = up.poll(cx, client, upstream, client_seen) {
                return Poll::Ready(First::Ended(Source::Client, end));
            }
            if let Some(reply) = up.refused.take() {
                down.inject = Some(reply);
                parked = true;
            }
        }
        if let Poll::Ready(end) = down.poll(cx, upstream, client, upstream_seen) {
            return Poll::Ready(First::Ended(Source::Upstream, end));
        }
        if parked && down.inject.is_none() {
            // the refusal is on its way: read the client again (nothing else would wake it)
            cx.waker().wake_by_ref();
        }
        activity.saw(up.took_data(), down.took_data());
        if expired(idle.as_mut(), cx, activity.data + opts.idle_timeout) {
            return Poll::Ready(First::Idle(opts.idle_timeout));
        }
        if let (Some(timer), Some(k)) = (keepalive_timer.as_mut().as_pin_mut(), keepalive) {
            let mut timer = timer;
            if expired(timer.as_mut(), cx, activity.client + k.every) {
                let now = Instant::now();
                activity.client = now;
                timer.as_mut().reset(now + k.every);
                let _ = timer.poll(cx);
                // a destination still busy with client data needs no keep-alive
                if up.pending.is_none() && !parked {
                    up.pending = Some(Message::Text(k.message.into()));
                    k.sent.inc();
                    // client data read behind the keep-alive is metered and counted like any other
                    if let Poll::Ready(end) = up.poll(cx, client, upstream, client_seen) {
                        return Poll::Ready(First::Ended(Source::Client, end));
                    }
                    if let Some(reply) = up.refused.take() {
                        down.inject = Some(reply);
                        cx.waker().wake_by_ref();
                    }
                    activity.saw(up.took_data(), false);
                }
            }
        }
        Poll::Pending
    })
    .await
}
