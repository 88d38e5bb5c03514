//! AssemblyAI Universal Streaming v3 over real sockets: Begin, turns, ForceEndpoint, Termination, refusals.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{Client, Running, assert_closed, expect_close, next_json};
use crate::simulate::SimulatorConfig;

/// The key the keyed simulator expects.
const KEY: &str = "aai-simulated-right";
/// Query of a valid session at 16 kHz PCM.
const QUERY: &str = "?speech_model=universal-streaming-english&sample_rate=16000";
/// 100 ms of 16 kHz PCM16.
const CHUNK: usize = 3200;

/// A simulator that checks credentials.
async fn keyed() -> Running {
    Running::start(SimulatorConfig {
        api_key: Some(KEY.into()),
        ..SimulatorConfig::default()
    })
    .await
}

/// Connects to `path_and_query` with `Authorization: <authorization>` if given.
async fn open(sim: &Running, path_and_query: &str, authorization: Option<&str>) -> Client {
    let mut request = sim.request(path_and_query);
    if let Some(value) = authorization {
        let value = HeaderValue::from_str(value).expect("header");
        request.headers_mut().insert("authorization", value);
    }
    connect_async(request).await.expect("upgrade succeeds").0
}

/// Reads `Begin` and checks its shape.
async fn begin(ws: &mut Client) {
    let begin = next_json(ws).await;
    assert_eq!(begin["type"], "Begin");
    let id = begin["id"].as_str().expect("id");
    uuid::Uuid::parse_str(id).expect("id is a uuid");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expires = begin["expires_at"].as_u64().expect("unix seconds");
    assert!(expires > now && expires <= now + 3 * 3600 + 5, "{expires}");
}

/// Sends `chunks` frames of `CHUNK` silent bytes.
async fn send_audio(ws: &mut Client, chunks: usize) {
    for _ in 0..chunks {
        ws.send(Message::Binary(vec![0u8; CHUNK].into()))
            .await
            .expect("send audio");
    }
}

/// Sends one JSON text message.
async fn send_json(ws: &mut Client, text: &str) {
    ws.send(Message::Text(text.into()))
        .await
        .expect("send text");
}

/// Reads messages until one of `kind`, returning it and the `Turn`s seen before it.
async fn until(ws: &mut Client, kind: &str) -> (Value, Vec<Value>) {
    let mut turns = Vec::new();
    for _ in 0..200 {
        let message = next_json(ws).await;
        if message["type"] == kind {
            return (message, turns);
        }
        assert_eq!(message["type"], "Turn", "{message}");
        turns.push(message);
    }
    panic!("no {kind} within 200 messages");
}

