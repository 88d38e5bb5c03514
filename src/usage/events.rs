//! Metering from what an upstream API says in its messages (routes whose audio travels inside
//! JSON events): audio at rates the session can change, reported tokens and transcription time.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::IntCounter;

use super::tokens::{TOKEN_TYPES, Tokens};
use super::{Meter, guard};
use crate::config::PricesConfig;
use crate::metrics::Metrics;
use crate::provider::UpstreamUsage;

/// Longest transcription one event may report, seconds (a day): more is not believed.
const MAX_TRANSCRIPTION_SECONDS: f64 = 86_400.0;

/// Audio formats a session switches to, as bytes per second (`None`: unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Rates {
    /// Audio the client sends.
    pub input: Option<f64>,
    /// Audio the upstream sends.
    pub output: Option<f64>,
}

/// What a session's events added up to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct EventTotals {
    pub input_seconds: f64,
    pub output_seconds: f64,
    pub tokens: Tokens,
    pub transcription_seconds: f64,
    pub cost_usd: f64,
}

/// The per-session state; every method takes `&self` (both relay directions share it).
#[derive(Debug)]
pub(super) struct EventMeter {
    /// Bytes per second of each direction's audio, as `f64` bits.
    input_rate: AtomicU64,
    output_rate: AtomicU64,
    /// Audio so far, nanoseconds (summed chunk by chunk, each at the rate of its time).
    input_nanos: AtomicU64,
    output_nanos: AtomicU64,
    /// Tokens so far, in `TOKEN_TYPES` order.
    tokens: [AtomicU64; 8],
    transcription_nanos: AtomicU64,
    token_counters: [IntCounter; 8],
    prices: PricesConfig,
}

impl Meter {
    pub(super) fn set_rates(&self, rates: Rates) {
        if let Some(events) = &self.events {
            events.set_rates(rates);
        }
    }

    /// What an upstream event reported, on routes metered from events.
    pub(super) fn upstream_event(&self, usage: UpstreamUsage) {
        let Some(events) = &self.events else {
            return;
        };
        match usage {
            UpstreamUsage::SessionAudio(len) => {
                guard::add(&self.counters.tts_audio, events.output(len));
            }
            UpstreamUsage::Tokens(tokens) => {
                guard::add(&self.counters.cost, events.tokens(tokens));
            }
            UpstreamUsage::TranscriptionSeconds(seconds) => {
                guard::add(&self.counters.cost, events.transcription(seconds));
            }
            UpstreamUsage::Nothing
            | UpstreamUsage::Audio(_)
            | UpstreamUsage::Formats(_)
            | UpstreamUsage::Reported { .. } => {}
        }
    }
}

fn nanos(seconds: f64) -> u64 {
    // `as` saturates: a huge amount cannot wrap
    (seconds * 1e9).round() as u64
}

impl EventMeter {
    /// A meter whose audio starts at `default_rate` bytes per second both ways.
    pub(super) fn new(
        metrics: &Metrics,
        default_rate: f64,
        prices: &PricesConfig,
        [route, client]: [&str; 2],
    ) -> Self {
        Self {
            input_rate: AtomicU64::new(default_rate.to_bits()),
            output_rate: AtomicU64::new(default_rate.to_bits()),
            input_nanos: AtomicU64::new(0),
            output_nanos: AtomicU64::new(0),
            tokens: Default::default(),
            transcription_nanos: AtomicU64::new(0),
            token_counters: TOKEN_TYPES.map(|kind| {
                metrics
                    .tokens_total
                    .with_label_values(&[route, client, kind])
            }),
            prices: *prices,
        }
    }

    /// Switches the formats that later audio is counted at; unusable rates are ignored.
    pub(super) fn set_rates(&self, rates: Rates) {
        for (rate, slot) in [
            (rates.input, &self.input_rate),
            (rates.output, &self.output_rate),
        ] {
            if let Some(r) = rate.filter(|r| r.is_finite() && *r >= 1.0) {
                slot.store(r.to_bits(), Ordering::Relaxed);
            }
        }
    }

    fn audio(rate: &AtomicU64, total: &AtomicU64, len: usize) -> f64 {
        let seconds = len as f64 / f64::from_bits(rate.load(Ordering::Relaxed));
        total.fetch_add(nanos(seconds), Ordering::Relaxed);
        seconds
    }

    /// `len` bytes of client audio: its seconds.
    pub(super) fn input(&self, len: usize) -> f64 {
        Self::audio(&self.input_rate, &self.input_nanos, len)
    }

    /// `len` bytes of upstream audio: its seconds.
    pub(super) fn output(&self, len: usize) -> f64 {
        Self::audio(&self.output_rate, &self.output_nanos, len)
    }

    /// Reported tokens: counted, and their cost returned.
    pub(super) fn tokens(&self, tokens: Tokens) -> f64 {
        for ((n, total), counter) in tokens
            .values()
            .into_iter()
            .zip(&self.tokens)
            .zip(&self.token_counters)
        {
            total.fetch_add(n, Ordering::Relaxed);
            counter.inc_by(n);
        }
        tokens.cost(&self.prices)
    }

    /// Reported transcription time: counted, and its cost returned (0 for an unbelievable one).
    pub(super) fn transcription(&self, seconds: f64) -> f64 {
        if !(seconds.is_finite() && (0.0..=MAX_TRANSCRIPTION_SECONDS).contains(&seconds)) {
            return 0.0;
        }
        self.transcription_nanos
            .fetch_add(nanos(seconds), Ordering::Relaxed);
        seconds / 60.0 * self.prices.transcription_usd_per_minute
    }

    /// Everything so far.
    pub(super) fn totals(&self) -> EventTotals {
        let seconds = |n: &AtomicU64| n.load(Ordering::Relaxed) as f64 / 1e9;
        let tokens = Tokens::from_values(self.tokens.each_ref().map(|n| n.load(Ordering::Relaxed)));
        let transcription_seconds = seconds(&self.transcription_nanos);
        EventTotals {
            input_seconds: seconds(&self.input_nanos),
            output_seconds: seconds(&self.output_nanos),
            tokens,
            transcription_seconds,
            cost_usd: tokens.cost(&self.prices)
                + transcription_seconds / 60.0 * self.prices.transcription_usd_per_minute,
        }
    }
}
