//! TTS `stream-input` and `multi-stream-input`: characters in, 50 ms of silence per character out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Client, Sim, audio_len, expect_close, next_json, send};

/// Reads audio messages until `{"isFinal":true}`: (audio bytes, aligned characters).
async fn until_final(ws: &mut Client) -> (usize, String) {
    let (mut bytes, mut chars) = (0, String::new());
    loop {
        let message = next_json(ws).await;
        if message["isFinal"] == true {
            assert!(message.get("audio").is_none_or(Value::is_null));
            return (bytes, chars);
        }
        assert!(message["isFinal"].is_null(), "{message}");
        bytes += audio_len(&message);
        let alignment = &message["alignment"];
        let letters = alignment["chars"].as_array().expect("chars");
        assert_eq!(
            alignment["charStartTimesMs"].as_array().map(Vec::len),
            Some(letters.len())
        );
        assert_eq!(alignment["charDurationsMs"][0], 50);
        assert_eq!(message["normalizedAlignment"], *alignment);
        chars.extend(letters.iter().filter_map(Value::as_str));
    }
}

#[tokio::test]
async fn stream_input_speaks_50_ms_per_character_in_the_output_format() {
    let sim = Sim::start(false).await;
    let path = "/prefix/v1/text-to-speech/voice1/stream-input?model_id=eleven_flash_v2_5&output_format=pcm_16000";
    let mut ws = sim.connect(path).await;
    let bos = json!({"text": " ", "try_trigger_generation": true,
        "generation_config": {"chunk_length_schedule": [50]}, "xi-api-key": "anything"});
    send(&mut ws, bos).await;
    send(&mut ws, json!({"text": "Hello world "})).await;
    send(&mut ws, json!({"text": " "})).await;
    send(&mut ws, json!({"text": "again, flushed ", "flush": true})).await;
    let first = next_json(&mut ws).await;
    assert_eq!(first["alignment"]["chars"][0], "H");
    let mut bytes = audio_len(&first);
    send(&mut ws, json!({"text": "tail"})).await;
    send(&mut ws, json!({"text": ""})).await;
    let (rest, chars) = until_final(&mut ws).await;
    bytes += rest;
    let spoken = "Hello world again, flushed tail";
    assert_eq!(
        chars.len() + 20,
        spoken.len(),
        "the first message held 20 characters"
    );
    assert!(spoken.ends_with(&chars));
    assert_eq!(
        bytes,
        spoken.chars().count() * 1600,
        "pcm_16000: 1600 bytes a character"
    );
    expect_close(&mut ws, 1000, "").await;
}

#[tokio::test]
async fn default_mp3_and_ulaw_lengths_follow_the_bitrate() {
    let sim = Sim::start(false).await;
    for (query, per_char) in [
        ("", 800),
        ("?output_format=ulaw_8000", 400),
        ("?output_format=mp3_22050_32", 200),
    ] {
        let mut ws = sim
            .connect(&format!("/v1/text-to-speech/v/stream-input{query}"))
            .await;
        send(&mut ws, json!({"text": " "})).await;
        send(&mut ws, json!({"text": "twelve chars"})).await;
        send(&mut ws, json!({"text": ""})).await;
        let (bytes, chars) = until_final(&mut ws).await;
        assert_eq!(chars, "twelve chars");
        assert_eq!(bytes, 12 * per_char, "{query}");
        expect_close(&mut ws, 1000, "").await;
    }
    let mut ws = sim
        .connect("/v1/text-to-speech/v/stream-input?output_format=wav_1")
        .await;
    let error = next_json(&mut ws).await;
    assert_eq!(error["error"], "invalid_output_format");
    expect_close(&mut ws, 1008, "invalid output format").await;
}

