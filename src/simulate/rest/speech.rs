//! One-shot synthesized speech: the audio format a request asks for, and silence in that format,
//! streamed in chunks of about 100 ms that are made only as the body is sent.

use std::borrow::Cow;
use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;

use super::{Failure, streamed};
use crate::simulate::speak::{MILLIS_PER_CHAR, sample_format};

/// Sample rate of linear16 when none is asked for.
const LINEAR16_SAMPLE_RATE: u32 = 24_000;
/// Sample rate of mulaw and alaw when none is asked for.
const COMPANDED_SAMPLE_RATE: u32 = 8_000;
/// Highest sample rate taken.
const MAX_SAMPLE_RATE: u32 = 192_000;
/// Sample rate of the MP3 frames (MPEG-2).
pub(in crate::simulate) const MP3_SAMPLE_RATE: u32 = 22_050;
/// Samples in one MPEG-2 layer III frame.
pub(in crate::simulate) const MP3_FRAME_SAMPLES: u64 = 576;
/// MP3 bit rate when none is asked for.
const MP3_BIT_RATE: u32 = 48_000;
/// MPEG-2 layer III bit rates (kbit/s) by header index 1..=14.
const MP3_BIT_RATES: [u32; 14] = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
/// MP3 frames sent per chunk (about 104 ms).
const MP3_FRAMES_PER_CHUNK: u64 = 4;
/// Bytes of the WAV header.
pub(in crate::simulate) const WAV_HEADER_LEN: usize = 44;

/// How the audio is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// 16-bit little-endian PCM.
    Linear16,
    /// G.711 µ-law.
    Mulaw,
    /// G.711 A-law.
    Alaw,
    /// MPEG-2 layer III at 22050 Hz mono with this header bit-rate index.
    Mp3 {
        /// Index of the bit rate in the frame header (1..=14).
        index: u8,
    },
}

/// The audio a speech request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::simulate) struct Format {
    /// Encoding.
    encoding: Encoding,
    /// Samples per second (PCM-like encodings).
    sample_rate: u32,
    /// Whether a WAV header comes first.
    wav: bool,
}

impl Format {
    /// The format of `encoding` (none: MP3), `sample_rate`, `container` (`wav` or `none`; default `wav`
    /// for linear16, mulaw and alaw) and `bit_rate` (MP3 only); an encoding or container the simulator
    /// does not make is 400.
    pub(in crate::simulate) fn new(
        encoding: Option<&str>,
        sample_rate: Option<u32>,
        container: Option<&str>,
        bit_rate: Option<u32>,
    ) -> Result<Self, Failure> {
        let bad = |message: String| Failure::BadRequest(Cow::Owned(message));
        let (encoding, default_rate) = match encoding.unwrap_or("mp3") {
            "mp3" => return Self::mp3(container, bit_rate),
            "linear16" => (Encoding::Linear16, LINEAR16_SAMPLE_RATE),
            "mulaw" => (Encoding::Mulaw, COMPANDED_SAMPLE_RATE),
            "alaw" => (Encoding::Alaw, COMPANDED_SAMPLE_RATE),
            other => {
                return Err(bad(format!(
                    "The simulator does not synthesize encoding {other:?}: use linear16, mulaw, alaw or mp3."
                )));
            }
        };
        let wav = match container.unwrap_or("wav") {
            "wav" => true,
            "none" => false,
            other => return Err(bad(format!("Container {other:?} is not wav or none."))),
        };
        let sample_rate = match sample_rate {
            None => default_rate,
            Some(rate) if rate <= MAX_SAMPLE_RATE => rate,
            Some(rate) => return Err(bad(format!("sample_rate {rate} is too high."))),
        };
        Ok(Self {
            encoding,
            sample_rate,
            wav,
        })
    }

    /// MP3 at `bit_rate` (default 48000), which takes no container but `none`.
    fn mp3(container: Option<&str>, bit_rate: Option<u32>) -> Result<Self, Failure> {
        let bad = |message: String| Failure::BadRequest(Cow::Owned(message));
        if container.is_some_and(|container| container != "none") {
            return Err(bad("mp3 takes no container.".to_owned()));
        }
        let rate = bit_rate.unwrap_or(MP3_BIT_RATE);
        let index = MP3_BIT_RATES
            .iter()
            .position(|kbps| kbps * 1000 == rate)
            .and_then(|position| u8::try_from(position + 1).ok())
            .ok_or_else(|| {
                bad(format!(
                    "bit_rate {rate} is not an MPEG-2 layer III bit rate."
                ))
            })?;
        Ok(Self {
            encoding: Encoding::Mp3 { index },
            sample_rate: MP3_SAMPLE_RATE,
            wav: false,
        })
    }

