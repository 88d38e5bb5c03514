//! Speechmatics real-time sessions over real sockets: start, audio acks, transcripts, end of stream, refusals.

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use uuid::Uuid;

use super::{Client, Running, assert_closed, expect_close, next_json, refused};
use crate::simulate::SimulatorConfig;

/// Most messages any single test waits through.
const MAX_MESSAGES: usize = 1000;
/// PCM16 bytes in 0.1 s at 16 kHz.
const FRAME: usize = 3200;

/// Sends one JSON message.
async fn send(ws: &mut Client, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("message sent");
}

/// `StartRecognition` with `audio_format` and partials after at most 1 s.
fn start_message(audio_format: Value) -> Value {
    json!({"message": "StartRecognition", "audio_format": audio_format,
           "transcription_config": {"language": "en", "enable_partials": true, "max_delay": 1.0}})
}

/// Raw PCM16 at 16 kHz.
fn pcm16() -> Value {
    json!({"type": "raw", "encoding": "pcm_s16le", "sample_rate": 16000})
}

/// Connects to `path`, starts recognition with `audio_format` and returns after `RecognitionStarted`.
async fn open(sim: &Running, path: &str, audio_format: Value) -> Client {
    let (mut ws, _) = sim.connect(path).await;
    send(&mut ws, start_message(audio_format)).await;
    let started = next_json(&mut ws).await;
    assert_eq!(started["message"], "RecognitionStarted", "{started}");
    let id = started["id"].as_str().expect("id is a string");
    assert!(Uuid::parse_str(id).is_ok(), "id {id} is a uuid");
    ws
}

/// Every message up to and including the first whose `message` is `last`.
async fn until(ws: &mut Client, last: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..MAX_MESSAGES {
        let message = next_json(ws).await;
        let done = message["message"] == last;
        seen.push(message);
        if done {
            return seen;
        }
    }
    panic!("no {last} within {MAX_MESSAGES} messages");
}

/// The concatenated `metadata.transcript` of the messages named `kind`.
fn transcript(messages: &[Value], kind: &str) -> String {
    messages
        .iter()
        .filter(|m| m["message"] == kind)
        .filter_map(|m| m["metadata"]["transcript"].as_str())
        .collect()
}

/// Sends `bytes` of audio in one frame, ends the stream, and returns the final transcript.
async fn transcribe_once(sim: &Running, audio_format: Value, bytes: usize) -> String {
    let mut ws = open(sim, "/v2", audio_format).await;
    ws.send(Message::Binary(vec![0; bytes].into()))
        .await
        .expect("audio sent");
    send(&mut ws, json!({"message": "EndOfStream", "last_seq_no": 1})).await;
    let messages = until(&mut ws, "EndOfTranscript").await;
    transcript(&messages, "AddTranscript").trim_end().to_owned()
}

#[tokio::test]
async fn audio_is_acknowledged_in_order_and_transcribed_until_end_of_transcript() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/prefix/v2/?jwt=temporary-key", pcm16()).await;
    // Transcripts follow their frame's `AudioAdded`, so each batch holds the previous frame's; the
    // last frame (3.0 s) adds no word, so nothing of it is left unread.
    let mut messages = Vec::new();
    for n in 1..=30u64 {
        ws.send(Message::Binary(vec![0; FRAME].into()))
            .await
            .expect("audio sent");
        let batch = until(&mut ws, "AudioAdded").await;
        assert_eq!(batch.last().expect("acked")["seq_no"], n);
        messages.extend(batch);
    }
    let early = transcript(&messages, "AddTranscript");
    assert_eq!(early, "The quick brown fox jumps ");
    let partials: Vec<&Value> = messages
        .iter()
        .filter(|m| m["message"] == "AddPartialTranscript")
        .collect();
    assert!(!partials.is_empty(), "partials are sent when enabled");
    let word = &partials[0]["results"][0];
    assert_eq!(word["type"], "word");
    assert_eq!(word["alternatives"][0]["content"], "The");
    assert!(word["alternatives"][0]["confidence"].as_f64().is_some());
    assert!(word["end_time"].as_f64() > word["start_time"].as_f64());

    send(
        &mut ws,
        json!({"message": "EndOfStream", "last_seq_no": 30}),
    )
    .await;
    let rest = until(&mut ws, "EndOfTranscript").await;
    assert_eq!(transcript(&rest, "AddTranscript"), "over the ");
    let last = &rest[rest.len() - 2]["metadata"];
    assert_eq!(last["start_time"], 2.0);
    assert_eq!(last["end_time"], 2.7);
    assert_closed(expect_close(&mut ws).await, 1000, "");
}

