//! Warnings: a configuration that is valid but will not do what was meant (no client can
//! authenticate, ids and origins still as shipped in the example).

use super::super::RawConfig;

/// Words that mark a value as a placeholder when they make up one of its parts.
const PLACEHOLDER_WORDS: [&str; 8] = [
    "example",
    "changeme",
    "placeholder",
    "replaceme",
    "todo",
    "fixme",
    "xxx",
    "your",
];

/// Whether `value` looks like an example value left in place: `your-account-id`, `changeme`,
/// `<gateway>`, `https://app.example.com`.
pub(super) fn is_placeholder(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    if lower.starts_with('<') && lower.ends_with('>') {
        return true;
    }
    let squashed: String = lower.chars().filter(char::is_ascii_alphanumeric).collect();
    if ["changeme", "replaceme"]
        .iter()
        .any(|w| squashed.contains(w))
    {
        return true;
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|part| PLACEHOLDER_WORDS.contains(&part))
}

/// Everything valid but suspicious, each with its key path.
pub fn warnings(raw: &RawConfig) -> Vec<String> {
    let mut out = Vec::new();
    if raw.client_keys.is_empty() && raw.routes.iter().any(|r| r.require_auth) {
        out.push(
            "client_keys: none configured, so every client is refused (401) on routes that \
             require authentication; generate a key, digest it with `voxrelay hash-key` and \
             add a [[client_keys]] block"
                .to_owned(),
        );
    }
    for (name, u) in &raw.upstreams {
        let ids = [
            ("account_id", u.account_id.as_deref()),
            ("gateway_id", u.gateway_id.as_deref()),
            ("base_url", u.base_url.as_deref()),
        ];
        for (key, value) in ids {
            if let Some(v) = value.filter(|v| is_placeholder(v)) {
                out.push(format!(
                    "upstreams.{name}.{key}: \"{v}\" looks like a placeholder; set the real value"
                ));
            }
        }
    }
    for (i, r) in raw.routes.iter().enumerate() {
        for (j, o) in r.allowed_origins.iter().enumerate() {
            if is_placeholder(o) {
                out.push(format!(
                    "routes[{i}].allowed_origins[{j}]: \"{o}\" looks like a placeholder; \
                     browsers on your real site will be refused (403) until it names it"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised() {
        for v in [
            "your-account-id",
            "your-gateway-id",
            "YOUR_ACCOUNT_ID",
            "changeme",
            "change-me",
            "example",
            "https://app.example.com",
            "https://*.example.org",
            "<account>",
            "TODO",
        ] {
            assert!(is_placeholder(v), "{v}");
        }
        for v in [
            "default",
            "0123456789abcdef0123456789abcdef",
            "prod-gateway",
            "https://app.acme.com",
            "http://localhost:*",
            "wss://api.deepgram.com",
            "layout",
            "simulator",
        ] {
            assert!(!is_placeholder(v), "{v}");
        }
    }
}
