//! `/v1/speak` simulation over real sockets: Metadata, Flush audio, Clear, Close and error closes.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Running, assert_closed, expect_close, next_frame, next_json, request_id};

/// Sends a JSON text frame.
async fn send_json(ws: &mut Client, value: serde_json::Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("sent");
}

/// Collects binary frames until the next text frame, returning the total size and that text as JSON.
async fn audio_then_json(ws: &mut Client) -> (Vec<u8>, serde_json::Value) {
    let mut audio = Vec::new();
    loop {
        match next_frame(ws).await {
            Message::Binary(chunk) => {
                assert!(
                    !chunk.is_empty() && chunk.len() <= 4800,
                    "chunk size {}",
                    chunk.len()
                );
                audio.extend_from_slice(&chunk);
            }
            Message::Text(text) => {
                return (audio, serde_json::from_str(text.as_str()).expect("json"));
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn speak_sends_metadata_then_audio_and_flushed_for_each_flush() {
    let sim = Running::default().await;
    let path = "/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=24000";
    let (mut ws, response) = sim.connect(path).await;
    let metadata = next_json(&mut ws).await;
    assert_eq!(metadata["type"], "Metadata");
    assert_eq!(metadata["request_id"], request_id(&response).to_string());
    assert_eq!(metadata["model_name"], "aura-2-thalia-en");
    assert!(metadata["model_version"].is_string() && metadata["model_uuid"].is_string());
    send_json(&mut ws, json!({"type": "Speak", "text": "Hello"})).await;
    send_json(&mut ws, json!({"type": "Speak", "text": ", world"})).await;
    send_json(&mut ws, json!({"type": "Flush"})).await;
    let (audio, flushed) = audio_then_json(&mut ws).await;
    // 12 characters x 60 ms x 24000 Hz x 2 bytes.
    assert_eq!(audio.len(), 12 * 1440 * 2);
    assert_eq!(flushed, json!({"type": "Flushed", "sequence_id": 0}));
    send_json(&mut ws, json!({"type": "Speak", "text": "Bye"})).await;
    send_json(&mut ws, json!({"type": "Flush"})).await;
    let (audio, flushed) = audio_then_json(&mut ws).await;
    assert_eq!(audio.len(), 3 * 1440 * 2);
    assert_eq!(flushed["sequence_id"], 1);
}

#[tokio::test]
async fn speak_mulaw_audio_is_one_byte_per_sample_of_silence() {
    let sim = Running::default().await;
    let (mut ws, _) = sim
        .connect("/v1/speak?encoding=mulaw&sample_rate=8000")
        .await;
    assert_eq!(next_json(&mut ws).await["model_name"], "aura-asteria-en");
    send_json(&mut ws, json!({"type": "Speak", "text": "Hi"})).await;
    send_json(&mut ws, json!({"type": "Flush"})).await;
    let (audio, flushed) = audio_then_json(&mut ws).await;
    assert_eq!(audio, vec![0xFF; 2 * 480]);
    assert_eq!(flushed["type"], "Flushed");
}

#[tokio::test]
async fn speak_clear_drops_buffered_text_and_replies_cleared() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect("/v1/speak").await;
    assert_eq!(next_json(&mut ws).await["type"], "Metadata");
    send_json(&mut ws, json!({"type": "Speak", "text": "dropped"})).await;
    send_json(&mut ws, json!({"type": "Clear"})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "Cleared", "sequence_id": 0})
    );
    send_json(&mut ws, json!({"type": "Flush"})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "Flushed", "sequence_id": 0})
    );
}

#[tokio::test]
async fn speak_close_message_closes_1000() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect("/v1/speak").await;
    assert_eq!(next_json(&mut ws).await["type"], "Metadata");
    send_json(&mut ws, json!({"type": "Close"})).await;
    assert_closed(expect_close(&mut ws).await, 1000, "");
}

#[tokio::test]
async fn speak_binary_frame_closes_1003_and_oversized_text_closes_1009() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect("/v1/speak").await;
    assert_eq!(next_json(&mut ws).await["type"], "Metadata");
    ws.send(Message::Binary(vec![1u8, 2].into()))
        .await
        .expect("sent");
    assert_closed(expect_close(&mut ws).await, 1003, "MESSAGE-0000");
    let (mut ws, _) = sim.connect("/v1/speak").await;
    assert_eq!(next_json(&mut ws).await["type"], "Metadata");
    send_json(&mut ws, json!({"type": "Speak", "text": "a".repeat(2001)})).await;
    assert_closed(expect_close(&mut ws).await, 1009, "BIG-0000");
}
