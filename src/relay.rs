//! The two-way relay between a client and an upstream WebSocket.
//!
//! Both sides are voxrelay's own WebSocket endpoints ([`socket::WsSocket`]) on the upgraded
//! connections. One future moves frames both ways ([`pump`]); a direction whose destination
//! cannot take more stops reading its source (backpressure with no queue). Pings are answered
//! by each hop and never crossed; close codes and reasons cross in both directions.
//!
//! When the process stops a session ([`RelayOptions::shutdown`]), the session drains at its own
//! moment in the spread ([`DrainOptions`]): the client API's finalize goes upstream, the client
//! is no longer read, what the upstream still sends reaches the client, then the client gets 1012.

pub(crate) mod frame;
pub(crate) mod message;
mod pool;
mod pump;
pub(crate) mod socket;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use prometheus::IntCounter;

use crate::route::ModelRules;
use crate::usage::Meter;
use message::close;
use socket::WsSocket;

/// Close code: going away (shutdown, peer vanished).
pub(crate) const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code: protocol error.
pub(crate) const CLOSE_PROTOCOL: u16 = 1002;
/// Close code: invalid payload (bad UTF-8 in a text frame).
pub(crate) const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// Close code: policy violation (session time limit).
pub(crate) const CLOSE_POLICY: u16 = 1008;
/// Close code: message too big.
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;
/// Close code: internal error (upstream failed).
pub(crate) const CLOSE_INTERNAL: u16 = 1011;
/// Close code: normal closure (the upstream, once a drain is over).
pub(crate) const CLOSE_NORMAL: u16 = 1000;
/// Close code: service restart (the client, once a drain is over: reconnect, elsewhere).
pub(crate) const CLOSE_RESTART: u16 = 1012;

/// The reason both sides of a drained session are given.
pub(crate) const DRAIN_REASON: &str = "voxrelay restarting";

/// Fixed outcome label of a session closed by the drain.
pub(crate) const DRAINED: &str = "drained";

/// Which peer ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The browser or other client.
    Client,
    /// The upstream the session was connected to.
    Upstream,
    /// voxrelay itself (shutdown).
    Relay,
}

impl Side {
    /// `client`, `upstream` or `relay`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Relay => "relay",
        }
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Who ended it.
    pub ended_by: Side,
    /// Fixed label for `voxrelay_sessions_total{outcome}`.
    pub label: &'static str,
    /// Close code the client received or sent (None: no status / connection lost).
    pub client_code: Option<u16>,
    /// Close code the upstream received or sent.
    pub upstream_code: Option<u16>,
}

/// Which source a direction reads.
#[derive(Clone, Copy)]
enum Source {
    Client,
    Upstream,
}

/// What ended the relaying phase.
enum First {
    /// One direction stopped.
    Ended(Source, End),
    /// The process is shutting down (the session's moment in the drain spread came).
    Shutdown,
    /// The drain that follows [`First::Shutdown`] is over.
    Drained(Drained),
    /// The session's credential was withdrawn, for this reason.
    Revoked(String),
    /// The session reached its time limit.
    TimeLimit(Duration),
    /// No data crossed for the idle timeout.
    Idle(Duration),
}

impl Outcome {
    /// Who sent which close code: the peer that closed, or voxrelay for each side it closed.
    pub(crate) fn closes(&self) -> Vec<(&'static str, Option<u16>)> {
        match self.ended_by {
            Side::Client if self.label == "client_closed" => vec![("client", self.client_code)],
            Side::Upstream if self.label == "upstream_closed" => {
                vec![("upstream", self.upstream_code)]
            }
            // a drain the upstream ended by closing, as asked: the client's close is voxrelay's
            Side::Upstream if self.label == DRAINED => self
                .client_code
                .map(|code| ("relay", Some(code)))
                .into_iter()
                .chain([("upstream", self.upstream_code)])
                .collect(),
            _ => [self.client_code, self.upstream_code]
                .into_iter()
                .flatten()
                .map(|code| ("relay", Some(code)))
                .collect(),
        }
    }
}

/// How a session's drain ended.
enum Drained {
    /// The upstream sent what the drain waits for, the drain timed out, or the client API has
    /// no finalize: both sides are closed now.
    Over,
    /// The upstream closed (after its finals, as asked): its close is answered.
    UpstreamClosed(Option<CloseFrame>),
    /// The upstream's connection failed.
    UpstreamLost,
    /// The client could not be written to.
    ClientLost,
}

