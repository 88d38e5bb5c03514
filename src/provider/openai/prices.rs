//! OpenAI's list prices for Realtime (developers.openai.com model pages, as recorded in 2026;
//! list prices to check against OpenAI's pricing page, not a bill).

use crate::config::PricesConfig;

/// `gpt-realtime` and `gpt-realtime-1.5`: audio $32 in / $0.40 cached / $64 out, text $4 in /
/// $0.40 cached / $16 out per 1M tokens. Input transcription at `gpt-4o-transcribe`'s $2.50 in
/// / $10 out per 1M tokens when billed by tokens, and `whisper-1`'s $0.006 per minute when
/// billed by duration.
pub(crate) const PRICES: PricesConfig = PricesConfig {
    text_input_usd_per_1m_tokens: 4.0,
    cached_text_input_usd_per_1m_tokens: 0.4,
    audio_input_usd_per_1m_tokens: 32.0,
    cached_audio_input_usd_per_1m_tokens: 0.4,
    text_output_usd_per_1m_tokens: 16.0,
    audio_output_usd_per_1m_tokens: 64.0,
    transcription_input_usd_per_1m_tokens: 2.5,
    transcription_output_usd_per_1m_tokens: 10.0,
    transcription_usd_per_minute: 0.006,
    ..PricesConfig::UNKNOWN
};

/// `gpt-realtime-2`: as [`PRICES`] but text output $24 per 1M tokens.
const REALTIME_2: PricesConfig = PricesConfig {
    text_output_usd_per_1m_tokens: 24.0,
    ..PRICES
};

/// `gpt-realtime-mini` and `gpt-realtime-2.1-mini`: audio $10 / $0.30 / $20, text $0.60 /
/// $0.06 / $2.40 per 1M tokens.
const MINI: PricesConfig = PricesConfig {
    text_input_usd_per_1m_tokens: 0.6,
    cached_text_input_usd_per_1m_tokens: 0.06,
    audio_input_usd_per_1m_tokens: 10.0,
    cached_audio_input_usd_per_1m_tokens: 0.3,
    text_output_usd_per_1m_tokens: 2.4,
    audio_output_usd_per_1m_tokens: 20.0,
    ..PRICES
};

/// Model families and their prices: a family matches its name and its dated snapshots
/// (`gpt-realtime-mini-2025-10-06`); the longest matching name wins.
const BY_MODEL: [(&str, PricesConfig); 5] = [
    ("gpt-realtime", PRICES),
    ("gpt-realtime-1.5", PRICES),
    ("gpt-realtime-2", REALTIME_2),
    ("gpt-realtime-mini", MINI),
    ("gpt-realtime-2.1-mini", MINI),
];

/// The list prices of `model`'s family, if it is one of the known ones.
pub(crate) fn for_model(model: &str) -> Option<PricesConfig> {
    super::super::common::family_prices(&BY_MODEL, model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_takes_its_own_prices_and_others_none() {
        assert_eq!(for_model("gpt-realtime"), Some(PRICES));
        assert_eq!(for_model("gpt-realtime-2025-08-28"), Some(PRICES));
        assert_eq!(for_model("gpt-realtime-mini-2025-10-06"), Some(MINI));
        assert_eq!(for_model("gpt-realtime-2.1-mini"), Some(MINI));
        assert_eq!(
            for_model("gpt-realtime-2")
                .unwrap()
                .text_output_usd_per_1m_tokens,
            24.0
        );
        assert_eq!(for_model("gpt-realtime-2-2026-05-01").unwrap(), REALTIME_2);
        assert_eq!(for_model("gpt-4o-realtime-preview"), None);
        assert_eq!(for_model("gpt-realtimex"), None);
        assert_eq!(for_model(""), None);
        assert_eq!(MINI.audio_input_usd_per_1m_tokens, 10.0);
        assert_eq!(MINI.transcription_usd_per_minute, 0.006);
        for prices in BY_MODEL.map(|(_, p)| p) {
            assert!(prices.all().iter().all(|v| v.is_finite() && *v >= 0.0));
        }
    }
}
