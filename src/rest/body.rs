//! The bodies a REST request streams: the client's upload on its way upstream ([`Upload`],
//! counted and cut at the route's limit) and the upstream's speech on its way back
//! ([`Metered`], counted and cut at the request's deadline), and the end of every admitted
//! request ([`Finish`]: metrics and the usage record, exactly once, however it ends).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use prometheus::IntGauge;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tracing::info;

use crate::config::RouteKind;
use crate::error::Reject;
use crate::limits::Permit;
use crate::metrics::{CLIENT_TO_UPSTREAM, UPSTREAM_TO_CLIENT};
use crate::route::Route;
use crate::session::USAGE_TARGET;
use crate::state::Shared;
use crate::upstream::{Upstream, UpstreamError};

/// Errors the streamed bodies end with.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What is known about an upload while and after it streams.
#[derive(Debug, Default)]
pub(super) struct UploadState {
    bytes: AtomicU64,
    too_large: AtomicBool,
    broken: AtomicBool,
    stalled: AtomicBool,
}

impl UploadState {
    /// Bytes read from the client so far.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether the upload failed on the client's side (over the limit, stalled, broken off).
    pub(super) fn client_failed(&self) -> bool {
        [&self.too_large, &self.stalled, &self.broken]
            .iter()
            .any(|f| f.load(Ordering::Relaxed))
    }

    /// The client's side of a failed request: the upload went over `max` bytes, or broke off.
    pub(super) fn refusal(&self, max: u64) -> Option<Reject> {
        if self.too_large.load(Ordering::Relaxed) {
            Some(Reject::BodyTooLarge(
                usize::try_from(max).unwrap_or(usize::MAX),
            ))
        } else if self.stalled.load(Ordering::Relaxed) {
            Some(Reject::BodyTimeout)
        } else if self.broken.load(Ordering::Relaxed) {
            Some(Reject::BadBody(
                "the upload broke off before its end".into(),
            ))
        } else {
            None
        }
    }
}

/// The client's audio on its way upstream: each chunk passed on as it arrives, counted, and
/// the stream failed once it goes over the limit or the client sends nothing for `gap` while
/// voxrelay waits for it (so the upstream request is abandoned).
pub(super) struct Upload {
    inner: axum::body::Body,
    declared: Option<u64>,
    max: u64,
    seen: u64,
    state: Arc<UploadState>,
    gap: Duration,
    /// Runs only while voxrelay waits for the client (not while the upstream is slow to take
    /// what it has).
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Upload {
    /// `body`, announced as `declared` bytes (if it was), allowed up to `max`, with at most
    /// `gap` between its chunks.
    pub(super) fn new(
        body: axum::body::Body,
        declared: Option<u64>,
        max: u64,
        gap: Duration,
    ) -> Self {
        Self {
            inner: body,
            declared,
            max,
            seen: 0,
            state: Arc::default(),
            gap,
            waiting: None,
        }
    }

    /// Its state, readable after the upload has been handed to the upstream request.
    pub(super) fn state(&self) -> Arc<UploadState> {
        self.state.clone()
    }
}

impl HttpBody for Upload {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if polled.is_pending() {
            let gap = this.gap;
            let waiting = (this.waiting).get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
            if waiting.as_mut().poll(cx).is_ready() {
                this.state.stalled.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err("the upload stalled".into())));
            }
            return Poll::Pending;
        }
        this.waiting = None;
        match ready!(polled) {
            None => Poll::Ready(None),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    this.state.bytes.store(this.seen, Ordering::Relaxed);
                    if this.seen > this.max {
                        this.state.too_large.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(
                            "the upload is over the route's limit".into()
                        )));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                this.state.broken.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(Box::new(e))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(n) => SizeHint::with_exact(n),
            None => self.inner.size_hint(),
        }
    }
}

