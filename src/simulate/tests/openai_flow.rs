//! OpenAI Realtime sessions over real sockets: transcription, a conversation turn, text-only replies, server VAD.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Running, next_json};

/// PCM16 bytes per second at 24 kHz.
const PCM_RATE: usize = 48_000;
/// Most events any single test waits through.
const MAX_EVENTS: usize = 500;

/// Opens a session on `path` and returns it after `session.created`.
pub(super) async fn open(sim: &Running, path: &str) -> Client {
    let (mut ws, _) = sim.connect(path).await;
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    ws
}

/// Sends one JSON event.
pub(super) async fn send(ws: &mut Client, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("event sent");
}

/// Appends `bytes` of PCM16 where every sample is `amplitude`.
async fn append(ws: &mut Client, bytes: usize, amplitude: i16) {
    let pcm: Vec<u8> = std::iter::repeat_n(amplitude.to_le_bytes(), bytes / 2)
        .flatten()
        .collect();
    let audio = STANDARD.encode(pcm);
    send(
        ws,
        json!({"type": "input_audio_buffer.append", "audio": audio}),
    )
    .await;
}

/// Every event up to and including the first of type `last`.
pub(super) async fn until(ws: &mut Client, last: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..MAX_EVENTS {
        let event = next_json(ws).await;
        let done = event["type"] == last;
        seen.push(event);
        if done {
            return seen;
        }
    }
    panic!("no {last} within {MAX_EVENTS} events");
}

/// The event types of `events`, in order.
fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

/// Concatenated `delta` strings of events of type `kind`.
fn deltas(events: &[Value], kind: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["delta"].as_str().expect("delta is a string").to_owned())
        .collect()
}

#[tokio::test]
async fn transcription_session_transcribes_what_it_hears_with_token_usage() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v1/realtime?intent=transcription").await;
    let update = json!({"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
        "transcription": {"model": "gpt-4o-mini-transcribe"}, "turn_detection": null}}}});
    send(&mut ws, update).await;
    let updated = next_json(&mut ws).await;
    assert_eq!(updated["type"], "session.updated");
    let input = &updated["session"]["audio"]["input"];
    assert_eq!(input["transcription"]["model"], "gpt-4o-mini-transcribe");
    assert_eq!(input["turn_detection"], Value::Null);
    assert_eq!(
        input["format"]["type"], "audio/pcm",
        "untouched fields are kept"
    );

    append(&mut ws, PCM_RATE, 1000).await;
    append(&mut ws, PCM_RATE, 1000).await;
    send(&mut ws, json!({"type": "input_audio_buffer.commit"})).await;
    let events = until(
        &mut ws,
        "conversation.item.input_audio_transcription.completed",
    )
    .await;
    let kinds = types(&events);
    assert_eq!(
        &kinds[..3],
        [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done"
        ]
    );
    let item_id = &events[0]["item_id"];
    assert_eq!(events[1]["item"]["id"], *item_id);
    assert_eq!(events[1]["item"]["role"], "user");
    let completed = events.last().expect("completed");
    assert_eq!(completed["item_id"], *item_id);
    assert_eq!(completed["transcript"], "The quick brown fox");
    let streamed = deltas(&events, "conversation.item.input_audio_transcription.delta").concat();
    assert_eq!(streamed, "The quick brown fox");
    let usage = &completed["usage"];
    assert_eq!(usage["type"], "tokens");
    assert_eq!(usage["input_token_details"]["audio_tokens"], 20);
    assert_eq!(usage["input_tokens"], 20);
    assert_eq!(usage["total_tokens"], 24);
}

#[tokio::test]
async fn whisper_transcription_reports_duration_usage() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v1/realtime?intent=transcription").await;
    let update = json!({"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
        "transcription": {"model": "whisper-1"}, "turn_detection": null}}}});
    send(&mut ws, update).await;
    until(&mut ws, "session.updated").await;
    append(&mut ws, PCM_RATE * 3 / 2, 0).await;
    send(&mut ws, json!({"type": "input_audio_buffer.commit"})).await;
    let events = until(
        &mut ws,
        "conversation.item.input_audio_transcription.completed",
    )
    .await;
    let usage = &events.last().expect("completed")["usage"];
    assert_eq!(*usage, json!({"type": "duration", "seconds": 1.5}));
}

