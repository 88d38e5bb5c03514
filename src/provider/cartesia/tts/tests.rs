//! Text-to-speech messages: model rules, characters, formats, audio chunks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::*;
use crate::rewrite::Pattern;

fn rules() -> ModelRules {
    ModelRules {
        allowed: vec![Pattern::new("sonic-3*")].into(),
        granted: None,
        modelless: true,
    }
}

fn client(value: Value) -> Result<ClientUsage, Message> {
    client_message(&Message::text(value.to_string()), &rules())
}

fn refusal_of(result: Result<ClientUsage, Message>) -> Value {
    match result {
        Err(Message::Text(t)) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_generation_request_counts_its_characters_at_its_output_format() {
    let request = json!({"context_id": "c1", "model_id": "sonic-3", "transcript": "héllo",
        "voice": {"mode": "id", "id": "v"},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}});
    assert_eq!(
        client(request).unwrap(),
        ClientUsage::Speech(
            5,
            Rates {
                input: None,
                output: Some(48_000.0)
            }
        )
    );
    let mulaw = json!({"context_id": "c1", "model_id": "sonic-3", "transcript": "hi",
        "output_format": {"encoding": "pcm_mulaw", "sample_rate": 8000}});
    assert!(
        matches!(client(mulaw).unwrap(), ClientUsage::Speech(2, r) if r.output == Some(8000.0))
    );
    // a format voxrelay does not know: characters only
    let odd = json!({"model_id": "sonic-3", "transcript": "abc",
        "output_format": {"encoding": "mp3", "sample_rate": 44100}});
    assert_eq!(client(odd).unwrap(), ClientUsage::Characters(3));
}

#[test]
fn a_model_outside_the_rules_is_refused_for_its_context() {
    let refused = refusal_of(client(
        json!({"context_id": "ctx-9", "model_id": "sonic-2", "transcript": "hi"}),
    ));
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["error_code"], "model_not_allowed");
    assert_eq!(refused["context_id"], "ctx-9");
    assert_eq!(refused["done"], true);
    assert!(refused["message"].as_str().unwrap().contains("sonic-2"));
    // no model with text to speak: refused too (it would bypass the rules)
    let missing = refusal_of(client(json!({"context_id": "c", "transcript": "hi"})));
    assert_eq!(missing["error_code"], "invalid_request");
    // a repeated model_id cannot be read one way here and another upstream
    let twice = r#"{"model_id":"sonic-3","model_id":"sonic-2","transcript":"x"}"#;
    assert!(client_message(&Message::text(twice), &rules()).is_err());
    let wrong_type = json!({"model_id": 3, "transcript": "x"});
    assert!(client(wrong_type).is_err());
}

#[test]
fn cancels_pass_unmetered_and_unreadable_text_is_refused() {
    let cancel = json!({"context_id": "c1", "cancel": true});
    assert_eq!(client(cancel).unwrap(), ClientUsage::Nothing);
    // the WebSocket takes JSON objects only: text voxrelay cannot read is refused
    let not_json = client_message(&Message::text("hello"), &rules());
    assert!(not_json.is_err());
    let two = r#"{"model_id":"sonic-2","transcript":"x"}{"context_id":"c"}"#;
    assert!(client_message(&Message::text(two), &rules()).is_err());
    let binary = client_message(&Message::Binary(vec![1, 2].into()), &rules());
    assert_eq!(binary.unwrap(), ClientUsage::Nothing);
}

#[test]
fn chunks_count_their_decoded_audio_bytes() {
    for n in [0usize, 1, 2, 3, 4, 9_600, 9_601] {
        let data = STANDARD.encode(vec![7u8; n]);
        let chunk = json!({"type": "chunk", "data": data, "done": false, "context_id": "c"});
        assert_eq!(
            upstream_usage(&Message::text(chunk.to_string())),
            UpstreamUsage::SessionAudio(n),
            "{n}"
        );
        // the same with JSON escapes
        let escaped = chunk.to_string().replace('/', "\\/");
        assert_eq!(
            upstream_usage(&Message::text(escaped)),
            UpstreamUsage::SessionAudio(n)
        );
    }
    let done = json!({"type": "done", "done": true, "context_id": "c"});
    assert_eq!(
        upstream_usage(&Message::text(done.to_string())),
        UpstreamUsage::Nothing
    );
    let tricky = json!({"type": "timestamps", "data": "AAAA", "word": "\"chunk\""});
    assert_eq!(
        upstream_usage(&Message::text(tricky.to_string())),
        UpstreamUsage::Nothing
    );
}