/// Why one direction stopped.
enum End {
    /// The source sent a close frame.
    Closed(Option<CloseFrame>),
    /// The source failed or ended without a close frame.
    Failed(WsError),
    /// Writing to the destination failed.
    SinkFailed,
}

/// Per-session relay settings.
#[derive(Debug, Clone)]
pub(crate) struct RelayOptions {
    /// Counts and meters what crosses, both ways.
    pub meter: Arc<Meter>,
    /// The models the client may name in messages (checked where the client API has such
    /// messages; a refused message is answered, not forwarded).
    pub rules: ModelRules,
    /// How long to wait for close replies once the session is ending.
    pub close_timeout: Duration,
    /// Cancelled when the process is shutting down.
    pub shutdown: CancellationToken,
    /// Fires when the session's credential is withdrawn (key removed, client or token revoked).
    pub revoked: Option<crate::revoke::Revoked>,
    /// Longest the session may last.
    pub max_session: Option<Duration>,
    /// A session with no data either way for this long is closed.
    pub idle_timeout: Duration,
    /// Client silence after which the keep-alive message goes upstream.
    pub keepalive: Option<KeepAlive>,
    /// The message size limit, named in the 1009 reason.
    pub max_message_bytes: usize,
    /// Sent upstream when the client leaves without asking the upstream to finish (the
    /// client API's farewell); what the upstream answers within the close timeout is metered.
    pub farewell: Option<&'static str>,
    /// What happens once `shutdown` fires: when the session's drain starts and how it goes.
    pub drain: DrainOptions,
}

/// How a session ends when the process drains: at a random moment within `spread` after
/// `shutdown` fires (so sessions do not all reconnect at once), the client API's finalize goes
/// upstream and what the upstream still sends is relayed to the client (and metered) for up to
/// `timeout`; then the client gets 1012 and the upstream 1000.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DrainOptions {
    /// The client API's finalize; `None`: both sides are closed as soon as the drain starts.
    pub finalize: Option<&'static Finalize>,
    /// The window over which sessions' drains start.
    pub spread: Duration,
    /// Longest wait for the upstream's finals once the finalize is sent.
    pub timeout: Duration,
}

/// A client API's finalize: the message asking the upstream to finish what it holds, and how to
/// tell that it has.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Finalize {
    /// The text message sent upstream (`{"type":"CloseStream"}`, `{"type":"Flush"}`).
    pub message: &'static str,
    /// When the finals are in.
    pub done: FinalsDone,
}

/// When a drain's finals are in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FinalsDone {
    /// Once the upstream closes (it does after this finalize).
    UpstreamCloses,
    /// Once the upstream sends a text message containing any of these (or closes).
    TextContains(&'static [&'static str]),
}

impl FinalsDone {
    /// The texts that end the drain (none: only the upstream's close does).
    pub(crate) fn markers(&self) -> &'static [&'static str] {
        match self {
            Self::UpstreamCloses => &[],
            Self::TextContains(markers) => markers,
        }
    }
}

/// Keep-alives for a silent client: chosen when the session is set up (the route's client
/// API's message), so the pump looks nothing up per message.
#[derive(Debug, Clone)]
pub(crate) struct KeepAlive {
    /// Client silence after which one is sent.
    pub every: Duration,
    /// The text message sent upstream.
    pub message: &'static str,
    /// Counts the ones sent.
    pub sent: IntCounter,
}

/// Relays until either side ends, a limit is reached or the session is stopped (then drains
/// it), and closes both sides.
pub(crate) async fn relay(
    mut client: Box<WsSocket>,
    mut upstream: Box<WsSocket>,
    opts: RelayOptions,
) -> Outcome {
    let mut legs = pump::legs();
    let first = pump::pump(&mut client, &mut upstream, &opts, &mut legs).await;
    // the ending's futures (farewell, close handshakes) are larger than the relaying phase's
    // and live only at the end: boxed, they do not size every session's task for its life
    Box::pin(finish(client, upstream, legs, first, opts)).await
}