/// Speech on its way to the client: counted, ended at the deadline, and the request finished
/// when it ends (or when the client goes away and it is dropped).
pub(super) struct Metered {
    inner: Incoming,
    finish: Option<Finish>,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Metered {
    /// `inner` relayed until `deadline`, ending `finish`.
    pub(super) fn new(inner: Incoming, finish: Finish, deadline: tokio::time::Instant) -> Self {
        Self {
            inner,
            finish: Some(finish),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn end(&mut self, status: StatusCode, outcome: &'static str) {
        if let Some(mut finish) = self.finish.take() {
            finish.done(status, outcome);
        }
    }
}

impl HttpBody for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.finish.is_some() && this.deadline.as_mut().poll(cx).is_ready() {
            this.end(StatusCode::GATEWAY_TIMEOUT, "timeout");
            return Poll::Ready(Some(
                Err("the request's time (rest.timeout) ran out".into()),
            ));
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let (Some(data), Some(finish)) = (frame.data_ref(), this.finish.as_mut()) {
                    finish.bytes_out += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                this.end(StatusCode::BAD_GATEWAY, "failed");
                Poll::Ready(Some(Err(Box::new(e))))
            }
            None => {
                let status = this.finish.as_ref().and_then(|f| f.status);
                this.end(status.unwrap_or(StatusCode::OK), "ok");
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An admitted request: recorded (metrics, cost, usage record) once, when dropped; holds its
/// concurrency permit until then.
pub(super) struct Finish {
    pub(super) shared: Arc<Shared>,
    pub(super) route: Arc<Route>,
    pub(super) request_id: String,
    pub(super) client_id: String,
    pub(super) client_label: String,
    /// The upstream that answered (or last failed).
    pub(super) upstream: Option<Arc<Upstream>>,
    /// The model as sent upstream (as asked until one answered).
    pub(super) model: String,
    pub(super) started: Instant,
    pub(super) active: IntGauge,
    pub(super) upload: Option<Arc<UploadState>>,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    pub(super) audio_seconds: f64,
    pub(super) characters: u64,
    pub(super) status: Option<StatusCode>,
    pub(super) outcome: Option<&'static str>,
    pub(super) _permit: Permit,
    pub(super) _tracked: TaskTrackerToken,
}

impl Finish {
    /// Ends with the answer `status`, as `outcome`.
    pub(super) fn done(&mut self, status: StatusCode, outcome: &'static str) {
        self.status = Some(status);
        self.outcome = Some(outcome);
    }

    /// Ends refused with `reject`: its answer, in Deepgram's shape.
    pub(super) fn refuse(mut self, reject: Reject) -> axum::response::Response {
        self.fail(&reject);
        tracing::info!(
            reason = reject.reason(),
            status = reject.status().as_u16(),
            "request failed"
        );
        reject.into_response_in(&crate::provider::CLIENT_API, &self.request_id)
    }

    /// Ends refused with `reject`.
    pub(super) fn fail(&mut self, reject: &Reject) {
        let outcome = match reject {
            Reject::BodyTooLarge(_) => "too_large",
            Reject::BadBody(_) | Reject::BodyTimeout => "client_aborted",
            Reject::Upstream(UpstreamError::Timeout) => "timeout",
            Reject::Upstream(UpstreamError::Rejected { .. }) => "upstream_error",
            _ => "failed",
        };
        self.done(reject.status(), outcome);
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        // dropped before an answer was made or sent in full: the client went away
        let outcome = self.outcome.unwrap_or("client_aborted");
        let m = &self.shared.metrics;
        let route = self.route.name.as_str();
        let upstream = self.upstream.as_ref().map_or("none", |u| u.name.as_str());
        let seconds = self.started.elapsed().as_secs_f64();
        self.active.dec();
        m.rest_requests_total
            .with_label_values(&[route, upstream, outcome])
            .inc();
        crate::usage::guard::observe(&m.rest_request_seconds.with_label_values(&[route]), seconds);
        let bytes_in = (self.upload.as_ref().map(|u| u.bytes())).unwrap_or(self.bytes_in);
        m.flow(route, CLIENT_TO_UPSTREAM).record(bytes_in as usize);
        if self.bytes_out > 0 {
            m.flow(route, UPSTREAM_TO_CLIENT)
                .record(self.bytes_out as usize);
        }
        // what the upstream bills: a transcription it answered, text it accepted
        let billed = self.status.is_some_and(|s| s.is_success());
        let (audio, chars) = if billed {
            (self.audio_seconds, self.characters)
        } else {
            (0.0, 0)
        };
        let prices = self.upstream.as_ref().map(|u| u.prices_for(&self.model));
        let cost = prices.map_or(0.0, |p| {
            audio / 60.0 * p.prerecorded_usd_per_minute
                + chars as f64 / 1000.0 * p.speak_usd_per_1k_chars
        });
        let client = self.client_label.as_str();
        if audio > 0.0 {
            (m.audio_seconds_total.with_label_values(&[route, client])).inc_by(audio);
        }
        if chars > 0 {
            (m.tts_characters_total.with_label_values(&[route, client])).inc_by(chars);
        }
        if cost > 0.0 {
            (m.cost_usd_total
                .with_label_values(&[route, upstream, client]))
            .inc_by(cost);
        }
        let status = self.status.map_or(0, |s| s.as_u16());
        let kind = match self.route.kind {
            RouteKind::Speak => "speak",
            _ => "transcribe",
        };
        info!(
            target: USAGE_TARGET,
            api = "rest",
            request = kind,
            session_id = %self.request_id,
            client = %self.client_id,
            route = %route,
            upstream = %upstream,
            model = %self.model,
            status,
            duration_seconds = seconds,
            bytes_in,
            bytes_out = self.bytes_out,
            audio_seconds = audio,
            tts_characters = chars,
            estimated_cost_usd = cost,
            outcome,
            "request usage"
        );
    }
}
