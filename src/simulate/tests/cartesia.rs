//! Cartesia TTS over real sockets: audio length per format, interleaved contexts, cancel, flush, timestamps, errors.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Running, next_json};

/// TTS path with a prefix, as a relay or `baseURL` with a path would produce.
const TTS: &str = "/prefix/tts/websocket";

/// Sends a JSON text frame.
pub(super) async fn send_json(ws: &mut Client, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("sent");
}

/// A generation request for `context` with this transcript and output format.
fn request(context: &str, transcript: &str, encoding: &str, rate: u32, more: bool) -> Value {
    json!({
        "context_id": context, "model_id": "sonic-3", "transcript": transcript,
        "voice": {"mode": "id", "id": "a0e99841-438c-4a64-b679-ae501e7d6091"},
        "output_format": {"container": "raw", "encoding": encoding, "sample_rate": rate},
        "continue": more,
    })
}

/// Decoded audio of a `chunk` message, after checking its shape.
fn chunk_audio(message: &Value) -> Vec<u8> {
    assert_eq!(message["type"], "chunk", "{message}");
    assert_eq!(message["done"], false);
    assert_eq!(message["status_code"], 206);
    assert!(message["step_time"].is_number());
    STANDARD
        .decode(message["data"].as_str().expect("data"))
        .expect("base64")
}

/// Collects the audio of consecutive chunks; returns it and the first non-chunk message.
async fn audio_until_other(ws: &mut Client, context: &str) -> (Vec<u8>, Value) {
    let mut audio = Vec::new();
    loop {
        let message = next_json(ws).await;
        if message["type"] != "chunk" {
            return (audio, message);
        }
        assert_eq!(message["context_id"], context);
        audio.extend(chunk_audio(&message));
    }
}

#[tokio::test]
async fn tts_audio_is_fifty_ms_of_silence_per_character_in_the_output_format() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(TTS).await;
    // (encoding, rate, bytes per sample, silence byte)
    let formats = [
        ("pcm_s16le", 16_000, 2, 0x00),
        ("pcm_f32le", 44_100, 4, 0x00),
        ("pcm_mulaw", 8_000, 1, 0xFF),
        ("pcm_alaw", 8_000, 1, 0xD5),
        ("pcm_s16le", 22_050, 2, 0x00),
    ];
    for (i, (encoding, rate, width, silence)) in formats.into_iter().enumerate() {
        let context = format!("ctx-{i}");
        let transcript = "Hello, world!";
        send_json(
            &mut ws,
            request(&context, transcript, encoding, rate, false),
        )
        .await;
        let (audio, done) = audio_until_other(&mut ws, &context).await;
        let samples = transcript.len() * rate as usize / 20;
        assert_eq!(audio.len(), samples * width, "{encoding} at {rate} Hz");
        assert!(audio.iter().all(|byte| *byte == silence), "{encoding}");
        assert_eq!(
            done,
            json!({"type": "done", "done": true, "status_code": 200, "context_id": context})
        );
    }
}

