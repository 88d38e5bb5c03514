//! What a browser sees when the upstream refuses the handshake with a 4xx.
//!
//! The upstream's body may echo what voxrelay sent it, including the injected credential
//! (`Invalid credentials: Token abc…`). Every form of the credential as sent — the whole header
//! value, the key after `Token `/`Bearer `, and their percent-encodings, in any letter case — is
//! replaced with `[redacted]` in the body as soon as it arrives, and a body cut short (so that it
//! ends in the first characters of the key) loses that tail too. The answer is always JSON: a
//! JSON object from the upstream is relayed (scrubbed, every string in it), anything else is
//! wrapped in the client API's error shape with code `UPSTREAM_REJECTED`.

use axum::http::StatusCode;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{Upstream, UpstreamError};
use crate::provider::ClientApi;

/// What replaces a credential.
pub(crate) const REDACTED: &str = "[redacted]";
/// `err_code` of a wrapped upstream refusal.
pub(crate) const UPSTREAM_REJECTED: &str = "UPSTREAM_REJECTED";
/// Longest upstream text quoted in a wrapped refusal's `err_msg`, in characters.
pub(crate) const MAX_QUOTED_TEXT: usize = 1024;
/// Shortest tail of a cut-off body that is taken for the start of a credential.
const MIN_PARTIAL: usize = 4;
/// Percent-encoding that leaves RFC 3986 unreserved characters alone.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Every form of one upstream's credential that could come back in a body.
#[derive(Debug, Default)]
pub(crate) struct Scrubber {
    /// Lowercased, longest first.
    forms: Vec<String>,
}

impl Scrubber {
    /// The forms of `upstream`'s credential as it is sent.
    pub(crate) fn for_upstream(upstream: &Upstream) -> Self {
        match &upstream.credential {
            Some((_, value)) => Self::new(value.expose()),
            None => Self::default(),
        }
    }

    /// The forms of a credential header value (`Token k`, `Bearer k` or the raw key).
    pub(crate) fn new(header_value: &str) -> Self {
        let mut raw = vec![header_value.to_owned()];
        if let Some((scheme, key)) = header_value.split_once(' ')
            && (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        {
            raw.push(key.trim().to_owned());
        }
        let mut forms = Vec::new();
        for r in raw.into_iter().filter(|r| !r.is_empty()) {
            forms.push(utf8_percent_encode(&r, NON_ALPHANUMERIC).to_string());
            forms.push(utf8_percent_encode(&r, COMPONENT).to_string());
            forms.push(
                utf8_percent_encode(&r, COMPONENT)
                    .to_string()
                    .replace("%20", "+"),
            );
            // as written inside a JSON string that is relayed as text (cut-off JSON)
            let escaped = serde_json::to_string(&r).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            forms.push(escaped.replace('/', "\\/"));
            forms.push(escaped.to_owned());
            forms.push(r);
        }
        let mut forms: Vec<String> = forms.iter().map(|f| f.to_ascii_lowercase()).collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Self { forms }
    }

    /// `text` with every form replaced, and a trailing start of one cut off.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for form in &self.forms {
            out = replace_ignoring_case(&out, form);
        }
        let lower = out.to_ascii_lowercase();
        let partial = self
            .forms
            .iter()
            .filter_map(|f| {
                (MIN_PARTIAL.min(f.len())..f.len())
                    .rev()
                    .find(|&n| f.is_char_boundary(n) && lower.ends_with(&f[..n]))
            })
            .max();
        if let Some(n) = partial {
            out.truncate(out.len() - n);
            out.push_str(REDACTED);
        }
        out
    }

    fn scrub_json(&self, value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.scrub(&s)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.scrub_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.scrub(&k), self.scrub_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// A refusal body as the client may see it: a JSON object scrubbed string by string, or
    /// the (lossily decoded) text scrubbed.
    pub(crate) fn scrub_body(&self, body: &[u8]) -> Bytes {
        match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Bytes::from(self.scrub_json(v).to_string()),
            _ => Bytes::from(self.scrub(&String::from_utf8_lossy(body))),
        }
    }
}

/// Replaces every ASCII-case-insensitive occurrence of `lower_needle` (already lowercase).
fn replace_ignoring_case(text: &str, lower_needle: &str) -> String {
    if lower_needle.is_empty() {
        return text.to_owned();
    }
    // ASCII lowercasing keeps every byte offset, so matches in `lower` are matches in `text`
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(lower_needle) {
        out.push_str(&text[at..at + found]);
        out.push_str(REDACTED);
        at += found + lower_needle.len();
    }
    out.push_str(&text[at..]);
    out
}

/// Scrubs the body of a refusal from `upstream` as soon as it arrives.
pub(crate) fn scrub(error: UpstreamError, upstream: &Upstream) -> UpstreamError {
    match error {
        UpstreamError::Rejected {
            status,
            content_type,
            body,
        } => UpstreamError::Rejected {
            status,
            content_type,
            body: Scrubber::for_upstream(upstream).scrub_body(&body),
        },
        other => other,
    }
}

/// The JSON a client gets for an (already scrubbed) upstream 4xx: the upstream's own JSON
/// object, or its text wrapped in the client API's error shape plus `upstream_status`.
pub(crate) fn client_body(
    api: &ClientApi,
    status: StatusCode,
    body: &[u8],
    request_id: &str,
) -> Value {
    if let Ok(v @ Value::Object(_)) = serde_json::from_slice::<Value>(body) {
        return v;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let msg = if text.is_empty() {
        format!("upstream answered {status}")
    } else {
        text.chars().take(MAX_QUOTED_TEXT).collect()
    };
    let mut body = (api.error_body)(UPSTREAM_REJECTED, &msg, request_id);
    if let Value::Object(fields) = &mut body {
        fields.insert("upstream_status".into(), status.as_u16().into());
    }
    body
}

#[cfg(test)]
mod tests;
