//! `/v1/listen` simulation over real sockets: results cadence, Finalize, CloseStream, idle timeout.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::Message;

use super::{Running, assert_closed, expect_close, next_json, request_id};
use crate::simulate::SimulatorConfig;
use crate::simulate::listen::IDLE_REASON;

/// One second of 16 kHz mono linear16 audio, in bytes.
const ONE_SECOND: usize = 32_000;
/// Query for 16 kHz mono linear16.
const LINEAR16: &str = "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000";

/// A binary frame of `len` bytes of silence.
fn audio(len: usize) -> Message {
    Message::Binary(vec![0u8; len].into())
}

/// A JSON control message.
fn control(kind: &str) -> Message {
    Message::Text(format!(r#"{{"type": "{kind}"}}"#).into())
}

/// Asserts every field official clients require on a `Results` message.
fn assert_results_shape(results: &Value) {
    assert_eq!(results["type"], "Results");
    assert_eq!(results["channel_index"], serde_json::json!([0, 1]));
    for field in ["duration", "start"] {
        assert!(results[field].is_f64(), "{field} is a number");
    }
    for field in ["is_final", "speech_final", "from_finalize"] {
        assert!(results[field].is_boolean(), "{field} is a bool");
    }
    let alternative = &results["channel"]["alternatives"][0];
    assert!(alternative["transcript"].is_string());
    assert!(alternative["confidence"].is_f64());
    for word in alternative["words"].as_array().expect("words array") {
        assert!(word["word"].is_string() && word["punctuated_word"].is_string());
        assert!(word["start"].is_f64() && word["end"].is_f64() && word["confidence"].is_f64());
        assert!(word["start"].as_f64() < word["end"].as_f64());
    }
    let metadata = &results["metadata"];
    assert!(metadata["request_id"].is_string() && metadata["model_uuid"].is_string());
    for field in ["name", "version", "arch"] {
        assert!(
            metadata["model_info"][field].is_string(),
            "model_info.{field}"
        );
    }
}

#[tokio::test]
async fn listen_sends_final_results_after_one_second_of_linear16_audio() {
    let sim = Running::default().await;
    let (mut ws, response) = sim.connect(LINEAR16).await;
    ws.send(audio(ONE_SECOND / 2)).await.expect("sent");
    ws.send(audio(ONE_SECOND / 2)).await.expect("sent");
    let results = next_json(&mut ws).await;
    assert_results_shape(&results);
    assert_eq!(results["is_final"], true);
    assert_eq!(results["speech_final"], true);
    assert_eq!(results["from_finalize"], false);
    assert_eq!(results["start"], 0.0);
    assert_eq!(results["duration"], 1.0);
    assert_eq!(
        results["channel"]["alternatives"][0]["transcript"],
        "the quick"
    );
    assert_eq!(
        results["channel"]["alternatives"][0]["words"][0]["punctuated_word"],
        "The"
    );
    assert_eq!(
        results["metadata"]["request_id"],
        request_id(&response).to_string()
    );
    assert_eq!(results["metadata"]["model_info"]["arch"], "nova-3");
}

#[tokio::test]
async fn listen_interim_results_precede_the_final_for_the_same_audio() {
    let sim = Running::default().await;
    let (mut ws, _) = sim
        .connect(&format!("{LINEAR16}&interim_results=true"))
        .await;
    ws.send(audio(ONE_SECOND)).await.expect("sent");
    let interim = next_json(&mut ws).await;
    let last = next_json(&mut ws).await;
    assert_results_shape(&interim);
    assert_eq!(interim["is_final"], false);
    assert_eq!(last["is_final"], true);
    assert_eq!(interim["channel"], last["channel"]);
}

#[tokio::test]
async fn listen_finalize_flushes_partial_audio_with_from_finalize() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(LINEAR16).await;
    ws.send(audio(ONE_SECOND / 4)).await.expect("sent");
    ws.send(control("KeepAlive")).await.expect("sent");
    ws.send(control("Finalize")).await.expect("sent");
    let results = next_json(&mut ws).await;
    assert_results_shape(&results);
    assert_eq!(results["from_finalize"], true);
    assert_eq!(results["is_final"], true);
    assert_eq!(results["duration"], 0.25);
    ws.send(control("Finalize")).await.expect("sent");
    let empty = next_json(&mut ws).await;
    assert_eq!(empty["from_finalize"], true);
    assert_eq!(empty["channel"]["alternatives"][0]["transcript"], "");
    assert_eq!(empty["start"], 0.25);
}

#[tokio::test]
async fn listen_close_stream_flushes_results_then_metadata_then_closes_1000() {
    let sim = Running::default().await;
    let (mut ws, response) = sim.connect(LINEAR16).await;
    let sent = vec![7u8; ONE_SECOND + ONE_SECOND / 4];
    ws.send(Message::Binary(sent.clone().into()))
        .await
        .expect("sent");
    assert_eq!(next_json(&mut ws).await["duration"], 1.0);
    ws.send(control("CloseStream")).await.expect("sent");
    let rest = next_json(&mut ws).await;
    assert_eq!(
        (rest["type"].as_str(), rest["start"].as_f64()),
        (Some("Results"), Some(1.0))
    );
    assert_eq!(rest["is_final"], true);
    let metadata = next_json(&mut ws).await;
    assert_eq!(metadata["type"], "Metadata");
    assert_eq!(metadata["transaction_key"], "deprecated");
    assert_eq!(metadata["request_id"], request_id(&response).to_string());
    assert_eq!(metadata["sha256"], hex::encode(Sha256::digest(&sent)));
    assert_eq!(metadata["duration"], 1.25);
    assert_eq!(metadata["channels"], 1);
    let created = metadata["created"].as_str().expect("created is a string");
    assert!(
        created.len() == 24 && created.ends_with('Z'),
        "rfc3339 millis: {created}"
    );
    assert_closed(expect_close(&mut ws).await, 1000, "");
}

#[tokio::test]
async fn listen_empty_binary_frame_ends_the_stream_like_close_stream() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(LINEAR16).await;
    ws.send(audio(ONE_SECOND / 2)).await.expect("sent");
    ws.send(audio(0)).await.expect("sent");
    assert_eq!(next_json(&mut ws).await["type"], "Results");
    assert_eq!(next_json(&mut ws).await["type"], "Metadata");
    assert_closed(expect_close(&mut ws).await, 1000, "");
}

#[tokio::test]
async fn listen_idle_session_gets_metadata_then_1011_net0001() {
    let config = SimulatorConfig {
        idle_timeout: Duration::from_millis(200),
        ..SimulatorConfig::default()
    };
    let sim = Running::start(config).await;
    let (mut ws, _) = sim.connect(LINEAR16).await;
    let metadata = next_json(&mut ws).await;
    assert_eq!(metadata["type"], "Metadata");
    assert_eq!(metadata["duration"], 0.0);
    let frame = expect_close(&mut ws).await;
    assert!(IDLE_REASON.contains("net0001") && IDLE_REASON.len() <= 123);
    assert_closed(frame, 1011, IDLE_REASON);
}

#[tokio::test]
async fn listen_non_json_text_closes_with_1008_data_0000() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect(LINEAR16).await;
    ws.send(Message::Text("KeepAlive".into()))
        .await
        .expect("sent");
    assert_closed(expect_close(&mut ws).await, 1008, "DATA-0000");
}