#[tokio::test]
async fn tts_contexts_interleave_and_flush_and_timestamps_follow_their_context() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(TTS).await;
    let mut first = request("a", "one two", "pcm_s16le", 16_000, true);
    first["add_timestamps"] = json!(true);
    send_json(&mut ws, first).await;
    let (audio, timestamps) = audio_until_other(&mut ws, "a").await;
    assert_eq!(audio.len(), 7 * 800 * 2);
    assert_eq!(timestamps["type"], "timestamps");
    assert_eq!(timestamps["context_id"], "a");
    assert_eq!(
        timestamps["word_timestamps"],
        json!({"words": ["one", "two"], "start": [0.0, 0.2], "end": [0.15, 0.35]})
    );
    send_json(&mut ws, request("b", "hi", "pcm_s16le", 16_000, false)).await;
    let (audio, done) = audio_until_other(&mut ws, "b").await;
    assert_eq!(audio.len(), 2 * 800 * 2);
    assert_eq!(done["type"], "done");
    assert_eq!(done["context_id"], "b", "only b is done");
    let mut last = request("a", " three", "pcm_s16le", 16_000, false);
    last["flush"] = json!(true);
    last["add_timestamps"] = json!(true);
    send_json(&mut ws, last).await;
    let (audio, timestamps) = audio_until_other(&mut ws, "a").await;
    assert_eq!(audio.len(), 6 * 800 * 2);
    // Timing continues from the 7 characters already spoken in context a.
    assert_eq!(timestamps["word_timestamps"]["start"], json!([0.4]));
    let flushed = next_json(&mut ws).await;
    assert_eq!(flushed["type"], "flush_done");
    assert_eq!(flushed["flush_id"], 1);
    assert_eq!(flushed["context_id"], "a");
    let done = next_json(&mut ws).await;
    assert_eq!(done["type"], "done");
    assert_eq!(done["context_id"], "a");
}

#[tokio::test]
async fn tts_cancel_forgets_the_context_without_an_answer() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(TTS).await;
    send_json(&mut ws, request("c", "abcd", "pcm_mulaw", 8_000, true)).await;
    let first = next_json(&mut ws).await;
    assert_eq!(chunk_audio(&first).len(), 4 * 400);
    send_json(&mut ws, json!({"context_id": "c", "cancel": true})).await;
    send_json(&mut ws, request("d", "x", "pcm_mulaw", 8_000, false)).await;
    // Nothing for c comes between the cancel and d's answer.
    let (audio, done) = audio_until_other(&mut ws, "d").await;
    assert_eq!(audio.len(), 400);
    assert_eq!(done["context_id"], "d");
    // c starts afresh: an empty final request is done at once, with no flush history.
    let mut again = request("c", "", "pcm_mulaw", 8_000, false);
    again["flush"] = json!(true);
    send_json(&mut ws, again).await;
    let flushed = next_json(&mut ws).await;
    assert_eq!(flushed["type"], "flush_done");
    assert_eq!(flushed["flush_id"], 1);
    assert_eq!(next_json(&mut ws).await["type"], "done");
}

#[tokio::test]
async fn tts_bad_requests_get_an_error_for_their_context_and_the_socket_stays_open() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(TTS).await;
    let mut no_model = request("m", "hi", "pcm_s16le", 16_000, false);
    no_model.as_object_mut().expect("object").remove("model_id");
    let mut no_voice = request("v", "hi", "pcm_s16le", 16_000, false);
    no_voice.as_object_mut().expect("object").remove("voice");
    let wav = json!({"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16_000});
    let mut not_raw = request("w", "hi", "pcm_s16le", 16_000, false);
    not_raw["output_format"] = wav;
    let bad_rate = request("r", "hi", "pcm_s16le", 96_000, false);
    let long = request("l", &"a".repeat(1_001), "pcm_s16le", 16_000, false);
    for (context, bad) in [
        ("m", no_model),
        ("v", no_voice),
        ("w", not_raw),
        ("r", bad_rate),
        ("l", long),
    ] {
        send_json(&mut ws, bad).await;
        let error = next_json(&mut ws).await;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["status_code"], 400);
        assert_eq!(error["context_id"], context);
        assert_eq!(error["error_code"], "invalid_request");
        assert!(error["title"].is_string() && error["message"].is_string());
    }
    ws.send(Message::Text("not json".into()))
        .await
        .expect("sent");
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert!(error.get("context_id").is_none());
    // A string voice ID is accepted too.
    let mut fine = request("ok", "yes", "pcm_s16le", 16_000, false);
    fine["voice"] = json!("a0e99841-438c-4a64-b679-ae501e7d6091");
    send_json(&mut ws, fine).await;
    let (audio, done) = audio_until_other(&mut ws, "ok").await;
    assert_eq!(audio.len(), 3 * 800 * 2);
    assert_eq!(done["type"], "done");
}
