//! Audio formats of the simulated ElevenLabs APIs: TTS `output_format` and Scribe `audio_format`.

/// TTS `output_format` when the query names none.
pub(super) const DEFAULT_OUTPUT_FORMAT: &str = "mp3_44100_128";
/// Scribe `audio_format` when the query names none.
pub(super) const DEFAULT_AUDIO_FORMAT: &str = "pcm_16000";
/// Highest sample rate taken from a format name.
const MAX_RATE: u64 = 192_000;
/// Highest bitrate (kbit/s) taken from a format name.
const MAX_KBPS: u64 = 512;

/// Bytes per second of a TTS output format: `pcm_R` 2 bytes a sample at R Hz, `ulaw_8000` and
/// `alaw_8000` 1 byte at 8000 Hz, `mp3_R_B` and `opus_R_B` B kbit/s constant bitrate.
/// `None` for a name the simulator does not know.
pub(super) fn output_bytes_per_second(format: &str) -> Option<u64> {
    let mut parts = format.split('_');
    let codec = parts.next()?;
    let rate = bounded(parts.next()?, MAX_RATE)?;
    let kbps = parts.next();
    if parts.next().is_some() {
        return None;
    }
    match (codec, kbps) {
        ("pcm", None) => Some(2 * rate),
        ("ulaw" | "alaw", None) if rate == 8000 => Some(rate),
        ("mp3" | "opus", Some(kbps)) => Some(bounded(kbps, MAX_KBPS)? * 1000 / 8),
        _ => None,
    }
}

/// Bytes per second of a Scribe input format: `pcm_R` (16-bit mono) or `ulaw_8000`.
pub(super) fn input_bytes_per_second(format: &str) -> Option<u64> {
    match format.split_once('_')? {
        ("pcm", rate) => Some(2 * bounded(rate, MAX_RATE)?),
        ("ulaw", "8000") => Some(8000),
        _ => None,
    }
}

/// The sample rate a Scribe format names (`pcm_16000` → 16000).
pub(super) fn sample_rate(format: &str) -> Option<u64> {
    format
        .split_once('_')
        .and_then(|(_, rate)| bounded(rate, MAX_RATE))
}

/// A positive integer no larger than `max`.
fn bounded(raw: &str, max: u64) -> Option<u64> {
    raw.parse::<u64>().ok().filter(|n| (1..=max).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_formats_map_to_byte_rates() {
        assert_eq!(output_bytes_per_second("mp3_44100_128"), Some(16_000));
        assert_eq!(output_bytes_per_second("mp3_22050_32"), Some(4_000));
        assert_eq!(output_bytes_per_second("opus_48000_64"), Some(8_000));
        assert_eq!(output_bytes_per_second("pcm_16000"), Some(32_000));
        assert_eq!(output_bytes_per_second("pcm_44100"), Some(88_200));
        assert_eq!(output_bytes_per_second("ulaw_8000"), Some(8_000));
        assert_eq!(output_bytes_per_second("alaw_8000"), Some(8_000));
        for bad in [
            "",
            "mp3",
            "pcm_0",
            "pcm_16000_1",
            "ulaw_16000",
            "wav_16000",
            "mp3_44100_x",
        ] {
            assert_eq!(output_bytes_per_second(bad), None, "{bad}");
        }
    }

    #[test]
    fn input_formats_map_to_byte_rates() {
        assert_eq!(input_bytes_per_second("pcm_16000"), Some(32_000));
        assert_eq!(input_bytes_per_second("pcm_48000"), Some(96_000));
        assert_eq!(input_bytes_per_second("ulaw_8000"), Some(8_000));
        assert_eq!(input_bytes_per_second("mp3_44100_128"), None);
        assert_eq!(input_bytes_per_second("pcm_abc"), None);
        assert_eq!(sample_rate("ulaw_8000"), Some(8000));
    }
}
