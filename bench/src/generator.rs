//! The load generator: opens N WebSocket sessions through a target with bounded set-up
//! concurrency, then streams binary frames at a fixed rate per session with send phases spread
//! evenly over the period. Each frame starts with (session id, sequence number, send timestamp),
//! which the echo upstream returns, so every reply gives one round trip.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Bytes of every frame that carry (session id u32, sequence u32, send time u64 ns), little endian.
pub const HEADER_BYTES: usize = 16;

/// What to drive through a target.
#[derive(Clone, Debug)]
pub struct Load {
    /// TCP address of the target (or of the echo upstream, for "direct").
    pub addr: SocketAddr,
    /// WebSocket URL requested (`ws://host:port/v1/listen?...`).
    pub url: String,
    /// `Authorization` header value, if the target wants one.
    pub authorization: Option<String>,
    /// Concurrent sessions.
    pub sessions: usize,
    /// Frames per second per session.
    pub rate_hz: f64,
    /// Size of every binary frame.
    pub frame_bytes: usize,
    /// Sessions being set up at once.
    pub setup_concurrency: usize,
    /// Deadline for one session's TCP connect + WebSocket handshake.
    pub setup_timeout: Duration,
}

/// When the sessions start sending, and the measured window.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Phase zero: session i sends its first frame at `go + period * i / N`.
    pub go: Instant,
    /// Frames sent from here on are measured…
    pub window_start: Instant,
    /// …until here; no frame is sent after it.
    pub window_end: Instant,
}

/// Set-up outcome of all sessions.
#[derive(Debug)]
pub struct Setup {
    /// Sessions open.
    pub open: usize,
    /// Sessions that failed to open (first error kept in `first_error`).
    pub errors: usize,
    /// First set-up error seen.
    pub first_error: Option<String>,
    /// Set-up times (TCP connect + WebSocket handshake), ns.
    pub hist: Histogram<u64>,
    /// Wall time to open all sessions.
    pub wall: Duration,
    /// Each opened session: (session id, set-up start after the first, set-up time), in
    /// completion order.
    pub trace: Vec<(u32, Duration, Duration)>,
}

/// Results of the measured window.
#[derive(Debug)]
pub struct Outcome {
    /// Frames sent inside the window.
    pub sent: u64,
    /// Replies received for frames sent inside the window.
    pub received: u64,
    /// Replies that did not match their session (must be 0).
    pub foreign: u64,
    /// Sessions that ended with an error or an unexpected close while running.
    pub errors: u64,
    /// First run-time error seen.
    pub first_error: Option<String>,
    /// Round-trip times, ns.
    pub rtt: Histogram<u64>,
    /// How late each measured send was against its schedule, ns (generator saturation).
    pub send_lag: Histogram<u64>,
}

struct Shared {
    base: Instant,
    sent: AtomicU64,
    received: AtomicU64,
    foreign: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    rtt: Mutex<Histogram<u64>>,
    send_lag: Mutex<Histogram<u64>>,
}

impl Shared {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().expect("lock");
        if first.is_none() {
            *first = Some(e);
        }
    }
}

/// Open sessions waiting for a [`Plan`].
pub struct Generator {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    plan_tx: watch::Sender<Option<Plan>>,
    stop_tx: watch::Sender<bool>,
}

