//! `/v2/listen` (Flux) simulation over real sockets: Connected, TurnInfo turns, Configure, errors, CloseStream.

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Running, expect_close, next_json, request_id};

/// Query for 16 kHz linear16 Flux.
const FLUX: &str = "/v2/listen?model=flux-general-en&encoding=linear16&sample_rate=16000";

/// Sends a JSON text frame.
async fn send_json(ws: &mut Client, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("sent");
}

/// Asserts every field the Flux spec marks required on `TurnInfo`.
fn assert_turn_info_shape(turn: &Value) {
    assert_eq!(turn["type"], "TurnInfo");
    for field in ["request_id", "event", "transcript"] {
        assert!(turn[field].is_string(), "{field} is a string");
    }
    for field in ["sequence_id", "turn_index"] {
        assert!(turn[field].is_u64(), "{field} is an integer");
    }
    for field in [
        "audio_window_start",
        "audio_window_end",
        "end_of_turn_confidence",
    ] {
        assert!(turn[field].is_number(), "{field} is a number");
    }
    for word in turn["words"].as_array().expect("words array") {
        assert!(word["word"].is_string() && word["confidence"].is_f64());
    }
}

#[tokio::test]
async fn flux_connects_reports_turns_and_closes_without_status() {
    let sim = Running::default().await;
    let (mut ws, response) = sim.connect(FLUX).await;
    let id = request_id(&response).to_string();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "Connected", "request_id": id, "sequence_id": 0})
    );
    // Two seconds of audio: one full turn of eight quarter-second updates.
    ws.send(Message::Binary(vec![0u8; 64_000].into()))
        .await
        .expect("sent");
    let mut events = Vec::new();
    for sequence in 1..=8 {
        let turn = next_json(&mut ws).await;
        assert_turn_info_shape(&turn);
        assert_eq!(turn["sequence_id"], sequence);
        assert_eq!(turn["turn_index"], 0);
        assert_eq!(turn["request_id"], id);
        events.push(turn["event"].as_str().unwrap_or_default().to_owned());
        if sequence == 1 {
            assert!(
                !turn["words"].as_array().is_none_or(Vec::is_empty),
                "StartOfTurn has words"
            );
        }
        if sequence == 8 {
            assert_eq!(
                (
                    turn["audio_window_start"].as_f64(),
                    turn["audio_window_end"].as_f64()
                ),
                (Some(0.0), Some(2.0))
            );
            assert_eq!(turn["transcript"], "the quick brown fox");
        }
    }
    assert_eq!(events[0], "StartOfTurn");
    assert!(events[1..7].iter().all(|event| event == "Update"));
    assert_eq!(events[7], "EndOfTurn");
    ws.send(Message::Binary(vec![0u8; 4_000].into()))
        .await
        .expect("sent");
    send_json(&mut ws, json!({"type": "CloseStream"})).await;
    let update = next_json(&mut ws).await;
    assert_turn_info_shape(&update);
    assert_eq!(update["event"], "Update");
    assert_eq!(update["turn_index"], 1);
    assert_eq!(update["sequence_id"], 9);
    assert_eq!(update["audio_window_end"], 2.125);
    assert!(
        expect_close(&mut ws).await.is_none(),
        "close frame has no status code"
    );
}

#[tokio::test]
async fn flux_keepalive_gets_an_error_but_the_session_stays_open() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(FLUX).await;
    assert_eq!(next_json(&mut ws).await["type"], "Connected");
    send_json(&mut ws, json!({"type": "KeepAlive"})).await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "Error");
    assert_eq!(error["code"], "UNPARSABLE_CLIENT_MESSAGE");
    assert_eq!(error["sequence_id"], 1);
    assert!(error["description"].is_string());
    let configure =
        json!({"type": "Configure", "thresholds": {"eot_threshold": 0.8}, "keyterms": ["relay"]});
    send_json(&mut ws, configure).await;
    let success = next_json(&mut ws).await;
    assert_eq!(success["type"], "ConfigureSuccess");
    assert_eq!(success["sequence_id"], 2);
    assert_eq!(success["thresholds"]["eot_threshold"], 0.8);
    assert_eq!(success["keyterms"], json!(["relay"]));
    send_json(&mut ws, json!({"type": "Configure", "thresholds": "high"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "ConfigureFailure");
}