#[tokio::test]
async fn multi_stream_input_keeps_contexts_apart() {
    let sim = Sim::start(false).await;
    let path = "/v1/text-to-speech/v/multi-stream-input?output_format=pcm_8000";
    let mut ws = sim.connect(path).await;
    send(&mut ws, json!({"text": " ", "context_id": "a"})).await;
    send(&mut ws, json!({"text": " ", "contextId": "b"})).await;
    send(&mut ws, json!({"text": "alpha ", "context_id": "a"})).await;
    send(
        &mut ws,
        json!({"text": "beta", "contextId": "b", "flush": true}),
    )
    .await;
    let flushed = next_json(&mut ws).await;
    assert_eq!(flushed["contextId"], "b");
    assert_eq!(audio_len(&flushed), 4 * 800);
    send(&mut ws, json!({"text": "", "context_id": "a"})).await;
    send(&mut ws, json!({"text": "more", "context_id": "a"})).await;
    send(&mut ws, json!({"context_id": "a", "close_context": true})).await;
    let mut audio: HashMap<String, usize> = HashMap::new();
    let mut finals = Vec::new();
    let mut spoken = String::new();
    while finals.is_empty() {
        let message = next_json(&mut ws).await;
        let context = message["contextId"].as_str().expect("contextId").to_owned();
        if message["isFinal"] == true {
            finals.push(context);
            continue;
        }
        spoken.extend(
            message["alignment"]["chars"]
                .as_array()
                .expect("chars")
                .iter()
                .filter_map(Value::as_str),
        );
        *audio.entry(context).or_default() += audio_len(&message);
    }
    assert_eq!(finals, ["a"]);
    assert_eq!(spoken, "alpha more");
    assert_eq!(audio["a"], 10 * 800);
    send(&mut ws, json!({"text": "gamma", "context_id": "b"})).await;
    send(&mut ws, json!({"close_socket": true})).await;
    let gamma = next_json(&mut ws).await;
    assert_eq!(
        (gamma["contextId"].as_str(), audio_len(&gamma)),
        (Some("b"), 5 * 800)
    );
    assert_eq!(
        next_json(&mut ws).await,
        json!({"isFinal": true, "contextId": "b"})
    );
    expect_close(&mut ws, 1000, "").await;
}

#[tokio::test]
async fn inactivity_timeout_closes_1008_and_a_space_keeps_alive() {
    let sim = Sim::start(false).await;
    let mut ws = sim
        .connect("/v1/text-to-speech/v/stream-input?inactivity_timeout=1")
        .await;
    let opened = Instant::now();
    send(&mut ws, json!({"text": " "})).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    send(&mut ws, json!({"text": " "})).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    send(&mut ws, json!({"text": "hi", "flush": true})).await;
    let audio = next_json(&mut ws).await;
    assert_eq!(
        audio_len(&audio),
        2 * 800,
        "still open after 1.2 s thanks to the keep-alive"
    );
    let error = next_json(&mut ws).await;
    let waited = opened.elapsed();
    assert!(waited >= Duration::from_millis(2100), "{waited:?}");
    assert_eq!(error["error"], "input_timeout_exceeded");
    assert_eq!(error["code"], 1008);
    let message = error["message"].as_str().expect("message");
    assert!(
        message
            .starts_with("Have not received a new text input within the timeout of 1.0 seconds.")
    );
    expect_close(
        &mut ws,
        1008,
        "Have not received a new text input within the timeout.",
    )
    .await;
}

#[tokio::test]
async fn too_many_contexts_and_bad_messages_close_1008() {
    let sim = Sim::start(false).await;
    let mut ws = sim.connect("/v1/text-to-speech/v/multi-stream-input").await;
    for id in ["c1", "c2", "c3", "c4", "c5"] {
        send(&mut ws, json!({"text": " ", "context_id": id})).await;
    }
    send(&mut ws, json!({"text": " ", "context_id": "c6"})).await;
    assert_eq!(next_json(&mut ws).await["error"], "max_active_contexts");
    expect_close(&mut ws, 1008, "too many open contexts").await;

    let mut ws = sim.connect("/v1/text-to-speech/v/stream-input").await;
    send(&mut ws, json!({"text": 5})).await;
    assert_eq!(next_json(&mut ws).await["error"], "invalid_message");
    expect_close(&mut ws, 1008, "invalid message").await;
}
