//! Credentials inside JSON text messages (ElevenLabs' text-to-speech first message carries
//! `xi-api-key`, `xi_api_key` or `authorization`): found, taken out before the message goes
//! upstream, and the first one authenticates a handshake that carried none.

use serde_json::{Map, Value};

use crate::secret::Secret;

/// What a client text message holds of the API's credential fields.
#[derive(Debug, PartialEq)]
pub(crate) enum InMessage {
    /// None of them: the message goes on unchanged.
    Absent,
    /// Some were there: the first string value among them (in `fields` order) and the message
    /// without any of them.
    Taken {
        /// The credential, if one of the fields held a non-empty string.
        token: Option<Secret>,
        /// The message re-serialised without the fields.
        text: String,
    },
    /// A field name appears but the message is not a JSON object: it cannot be stripped, so
    /// it must not be forwarded.
    Unreadable,
}

/// Looks for `fields` at the top level of `text`. A message that does not mention any field
/// name as a JSON string is not parsed.
pub(crate) fn take(text: &str, fields: &[&str]) -> InMessage {
    let mentioned = fields.iter().any(|f| {
        text.match_indices(f)
            .any(|(at, _)| at > 0 && text[..at].ends_with('"'))
    });
    if !mentioned {
        return InMessage::Absent;
    }
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(text) else {
        return InMessage::Unreadable;
    };
    let removed: Vec<Value> = fields.iter().filter_map(|f| object.remove(*f)).collect();
    if removed.is_empty() {
        // the name appeared as a value or nested, not as a top-level field
        return InMessage::Absent;
    }
    let token = removed
        .iter()
        .filter_map(Value::as_str)
        .map(bearer_less)
        .find(|t| !t.is_empty())
        .map(Secret::new);
    InMessage::Taken {
        token,
        text: Value::Object(Map::from_iter(object)).to_string(),
    }
}

/// `Bearer <T>` → `<T>` (ElevenLabs' `authorization` field is "a bearer token").
fn bearer_less(value: &str) -> &str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [&str; 3] = ["xi-api-key", "xi_api_key", "authorization"];

    fn taken(text: &str) -> (Option<String>, Value) {
        match take(text, &FIELDS) {
            InMessage::Taken { token, text } => (
                token.map(|t| t.expose().to_owned()),
                serde_json::from_str(&text).unwrap(),
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_spelling_is_taken_out_and_the_first_authenticates() {
        let (token, rest) = taken(r#"{"text":" ","xi-api-key":"k1","voice_settings":{}}"#);
        assert_eq!(token.as_deref(), Some("k1"));
        assert_eq!(rest, serde_json::json!({"text":" ","voice_settings":{}}));
        let (token, rest) = taken(r#"{"text":" ","xi_api_key":"k2","authorization":"Bearer k3"}"#);
        assert_eq!(token.as_deref(), Some("k2"));
        assert_eq!(rest, serde_json::json!({"text":" "}));
        let (token, _) = taken(r#"{"authorization":"Bearer  k3 "}"#);
        assert_eq!(token.as_deref(), Some("k3"));
        let (token, rest) = taken(r#"{"xi_api_key":"","text":"a"}"#);
        assert_eq!(token, None);
        assert_eq!(rest, serde_json::json!({"text":"a"}));
    }

    #[test]
    fn messages_without_the_fields_pass_unparsed() {
        assert_eq!(
            take(r#"{"text":"Hello world "}"#, &FIELDS),
            InMessage::Absent
        );
        // the name as a value or nested is not a credential field
        assert_eq!(take(r#"{"text":"xi_api_key"}"#, &FIELDS), InMessage::Absent);
        assert_eq!(
            take(r#"{"a":{"xi_api_key":"k"}}"#, &FIELDS),
            InMessage::Absent
        );
        assert_eq!(take("not json", &FIELDS), InMessage::Absent);
    }

    #[test]
    fn a_mentioned_field_in_a_broken_message_is_unreadable() {
        assert_eq!(
            take(r#"{"xi_api_key":"k", oops"#, &FIELDS),
            InMessage::Unreadable
        );
        assert_eq!(
            take(r#"["xi_api_key","k"]"#, &FIELDS),
            InMessage::Unreadable
        );
    }
}