#[tokio::test]
async fn conversation_turn_streams_audio_transcript_and_usage() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v1/realtime?model=gpt-realtime").await;
    let update = json!({"type": "session.update", "session": {"type": "realtime", "instructions": "be brief",
        "audio": {"input": {"turn_detection": null, "transcription": {"model": "whisper-1"}}}}});
    send(&mut ws, update).await;
    until(&mut ws, "session.updated").await;
    append(&mut ws, PCM_RATE * 2, 500).await;
    send(&mut ws, json!({"type": "input_audio_buffer.commit"})).await;
    let heard = until(
        &mut ws,
        "conversation.item.input_audio_transcription.completed",
    )
    .await;
    let user_item = heard[0]["item_id"].clone();
    send(&mut ws, json!({"type": "response.create"})).await;
    let events = until(&mut ws, "response.done").await;
    let kinds = types(&events);
    assert_eq!(kinds[0], "response.created");
    assert_eq!(events[0]["response"]["status"], "in_progress");
    for expected in [
        "conversation.item.added",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
    ] {
        assert_eq!(
            kinds.iter().filter(|k| **k == expected).count(),
            1,
            "{expected}"
        );
    }
    assert!(!kinds.contains(&"response.audio.delta"), "GA names only");
    assert_eq!(events[1]["previous_item_id"], user_item);

    let transcript = deltas(&events, "response.output_audio_transcript.delta").concat();
    let done = events
        .iter()
        .find(|e| e["type"] == "response.output_audio_transcript.done");
    assert_eq!(
        done.expect("transcript done")["transcript"],
        transcript.as_str()
    );
    let words = transcript.split_whitespace().count();
    assert_eq!(
        words, 4,
        "a two-second turn is heard as four words, so the reply has four"
    );
    let audio_bytes: usize = deltas(&events, "response.output_audio.delta")
        .iter()
        .map(|d| STANDARD.decode(d).expect("base64 audio").len())
        .sum();
    assert_eq!(
        audio_bytes,
        words * PCM_RATE * 2 / 5,
        "0.4 s of audio per word"
    );

    let response = &events.last().expect("done")["response"];
    assert_eq!(response["status"], "completed");
    assert_eq!(
        response["output"][0]["content"][0]["transcript"],
        transcript.as_str()
    );
    let usage = &response["usage"];
    assert_eq!(usage["input_token_details"]["audio_tokens"], 20);
    assert_eq!(usage["input_token_details"]["text_tokens"], 2);
    assert_eq!(usage["output_token_details"]["audio_tokens"], 32);
    assert_eq!(usage["output_token_details"]["text_tokens"], 4);
    assert_eq!(usage["input_tokens"], 22);
    assert_eq!(usage["output_tokens"], 36);
    assert_eq!(usage["total_tokens"], 58);
}

#[tokio::test]
async fn text_only_response_sends_text_events_and_no_audio() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v1/realtime?model=gpt-realtime").await;
    let create = json!({"type": "response.create", "response": {"output_modalities": ["text"]}});
    send(&mut ws, create).await;
    let events = until(&mut ws, "response.done").await;
    let kinds = types(&events);
    assert!(kinds.contains(&"response.output_text.delta"));
    assert!(kinds.contains(&"response.output_text.done"));
    assert!(!kinds.iter().any(|k| k.starts_with("response.output_audio")));
    let usage = &events.last().expect("done")["response"]["usage"];
    assert_eq!(usage["output_token_details"]["audio_tokens"], 0);
}

#[tokio::test]
async fn server_vad_ends_the_turn_on_silence_and_answers() {
    let sim = Running::default().await;
    let mut ws = open(&sim, "/v1/realtime?model=gpt-realtime").await;
    append(&mut ws, PCM_RATE / 10, 0).await;
    append(&mut ws, PCM_RATE, 8000).await;
    append(&mut ws, PCM_RATE * 6 / 10, 0).await;
    let events = until(&mut ws, "response.done").await;
    let kinds = types(&events);
    assert_eq!(
        &kinds[..5],
        [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
    );
    assert_eq!(events[0]["audio_start_ms"], 100);
    assert_eq!(events[1]["audio_end_ms"], 1600);
    assert_eq!(events[0]["item_id"], events[2]["item_id"]);
    assert_eq!(kinds[5], "response.created");
    // The 100 ms heard after the end of speech stay buffered for the next turn.
    send(&mut ws, json!({"type": "input_audio_buffer.commit"})).await;
    let committed = next_json(&mut ws).await;
    assert_eq!(committed["type"], "input_audio_buffer.committed");
    assert_eq!(
        committed["previous_item_id"],
        events.last().expect("done")["response"]["output"][0]["id"]
    );
}
