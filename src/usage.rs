//! Per-session metering: bytes and messages each way, audio seconds (raw encodings from bytes,
//! containers from stream time, audio inside events at the session's formats), TTS characters
//! and audio, reported tokens, time to first response, and the estimated cost from the
//! upstream's prices.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use prometheus::{Counter, Histogram, IntCounter};
use tokio_tungstenite::tungstenite::Message;
use tracing::warn;

use crate::config::{PricesConfig, RouteKind};
use crate::metrics::{CLIENT_TO_UPSTREAM, Flow, Metrics, UPSTREAM_TO_CLIENT};
use crate::provider::{self, ClientUsage, UpstreamUsage};
use crate::route::ModelRules;
use events::EventMeter;
pub(crate) use events::Rates;
pub(crate) use format::bytes_per_sample;
pub(crate) use tokens::Tokens;

mod events;
pub(crate) mod format;
pub(crate) mod guard;
mod tokens;

/// Marks "not yet" in the millisecond slots.
const UNSET: u64 = u64::MAX;

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
    /// Synthesized audio received (raw encodings), or a realtime model's audio.
    pub tts_audio_seconds: f64,
    /// Tokens the upstream reported.
    pub tokens: Tokens,
    /// Transcription the upstream reported by duration.
    pub transcription_seconds: f64,
    /// Time the session was open for billing, seconds: the upstream's figure when it reports
    /// one, else voxrelay's.
    pub session_seconds: f64,
    /// Audio seconds voxrelay counted from bytes when the upstream reported its own figure
    /// (then in `audio_seconds`); the two are cross-checked.
    pub metered_audio_seconds: Option<f64>,
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
    usd_per_session_second: f64,
    started: Instant,
    /// The client asked the upstream to finish.
    finished_by_client: AtomicBool,
    /// What the upstream reported at the end, if it did.
    reported: Mutex<Option<(f64, f64)>>,
    counters: Counters,
    /// Metering from the messages' contents, on routes whose audio travels in JSON events.
    events: Option<Box<EventMeter>>,
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
        let per_minute = kind.audio_usd_per_minute(prices);
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
        let events = kind.audio_in_events().then(|| {
            // audio at the handshake's format, else the client API's output format, both ways
            // until the session says otherwise
            let (encoding, api_rate) = provider::client_api(kind).tts_output;
            let api_rate = bytes_per_sample(encoding).map_or(api_rate, |w| w * api_rate);
            let default_rate = rate.unwrap_or(api_rate);
            Box::new(EventMeter::new(
                metrics,
                default_rate,
                prices,
                [route, client],
            ))
        });
        Self {
            events,
            kind,
            rate,
            usd_per_second: per_minute / 60.0,
            usd_per_char: prices.speak_usd_per_1k_chars / 1000.0,
            usd_per_session_second: prices.session_usd_per_minute / 60.0,
            started: Instant::now(),
            finished_by_client: AtomicBool::new(false),
            reported: Mutex::new(None),
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

    /// A data message from the client: metered when it may go upstream, or the message that
    /// refuses it under `rules` (for the client; the session goes on).
    pub(crate) fn client_message(
        &self,
        msg: &mut Message,
        rules: &ModelRules,
    ) -> Result<(), Message> {
        let usage = provider::client_message(self.kind, msg, rules)?;
        self.client_data(payload_len(msg), true, usage);
        Ok(())
    }

    /// A binary frame from the client, relayed as it arrives: `len` payload bytes, `starts`
    /// at a message's first frame.
    pub(crate) fn client_binary(&self, len: usize, starts: bool) {
        self.client_data(len, starts, provider::client_binary(self.kind, len));
    }

    /// Counts client data and applies what it counts towards.
    fn client_data(&self, len: usize, starts: bool, usage: ClientUsage) {
        self.counters.up.record_part(len, starts);
        self.bytes_in.fetch_add(len as u64, Ordering::Relaxed);
        if starts {
            self.messages_in.fetch_add(1, Ordering::Relaxed);
        }
        // the clock is read only where a time is recorded (not for every relayed frame)
        if self.first_client_ms.load(Ordering::Relaxed) == UNSET {
            let now = self.now_ms();
            let _ = self.first_client_ms.compare_exchange(
                UNSET,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        match usage {
            ClientUsage::Audio(len) => self.audio_in(len),
            ClientUsage::Characters(chars) => self.tts_text(chars),
            ClientUsage::Speech(chars, rates) => {
                self.set_rates(rates);
                self.tts_text(chars);
            }
            ClientUsage::SessionAudio(len) => {
                if let Some(events) = &self.events {
                    let seconds = events.input(len);
                    guard::add(&self.counters.audio, seconds);
                    guard::add(&self.counters.cost, seconds * self.usd_per_second);
                }
            }
            ClientUsage::Formats(rates) => self.set_rates(rates),
            ClientUsage::Finish => self.finished_by_client.store(true, Ordering::Relaxed),
            ClientUsage::Nothing => {}
        }
    }

    /// A data message from the upstream, about to go to the client.
    pub(crate) fn upstream_message(&self, msg: &Message) {
        self.upstream_data(
            payload_len(msg),
            true,
            provider::upstream_usage(self.kind, msg),
        );
    }

    /// A binary frame from the upstream, relayed as it arrives.
    pub(crate) fn upstream_binary(&self, len: usize, starts: bool) {
        self.upstream_data(len, starts, provider::upstream_binary(self.kind, len));
    }

    /// Counts upstream data and applies what it counts towards.
    fn upstream_data(&self, len: usize, starts: bool, usage: UpstreamUsage) {
        self.counters.down.record_part(len, starts);
        self.bytes_out.fetch_add(len as u64, Ordering::Relaxed);
        if starts {
            self.messages_out.fetch_add(1, Ordering::Relaxed);
        }
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
        match usage {
            UpstreamUsage::Nothing => {}
            UpstreamUsage::Audio(len) => {
                if let Some(rate) = self.rate {
                    self.tts_audio_bytes
                        .fetch_add(len as u64, Ordering::Relaxed);
                    guard::add(&self.counters.tts_audio, len as f64 / rate);
                }
            }
            UpstreamUsage::Formats(rates) => self.set_rates(rates),
            UpstreamUsage::Reported {
                audio_seconds,
                session_seconds,
            } => {
                let valid = |s: f64| s.is_finite() && s >= 0.0;
                if valid(audio_seconds) && valid(session_seconds) {
                    *lock(&self.reported) = Some((audio_seconds, session_seconds));
                }
            }
            usage => self.upstream_event(usage),
        }
    }

    fn audio_in(&self, len: usize) {
        match self.rate {
            Some(rate) => {
                self.raw_audio_bytes
                    .fetch_add(len as u64, Ordering::Relaxed);
                let seconds = len as f64 / rate;
                guard::add(&self.counters.audio, seconds);
                guard::add(&self.counters.cost, seconds * self.usd_per_second);
            }
            None => {
                let now = self.now_ms();
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

    /// Whether the client asked the upstream to finish the session.
    pub(crate) fn finished_by_client(&self) -> bool {
        self.finished_by_client.load(Ordering::Relaxed)
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
            Some(rate) if !self.kind.synthesizes() => {
                self.raw_audio_bytes.load(Ordering::Relaxed) as f64 / rate
            }
            _ => 0.0,
        };
        let audio_seconds = raw_seconds + container_seconds;
        let tts_characters = self.tts_chars.load(Ordering::Relaxed);
        let tts_audio_seconds = match (self.kind, self.rate) {
            (kind, Some(rate)) if kind.synthesizes() => {
                self.tts_audio_bytes.load(Ordering::Relaxed) as f64 / rate
            }
            _ => 0.0,
        };
        let first_client = self.first_client_ms.load(Ordering::Relaxed);
        let first_response = self.first_response_ms.load(Ordering::Relaxed);
        let events = self.events.as_ref().map(|e| e.totals()).unwrap_or_default();
        let metered_audio = audio_seconds + events.input_seconds;
        let reported = *lock(&self.reported);
        let session_seconds =
            reported.map_or_else(|| self.started.elapsed().as_secs_f64(), |(_, s)| s);
        let session_cost = session_seconds * self.usd_per_session_second;
        guard::add(&self.counters.cost, session_cost);
        if let Some((reported_audio, _)) = reported
            && (reported_audio - metered_audio).abs() > 1.0 + 0.02 * reported_audio
        {
            warn!(
                reported_audio_seconds = reported_audio,
                metered_audio_seconds = metered_audio,
                "the upstream's audio figure differs from the bytes relayed"
            );
        }
        Usage {
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            messages_in: self.messages_in.load(Ordering::Relaxed),
            messages_out: self.messages_out.load(Ordering::Relaxed),
            audio_seconds: reported.map_or(metered_audio, |(a, _)| a),
            tts_characters,
            tts_audio_seconds: tts_audio_seconds + events.output_seconds,
            tokens: events.tokens,
            transcription_seconds: events.transcription_seconds,
            session_seconds,
            metered_audio_seconds: reported.map(|_| metered_audio),
            cost_usd: audio_seconds * self.usd_per_second
                + tts_characters as f64 * self.usd_per_char
                + session_cost
                + events.input_seconds * self.usd_per_second
                + events.cost_usd,
            first_response_seconds: (first_response != UNSET)
                .then(|| first_response.saturating_sub(first_client) as f64 / 1000.0),
        }
    }
}

/// The lock, whatever a panicking holder left (the value is a plain figure).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
