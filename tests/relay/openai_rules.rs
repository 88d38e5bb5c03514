//! Model rules of OpenAI Realtime sessions after the upgrade: models named in `session.update`
//! pass the route's allowlist and the credential's grants, or the update is refused with
//! OpenAI's error event and never forwarded, while the session goes on.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use voxrelay::token::{Claims, GRANT_KID, now};

use crate::helpers::{CLIENT_KEY, connect};
use crate::openai_support::{event, open, relay, relay_with, send, until};

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

#[tokio::test]
async fn a_token_narrowed_to_one_model_cannot_switch_to_another_by_session_update() {
    const SECRET: &str = "openai-rules-signing-secret-0123456789";
    static FILE: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| {
        let file = std::env::temp_dir().join(format!("voxrelay-rules-{}", std::process::id()));
        std::fs::write(&file, SECRET).unwrap();
        file
    });
    let extra = format!("[tokens]\nsigning_secret_file = \"{}\"\n", FILE.display());
    let app = relay_with("rt-meter-grants", &extra).await;
    let claims = Claims {
        sub: "tester".into(),
        exp: now() + 60,
        iss: "voxrelay".into(),
        aud: "voxrelay".into(),
        models: Some(vec!["gpt-realtime-mini".into()]),
        ..Claims::default()
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(GRANT_KID.into());
    let jwt = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let offer = format!("realtime, openai-insecure-api-key.{jwt}");
    let url = app.ws("/v1/realtime?model=gpt-realtime-mini");
    let (mut ws, _) = connect(&url, Some(&offer), &[]).await.expect("granted");
    assert_eq!(event(&mut ws).await["type"], "session.created");
    // on the route's allowlist, but not granted to this token
    send(
        &mut ws,
        json!({"type": "session.update",
        "session": {"type": "realtime", "model": "gpt-realtime"}}),
    )
    .await;
    let e = event(&mut ws).await;
    assert_eq!(e["error"]["code"], "model_not_allowed", "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("not granted"), "{e}");
    assert!(
        !message.contains(&jwt) && !message.contains(CLIENT_KEY),
        "{e}"
    );
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
}
