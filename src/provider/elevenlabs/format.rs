//! The session's audio rate from ElevenLabs' format names: Scribe's input `audio_format`
//! (`pcm_R`, `ulaw_8000`), text-to-speech's `output_format` (`pcm_R`, `ulaw_8000`, `alaw_8000`,
//! `mp3_R_B`, `opus_R_B`).

use crate::config::RouteKind;
use crate::rewrite::{ClientQuery, QueryPolicy, RewriteError};

/// Scribe's format when the client names none.
const SCRIBE_DEFAULT: &str = "pcm_16000";
/// Text-to-speech's format when the client names none.
const TTS_DEFAULT: &str = "mp3_44100_128";

const SCRIBE_FORMATS: &str = "must be pcm_8000, pcm_16000, pcm_22050, pcm_24000, pcm_44100, \
                              pcm_48000 or ulaw_8000";
const TTS_FORMATS: &str = "must be pcm_<rate>, ulaw_8000, alaw_8000, mp3_<rate>_<kbps> or \
                           opus_<rate>_<kbps>";

/// Bytes per second of the session's audio: Scribe's input, text-to-speech's output. A
/// parameter repeated with one value is fine (ElevenLabs' Node SDK sends `audio_format`
/// twice); differing values are refused, as is a format ElevenLabs does not have.
pub(super) fn audio_rate(
    kind: RouteKind,
    query: &ClientQuery<'_>,
    policy: &QueryPolicy,
) -> Result<Option<f64>, RewriteError> {
    let (name, default, expected, read): (_, _, _, fn(&str) -> Option<f64>) = match kind {
        RouteKind::ElevenLabsStt => ("audio_format", SCRIBE_DEFAULT, SCRIBE_FORMATS, scribe_rate),
        _ => ("output_format", TTS_DEFAULT, TTS_FORMATS, tts_rate),
    };
    let values = query.values(name, policy);
    if values.iter().any(|v| *v != values[0]) {
        return Err(RewriteError::DuplicateParam(name));
    }
    let format = values.first().map_or(default, String::as_str);
    read(format)
        .map(Some)
        .ok_or(RewriteError::InvalidParam { name, expected })
}

/// Scribe's input formats: 16-bit PCM at the listed rates, or 8 kHz µ-law.
pub(super) fn scribe_rate(format: &str) -> Option<f64> {
    match format {
        "ulaw_8000" => Some(8_000.0),
        _ => {
            let rate: u32 = format.strip_prefix("pcm_")?.parse().ok()?;
            [8_000, 16_000, 22_050, 24_000, 44_100, 48_000]
                .contains(&rate)
                .then(|| f64::from(rate) * 2.0)
        }
    }
}

/// Text-to-speech's output formats: 16-bit PCM, 8 kHz G.711, or mp3/opus at a bit rate
/// (constant bit rate assumed: bytes × 8 ÷ bit rate).
pub(super) fn tts_rate(format: &str) -> Option<f64> {
    let mut parts = format.split('_');
    let (codec, rate) = (parts.next()?, parts.next()?.parse::<u32>().ok()?);
    let kbps = parts.next().map(str::parse::<u32>);
    if parts.next().is_some() || !(8_000..=48_000).contains(&rate) {
        return None;
    }
    match (codec, kbps) {
        ("pcm", None) => Some(f64::from(rate) * 2.0),
        ("ulaw" | "alaw", None) if rate == 8_000 => Some(8_000.0),
        ("mp3" | "opus", Some(Ok(kbps))) if (8..=512).contains(&kbps) => {
            Some(f64::from(kbps) * 1000.0 / 8.0)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scribe_formats_are_pcm_at_two_bytes_a_sample_or_ulaw() {
        assert_eq!(scribe_rate("pcm_16000"), Some(32_000.0));
        assert_eq!(scribe_rate("pcm_44100"), Some(88_200.0));
        assert_eq!(scribe_rate("ulaw_8000"), Some(8_000.0));
        for bad in ["pcm_12345", "pcm_", "mp3_44100_128", "ulaw_16000", ""] {
            assert_eq!(scribe_rate(bad), None, "{bad}");
        }
    }

    #[test]
    fn tts_formats_give_bytes_a_second() {
        assert_eq!(tts_rate("mp3_44100_128"), Some(16_000.0));
        assert_eq!(tts_rate("mp3_22050_32"), Some(4_000.0));
        assert_eq!(tts_rate("opus_48000_64"), Some(8_000.0));
        assert_eq!(tts_rate("pcm_24000"), Some(48_000.0));
        assert_eq!(tts_rate("ulaw_8000"), Some(8_000.0));
        assert_eq!(tts_rate("alaw_8000"), Some(8_000.0));
        for bad in [
            "pcm_24000_1",
            "mp3_44100",
            "ulaw_16000",
            "wav",
            "pcm_1",
            "mp3_44100_0",
        ] {
            assert_eq!(tts_rate(bad), None, "{bad}");
        }
    }
}
