//! Per-session metering: bytes and messages each way, audio seconds (raw encodings from bytes,
//! containers from stream time), TTS characters and audio, time to first response, and the
//! estimated cost from the upstream's prices.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prometheus::{Counter, Histogram, IntCounter};
use tokio_tungstenite::tungstenite::Message;

use crate::config::{PricesConfig, RouteKind};
use crate::metrics::{CLIENT_TO_UPSTREAM, Flow, Metrics, UPSTREAM_TO_CLIENT};
use crate::provider::{self, CLIENT_API, ClientUsage};

pub(crate) mod format;
pub(crate) mod guard;

/// Sample rate assumed for raw STT audio that names none.
const STT_DEFAULT_SAMPLE_RATE: f64 = 16_000.0;
/// Marks "not yet" in the millisecond slots.
const UNSET: u64 = u64::MAX;

/// Bytes per sample of the raw encodings (any case); `None` for compressed or container formats.
pub(crate) fn bytes_per_sample(encoding: &str) -> Option<f64> {
    match encoding.to_ascii_lowercase().as_str() {
        "linear16" => Some(2.0),
        "linear32" => Some(4.0),
        "mulaw" | "alaw" => Some(1.0),
        _ => None,
    }
}

/// Audio bytes per second for a stream, or `None` when it must be timed by the clock.
/// STT audio is raw only when `encoding` names a raw encoding; TTS output defaults to the
/// client API's output format. The values come checked from [`format`].
pub(crate) fn audio_rate(
    kind: RouteKind,
    encoding: Option<&str>,
    sample_rate: Option<u32>,
    channels: Option<u32>,
) -> Option<f64> {
    let (encoding, default_rate) = match kind {
        RouteKind::Speak => {
            let (default_encoding, default_rate) = CLIENT_API.tts_output;
            (encoding.unwrap_or(default_encoding), default_rate)
        }
        RouteKind::Listen | RouteKind::Flux => (encoding?, STT_DEFAULT_SAMPLE_RATE),
        // metered from the upstream's reported usage, not timed from bytes (not yet metered)
        RouteKind::Realtime => return None,
    };
    let width = bytes_per_sample(encoding)?;
    let rate = sample_rate.map_or(default_rate, f64::from);
    let channels = match kind {
        RouteKind::Speak => 1.0,
        _ => channels.map_or(1.0, f64::from),
    };
    let bytes_per_second = rate * channels * width;
    (bytes_per_second.is_finite() && bytes_per_second >= 1.0).then_some(bytes_per_second)
}

/// What a finished session used.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Usage {
    /// Payload bytes from the client.
    pub bytes_in: u64,
    /// Payload bytes to the client.
    pub bytes_out: u64,
    /// Messages from the client.
    pub messages_in: u64,
    /// Messages to the client.
    pub messages_out: u64,
    /// Audio streamed for transcription.
    pub audio_seconds: f64,
    /// Characters sent for synthesis.
    pub tts_characters: u64,
    /// Synthesized audio received (raw encodings).
    pub tts_audio_seconds: f64,
    /// Estimated cost, USD.
    pub cost_usd: f64,
    /// First upstream message after the first client message, if both happened.
    pub first_response_seconds: Option<f64>,
}

/// The Prometheus handles one session updates, resolved once.
#[derive(Debug, Clone)]
struct Counters {
    up: Flow,
    down: Flow,
    audio: Counter,
    tts_chars: IntCounter,
    tts_audio: Counter,
    cost: Counter,
    first_response: Histogram,
}

/// Meters one session; shared by both relay directions.
#[derive(Debug)]
pub(crate) struct Meter {
    kind: RouteKind,
    rate: Option<f64>,
    usd_per_second: f64,
    usd_per_char: f64,
    started: Instant,
    counters: Counters,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    raw_audio_bytes: AtomicU64,
    tts_audio_bytes: AtomicU64,
    tts_chars: AtomicU64,
    first_client_ms: AtomicU64,
    first_response_ms: AtomicU64,
    first_audio_ms: AtomicU64,
    last_audio_ms: AtomicU64,
}

