//! The audio format metering reads from the query: `encoding`, `sample_rate` and `channels`,
//! checked before the upgrade so that no client can steer the counters.
//!
//! Each may appear once (a duplicate could be read one way here and another way upstream), as
//! a plain decimal integer within a real range, and is refused with 400 otherwise.

use crate::config::RouteKind;
use crate::rewrite::{ClientQuery, QueryPolicy, RewriteError, params};

/// Lowest `sample_rate` accepted (Hz); telephony's 8 kHz is the lowest any client uses.
pub(crate) const MIN_SAMPLE_RATE: u32 = 1_000;
/// Highest `sample_rate` accepted (Hz); 384 kHz is the highest rate audio hardware offers.
pub(crate) const MAX_SAMPLE_RATE: u32 = 384_000;
/// Most `channels` accepted.
pub(crate) const MAX_CHANNELS: u32 = 32;
/// Longest `encoding` value accepted.
const MAX_ENCODING: usize = 32;

/// Sample rate assumed for raw STT audio that names none.
const STT_DEFAULT_SAMPLE_RATE: f64 = 16_000.0;
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
/// client API's output format. The values come checked from [`AudioFormat::read`].
pub(crate) fn audio_rate(
    kind: RouteKind,
    encoding: Option<&str>,
    sample_rate: Option<u32>,
    channels: Option<u32>,
) -> Option<f64> {
    // audio inside events is metered at the session's formats (`usage::events`)
    if kind.audio_in_events() {
        return None;
    }
    let (encoding, default_rate) = if kind.synthesizes() {
        let (default_encoding, default_rate) = crate::provider::client_api(kind).tts_output;
        (encoding.unwrap_or(default_encoding), default_rate)
    } else {
        (encoding?, STT_DEFAULT_SAMPLE_RATE)
    };
    let width = bytes_per_sample(encoding)?;
    let rate = sample_rate.map_or(default_rate, f64::from);
    let channels = if kind.synthesizes() {
        1.0
    } else {
        channels.map_or(1.0, f64::from)
    };
    let bytes_per_second = rate * channels * width;
    (bytes_per_second.is_finite() && bytes_per_second >= 1.0).then_some(bytes_per_second)
}

/// The parameters metering reads.
pub(crate) const METERED_PARAMS: [&str; 3] = ["encoding", "sample_rate", "channels"];

const SAMPLE_RATE_RANGE: &str = "must be a whole number of Hz from 1000 to 384000";
const CHANNELS_RANGE: &str = "must be a whole number from 1 to 32";
const ENCODING_SHAPE: &str = "must be an encoding name (letters, digits, '-' and '_')";

/// The audio format a session declared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AudioFormat {
    /// `encoding`, as sent.
    pub encoding: Option<String>,
    /// `sample_rate` in Hz.
    pub sample_rate: Option<u32>,
    /// `channels`.
    pub channels: Option<u32>,
}

impl AudioFormat {
    /// Reads and checks the metered parameters as they will reach the upstream (a forced value
    /// wins over the client's).
    pub(crate) fn read(
        query: &ClientQuery<'_>,
        policy: &QueryPolicy,
    ) -> Result<Self, RewriteError> {
        let mut format = Self::default();
        for name in METERED_PARAMS {
            let values = query.values(name, policy);
            if values.len() > 1 {
                return Err(RewriteError::DuplicateParam(name));
            }
            if let Some(value) = values.first() {
                format.set(name, value)?;
            }
        }
        Ok(format)
    }

