//! Tokens: usage an upstream reports in its own messages, priced per token.

use crate::config::PricesConfig;

/// Value of `voxrelay_tokens_total{type}` for each kind of token, in [`Tokens::values`] order.
pub(crate) const TOKEN_TYPES: [&str; 8] = [
    "input_text",
    "input_text_cached",
    "input_audio",
    "input_audio_cached",
    "output_text",
    "output_audio",
    "transcription_input",
    "transcription_output",
];

/// Tokens in disjoint kinds: cached input tokens are counted only as cached, never also in the
/// uncached kinds, so each is priced once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tokens {
    /// Text input not served from cache.
    pub input_text: u64,
    /// Text input served from cache.
    pub input_text_cached: u64,
    /// Audio input not served from cache.
    pub input_audio: u64,
    /// Audio input served from cache.
    pub input_audio_cached: u64,
    /// Text output.
    pub output_text: u64,
    /// Audio output.
    pub output_audio: u64,
    /// Input of transcription billed by tokens.
    pub transcription_input: u64,
    /// Output of transcription billed by tokens.
    pub transcription_output: u64,
}

impl Tokens {
    /// Each kind's count, in [`TOKEN_TYPES`] order.
    pub(crate) fn values(&self) -> [u64; 8] {
        [
            self.input_text,
            self.input_text_cached,
            self.input_audio,
            self.input_audio_cached,
            self.output_text,
            self.output_audio,
            self.transcription_input,
            self.transcription_output,
        ]
    }

    /// Tokens from counts in [`TOKEN_TYPES`] order.
    pub(crate) fn from_values(v: [u64; 8]) -> Self {
        Self {
            input_text: v[0],
            input_text_cached: v[1],
            input_audio: v[2],
            input_audio_cached: v[3],
            output_text: v[4],
            output_audio: v[5],
            transcription_input: v[6],
            transcription_output: v[7],
        }
    }

    /// USD per token of each kind, in [`TOKEN_TYPES`] order.
    fn prices(p: &PricesConfig) -> [f64; 8] {
        [
            p.text_input_usd_per_1m_tokens,
            p.cached_text_input_usd_per_1m_tokens,
            p.audio_input_usd_per_1m_tokens,
            p.cached_audio_input_usd_per_1m_tokens,
            p.text_output_usd_per_1m_tokens,
            p.audio_output_usd_per_1m_tokens,
            p.transcription_input_usd_per_1m_tokens,
            p.transcription_output_usd_per_1m_tokens,
        ]
        .map(|per_million| per_million / 1_000_000.0)
    }

    /// The estimated cost at `prices`, USD.
    pub(crate) fn cost(&self, prices: &PricesConfig) -> f64 {
        self.values()
            .iter()
            .zip(Self::prices(prices))
            .map(|(&n, usd)| n as f64 * usd)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_prices_each_kind_once_per_million() {
        let prices = PricesConfig {
            text_input_usd_per_1m_tokens: 4.0,
            cached_text_input_usd_per_1m_tokens: 0.4,
            audio_input_usd_per_1m_tokens: 32.0,
            cached_audio_input_usd_per_1m_tokens: 0.4,
            text_output_usd_per_1m_tokens: 16.0,
            audio_output_usd_per_1m_tokens: 64.0,
            transcription_input_usd_per_1m_tokens: 2.5,
            transcription_output_usd_per_1m_tokens: 10.0,
            ..PricesConfig::UNKNOWN
        };
        let t = Tokens::from_values([1_000_000, 1_000_000, 1_000_000, 0, 0, 500_000, 0, 100_000]);
        assert_eq!(Tokens::from_values(t.values()), t);
        let want = 4.0 + 0.4 + 32.0 + 32.0 + 1.0;
        assert!((t.cost(&prices) - want).abs() < 1e-9, "{}", t.cost(&prices));
        assert_eq!(Tokens::default().cost(&prices), 0.0);
        assert_eq!(t.cost(&PricesConfig::UNKNOWN), 0.0);
    }
}