impl Meter {
    /// A meter for a session on `route` (`kind`) through `upstream` for `client` (label).
    pub(crate) fn new(
        metrics: &Metrics,
        kind: RouteKind,
        rate: Option<f64>,
        prices: &PricesConfig,
        [route, upstream, client]: [&str; 3],
    ) -> Self {
        let per_minute = match kind {
            RouteKind::Listen => prices.listen_usd_per_minute,
            RouteKind::Flux => prices.flux_usd_per_minute,
            RouteKind::Speak | RouteKind::Realtime => 0.0,
        };
        let counters = Counters {
            up: metrics.flow(route, CLIENT_TO_UPSTREAM),
            down: metrics.flow(route, UPSTREAM_TO_CLIENT),
            audio: metrics
                .audio_seconds_total
                .with_label_values(&[route, client]),
            tts_chars: metrics
                .tts_characters_total
                .with_label_values(&[route, client]),
            tts_audio: metrics
                .tts_audio_seconds_total
                .with_label_values(&[route, client]),
            cost: metrics
                .cost_usd_total
                .with_label_values(&[route, upstream, client]),
            first_response: metrics.first_response_seconds.with_label_values(&[route]),
        };
        Self {
            kind,
            rate,
            usd_per_second: per_minute / 60.0,
            usd_per_char: prices.speak_usd_per_1k_chars / 1000.0,
            started: Instant::now(),
            counters,
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            messages_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            raw_audio_bytes: AtomicU64::new(0),
            tts_audio_bytes: AtomicU64::new(0),
            tts_chars: AtomicU64::new(0),
            first_client_ms: AtomicU64::new(UNSET),
            first_response_ms: AtomicU64::new(UNSET),
            first_audio_ms: AtomicU64::new(UNSET),
            last_audio_ms: AtomicU64::new(UNSET),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A data message from the client, about to go upstream.
    pub(crate) fn client_message(&self, msg: &Message) {
        let len = payload_len(msg);
        self.counters.up.record(len);
        self.bytes_in.fetch_add(len as u64, Ordering::Relaxed);
        self.messages_in.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let _ =
            self.first_client_ms
                .compare_exchange(UNSET, now, Ordering::Relaxed, Ordering::Relaxed);
        match provider::client_usage(self.kind, msg) {
            ClientUsage::Audio(len) => self.audio_in(len, now),
            ClientUsage::Characters(chars) => self.tts_text(chars),
            ClientUsage::Nothing => {}
        }
    }

    /// A data message from the upstream, about to go to the client.
    pub(crate) fn upstream_message(&self, msg: &Message) {
        let len = payload_len(msg);
        self.counters.down.record(len);
        self.bytes_out.fetch_add(len as u64, Ordering::Relaxed);
        self.messages_out.fetch_add(1, Ordering::Relaxed);
        let first_client = self.first_client_ms.load(Ordering::Relaxed);
        if first_client != UNSET && self.first_response_ms.load(Ordering::Relaxed) == UNSET {
            let now = self.now_ms();
            if self
                .first_response_ms
                .compare_exchange(UNSET, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                let seconds = now.saturating_sub(first_client) as f64 / 1000.0;
                guard::observe(&self.counters.first_response, seconds);
            }
        }
        if let (Some(len), Some(rate)) = (provider::tts_audio(self.kind, msg), self.rate) {
            self.tts_audio_bytes
                .fetch_add(len as u64, Ordering::Relaxed);
            guard::add(&self.counters.tts_audio, len as f64 / rate);
        }
    }

    fn audio_in(&self, len: usize, now: u64) {
        match self.rate {
            Some(rate) => {
                self.raw_audio_bytes
                    .fetch_add(len as u64, Ordering::Relaxed);
                let seconds = len as f64 / rate;
                guard::add(&self.counters.audio, seconds);
                guard::add(&self.counters.cost, seconds * self.usd_per_second);
            }
            None => {
                let _ = self.first_audio_ms.compare_exchange(
                    UNSET,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                self.last_audio_ms.store(now, Ordering::Relaxed);
            }
        }
    }

    fn tts_text(&self, chars: u64) {
        self.tts_chars.fetch_add(chars, Ordering::Relaxed);
        self.counters.tts_chars.inc_by(chars);
        guard::add(&self.counters.cost, chars as f64 * self.usd_per_char);
    }

    /// Ends metering: counts container audio by stream time and returns the session's usage.
    pub(crate) fn finish(&self) -> Usage {
        let container_seconds = match (
            self.first_audio_ms.load(Ordering::Relaxed),
            self.last_audio_ms.load(Ordering::Relaxed),
        ) {
            (first, last) if first != UNSET && last != UNSET => {
                // the stream lasts until the session ends, not until the last frame was sent
                let end = self.now_ms().max(last);
                end.saturating_sub(first) as f64 / 1000.0
            }
            _ => 0.0,
        };
        if container_seconds > 0.0 {
            guard::add(&self.counters.audio, container_seconds);
            guard::add(&self.counters.cost, container_seconds * self.usd_per_second);
        }
        let raw_seconds = match self.rate {
            Some(rate) if self.kind != RouteKind::Speak => {
                self.raw_audio_bytes.load(Ordering::Relaxed) as f64 / rate
            }
            _ => 0.0,
        };
        let audio_seconds = raw_seconds + container_seconds;
        let tts_characters = self.tts_chars.load(Ordering::Relaxed);
        let tts_audio_seconds = match (self.kind, self.rate) {
            (RouteKind::Speak, Some(rate)) => {
                self.tts_audio_bytes.load(Ordering::Relaxed) as f64 / rate
            }
            _ => 0.0,
        };
        let first_client = self.first_client_ms.load(Ordering::Relaxed);
        let first_response = self.first_response_ms.load(Ordering::Relaxed);
        Usage {
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            messages_in: self.messages_in.load(Ordering::Relaxed),
            messages_out: self.messages_out.load(Ordering::Relaxed),
            audio_seconds,
            tts_characters,
            tts_audio_seconds,
            cost_usd: audio_seconds * self.usd_per_second
                + tts_characters as f64 * self.usd_per_char,
            first_response_seconds: (first_response != UNSET)
                .then(|| first_response.saturating_sub(first_client) as f64 / 1000.0),
        }
    }
}

fn payload_len(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
