//! AssemblyAI's list prices for Universal Streaming: billed by session time (connection open
//! to close), not by audio (assemblyai.com pricing and its streaming launch post, 2025-06;
//! Universal-3 Pro Streaming as recorded in public price listings, 2026; list prices to check
//! against AssemblyAI's pricing page, not a bill).

use crate::config::PricesConfig;

/// Universal-Streaming (`universal-streaming-english`, `universal-streaming-multilingual`):
/// $0.15 per hour of session time; audio itself is not billed.
pub(crate) const PRICES: PricesConfig = PricesConfig {
    session_usd_per_minute: 0.15 / 60.0,
    ..PricesConfig::UNKNOWN
};

/// Universal-3 Pro Streaming (`u3-rt-pro`): $0.45 per hour of session time.
const U3_PRO: PricesConfig = PricesConfig {
    session_usd_per_minute: 0.45 / 60.0,
    ..PricesConfig::UNKNOWN
};

/// Model families and their prices: a family matches its name and its variants
/// (`u3-rt-pro-beta-1`); the longest matching name wins.
const BY_MODEL: [(&str, PricesConfig); 3] = [
    ("universal-streaming-english", PRICES),
    ("universal-streaming-multilingual", PRICES),
    ("u3-rt-pro", U3_PRO),
];

/// The list prices of `model`'s family, if it is one of the known ones.
pub(crate) fn for_model(model: &str) -> Option<PricesConfig> {
    super::super::common::family_prices(&BY_MODEL, model)
}
