//! Credentials: `xi-api-key` on a keyed simulator, refusals in ElevenLabs' shape, and the
//! credential fields and query parameters a relay must strip.

use serde_json::{Value, json};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::handshake::client::Response;

use super::{KEY, Sim, expect_close, next_json, refused, send};

/// Asserts a 401 with `{"detail":{"status":"invalid_api_key",…}}` that does not repeat `secret`.
fn assert_unauthorized(response: &Response, secret: &str) {
    assert_eq!(response.status(), 401);
    let raw = response.body().as_deref().unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(raw).contains(secret),
        "the body never repeats a credential"
    );
    let body: Value = serde_json::from_slice(raw).expect("json body");
    assert_eq!(body["detail"]["status"], "invalid_api_key");
    assert_eq!(body["detail"]["message"], "Invalid API key");
}

const PATHS: [&str; 3] = [
    "/v1/text-to-speech/voice/stream-input?model_id=eleven_flash_v2_5",
    "/v1/text-to-speech/voice/multi-stream-input?model_id=eleven_flash_v2_5",
    "/v1/speech-to-text/realtime?model_id=scribe_v2_realtime",
];

#[tokio::test]
async fn keyed_simulator_wants_the_key_header_and_no_query_credential() {
    let sim = Sim::start(true).await;
    for path in PATHS {
        assert_unauthorized(&refused(sim.request(path, None)).await, KEY);
        assert_unauthorized(
            &refused(sim.request(path, Some("xi-wrong-secret"))).await,
            "xi-wrong-secret",
        );
        for name in ["token", "single_use_token", "xi-api-key", "authorization"] {
            let with_query = format!("{path}&{name}=query-secret");
            let response = refused(sim.request(&with_query, Some(KEY))).await;
            assert_unauthorized(&response, "query-secret");
        }
        let (_ws, response) = connect_async(sim.request(path, Some(KEY)))
            .await
            .expect("upgrade");
        assert_eq!(response.status(), 101);
    }
}

#[tokio::test]
async fn keyed_simulator_closes_on_a_credential_field() {
    let sim = Sim::start(true).await;
    for field in [
        "xi-api-key",
        "xi_api_key",
        "authorization",
        "single_use_token",
        "singleUseToken",
    ] {
        let mut ws = sim.connect(PATHS[0]).await;
        let mut bos = json!({"text": " "});
        bos[field] = "leaked".into();
        send(&mut ws, bos).await;
        let error = next_json(&mut ws).await;
        assert_eq!(error["code"], 1008, "{field}");
        assert!(!error.to_string().contains("leaked"));
        expect_close(&mut ws, 1008, "credential field in message").await;
    }
    let mut ws = sim.connect(PATHS[1]).await;
    send(
        &mut ws,
        json!({"text": " ", "context_id": "a", "xi_api_key": "leaked"}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["error"], "credential_in_message");
    expect_close(&mut ws, 1008, "credential field in message").await;

    let mut ws = sim.connect(PATHS[2]).await;
    assert_eq!(next_json(&mut ws).await["message_type"], "session_started");
    let chunk = json!({"message_type": "input_audio_chunk", "audio_base_64": "", "authorization": "leaked"});
    send(&mut ws, chunk).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["message_type"], "auth_error");
    expect_close(&mut ws, 1008, "credential field in message").await;
}

#[tokio::test]
async fn keyless_simulator_takes_any_credential_anywhere() {
    let sim = Sim::start(false).await;
    let path =
        "/v1/text-to-speech/voice/stream-input?single_use_token=tok&authorization=Bearer%20x";
    let (mut ws, _) = connect_async(sim.request(path, Some("whatever")))
        .await
        .expect("upgrade");
    send(
        &mut ws,
        json!({"text": " ", "xi-api-key": "k", "authorization": "Bearer t"}),
    )
    .await;
    send(&mut ws, json!({"text": "ok", "flush": true})).await;
    assert_eq!(
        next_json(&mut ws).await["alignment"]["chars"],
        json!(["o", "k"])
    );

    let path = "/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&token=tok";
    let (mut ws, _) = connect_async(sim.request(path, None))
        .await
        .expect("upgrade");
    assert_eq!(next_json(&mut ws).await["message_type"], "session_started");
}

#[tokio::test]
async fn other_paths_are_not_elevenlabs() {
    use axum::http::Uri;
    let serves = |path: &str| super::super::serves(&path.parse::<Uri>().expect("uri"));
    assert!(serves("/v1/text-to-speech/abc/stream-input"));
    assert!(serves("/x/y/v1/text-to-speech/abc/multi-stream-input/"));
    assert!(serves("/v1/speech-to-text/realtime?model_id=m"));
    assert!(!serves("/v1/text-to-speech//stream-input"));
    assert!(!serves("/v1/text-to-speech/abc/stream"));
    assert!(!serves("/v1/text-to-speech/abc"));
    assert!(!serves("/v1/speech-to-text"));
    assert!(!serves("/v1/realtime"));
}
