//! Query parameter names as voxrelay compares them.
//!
//! A server may read `Callback=`, `callback[]=`, `call%62ack=` or `callback%00=` as `callback`,
//! so every rule that looks at a name (credentials, `model`, `deny_params`, `allow_params`,
//! `force_params`, the metered parameters) compares the *normalised* name: percent-decoded
//! (`+` is a space), control and invisible formatting characters removed, surrounding
//! whitespace and trailing `[]` stripped, lowercased. What is forwarded stays byte for byte as
//! the client sent it.

use std::borrow::Cow;

use super::{QueryPolicy, decode};

/// Query parameters that carry credentials (compared normalised), on any provider's API: never
/// forwarded upstream. Browser SDKs put their credential in `token` (ElevenLabs Scribe,
/// AssemblyAI), `single_use_token` (ElevenLabs text-to-speech), `access_token` or `api_key`
/// (Cartesia), `jwt` (Speechmatics); the others are spellings some APIs also read.
pub const CREDENTIAL_PARAMS: [&str; 8] = [
    "token",
    "access_token",
    "api_key",
    "single_use_token",
    "jwt",
    "authorization",
    "xi-api-key",
    "xi_api_key",
];

/// Characters no server should see in a name but some ignore: soft hyphen, zero-width space
/// and joiners, direction marks and overrides, word joiner and invisible operators, BOM.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
    )
}

/// The normalised form of a raw (still percent-encoded) query key.
pub fn name(raw_key: &str) -> String {
    normalise(&decode(raw_key))
}

/// The normalised form of an already decoded name (a configured one, for instance).
pub fn normalise(decoded: &str) -> String {
    let visible: Cow<'_, str> = if decoded.chars().any(|c| c.is_control() || invisible(c)) {
        Cow::Owned(
            decoded
                .chars()
                .filter(|c| !c.is_control() && !invisible(*c))
                .collect(),
        )
    } else {
        Cow::Borrowed(decoded)
    };
    let mut s = visible.trim();
    while let Some(rest) = s.strip_suffix("[]") {
        s = rest.trim_end();
    }
    s.to_lowercase()
}

/// Whether a normalised name is a credential parameter.
pub fn is_credential(name: &str) -> bool {
    CREDENTIAL_PARAMS.contains(&name)
}

/// The first value of any of `names` (compared normalised) in a raw query, percent-decoded:
/// where a browser SDK put its credential. Empty values count as absent.
pub fn credential(raw: Option<&str>, names: &[&str]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    raw.unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, v)| !v.is_empty() && names.contains(&name(k).as_str()))
        .map(|(_, v)| decode(v).into_owned())
}

/// Whether a configured list (any spelling) holds this normalised name.
pub fn listed(list: &[String], name: &str) -> bool {
    list.iter().any(|entry| normalise(entry) == name)
}

impl QueryPolicy {
    /// Whether a client may send this normalised name (`allow_params`, forced names aside).
    pub(super) fn allows(&self, name: &str) -> bool {
        match &self.allow_params {
            None => true,
            Some(allowed) => {
                listed(allowed, name) || self.force_params.iter().any(|(k, _)| normalise(k) == name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_credential_is_found_under_any_spelling_and_decoded() {
        let names = ["token", "single_use_token"];
        assert_eq!(
            credential(Some("a=1&TOKEN=x%2By&b=2"), &names).as_deref(),
            Some("x+y")
        );
        assert_eq!(
            credential(Some("single_use_token%00=s"), &names).as_deref(),
            Some("s")
        );
        assert_eq!(
            credential(Some("token=&single_use_token=t"), &names).as_deref(),
            Some("t")
        );
        assert_eq!(credential(Some("tokens=x&api_key=k"), &names), None);
        assert_eq!(credential(Some("token=x"), &[]), None);
        assert_eq!(credential(None, &names), None);
        for n in [
            "jwt",
            "xi-api-key",
            "xi_api_key",
            "authorization",
            "single_use_token",
        ] {
            assert!(is_credential(&name(&n.to_uppercase())), "{n}");
        }
    }

    #[test]
    fn smuggled_spellings_normalise_to_the_plain_name() {
        for raw in [
            "callback",
            "Callback",
            "CALLBACK",
            "callback[]",
            "callback%5B%5D",
            "callback%00",
            "%00callback",
            "call%62ack",
            "callback+",
            "%20callback%09",
            "callback[][]",
            "callback%00[]",
            "callback[]%00",
            "callback%E2%80%8B",
            "%EF%BB%BFcallback",
            "call%C2%ADback",
        ] {
            assert_eq!(name(raw), "callback", "{raw}");
        }
        assert_eq!(name("token%00"), "token");
        assert!(is_credential(&name("Access_Token[]")));
        assert!(is_credential(&name("API%5fKEY")));
        assert_eq!(name("MODEL%00"), "model");
    }

    #[test]
    fn other_names_stay_distinct() {
        assert_eq!(name("call+back"), "call back");
        assert_eq!(name("callbacks"), "callbacks");
        assert_eq!(name("[]"), "");
        assert_eq!(name("key[term]"), "key[term]");
        assert!(!is_credential(&name("tokens")));
        assert!(listed(&["Callback[]".into()], "callback"));
        assert!(!listed(&["callback".into()], "callback_method"));
    }
}
