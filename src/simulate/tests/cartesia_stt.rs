//! Cartesia STT and the Cartesia handshake over real sockets: transcripts, finalize, close, refusals.

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::cartesia::send_json;
use super::{Client, Running, assert_closed, expect_close, next_json, refused};
use crate::simulate::SimulatorConfig;

/// The key the keyed simulator expects.
const KEY: &str = "sk_car_simulated-right";
/// A manual-finalize STT URL for 16 kHz PCM16.
const STT: &str = "/stt/websocket?model=ink-2&encoding=pcm_s16le&sample_rate=16000";

/// Sends `seconds` of 16 kHz PCM16 silence in 100 ms frames.
async fn send_audio(ws: &mut Client, tenths: usize) {
    for _ in 0..tenths {
        ws.send(Message::Binary(vec![0u8; 3_200].into()))
            .await
            .expect("sent");
    }
}

/// Reads transcripts until `last` arrives; returns the interims and the finals.
async fn transcripts_until(ws: &mut Client, last: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut interims, mut finals) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let message = next_json(ws).await;
        match message["type"].as_str() {
            Some("transcript") if message["is_final"] == true => finals.push(message),
            Some("transcript") => interims.push(message),
            Some(other) if other == last => return (interims, finals),
            _ => panic!("unexpected {message}"),
        }
    }
    panic!("no {last} within 200 messages");
}

#[tokio::test]
async fn stt_transcribes_finalizes_and_closes() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(STT).await;
    send_audio(&mut ws, 30).await;
    ws.send(Message::Text("finalize".into()))
        .await
        .expect("sent");
    let (interims, finals) = transcripts_until(&mut ws, "flush_done").await;
    // 3 s at 2.5 words per second: one interim per new word, each repeating the segment so far.
    assert_eq!(interims.len(), 7);
    assert_eq!(interims[0]["text"], "the");
    assert_eq!(interims[6]["text"], "the quick brown fox jumps over the");
    let [last] = finals.as_slice() else {
        panic!("one final: {finals:?}")
    };
    assert_eq!(last["text"], "the quick brown fox jumps over the");
    assert_eq!(last["duration"], 3.0);
    assert_eq!(last["language"], "en");
    assert_eq!(last["words"].as_array().map(Vec::len), Some(7));
    assert_eq!(last["words"][1]["word"], "quick");
    assert_eq!(last["words"][1]["start"], 0.4);
    let request_id = last["request_id"].as_str().expect("request_id").to_owned();
    send_audio(&mut ws, 10).await;
    ws.send(Message::Text("close".into())).await.expect("sent");
    let (_, finals) = transcripts_until(&mut ws, "done").await;
    // Deltas: a later segment starts with a space so concatenating finals gives the whole text.
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0]["text"], " lazy dog");
    assert_eq!(finals[0]["words"][0]["start"], 3.0);
    assert_eq!(finals[0]["request_id"], request_id.as_str());
    assert_closed(expect_close(&mut ws).await, 1000, "");
}

#[tokio::test]
async fn stt_measures_duration_by_encoding_and_rejects_unknown_commands() {
    let sim = Running::default().await;
    let path =
        "/v1/x/stt/websocket?model=ink-whisper&encoding=pcm_f32le&sample_rate=8000&language=de";
    let (mut ws, _) = sim.connect(path).await;
    ws.send(Message::Text("{\"type\":\"finalize\"}".into()))
        .await
        .expect("sent");
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["status_code"], 400);
    ws.send(Message::Binary(vec![0u8; 16_000].into()))
        .await
        .expect("sent");
    ws.send(Message::Text("done".into())).await.expect("sent");
    let (interims, finals) = transcripts_until(&mut ws, "done").await;
    assert_eq!(interims.len(), 1);
    // 16000 bytes of f32 at 8 kHz is half a second.
    assert_eq!(finals[0]["duration"], 0.5);
    assert_eq!(finals[0]["language"], "de");
    assert_eq!(finals[0]["text"], "the");
    assert_closed(expect_close(&mut ws).await, 1000, "");
}

/// The JSON body of a refused handshake, checked for Cartesia's shape and for not leaking `secret`.
fn error_body(response: &Response, secret: &str) -> Value {
    let raw = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(
        !raw.contains(secret),
        "the body never repeats the credential"
    );
    let body: Value = serde_json::from_str(&raw).expect("json body");
    for field in ["error_code", "title", "message", "request_id"] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} in {body}"
        );
    }
    body
}

#[tokio::test]
async fn stt_refuses_a_query_without_model_encoding_or_sample_rate() {
    let sim = Running::default().await;
    for query in [
        "encoding=pcm_s16le&sample_rate=16000",
        "model=nova-3&encoding=pcm_s16le&sample_rate=16000",
        "model=ink-2&encoding=linear16&sample_rate=16000",
        "model=ink-2&encoding=pcm_s16le",
        "model=ink-2&encoding=pcm_s16le&sample_rate=abc",
    ] {
        let response = refused(sim.request(&format!("/stt/websocket?{query}"))).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(error_body(&response, KEY)["error_code"], "invalid_request");
    }
}