    /// The `Content-Type` of the audio.
    pub(in crate::simulate) fn content_type(&self) -> &'static str {
        match (self.encoding, self.wav) {
            (Encoding::Mp3 { .. }, _) => "audio/mpeg",
            (_, true) => "audio/wav",
            (_, false) => "application/octet-stream",
        }
    }

    /// A 200 streaming `chars` characters' worth of silence.
    pub(in crate::simulate) fn respond(&self, chars: u64) -> Response {
        streamed(self.content_type(), self.body(chars))
    }

    /// Silence for `chars` characters, produced chunk by chunk as it is sent.
    pub(in crate::simulate) fn body(&self, chars: u64) -> Body {
        let chunks = self.chunks(chars).map(Ok::<Bytes, Infallible>);
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    /// The chunks of the body for `chars` characters: a WAV header if any, then ~100 ms pieces.
    pub(in crate::simulate) fn chunks(&self, chars: u64) -> Box<dyn Iterator<Item = Bytes> + Send> {
        let millis = chars.saturating_mul(MILLIS_PER_CHAR);
        if let Encoding::Mp3 { index } = self.encoding {
            let frame = mp3_silent_frame(index);
            let frames = (millis * u64::from(MP3_SAMPLE_RATE)).div_ceil(MP3_FRAME_SAMPLES * 1000);
            return Box::new(pieces(frames, MP3_FRAMES_PER_CHUNK, move |count| {
                frame.repeat(count)
            }));
        }
        let (width, fill) = sample_format(match self.encoding {
            Encoding::Mulaw => "mulaw",
            Encoding::Alaw => "alaw",
            _ => "linear16",
        });
        let samples_per_char = u64::from(self.sample_rate) * MILLIS_PER_CHAR / 1000;
        let len = chars.saturating_mul(samples_per_char).saturating_mul(width);
        let per_chunk = (u64::from(self.sample_rate) / 10).max(1) * width;
        let audio = pieces(len, per_chunk, move |count| vec![fill; count]);
        if !self.wav {
            return Box::new(audio);
        }
        let header = Bytes::from(self.wav_header(len, width).to_vec());
        Box::new(std::iter::once(header).chain(audio))
    }

    /// A 44-byte WAV header for `len` bytes of mono audio of `width` bytes a sample.
    fn wav_header(&self, len: u64, width: u64) -> [u8; WAV_HEADER_LEN] {
        let format_tag: u16 = match self.encoding {
            Encoding::Alaw => 6,
            Encoding::Mulaw => 7,
            _ => 1,
        };
        // Sizes that do not fit say "until the end", as streamed WAVs do.
        let data_len = u32::try_from(len).unwrap_or(u32::MAX);
        let riff_len = data_len.saturating_add(36);
        let width = width as u16;
        let mut header = [0u8; WAV_HEADER_LEN];
        let fields: [&[u8]; 13] = [
            b"RIFF",
            &riff_len.to_le_bytes(),
            b"WAVE",
            b"fmt ",
            &16u32.to_le_bytes(),
            &format_tag.to_le_bytes(),
            &1u16.to_le_bytes(),
            &self.sample_rate.to_le_bytes(),
            &(self.sample_rate * u32::from(width)).to_le_bytes(),
            &width.to_le_bytes(),
            &(width * 8).to_le_bytes(),
            b"data",
            &data_len.to_le_bytes(),
        ];
        let mut at = 0;
        for field in fields {
            header[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        header
    }
}

/// `total` units in pieces of at most `per_piece`, each made by `make(count)` only when asked for.
fn pieces<T: Into<Bytes>>(
    total: u64,
    per_piece: u64,
    make: impl Fn(usize) -> T + Send + 'static,
) -> impl Iterator<Item = Bytes> + Send + 'static {
    let mut left = total;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let count = left.min(per_piece);
        left -= count;
        Some(make(usize::try_from(count).unwrap_or(usize::MAX)).into())
    })
}

/// Bytes of one MPEG-2 layer III frame at 22050 Hz with bit-rate `index` (no padding).
pub(in crate::simulate) fn mp3_frame_len(index: u8) -> usize {
    let kbps = MP3_BIT_RATES[usize::from(index.clamp(1, 14)) - 1];
    (72 * kbps * 1000 / MP3_SAMPLE_RATE) as usize
}

/// One silent MPEG-2 layer III frame: a mono 22050 Hz header without CRC, then zeroed side
/// information (no main data, zero gain), which decoders play as silence.
fn mp3_silent_frame(index: u8) -> Vec<u8> {
    let mut frame = vec![0u8; mp3_frame_len(index)];
    // Sync, MPEG-2, layer III, no CRC.
    frame[0] = 0xFF;
    frame[1] = 0xF3;
    // Bit-rate index, sample-rate index 0 (22050 Hz), no padding.
    frame[2] = index << 4;
    // Mono.
    frame[3] = 0xC0;
    frame
}
