use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::*;
use crate::rewrite::Pattern;
use crate::usage::Rates;

fn rules() -> ModelRules {
    ModelRules {
        allowed: vec![
            Pattern::new("gpt-realtime*"),
            Pattern::new("gpt-4o-transcribe"),
        ]
        .into(),
        granted: None,
        modelless: false,
    }
}

fn send(v: Value) -> Result<ClientUsage, Message> {
    client_message(&Message::text(v.to_string()), &rules())
}

fn error_event(refused: Message) -> Value {
    let Message::Text(t) = refused else {
        panic!("a text event");
    };
    serde_json::from_str(t.as_str()).unwrap()
}

#[test]
fn appended_audio_counts_its_decoded_bytes() {
    let audio = STANDARD.encode(vec![0u8; 9_600]);
    assert_eq!(
        send(json!({"type": "input_audio_buffer.append", "audio": audio})),
        Ok(ClientUsage::SessionAudio(9_600))
    );
    assert_eq!(
        send(json!({"type": "input_audio_buffer.append"})),
        Ok(ClientUsage::Nothing)
    );
    assert_eq!(
        send(json!({"type": "response.create", "audio": "AAAA"})),
        Ok(ClientUsage::Nothing)
    );
}

#[test]
fn an_allowed_session_update_passes_with_its_formats() {
    let update = json!({"type": "session.update", "session": {"type": "realtime",
        "model": "gpt-realtime-mini",
        "audio": {"input": {"format": {"type": "audio/pcmu"},
                            "transcription": {"model": "gpt-4o-transcribe"}},
                  "output": {"format": {"type": "audio/pcm", "rate": 24000}}}}});
    assert_eq!(
        send(update),
        Ok(ClientUsage::Formats(Rates {
            input: Some(8_000.0),
            output: Some(48_000.0)
        }))
    );
    let plain = json!({"type": "session.update", "session": {"instructions": "be brief"}});
    assert_eq!(send(plain), Ok(ClientUsage::Formats(Rates::default())));
}

#[test]
fn a_model_outside_the_rules_is_refused_in_openais_error_shape() {
    let refused = send(json!({"type": "session.update", "event_id": "evt_1",
        "session": {"type": "realtime", "model": "gpt-4o-realtime-preview"}}))
    .unwrap_err();
    let e = error_event(refused);
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
    assert_eq!(e["error"]["code"], "model_not_allowed", "{e}");
    assert_eq!(e["error"]["param"], "session.model", "{e}");
    assert_eq!(e["error"]["event_id"], "evt_1", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gpt-4o-realtime-preview")
    );

    let transcription = json!({"type": "session.update", "session": {"type": "transcription",
        "audio": {"input": {"transcription": {"model": "whisper-1"}}}}});
    let e = error_event(send(transcription).unwrap_err());
    assert_eq!(
        e["error"]["param"], "session.audio.input.transcription.model",
        "{e}"
    );

    // grants narrow the allowlist
    let granted = ModelRules {
        granted: Some(vec![Pattern::new("gpt-realtime-mini")]),
        ..rules()
    };
    let update = json!({"type": "session.update", "session": {"model": "gpt-realtime"}});
    let e = error_event(client_message(&Message::text(update.to_string()), &granted).unwrap_err());
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not granted"),
        "{e}"
    );
    // beside a conversation the transcription model needs only the allowlist; in a
    // transcription session (opened naming no model) it is the session's model, so grants apply
    let transcribe = json!({"type": "session.update", "session": {"audio": {"input":
        {"transcription": {"model": "gpt-4o-transcribe"}}}}});
    let transcribe = Message::text(transcribe.to_string());
    assert!(client_message(&transcribe, &granted).is_ok());
    let transcription_session = ModelRules {
        modelless: true,
        ..granted
    };
    let e = error_event(client_message(&transcribe, &transcription_session).unwrap_err());
    assert_eq!(
        e["error"]["param"], "session.audio.input.transcription.model",
        "{e}"
    );
}

#[test]
fn events_that_could_be_read_otherwise_upstream_are_refused() {
    for raw in [
        // a repeated field: the upstream might take the last one
        r#"{"type":"session.update","session":{"model":"gpt-realtime"},"session":{"model":"x"}}"#,
        r#"{"type":"session.update","session":{"model":"gpt-realtime","model":"x"}}"#,
        r#"{"type":"response.create","type":"session.update","session":{"model":"x"}}"#,
        r#"{"type":"input_audio_buffer.append","audio":"AAAA","audio":"BBBBBBBB"}"#,
        // wrong types where voxrelay reads
        r#"{"type":"session.update","session":{"model":7}}"#,
        r#"{"type":"session.update","session":"gpt-realtime"}"#,
        r#"{"type":["session.update"],"session":{"model":"x"}}"#,
        r#"{"session":{"model":"x"}}"#,
    ] {
        let e = error_event(client_message(&Message::text(raw), &rules()).unwrap_err());
        assert_eq!(e["error"]["code"], "invalid_event", "{raw}");
    }
}

#[test]
fn other_events_pass_whatever_their_shape() {
    for raw in [
        "not json",
        "",
        r#"{"type":"response.create","response":{"modalities":["text"]}}"#,
        r#"{"type":"conversation.item.create","audio":{"odd":true}}"#,
        r#"{"type":"input_audio_buffer.commit"}"#,
    ] {
        assert_eq!(
            client_message(&Message::text(raw), &rules()),
            Ok(ClientUsage::Nothing),
            "{raw}"
        );
    }
    let binary = Message::Binary(vec![1u8; 8].into());
    assert_eq!(client_message(&binary, &rules()), Ok(ClientUsage::Nothing));
}
