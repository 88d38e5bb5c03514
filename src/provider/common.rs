//! Small pieces several providers share word for word: the base URL used as is, no credential form,
//! a price table looked up by model family, and the decoded length of base64 audio.

use super::CredentialForm;
use crate::config::{PricesConfig, UpstreamConfig};

impl CredentialForm {
    /// No subprotocol or header form of the client's credential (only the query, or none).
    pub(crate) const NONE: Self = Self {
        from_protocols: |_| Ok(None),
        from_headers: |_| Ok(None),
    };
}

/// The endpoint of a provider whose paths hang directly under the base URL: the base URL as is.
pub(super) fn base_as_is(base: &str, _: &UpstreamConfig, _: &str, _: &mut Vec<String>) -> String {
    base.to_owned()
}

/// The prices of `model`'s family in `table` (`family` itself or `family-…`, the longest match), if
/// it is one of the known ones.
pub(super) fn family_prices(table: &[(&str, PricesConfig)], model: &str) -> Option<PricesConfig> {
    table
        .iter()
        .filter(|(family, _)| {
            model
                .strip_prefix(family)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
        .max_by_key(|(family, _)| family.len())
        .map(|(_, prices)| *prices)
}

/// Bytes that base64 text decodes to, from its length (no decoding, no allocation). Text that
/// had JSON escapes (`\/`, so it arrives unescaped and owned) counts only its alphabet
/// characters (standard or URL-safe).
pub(super) fn base64_len(text: &str, escaped: bool) -> usize {
    let symbols = match escaped {
        false => text.trim_end_matches('=').len(),
        true => text
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
            .count(),
    };
    symbols / 4 * 3 + [0, 0, 1, 2][symbols % 4]
}
