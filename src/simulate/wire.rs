//! Pieces shared by the simulated protocols: query parameters, audio maths, fake words and timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// Highest `sample_rate` taken from a query; anything above (or zero) falls back to the default.
const MAX_SAMPLE_RATE: u32 = 192_000;
/// Highest `channels` taken from a query; anything above (or zero) falls back to one channel.
const MAX_CHANNELS: u32 = 32;
/// Audio rate assumed when the encoding is missing or not a raw PCM-like one.
const FALLBACK_BYTES_PER_SECOND: u64 = 32_000;
/// The words the fake transcripts are made of, used cyclically.
const SENTENCE: [&str; 9] = [
    "the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog",
];
/// Model version reported in every simulated message.
pub(super) const MODEL_VERSION: &str = "simulated";
/// Stable fake model UUID reported in every simulated message.
pub(super) const MODEL_UUID: &str = "00000000-5e1d-4a7e-9d00-000000000001";

/// Decoded query string of the upgrade request, plus the model it selects.
#[derive(Debug, Clone, Default)]
pub(super) struct Params {
    /// Every `key=value` pair, decoded, in request order.
    pairs: Vec<(String, String)>,
    /// Model name without any Cloudflare `@cf/deepgram/` prefix.
    model: Option<String>,
}

impl Params {
    /// Decodes a raw query string (`+` and percent escapes included).
    pub(super) fn parse(query: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let model = pairs
            .iter()
            .find(|(key, _)| key == "model")
            .map(|(_, value)| value.clone());
        Self { pairs, model }
    }

    /// Replaces the model (used for the Cloudflare shape, whose `model` carries a prefix).
    pub(super) fn with_model(mut self, model: &str) -> Self {
        self.model = Some(model.to_owned());
        self
    }

    /// First value of `key`, if present.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The selected model, or `default` when none was given.
    pub(super) fn model_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.model.as_deref().unwrap_or(default)
    }

    /// Whether `key` is set to `true` (any case).
    pub(super) fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    /// `sample_rate`, or `default` when missing, unparsable or out of range.
    pub(super) fn sample_rate(&self, default: u32) -> u32 {
        bounded(self.get("sample_rate"), MAX_SAMPLE_RATE).unwrap_or(default)
    }

    /// `channels`, or 1 when missing, unparsable or out of range.
    pub(super) fn channels(&self) -> u32 {
        bounded(self.get("channels"), MAX_CHANNELS).unwrap_or(1)
    }

    /// Bytes per second of the client's audio; `default_encoding` applies when `encoding` is absent.
    pub(super) fn bytes_per_second(
        &self,
        default_encoding: Option<&str>,
        default_rate: u32,
    ) -> u64 {
        let encoding = self.get("encoding").or(default_encoding);
        match encoding.and_then(bytes_per_sample) {
            Some(width) => {
                width * u64::from(self.sample_rate(default_rate)) * u64::from(self.channels())
            }
            None => FALLBACK_BYTES_PER_SECOND,
        }
    }
}

/// Parses a positive integer no larger than `max`.
fn bounded(value: Option<&str>, max: u32) -> Option<u32> {
    value
        .and_then(|raw| raw.trim().parse::<u32>().ok())
        .filter(|n| (1..=max).contains(n))
}

/// Bytes per sample of a raw encoding, `None` for encodings the simulator does not model.
pub(super) fn bytes_per_sample(encoding: &str) -> Option<u64> {
    match encoding {
        "linear16" => Some(2),
        "mulaw" | "alaw" => Some(1),
        "linear32" => Some(4),
        _ => None,
    }
}

/// One word of a fake transcript.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Word {
    /// Lowercase word.
    pub(super) word: &'static str,
    /// The word as `punctuate=true` would render it.
    pub(super) punctuated: String,
    /// Recognition confidence in `0..=1`.
    pub(super) confidence: f64,
}

/// Endless supply of words taken cyclically from [`SENTENCE`].
#[derive(Debug, Default)]
pub(super) struct WordCycle {
    /// How many words were handed out so far.
    issued: usize,
}

impl WordCycle {
    /// The next word, capitalised at a sentence start and with a full stop at its end.
    pub(super) fn next_word(&mut self) -> Word {
        let position = self.issued % SENTENCE.len();
        self.issued += 1;
        let word = SENTENCE[position];
        let mut punctuated = if position == 0 {
            capitalise(word)
        } else {
            word.to_owned()
        };
        if position + 1 == SENTENCE.len() {
            punctuated.push('.');
        }
        // Deterministic but not constant, so clients see varying confidences.
        let confidence = 0.9 + 0.01 * (self.issued % 10) as f64;
        Word {
            word,
            punctuated,
            confidence,
        }
    }
}

/// Upper-cases the first letter of an ASCII word.
fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Rounds seconds to milliseconds so timings read like Deepgram's.
pub(super) fn millis(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2024-08-29T22:37:55.202Z`.
pub(super) fn now_rfc3339() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since_epoch.as_secs(), since_epoch.subsec_millis())
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC with milliseconds.
pub(super) fn rfc3339(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