#[tokio::test]
async fn seconds_come_from_the_declared_encoding() {
    let sim = Running::default().await;
    let f32 = json!({"type": "raw", "encoding": "pcm_f32le", "sample_rate": 16000});
    let mulaw = json!({"type": "raw", "encoding": "mulaw", "sample_rate": 8000});
    // One second is 2.5 words: two are heard.
    assert_eq!(transcribe_once(&sim, f32, 64_000).await, "The quick");
    assert_eq!(transcribe_once(&sim, mulaw, 8_000).await, "The quick");
    assert_eq!(transcribe_once(&sim, pcm16(), 32_000).await, "The quick");
    // A full sentence gets its full stop as a punctuation result.
    assert_eq!(
        transcribe_once(&sim, pcm16(), 32_000 * 4).await,
        "The quick brown fox jumps over the lazy dog. The"
    );
}

#[tokio::test]
async fn bad_first_messages_get_an_error_and_a_close() {
    let sim = Running::default().await;
    let cases: [(Message, &str); 5] = [
        (Message::Binary(vec![0; 4].into()), "protocol_error"),
        (
            Message::Text(
                json!({"message": "EndOfStream", "last_seq_no": 0})
                    .to_string()
                    .into(),
            ),
            "protocol_error",
        ),
        (Message::Text("not json".into()), "invalid_message"),
        (
            Message::Text(
                start_message(json!({"type": "raw", "encoding": "opus"}))
                    .to_string()
                    .into(),
            ),
            "invalid_audio_type",
        ),
        (
            Message::Text(
                json!({"message": "StartRecognition", "audio_format": pcm16()})
                    .to_string()
                    .into(),
            ),
            "invalid_config",
        ),
    ];
    for (first, kind) in cases {
        let (mut ws, _) = sim.connect("/v2").await;
        ws.send(first).await.expect("sent");
        let error = next_json(&mut ws).await;
        assert_eq!(error["message"], "Error");
        assert_eq!(error["type"], kind);
        assert!(error["reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert_closed(expect_close(&mut ws).await, 1008, kind);
    }
    let mut ws = open(&sim, "/v2", json!({"type": "file"})).await;
    send(&mut ws, start_message(pcm16())).await;
    assert_eq!(next_json(&mut ws).await["type"], "protocol_error");
}

#[tokio::test]
async fn a_configured_key_needs_a_bearer_header_and_no_jwt() {
    let sim = Running::start(SimulatorConfig {
        api_key: Some("sm-test-key".into()),
        ..SimulatorConfig::default()
    })
    .await;
    let bearer = |value: &str| HeaderValue::from_str(value).expect("header");
    let cases = [
        ("/v2", None),
        ("/v2", Some(bearer("Bearer wrong"))),
        ("/v2", Some(bearer("Token sm-test-key"))),
        ("/v2?jwt=sm-test-key", None),
        ("/v2?jwt=x", Some(bearer("Bearer sm-test-key"))),
    ];
    for (path, header) in cases {
        let mut request = sim.request(path);
        if let Some(header) = header {
            request.headers_mut().insert("authorization", header);
        }
        let response = refused(request).await;
        assert_eq!(response.status(), 401, "{path}");
        let body: Value =
            serde_json::from_slice(response.body().as_deref().expect("body")).expect("json body");
        assert_eq!(body["type"], "not_authorised");
        assert!(
            !body.to_string().contains("sm-test-key"),
            "no secret echoed"
        );
    }
    let mut request = sim.request("/v2");
    request
        .headers_mut()
        .insert("authorization", bearer("bearer sm-test-key"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade succeeds");
    send(&mut ws, start_message(pcm16())).await;
    assert_eq!(next_json(&mut ws).await["message"], "RecognitionStarted");
}

#[tokio::test]
async fn only_paths_ending_in_v2_are_speechmatics() {
    let sim = Running::default().await;
    let (mut flux, _) = sim.connect("/v2/listen").await;
    assert_eq!(next_json(&mut flux).await["type"], "Connected");
    let response = refused(sim.request("/v2x")).await;
    assert_eq!(response.status(), 404);
    let _ = open(&sim, "/v2/", pcm16()).await;
}
