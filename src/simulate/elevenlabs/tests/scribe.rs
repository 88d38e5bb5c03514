//! Scribe realtime: session_started, partial and committed transcripts worth 2.5 words a second.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Client, Sim, expect_close, next_json, send};

/// Sends `chunks` chunks of `size` bytes of silence, then reads until `committed_transcript`:
/// (partial texts, committed text).
async fn stream(ws: &mut Client, chunks: usize, size: usize, commit: bool) -> (Vec<String>, Value) {
    let audio = STANDARD.encode(vec![0_u8; size]);
    for _ in 0..chunks {
        let chunk = json!({"message_type": "input_audio_chunk", "audio_base_64": audio,
            "commit": false, "sample_rate": 16000});
        send(ws, chunk).await;
    }
    if commit {
        let chunk = json!({"message_type": "input_audio_chunk", "audio_base_64": "",
            "commit": true, "sample_rate": 16000});
        send(ws, chunk).await;
    }
    let mut partials = Vec::new();
    loop {
        let message = next_json(ws).await;
        match message["message_type"].as_str() {
            Some("partial_transcript") => {
                partials.push(message["text"].as_str().expect("text").to_owned())
            }
            Some("committed_transcript") => return (partials, message),
            _ => panic!("unexpected {message}"),
        }
    }
}

#[tokio::test]
async fn scribe_transcribes_two_and_a_half_words_a_second() {
    let sim = Sim::start(false).await;
    let path = "/prefix/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=pcm_16000\
        &audio_format=pcm_16000&commit_strategy=manual&include_timestamps=true&token=single-use";
    let mut ws = sim.connect(path).await;
    let started = next_json(&mut ws).await;
    assert_eq!(started["message_type"], "session_started");
    assert!(
        started["session_id"]
            .as_str()
            .is_some_and(|id| id.len() == 32)
    );
    assert_eq!(started["config"]["model_id"], "scribe_v2_realtime");
    assert_eq!(started["config"]["sample_rate"], 16000);
    assert_eq!(started["config"]["audio_format"], "pcm_16000");

    // 2 s of pcm_16000 in 10 chunks of 0.2 s: a new word every 0.4 s.
    let (partials, committed) = stream(&mut ws, 10, 6400, true).await;
    assert_eq!(
        partials,
        [
            "The",
            "The quick",
            "The quick brown",
            "The quick brown fox",
            "The quick brown fox jumps"
        ]
    );
    assert_eq!(committed["text"], "The quick brown fox jumps");
    let stamped = next_json(&mut ws).await;
    assert_eq!(
        stamped["message_type"],
        "committed_transcript_with_timestamps"
    );
    assert_eq!(stamped["text"], "The quick brown fox jumps");
    let words: Vec<&Value> = stamped["words"]
        .as_array()
        .expect("words")
        .iter()
        .filter(|w| w["type"] == "word")
        .collect();
    assert_eq!(words.len(), 5);
    assert_eq!(
        (words[1]["text"].as_str(), words[1]["start"].as_f64()),
        (Some("quick"), Some(0.4))
    );

    // the next segment goes on with the sentence; 1 s = 2 words (2.5 rounded down)
    let (_, committed) = stream(&mut ws, 1, 32000, true).await;
    assert_eq!(committed["text"], "over the");
    let stamped = next_json(&mut ws).await;
    assert_eq!(
        stamped["words"][0]["start"], 2.0,
        "timestamps go on from the earlier segments"
    );
}

#[tokio::test]
async fn vad_strategy_commits_every_two_seconds_of_audio() {
    let sim = Sim::start(false).await;
    let path = "/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=pcm_8000&commit_strategy=vad";
    let mut ws = sim.connect(path).await;
    assert_eq!(
        next_json(&mut ws).await["config"]["vad_commit_strategy"],
        "vad"
    );
    let (partials, committed) = stream(&mut ws, 4, 8000, false).await;
    assert_eq!(partials.len(), 4);
    assert_eq!(committed["text"], "The quick brown fox jumps");
}

#[tokio::test]
async fn scribe_without_model_or_with_a_bad_format_is_an_invalid_request() {
    let sim = Sim::start(false).await;
    for query in [
        "?audio_format=pcm_16000",
        "?model_id=scribe_v2_realtime&audio_format=mp3_44100_128",
    ] {
        let mut ws = sim
            .connect(&format!("/v1/speech-to-text/realtime{query}"))
            .await;
        let error = next_json(&mut ws).await;
        assert_eq!(error["message_type"], "invalid_request", "{query}");
        let reason = error["error"].as_str().expect("error").to_owned();
        expect_close(&mut ws, 1008, &reason).await;
    }
}

#[tokio::test]
async fn scribe_reports_bad_chunks_and_stays_open() {
    let sim = Sim::start(false).await;
    let mut ws = sim.connect("/v1/speech-to-text/realtime?model_id=m").await;
    assert_eq!(next_json(&mut ws).await["message_type"], "session_started");
    send(
        &mut ws,
        json!({"message_type": "input_audio_chunk", "audio_base_64": "%%%"}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["message_type"], "input_error");
    send(&mut ws, json!({"message_type": "something_else"})).await;
    assert_eq!(next_json(&mut ws).await["message_type"], "input_error");
    let (_, committed) = stream(&mut ws, 1, 32000, true).await;
    assert_eq!(committed["text"], "The quick");
}
