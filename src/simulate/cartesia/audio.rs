//! Cartesia raw audio encodings: names, sample widths, silence and the byte ↔ seconds maths.

/// Peak level, as a fraction of full scale, above which audio counts as speech.
const LOUD: f64 = 0.01;

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

    /// Whether any sample of `data` is louder than [`LOUD`] of full scale (a crude voice detector; G.711 by
    /// its segment code, 0x20 and up being about that level).
    pub(in crate::simulate) fn is_loud(self, data: &[u8]) -> bool {
        match self {
            Self::S16 => data
                .chunks_exact(2)
                .any(|s| f64::from(i16::from_le_bytes([s[0], s[1]])).abs() / 32_768.0 > LOUD),
            Self::S32 => data.chunks_exact(4).any(|s| {
                f64::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]])).abs() / 2_147_483_648.0
                    > LOUD
            }),
            Self::F32 => data
                .chunks_exact(4)
                .any(|s| f64::from(f32::from_le_bytes([s[0], s[1], s[2], s[3]])).abs() > LOUD),
            // Half floats above LOUD have a biased exponent of at least 8 (2^-7 ≈ 0.0078).
            Self::F16 => data
                .chunks_exact(2)
                .any(|s| (u16::from_le_bytes([s[0], s[1]]) >> 10) & 0x1F >= 8),
            Self::Mulaw => data.iter().any(|b| !b & 0x7F >= 0x20),
            Self::Alaw => data.iter().any(|b| (b ^ 0x55) & 0x7F >= 0x20),
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

    #[test]
    fn silence_is_quiet_and_a_tone_is_loud() {
        let encodings = [
            Encoding::S16,
            Encoding::S32,
            Encoding::F16,
            Encoding::F32,
            Encoding::Mulaw,
            Encoding::Alaw,
        ];
        for encoding in encodings {
            assert!(!encoding.is_loud(&[encoding.silence(); 64]), "{encoding:?}");
        }
        assert!(Encoding::S16.is_loud(&2000i16.to_le_bytes()));
        assert!(!Encoding::S16.is_loud(&100i16.to_le_bytes()));
        assert!(Encoding::F32.is_loud(&0.5f32.to_le_bytes()));
        assert!(Encoding::S32.is_loud(&(i32::MAX / 4).to_le_bytes()));
        // 0.5 as a half float is 0x3800.
        assert!(Encoding::F16.is_loud(&0x3800u16.to_le_bytes()));
        // µ-law 0x80 and A-law 0xAA are near full scale.
        assert!(Encoding::Mulaw.is_loud(&[0x80]));
        assert!(Encoding::Alaw.is_loud(&[0xAA]));
    }
}