/// Writes what the relay still held, sends the farewell, closes both sides.
async fn finish(
    mut client: Box<WsSocket>,
    mut upstream: Box<WsSocket>,
    mut legs: pump::Legs,
    first: First,
    opts: RelayOptions,
) -> Outcome {
    let first = match first {
        First::Shutdown => {
            First::Drained(drain(&mut client, &mut upstream, &mut legs, &opts).await)
        }
        other => other,
    };
    // leftovers and the close handshakes share one close timeout
    let deadline = Instant::now() + opts.close_timeout;
    // frames read and not yet written go out ahead of any close; a side left in the middle
    // of a frame cannot be sent a close frame, so it is only disconnected
    let (to_upstream, to_client) = (legs.up.leftover(&client), legs.down.leftover(&upstream));
    let (upstream_cut, client_cut) = (client.rx.forwarding(), upstream.rx.forwarding());
    legs.up.unread(&mut client);
    legs.down.unread(&mut upstream);
    drop(legs);
    let _ = tokio::time::timeout_at(
        deadline,
        futures_util::future::join(
            client.write_raw(&to_client),
            upstream.write_raw(&to_upstream),
        ),
    )
    .await;
    let deadline = if let (Some(text), First::Ended(Source::Client, _)) = (opts.farewell, &first)
        && !opts.meter.finished_by_client()
        && !upstream_cut
    {
        let _ = tokio::time::timeout(
            opts.close_timeout,
            farewell(&mut upstream, text, &opts.meter),
        )
        .await;
        // the close after a farewell gets a close timeout of its own
        Instant::now() + opts.close_timeout
    } else {
        deadline
    };
    let (to_client, to_upstream, outcome) = plan(first, opts.max_message_bytes);
    // both sides close at once; a side that stopped reading cannot hold the session past the
    // close timeout
    let closing = futures_util::future::join(
        close_side(&mut client, to_client, client_cut),
        close_side(&mut upstream, to_upstream, upstream_cut),
    );
    let _ = tokio::time::timeout_at(deadline, closing).await;
    outcome
}

/// The drain of one session: the client's frames already read go upstream, then the
/// finalize, then what the upstream answers is relayed to the client (the client is no longer
/// read) until the finals are in, the upstream closes, or the drain timeout. A client cut in the
/// middle of a message leaves no room for the finalize: the session is closed at once.
async fn drain(
    client: &mut WsSocket,
    upstream: &mut WsSocket,
    legs: &mut pump::Legs,
    opts: &RelayOptions,
) -> Drained {
    let Some(finalize) = opts.drain.finalize else {
        return Drained::Over;
    };
    if !client.rx.between_messages() {
        return Drained::Over;
    }
    let deadline = Instant::now() + opts.drain.timeout;
    let to_upstream = legs.up.leftover(client);
    let sent = tokio::time::timeout_at(deadline, async {
        upstream.write_raw(&to_upstream).await?;
        upstream.send(Message::Text(finalize.message.into())).await
    })
    .await;
    match sent {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Drained::UpstreamLost,
        Err(_) => return Drained::Over,
    }
    let finals = pump::finals(client, upstream, opts, &mut legs.down);
    match tokio::time::timeout_at(deadline, finals).await {
        Ok(None) | Err(_) => Drained::Over,
        Ok(Some(End::Closed(f))) => Drained::UpstreamClosed(f),
        Ok(Some(End::Failed(_))) => Drained::UpstreamLost,
        Ok(Some(End::SinkFailed)) => Drained::ClientLost,
    }
}