    fn set(&mut self, name: &'static str, value: &str) -> Result<(), RewriteError> {
        let invalid = |expected| RewriteError::InvalidParam { name, expected };
        match name {
            "sample_rate" => {
                let rate = integer(value)
                    .filter(|r| (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(r))
                    .ok_or_else(|| invalid(SAMPLE_RATE_RANGE))?;
                self.sample_rate = Some(rate);
            }
            "channels" => {
                let channels = integer(value)
                    .filter(|c| (1..=MAX_CHANNELS).contains(c))
                    .ok_or_else(|| invalid(CHANNELS_RANGE))?;
                self.channels = Some(channels);
            }
            _ => {
                let ok = !value.is_empty()
                    && value.len() <= MAX_ENCODING
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(invalid(ENCODING_SHAPE));
                }
                self.encoding = Some(value.to_owned());
            }
        }
        Ok(())
    }

    /// Audio bytes per second for the route kind, see [`audio_rate`].
    pub(crate) fn rate(&self, kind: RouteKind) -> Option<f64> {
        audio_rate(
            kind,
            self.encoding.as_deref(),
            self.sample_rate,
            self.channels,
        )
    }
}

/// A plain decimal integer: ASCII digits only (no sign, exponent, point or spaces).
fn integer(value: &str) -> Option<u32> {
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Checks a configured forced value of a metered parameter (other names pass).
pub(crate) fn check_forced(name: &str, value: &str) -> Result<(), RewriteError> {
    let name = params::normalise(name);
    match METERED_PARAMS.iter().find(|m| **m == name) {
        Some(metered) => AudioFormat::default().set(metered, value),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> QueryPolicy {
        QueryPolicy {
            default_model: "nova-3".into(),
            models: vec![crate::rewrite::Pattern::new("*")].into(),
            ..QueryPolicy::default()
        }
    }

    fn read(raw: &str) -> Result<AudioFormat, RewriteError> {
        let p = policy();
        AudioFormat::read(&ClientQuery::parse(Some(raw), &p)?, &p)
    }

    #[test]
    fn valid_formats_are_read() {
        let f = read("encoding=linear16&sample_rate=48000&channels=2").unwrap();
        assert_eq!(f.rate(RouteKind::Listen), Some(192_000.0));
        assert_eq!(read("").unwrap(), AudioFormat::default());
        assert_eq!(
            read("sample_rate=016000").unwrap().sample_rate,
            Some(16_000)
        );
    }

    #[test]
    fn float_and_out_of_range_values_are_refused() {
        for raw in [
            "sample_rate=1e-320",
            "sample_rate=inf",
            "sample_rate=NaN",
            "sample_rate=16000.0",
            "sample_rate=-16000",
            "sample_rate=+16000",
            "sample_rate=0",
            "sample_rate=999",
            "sample_rate=384001",
            "sample_rate=99999999999999999999",
            "sample_rate=",
            "sample_rate=%2016000",
            "channels=0",
            "channels=33",
            "channels=1e1",
            "channels=0.5",
            "encoding=",
            "encoding=linear16%00",
            "encoding=a%26b",
        ] {
            assert!(
                matches!(read(raw), Err(RewriteError::InvalidParam { .. })),
                "{raw}: {:?}",
                read(raw)
            );
        }
    }

    #[test]
    fn duplicates_in_any_spelling_are_refused() {
        for raw in [
            "sample_rate=16000&sample_rate=48000",
            "sample_rate=16000&Sample_Rate=16000",
            "sample_rate=16000&sample_rate%00=8000",
            "channels=1&channels[]=2",
            "encoding=opus&ENCODING=linear16",
        ] {
            assert!(
                matches!(read(raw), Err(RewriteError::DuplicateParam(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_forced_value_replaces_the_clients() {
        let mut p = policy();
        p.force_params = vec![("sample_rate".into(), "16000".into())];
        let q = ClientQuery::parse(Some("sample_rate=1e-320&sample_rate=2"), &p).unwrap();
        assert_eq!(AudioFormat::read(&q, &p).unwrap().sample_rate, Some(16_000));
        assert!(check_forced("Sample_Rate", "16000").is_ok());
        assert!(check_forced("sample_rate", "inf").is_err());
        assert!(check_forced("language", "anything").is_ok());
    }
}
