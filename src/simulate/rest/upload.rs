//! An uploaded audio body measured as it streams in: SHA-256, byte count and, from a RIFF/WAVE header
//! when the body starts with one, the audio format; only the first bytes are ever kept.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::Failure;
use crate::simulate::listen::DEFAULT_SAMPLE_RATE;
use crate::simulate::wire::Params;

/// How many leading bytes are searched for a WAV header's `fmt ` and `data` chunks.
pub(in crate::simulate) const HEAD_LIMIT: usize = 64 * 1024;
/// Most channels a WAV header is taken at (as many as a query may ask for).
const MAX_WAV_CHANNELS: u16 = 32;

/// What was heard: enough to write a prerecorded answer.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::simulate) struct Heard {
    /// Hex SHA-256 of the audio.
    pub(in crate::simulate) sha256: String,
    /// Length of the audio, in seconds.
    pub(in crate::simulate) seconds: f64,
    /// Number of channels.
    pub(in crate::simulate) channels: u32,
}

/// The format a WAV header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::simulate) struct Wav {
    /// `fmt ` channel count.
    pub(in crate::simulate) channels: u16,
    /// `fmt ` average bytes per second.
    pub(in crate::simulate) byte_rate: u32,
    /// Offset of the first audio byte (just past the `data` chunk header).
    pub(in crate::simulate) data_start: u64,
    /// `data` chunk size as declared (`0` and `0xFFFFFFFF` mean "until the end", as streamed WAVs use).
    pub(in crate::simulate) data_len: u32,
}

/// What the leading bytes say so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::simulate) enum Sniffed {
    /// A complete WAV header up to its `data` chunk.
    Wav(Wav),
    /// Not a WAV header the simulator can read.
    NotWav,
    /// A WAV header so far; more bytes are needed.
    NeedMore,
}

/// State of the format sniffing.
#[derive(Debug)]
enum Sniff {
    /// Keeping leading bytes (at most [`HEAD_LIMIT`]) until the header is read or ruled out.
    Looking(Vec<u8>),
    /// Decided: a WAV header.
    Wav(Wav),
    /// Decided: raw audio, described by the query.
    Raw,
}

/// An upload in progress.
#[derive(Debug)]
pub(in crate::simulate) struct Upload {
    /// Hash of every byte so far.
    hasher: Sha256,
    /// Bytes so far.
    bytes: u64,
    /// Format sniffing.
    sniff: Sniff,
}

impl Default for Upload {
    fn default() -> Self {
        Self {
            hasher: Sha256::new(),
            bytes: 0,
            sniff: Sniff::Looking(Vec::new()),
        }
    }
}

impl Upload {
    /// Takes the next piece of the body.
    pub(in crate::simulate) fn feed(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        let Sniff::Looking(head) = &mut self.sniff else {
            return;
        };
        let room = HEAD_LIMIT - head.len();
        head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let decided = match sniff_wav(head) {
            Sniffed::Wav(wav) => Sniff::Wav(wav),
            Sniffed::NotWav => Sniff::Raw,
            Sniffed::NeedMore if head.len() >= HEAD_LIMIT => Sniff::Raw,
            Sniffed::NeedMore => return,
        };
        self.sniff = decided;
    }

    /// What was heard, given the query's `encoding`, `sample_rate` and `channels`; an empty body is 400.
    pub(in crate::simulate) fn finish(self, params: &Params) -> Result<Heard, Failure> {
        if self.bytes == 0 {
            return Err(Failure::BadRequest(Cow::Borrowed(
                "The request body is empty: send audio, or JSON {\"url\": …} with Content-Type: application/json.",
            )));
        }
        let sha256 = hex::encode(self.hasher.finalize());
        let (seconds, channels) = match self.sniff {
            Sniff::Wav(wav) => {
                let present = self.bytes.saturating_sub(wav.data_start);
                let data = match wav.data_len {
                    0 | u32::MAX => present,
                    declared => present.min(u64::from(declared)),
                };
                (
                    data as f64 / f64::from(wav.byte_rate),
                    u32::from(wav.channels.min(MAX_WAV_CHANNELS)),
                )
            }
            Sniff::Looking(_) | Sniff::Raw => {
                let rate = params.bytes_per_second(None, DEFAULT_SAMPLE_RATE);
                (self.bytes as f64 / rate as f64, params.channels())
            }
        };
        Ok(Heard {
            sha256,
            seconds,
            channels,
        })
    }
}

/// Reads a RIFF/WAVE header from the leading bytes `head`.
pub(in crate::simulate) fn sniff_wav(head: &[u8]) -> Sniffed {
    const RIFF: &[u8] = b"RIFF";
    const WAVE: &[u8] = b"WAVE";
    let riff = &head[..head.len().min(4)];
    let wave = head.get(8..).map(|rest| &rest[..rest.len().min(4)]);
    if !RIFF.starts_with(riff) || wave.is_some_and(|wave| !WAVE.starts_with(wave)) {
        return Sniffed::NotWav;
    }
    let mut format: Option<(u16, u32)> = None;
    let mut pos: usize = 12;
    loop {
        let Some(chunk) = head.get(pos..pos + 8) else {
            return Sniffed::NeedMore;
        };
        let id = &chunk[..4];
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        let body = pos + 8;
        if id == b"data" {
            return match format {
                Some((channels, byte_rate)) => Sniffed::Wav(Wav {
                    channels,
                    byte_rate,
                    data_start: body as u64,
                    data_len: size,
                }),
                None => Sniffed::NotWav,
            };
        }
        if id == b"fmt " {
            if size < 16 {
                return Sniffed::NotWav;
            }
            let Some(fmt) = head.get(body..body + 16) else {
                return Sniffed::NeedMore;
            };
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let byte_rate = u32::from_le_bytes([fmt[8], fmt[9], fmt[10], fmt[11]]);
            if channels == 0 || byte_rate == 0 {
                return Sniffed::NotWav;
            }
            format = Some((channels, byte_rate));
        }
        // Chunks are padded to an even length.
        let padded = u64::from(size) + u64::from(size & 1);
        match usize::try_from(padded)
            .ok()
            .and_then(|padded| body.checked_add(padded))
        {
            Some(next) if next <= HEAD_LIMIT => pos = next,
            _ => return Sniffed::NotWav,
        }
    }
}
