//! Model rules of OpenAI Realtime sessions after the upgrade: models named in `session.update`
//! pass the route's allowlist and the credential's grants, or the update is refused with
//! OpenAI's error event and never forwarded, while the session goes on.

use serde_json::json;

use crate::openai_support::{event, open, relay, send, until};

#[tokio::test]
async fn a_session_update_naming_a_disallowed_model_is_refused_and_the_session_goes_on() {
    let app = relay("rt-meter-rules").await;
    let mut ws = open(&app, "").await;
    assert_eq!(event(&mut ws).await["type"], "session.created");
    send(
        &mut ws,
        json!({"type": "session.update", "event_id": "evt_7",
        "session": {"type": "realtime", "model": "gpt-4o-realtime-preview"}}),
    )
    .await;
    let e = event(&mut ws).await;
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
    assert_eq!(e["error"]["code"], "model_not_allowed", "{e}");
    assert_eq!(e["error"]["param"], "session.model", "{e}");
    assert_eq!(e["error"]["event_id"], "evt_7", "{e}");
    // the refused update never reached the upstream: its session keeps the model it had
    send(
        &mut ws,
        json!({"type": "session.update",
        "session": {"type": "realtime", "instructions": "be brief"}}),
    )
    .await;
    let updated = until(&mut ws, "session.updated", |_| {}).await;
    assert_eq!(updated["session"]["model"], "gpt-realtime", "{updated}");
    assert_eq!(updated["session"]["instructions"], "be brief", "{updated}");
    // an allowed model passes, and the session still answers
    send(
        &mut ws,
        json!({"type": "session.update",
        "session": {"type": "realtime", "model": "gpt-realtime-mini"}}),
    )
    .await;
    let updated = until(&mut ws, "session.updated", |_| {}).await;
    assert_eq!(
        updated["session"]["model"], "gpt-realtime-mini",
        "{updated}"
    );
    send(&mut ws, json!({"type": "response.create"})).await;
    until(&mut ws, "response.done", |_| {}).await;
}

#[tokio::test]
async fn a_transcription_session_checks_its_transcription_model() {
    let app = relay("rt-meter-transcription-rules").await;
    let mut ws = open(&app, "?intent=transcription").await;
    assert_eq!(event(&mut ws).await["type"], "session.created");
    send(
        &mut ws,
        json!({"type": "session.update", "session": {"type": "transcription",
        "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}}}}),
    )
    .await;
    let e = event(&mut ws).await;
    assert_eq!(e["error"]["code"], "model_not_allowed", "{e}");
    assert_eq!(
        e["error"]["param"], "session.audio.input.transcription.model",
        "{e}"
    );
    send(
        &mut ws,
        json!({"type": "session.update", "session": {"type": "transcription",
        "audio": {"input": {"transcription": {"model": "whisper-1"}}}}}),
    )
    .await;
    let updated = until(&mut ws, "session.updated", |_| {}).await;
    let model = &updated["session"]["audio"]["input"]["transcription"]["model"];
    assert_eq!(model, "whisper-1", "{updated}");
}