#[tokio::test]
async fn audio_makes_partial_and_final_turns_then_termination_counts_seconds() {
    let sim = Running::default().await;
    let mut ws = open(&sim, &format!("/v3/ws{QUERY}&format_turns=true"), None).await;
    begin(&mut ws).await;
    // 4 s of audio: ten words, one turn ended at 3 s (raw, then formatted), one partial turn after it.
    send_audio(&mut ws, 40).await;
    send_json(&mut ws, r#"{"type":"KeepAlive"}"#).await;
    send_json(
        &mut ws,
        r#"{"type":"UpdateConfiguration","max_turn_silence":900}"#,
    )
    .await;
    send_json(&mut ws, r#"{"type":"Terminate"}"#).await;
    let (termination, turns) = until(&mut ws, "Termination").await;
    assert_eq!(termination["audio_duration_seconds"], 4);
    assert!(termination["session_duration_seconds"].as_u64().is_some());
    assert_closed(expect_close(&mut ws).await, 1000, "");

    let partial = &turns[0];
    assert_eq!(partial["turn_order"], 0);
    assert_eq!(partial["end_of_turn"], false);
    assert_eq!(partial["transcript"], "the");
    assert_eq!(partial["words"][0]["word_is_final"], false);
    let ends: Vec<&Value> = turns.iter().filter(|t| t["end_of_turn"] == true).collect();
    assert_eq!(ends.len(), 4, "two turns, each raw then formatted");
    assert_eq!(ends[0]["turn_is_formatted"], false);
    assert_eq!(ends[0]["transcript"], "the quick brown fox jumps over the");
    assert_eq!(ends[1]["turn_is_formatted"], true);
    assert_eq!(ends[1]["transcript"], "The quick brown fox jumps over the.");
    assert_eq!(ends[1]["turn_order"], 0);
    let words = ends[0]["words"].as_array().expect("words");
    assert_eq!(words.len(), 7);
    assert_eq!(words[1]["start"], 400);
    assert_eq!(words[1]["end"], 700);
    assert!(words.iter().all(|w| w["word_is_final"] == true));
    assert_eq!(ends[2]["turn_order"], 1);
    assert_eq!(ends[2]["transcript"], "lazy dog the");
    assert_eq!(ends[3]["transcript"], "Lazy dog. The.");
}

#[tokio::test]
async fn force_endpoint_ends_the_turn_and_mulaw_meters_one_byte_per_sample() {
    let sim = Running::default().await;
    let query = "/prefix/v3/ws/?speech_model=u3-rt-pro&sample_rate=8000&encoding=pcm_mulaw";
    let mut ws = open(&sim, query, None).await;
    begin(&mut ws).await;
    // 1.6 s of µ-law at 8 kHz in 800-byte (100 ms) frames: four words, no automatic end of turn.
    for _ in 0..16 {
        ws.send(Message::Binary(vec![0xFFu8; 800].into()))
            .await
            .expect("send");
    }
    send_json(&mut ws, r#"{"type":"ForceEndpoint"}"#).await;
    let mut last = Value::Null;
    for _ in 0..10 {
        last = next_json(&mut ws).await;
        if last["end_of_turn"] == true {
            break;
        }
    }
    assert_eq!(last["end_of_turn"], true);
    assert_eq!(last["turn_is_formatted"], false);
    assert_eq!(last["transcript"], "the quick brown fox");
    send_json(&mut ws, r#"{"type":"Terminate"}"#).await;
    let (termination, turns) = until(&mut ws, "Termination").await;
    assert!(turns.is_empty(), "nothing left to end: {turns:?}");
    assert_eq!(
        termination["audio_duration_seconds"], 2,
        "1.6 s rounds to 2"
    );
    assert_closed(expect_close(&mut ws).await, 1000, "");
}

#[tokio::test]
async fn missing_speech_model_is_an_input_validation_error() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v3/ws?sample_rate=16000", None).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "Error");
    assert_eq!(error["error_code"], 3006);
    assert!(
        error["error"]
            .as_str()
            .expect("text")
            .contains("speech_model")
    );
    assert_closed(expect_close(&mut ws).await, 3006, "Input validation error");
}

#[tokio::test]
async fn a_frame_over_one_second_is_a_duration_violation() {
    let sim = Running::default().await;
    let mut ws = open(&sim, &format!("/v3/ws{QUERY}"), None).await;
    begin(&mut ws).await;
    // 20 ms is accepted (SDKs send small frames), 1.1 s is not.
    ws.send(Message::Binary(vec![0u8; 640].into()))
        .await
        .expect("send");
    ws.send(Message::Binary(vec![0u8; 35_200].into()))
        .await
        .expect("send");
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "Error");
    assert_eq!(error["error_code"], 3007);
    assert_eq!(
        error["error"],
        "Input duration violation: 1100 ms. Expected between 50 and 1000 ms"
    );
    let frame = expect_close(&mut ws).await.expect("close status");
    assert_eq!(u16::from(frame.code), 3007);
}

#[tokio::test]
async fn unknown_message_type_closes_with_3006() {
    let sim = Running::default().await;
    let mut ws = open(&sim, &format!("/v3/ws{QUERY}"), None).await;
    begin(&mut ws).await;
    send_json(&mut ws, r#"{"type":"Flush"}"#).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["error_code"], 3006);
    assert_eq!(error["error"], "Invalid Message Type: Flush");
    assert_closed(expect_close(&mut ws).await, 3006, "Input validation error");
}

#[tokio::test]
async fn inactivity_timeout_closes_an_idle_session() {
    let sim = Running::default().await;
    let mut ws = open(&sim, &format!("/v3/ws{QUERY}&inactivity_timeout=5"), None).await;
    begin(&mut ws).await;
    // The real clock: the 5 s minimum, waited for with a longer bound than `next_json`'s.
    let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
        .await
        .expect("idle close within 10 s")
        .expect("stream open")
        .expect("valid frame");
    let Message::Text(text) = frame else {
        panic!("expected the Error frame, got {frame:?}");
    };
    let error: Value = serde_json::from_str(text.as_str()).expect("json");
    assert_eq!(error["error_code"], 4031);
    assert_closed(
        expect_close(&mut ws).await,
        4031,
        "Session idle for too long",
    );
}

#[tokio::test]
async fn keyed_simulator_takes_the_raw_authorization_header() {
    let sim = keyed().await;
    let mut ws = open(&sim, &format!("/v3/ws{QUERY}"), Some(KEY)).await;
    begin(&mut ws).await;
}

#[tokio::test]
async fn keyed_simulator_refuses_missing_wrong_schemed_and_token_credentials() {
    let sim = keyed().await;
    let cases = [
        (
            None,
            QUERY.to_owned(),
            "Unauthorized Connection: Missing Authorization header",
        ),
        (
            Some("not-the-key"),
            QUERY.to_owned(),
            "Unauthorized Connection: Invalid API key",
        ),
        (
            Some("Bearer aai-simulated-right"),
            QUERY.to_owned(),
            "Unauthorized Connection: Invalid API key",
        ),
        (
            Some(KEY),
            format!("{QUERY}&token=temp"),
            "Unauthorized Connection: Invalid temporary token",
        ),
    ];
    for (authorization, query, reason) in cases {
        let mut ws = open(&sim, &format!("/v3/ws{query}"), authorization).await;
        assert_closed(expect_close(&mut ws).await, 1008, reason);
    }
}

#[tokio::test]
async fn keyless_simulator_accepts_a_browser_token() {
    let sim = Running::default().await;
    let mut ws = open(&sim, &format!("/v3/ws{QUERY}&token=temp-token"), None).await;
    begin(&mut ws).await;
    send_json(&mut ws, r#"{"type":"Terminate"}"#).await;
    let (termination, _) = until(&mut ws, "Termination").await;
    assert_eq!(termination["audio_duration_seconds"], 0);
}