/// A histogram for durations in ns, 1 ns to 10 min, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("histogram bounds")
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Opens `load.sessions` sessions (at most `setup_concurrency` handshakes at a time) and waits
/// until each has opened or failed.
pub async fn open(load: Load, setup_deadline: Duration) -> Result<(Generator, Setup)> {
    let shared = Arc::new(Shared {
        base: Instant::now(),
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        foreign: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
        rtt: Mutex::new(new_hist()),
        send_lag: Mutex::new(new_hist()),
    });
    let (plan_tx, plan_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let sem = Arc::new(Semaphore::new(load.setup_concurrency.max(1)));
    let load = Arc::new(load);
    let started = Instant::now();
    let handles = (0..load.sessions)
        .map(|id| {
            tokio::spawn(session(
                u32::try_from(id).expect("session id fits u32"),
                load.clone(),
                shared.clone(),
                sem.clone(),
                plan_rx.clone(),
                stop_rx.clone(),
                ready_tx.clone(),
            ))
        })
        .collect();
    drop(ready_tx);
    let gen_ = Generator {
        shared,
        handles,
        plan_tx,
        stop_tx,
    };
    let mut setup = Setup {
        open: 0,
        errors: 0,
        first_error: None,
        hist: new_hist(),
        wall: Duration::ZERO,
        trace: Vec::with_capacity(load.sessions),
    };
    let collect = async {
        while let Some(r) = ready_rx.recv().await {
            match r {
                Ok((id, t0, d)) => {
                    setup.open += 1;
                    setup.hist.saturating_record(ns(d).max(1));
                    setup
                        .trace
                        .push((id, t0.saturating_duration_since(started), d));
                }
                Err(e) => {
                    setup.errors += 1;
                    setup.first_error.get_or_insert(e);
                }
            }
            if setup.open + setup.errors == load.sessions {
                break;
            }
        }
    };
    if timeout(setup_deadline, collect).await.is_err() {
        gen_.abort();
        bail!(
            "set-up of {} sessions did not finish within {setup_deadline:?}",
            load.sessions
        );
    }
    setup.wall = started.elapsed();
    Ok((gen_, setup))
}

impl Generator {
    /// Starts sending.
    pub fn start(&self, plan: Plan) {
        let _ = self.plan_tx.send(Some(plan));
    }

    /// Closes every session (bounded) and returns the window's results.
    pub async fn stop(mut self, deadline: Duration) -> Outcome {
        let _ = self.stop_tx.send(true);
        let ends = futures_util::future::join_all(self.handles.iter_mut().map(|h| async {
            let _ = h.await;
        }));
        let _ = timeout(deadline, ends).await;
        for h in &self.handles {
            h.abort();
        }
        let s = &self.shared;
        Outcome {
            sent: s.sent.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
            foreign: s.foreign.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            first_error: s.first_error.lock().expect("lock").clone(),
            rtt: s.rtt.lock().expect("lock").clone(),
            send_lag: s.send_lag.lock().expect("lock").clone(),
        }
    }

    fn abort(&self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        self.abort();
    }
}

async fn connect(load: &Load) -> Result<WebSocketStream<TcpStream>> {
    let stream = TcpStream::connect(load.addr)
        .await
        .with_context(|| format!("connect {}", load.addr))?;
    stream.set_nodelay(true)?;
    let mut req = load.url.as_str().into_client_request()?;
    if let Some(auth) = &load.authorization {
        req.headers_mut()
            .insert("Authorization", HeaderValue::from_str(auth)?);
    }
    let (ws, _resp) =
        tokio_tungstenite::client_async_with_config(req, stream, Some(crate::echo::ws_config()))
            .await
            .context("WebSocket handshake")?;
    Ok(ws)
}

async fn session(
    id: u32,
    load: Arc<Load>,
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    mut plan_rx: watch::Receiver<Option<Plan>>,
    mut stop_rx: watch::Receiver<bool>,
    ready_tx: mpsc::UnboundedSender<Result<(u32, Instant, Duration), String>>,
) {
    let opened = {
        let _permit = sem.acquire().await;
        let t0 = Instant::now();
        let r = timeout(load.setup_timeout, connect(&load)).await;
        match r {
            Ok(Ok(ws)) => Ok((ws, t0, t0.elapsed())),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err(format!("set-up timeout ({:?})", load.setup_timeout)),
        }
    };
    let mut ws = match opened {
        Ok((ws, t0, d)) => {
            let _ = ready_tx.send(Ok((id, t0, d)));
            ws
        }
        Err(e) => {
            let _ = ready_tx.send(Err(e));
            return;
        }
    };
    drop(ready_tx);
    let plan = loop {
        if let Some(p) = *plan_rx.borrow_and_update() {
            break p;
        }
        if plan_rx.changed().await.is_err() {
            return;
        }
    };
    let period = Duration::from_secs_f64(1.0 / load.rate_hz);
    let offset = period.mul_f64(f64::from(id) / load.sessions as f64);
    let mut ticker = interval_at(plan.go + offset, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let win_start = ns(plan.window_start - shared.base);
    let win_end = ns(plan.window_end - shared.base);
    let mut seq: u32 = 0;
    let mut sending = true;
    loop {
        tokio::select! {
            _ = stop_rx.changed() => break,
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(b))) => on_reply(id, &b, &shared, win_start, win_end),
                Some(Ok(Message::Close(c))) => {
                    shared.error(format!("session {id}: closed by the target: {c:?}"));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    shared.error(format!("session {id}: read: {e}"));
                    return;
                }
                None => {
                    shared.error(format!("session {id}: connection ended"));
                    return;
                }
            },
            scheduled = ticker.tick(), if sending => {
                if scheduled >= plan.window_end {
                    sending = false;
                    continue;
                }
                let now = Instant::now();
                let ts = ns(now - shared.base);
                let frame = build_frame(id, seq, ts, load.frame_bytes);
                seq = seq.wrapping_add(1);
                if let Err(e) = ws.send(Message::Binary(frame)).await {
                    shared.error(format!("session {id}: send: {e}"));
                    return;
                }
                if (win_start..win_end).contains(&ts) {
                    shared.sent.fetch_add(1, Ordering::Relaxed);
                    shared.send_lag.lock().expect("lock").saturating_record(ns(now - scheduled).max(1));
                }
            }
        }
    }
    // Close politely, bounded: send Close, read until the target's reply ends the stream.
    let _ = timeout(Duration::from_secs(2), async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

fn build_frame(id: u32, seq: u32, ts_ns: u64, frame_bytes: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(frame_bytes.max(HEADER_BYTES));
    b.put_u32_le(id);
    b.put_u32_le(seq);
    b.put_u64_le(ts_ns);
    b.resize(frame_bytes.max(HEADER_BYTES), 0x5a);
    b.freeze()
}

fn on_reply(id: u32, b: &[u8], shared: &Shared, win_start: u64, win_end: u64) {
    let now = ns(shared.base.elapsed());
    if b.len() < HEADER_BYTES {
        shared.foreign.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let rid = u32::from_le_bytes(b[0..4].try_into().expect("4 bytes"));
    let ts = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
    if rid != id || ts > now {
        shared.foreign.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if (win_start..win_end).contains(&ts) {
        shared.received.fetch_add(1, Ordering::Relaxed);
        shared
            .rtt
            .lock()
            .expect("lock")
            .saturating_record((now - ts).max(1));
    }
}