/// Asks the upstream to finish the session for a client that left, and meters what it
/// answers (its final account) until it closes.
async fn farewell(upstream: &mut WsSocket, text: &'static str, meter: &Meter) {
    if upstream.send(Message::Text(text.into())).await.is_err() {
        return;
    }
    while let Some(Ok(msg)) = upstream.next().await {
        match msg {
            Message::Text(_) | Message::Binary(_) => meter.upstream_message(&msg),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Closes one side: answers its close or sends it `frame`, then waits for the close
/// handshake to finish; a side cut in the middle of a frame is only disconnected.
async fn close_side(side: &mut WsSocket, frame: Option<Message>, cut: bool) {
    if cut {
        side.disconnect().await;
    } else {
        side.close(frame).await;
    }
}

fn code_of(frame: &Option<CloseFrame>) -> Option<u16> {
    frame.as_ref().map(|f| f.code.into())
}

/// `1s`, `300ms`, `1h 30m`: how limits are named in close reasons.
fn human(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}

/// The close frame a client gets for its own bad input.
fn client_fault(e: &WsError, max_message_bytes: usize) -> Option<(u16, String)> {
    match e {
        WsError::Capacity(_) => Some((
            CLOSE_TOO_BIG,
            format!("message exceeds the {max_message_bytes}-byte limit"),
        )),
        WsError::Utf8(_) => Some((CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in text frame".into())),
        // the connection dropped without a close frame: nobody is left to tell
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(_) => Some((CLOSE_PROTOCOL, "protocol error".into())),
        _ => None,
    }
}

type Plan = (Option<Message>, Option<Message>, Outcome);

/// What each side is sent once the first direction ends, and how to report it.
fn plan(first: First, max_message_bytes: usize) -> Plan {
    let outcome = |ended_by, label, client_code, upstream_code| Outcome {
        ended_by,
        label,
        client_code,
        upstream_code,
    };
    let upstream_lost = "upstream connection lost";
    match first {
        First::TimeLimit(limit) => {
            let reason = format!("session time limit of {} reached", human(limit));
            (
                Some(close(CLOSE_POLICY, &reason)),
                Some(close(CLOSE_POLICY, &reason)),
                outcome(
                    Side::Relay,
                    "time_limit",
                    Some(CLOSE_POLICY),
                    Some(CLOSE_POLICY),
                ),
            )
        }
        First::Idle(idle) => {
            let reason = format!("idle timeout: no data for {}", human(idle));
            (
                Some(close(CLOSE_GOING_AWAY, &reason)),
                Some(close(CLOSE_GOING_AWAY, &reason)),
                outcome(
                    Side::Relay,
                    "idle_timeout",
                    Some(CLOSE_GOING_AWAY),
                    Some(CLOSE_GOING_AWAY),
                ),
            )
        }
        First::Revoked(reason) => (
            Some(close(CLOSE_POLICY, &reason)),
            Some(close(CLOSE_POLICY, &reason)),
            outcome(
                Side::Relay,
                "revoked",
                Some(CLOSE_POLICY),
                Some(CLOSE_POLICY),
            ),
        ),
        // a drain: the client is told to reconnect (elsewhere), the upstream closes normally
        First::Shutdown | First::Drained(Drained::Over) => (
            Some(close(CLOSE_RESTART, DRAIN_REASON)),
            Some(close(CLOSE_NORMAL, DRAIN_REASON)),
            outcome(
                Side::Relay,
                DRAINED,
                Some(CLOSE_RESTART),
                Some(CLOSE_NORMAL),
            ),
        ),
        First::Drained(Drained::UpstreamClosed(f)) => {
            let code = code_of(&f);
            (
                Some(close(CLOSE_RESTART, DRAIN_REASON)),
                Some(Message::Close(f)),
                outcome(Side::Upstream, DRAINED, Some(CLOSE_RESTART), code),
            )
        }
        First::Drained(Drained::UpstreamLost) => (
            Some(close(CLOSE_RESTART, DRAIN_REASON)),
            None,
            outcome(Side::Relay, DRAINED, Some(CLOSE_RESTART), None),
        ),
        First::Drained(Drained::ClientLost) => (
            None,
            Some(close(CLOSE_NORMAL, DRAIN_REASON)),
            outcome(Side::Relay, DRAINED, None, Some(CLOSE_NORMAL)),
        ),
        First::Ended(Source::Client, End::Closed(f)) => {
            let code = code_of(&f);
            let label = "client_closed";
            (
                None,
                Some(Message::Close(f)),
                outcome(Side::Client, label, code, code),
            )
        }
        First::Ended(Source::Upstream, End::Closed(f)) => {
            let code = code_of(&f);
            let label = "upstream_closed";
            (
                Some(Message::Close(f)),
                None,
                outcome(Side::Upstream, label, code, code),
            )
        }
        First::Ended(Source::Client, End::Failed(e)) => {
            let gone = close(CLOSE_GOING_AWAY, "client disconnected");
            match client_fault(&e, max_message_bytes) {
                Some((code, reason)) => (
                    Some(close(code, &reason)),
                    Some(gone),
                    outcome(
                        Side::Client,
                        "client_error",
                        Some(code),
                        Some(CLOSE_GOING_AWAY),
                    ),
                ),
                None => (
                    None,
                    Some(gone),
                    outcome(Side::Client, "client_gone", None, Some(CLOSE_GOING_AWAY)),
                ),
            }
        }
        First::Ended(Source::Upstream, End::SinkFailed) => (
            None,
            Some(close(CLOSE_GOING_AWAY, "client disconnected")),
            outcome(Side::Client, "client_gone", None, Some(CLOSE_GOING_AWAY)),
        ),
        First::Ended(Source::Upstream, End::Failed(_))
        | First::Ended(Source::Client, End::SinkFailed) => (
            Some(close(CLOSE_INTERNAL, upstream_lost)),
            None,
            outcome(Side::Upstream, "upstream_gone", Some(CLOSE_INTERNAL), None),
        ),
    }
}

#[cfg(test)]
mod tests;
