//! Cartesia raw audio encodings: names, sample widths, silence and the byte ↔ seconds maths.

/// A raw PCM encoding named by Cartesia (`pcm_s16le`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::simulate) enum Encoding {
    /// 16-bit signed little-endian.
    S16,
    /// 32-bit signed little-endian (STT input only).
    S32,
    /// 16-bit float little-endian (STT input only).
    F16,
    /// 32-bit float little-endian.
    F32,
    /// G.711 µ-law.
    Mulaw,
    /// G.711 A-law.
    Alaw,
}

impl Encoding {
    /// The encoding `name` denotes, if Cartesia knows it.
    pub(in crate::simulate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pcm_s16le" => Self::S16,
            "pcm_s32le" => Self::S32,
            "pcm_f16le" => Self::F16,
            "pcm_f32le" => Self::F32,
            "pcm_mulaw" => Self::Mulaw,
            "pcm_alaw" => Self::Alaw,
            _ => return None,
        })
    }

    /// Whether TTS can produce this encoding (`pcm_f32le`, `pcm_s16le`, `pcm_mulaw`, `pcm_alaw`).
    pub(in crate::simulate) fn is_tts_output(self) -> bool {
        !matches!(self, Self::S32 | Self::F16)
    }

    /// Bytes per (mono) sample.
    pub(in crate::simulate) fn width(self) -> u64 {
        match self {
            Self::S16 | Self::F16 => 2,
            Self::S32 | Self::F32 => 4,
            Self::Mulaw | Self::Alaw => 1,
        }
    }

    /// The byte that encodes silence (all-zero samples for linear PCM and floats).
    pub(in crate::simulate) fn silence(self) -> u8 {
        match self {
            Self::Mulaw => 0xFF,
            Self::Alaw => 0xD5,
            _ => 0,
        }
    }

    /// Seconds of audio in `bytes` at `rate` Hz.
    pub(in crate::simulate) fn seconds(self, bytes: u64, rate: u32) -> f64 {
        bytes as f64 / (f64::from(rate) * self.width() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::Encoding;

    #[test]
    fn widths_follow_the_encoding() {
        assert_eq!(Encoding::parse("pcm_s16le").map(Encoding::width), Some(2));
        assert_eq!(Encoding::parse("pcm_f16le").map(Encoding::width), Some(2));
        assert_eq!(Encoding::parse("pcm_s32le").map(Encoding::width), Some(4));
        assert_eq!(Encoding::parse("pcm_f32le").map(Encoding::width), Some(4));
        assert_eq!(Encoding::parse("pcm_mulaw").map(Encoding::width), Some(1));
        assert_eq!(Encoding::parse("pcm_alaw").map(Encoding::width), Some(1));
        assert_eq!(Encoding::parse("linear16"), None);
        assert!(!Encoding::S32.is_tts_output());
        assert!((Encoding::S16.seconds(32_000, 16_000) - 1.0).abs() < 1e-9);
    }
}
