//! The session configuration of a simulated Realtime session: defaults, `session.update` merging, validation.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::Target;
use super::audio::Format;
use super::events::{Fault, id};
use super::realtime::{
    DEFAULT_SILENCE_MS, DEFAULT_THRESHOLD, DEFAULT_TRANSCRIPTION_MODEL, MAX_SESSION,
};

/// Sets `key` to `value` in `target`, merging objects into objects; `null` replaces, and so
/// does an audio `format` (`{"type":"audio/pcmu"}` keeps no `rate` of the PCM it replaces).
pub(super) fn merge(target: &mut Map<String, Value>, key: &str, value: &Value) {
    match (target.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(changes)) if key != "format" => {
            for (inner, inner_value) in changes {
                merge(existing, inner, inner_value);
            }
        }
        _ => {
            target.insert(key.to_owned(), value.clone());
        }
    }
}

/// Checks the audio formats and turn detection of a merged configuration.
pub(super) fn validate(session: &Value) -> Result<(), Fault> {
    let audio = &session["audio"];
    let formats = [
        (&audio["input"]["format"], "session.audio.input.format"),
        (&audio["output"]["format"], "session.audio.output.format"),
    ];
    for (format, param) in formats {
        if !format.is_null() && Format::parse(format).is_none() {
            return Err(Fault::invalid(
                param,
                "expected audio/pcm at 24000 Hz, audio/pcmu or audio/pcma.",
            ));
        }
    }
    let turn = &audio["input"]["turn_detection"];
    let kind = turn.get("type").and_then(Value::as_str);
    if !turn.is_null() && !matches!(kind, Some("server_vad" | "semantic_vad")) {
        return Err(Fault::invalid(
            "session.audio.input.turn_detection.type",
            "expected server_vad or semantic_vad.",
        ));
    }
    Ok(())
}

/// The configuration reported in `session.created`.
pub(super) fn initial_session(target: &Target) -> Value {
    let expires_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + MAX_SESSION.as_secs();
    let pcm = json!({"type": "audio/pcm", "rate": 24_000});
    let turn_detection = json!({
        "type": "server_vad", "threshold": DEFAULT_THRESHOLD, "prefix_padding_ms": 300,
        "silence_duration_ms": DEFAULT_SILENCE_MS, "idle_timeout_ms": null,
        "create_response": true, "interrupt_response": true,
    });
    match target {
        Target::Conversation(model) => json!({
            "type": "realtime", "object": "realtime.session", "id": id("sess"), "model": model,
            "output_modalities": ["audio"], "instructions": "", "tools": [], "tool_choice": "auto",
            "max_output_tokens": "inf", "tracing": null, "truncation": "auto", "prompt": null,
            "expires_at": expires_at, "include": null,
            "audio": {
                "input": {"format": pcm, "transcription": null, "noise_reduction": null,
                          "turn_detection": turn_detection},
                "output": {"format": pcm, "voice": "marin", "speed": 1.0},
            },
        }),
        Target::Transcription => json!({
            "type": "transcription", "object": "realtime.transcription_session", "id": id("sess"),
            "expires_at": expires_at, "include": null,
            "audio": {"input": {
                "format": pcm, "noise_reduction": null, "turn_detection": turn_detection,
                "transcription": {"model": DEFAULT_TRANSCRIPTION_MODEL, "language": null, "prompt": ""},
            }},
        }),
    }
}