#[tokio::test]
async fn keyed_handshake_needs_bearer_and_version_and_no_query_credential() {
    let sim = Running::start(SimulatorConfig {
        api_key: Some(KEY.into()),
        ..SimulatorConfig::default()
    })
    .await;
    let with = |path: &str, bearer: Option<&str>, version: bool| {
        let mut request = sim.request(path);
        if let Some(key) = bearer {
            let value = HeaderValue::from_str(&format!("Bearer {key}")).expect("header");
            request.headers_mut().insert("authorization", value);
        }
        if version {
            let value = HeaderValue::from_static("2026-08-14");
            request.headers_mut().insert("cartesia-version", value);
        }
        request
    };
    let cases = [
        (with("/tts/websocket", None, true), 401, "missing_api_key"),
        (
            with("/tts/websocket", Some("sk_car_wrong"), true),
            401,
            "invalid_api_key",
        ),
        (
            with("/tts/websocket", Some(KEY), false),
            400,
            "missing_version",
        ),
        (
            with("/tts/websocket?cartesia_version=latest", Some(KEY), false),
            400,
            "missing_version",
        ),
        (
            with(
                &format!("/tts/websocket?access_token={KEY}"),
                Some(KEY),
                true,
            ),
            401,
            "invalid_api_key",
        ),
        (
            with(&format!("{STT}&api_key={KEY}"), Some(KEY), true),
            401,
            "invalid_api_key",
        ),
    ];
    for (request, status, code) in cases {
        let uri = request.uri().to_string();
        let response = refused(request).await;
        assert_eq!(response.status(), status, "{uri}");
        assert_eq!(error_body(&response, KEY)["error_code"], code, "{uri}");
    }
    let (_ws, _) = connect_async(with("/tts/websocket", Some(KEY), true))
        .await
        .expect("header version");
    let query_version = format!("{STT}&cartesia_version=2026-08-14");
    let (mut ws, _) = connect_async(with(&query_version, Some(KEY), false))
        .await
        .expect("query version");
    ws.send(Message::Text("close".into())).await.expect("sent");
    assert_eq!(next_json(&mut ws).await["type"], "done");
}

#[tokio::test]
async fn keyless_simulator_takes_browser_query_credentials() {
    let sim = Running::default().await;
    for path in [
        "/tts/websocket?access_token=tok&cartesia_version=2026-08-14&cartesia_client=cartesia-js%2F4.2.0",
        "/tts/websocket?api_key=anything",
        "/tts/websocket",
    ] {
        let (mut ws, _) = sim.connect(path).await;
        ws.send(Message::Binary(vec![1].into()))
            .await
            .expect("sent");
        assert_eq!(next_json(&mut ws).await["type"], "error", "{path}");
    }
}

/// `tenths` × 100 ms of 16 kHz PCM16, a loud tone or silence.
async fn send_pcm(ws: &mut Client, tenths: usize, loud: bool) {
    let sample: i16 = if loud { 3_000 } else { 0 };
    let frame: Vec<u8> = (0..1_600).flat_map(|_| sample.to_le_bytes()).collect();
    for _ in 0..tenths {
        ws.send(Message::Binary(frame.clone().into()))
            .await
            .expect("sent");
    }
}

#[tokio::test]
async fn turns_start_update_eager_end_resume_and_end_by_speech_and_silence() {
    let sim = Running::default().await;
    let path = "/stt/turns/websocket?model=ink-2&encoding=pcm_s16le&sample_rate=16000&turn_end_timeout_ms=800";
    let (mut ws, _) = sim.connect(path).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    send_pcm(&mut ws, 5, false).await;
    send_pcm(&mut ws, 8, true).await;
    assert_eq!(next_json(&mut ws).await["type"], "turn.start");
    let update = next_json(&mut ws).await;
    assert_eq!(update["type"], "turn.update");
    assert_eq!(update["transcript"], "the");
    assert_eq!(next_json(&mut ws).await["transcript"], "the quick");
    send_pcm(&mut ws, 4, false).await;
    let eager = next_json(&mut ws).await;
    assert_eq!(
        (eager["type"].as_str(), eager["transcript"].as_str()),
        (Some("turn.eager_end"), Some("the quick"))
    );
    send_pcm(&mut ws, 1, true).await;
    assert_eq!(next_json(&mut ws).await["type"], "turn.resume");
    send_pcm(&mut ws, 8, false).await;
    assert_eq!(next_json(&mut ws).await["type"], "turn.eager_end");
    let end = next_json(&mut ws).await;
    assert_eq!(end["type"], "turn.end");
    assert_eq!(end["transcript"], "the quick");
    assert!(end["request_id"].is_string());
    // A shorter timeout by config; close ends the open turn first.
    send_json(
        &mut ws,
        serde_json::json!({"type": "config", "turn": {"end_timeout_ms": 200}}),
    )
    .await;
    send_pcm(&mut ws, 4, true).await;
    assert_eq!(next_json(&mut ws).await["type"], "turn.start");
    assert_eq!(next_json(&mut ws).await["transcript"], "brown");
    send_json(&mut ws, serde_json::json!({"type": "close"})).await;
    let end = next_json(&mut ws).await;
    assert_eq!(
        (end["type"].as_str(), end["transcript"].as_str()),
        (Some("turn.end"), Some("brown"))
    );
    assert_closed(expect_close(&mut ws).await, 1000, "");
}
