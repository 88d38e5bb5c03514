//! Metering of ElevenLabs sessions through the relay: text-to-speech characters and audio
//! seconds (both TTS kinds), Scribe audio seconds, and their cost at ElevenLabs' list prices.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::elevenlabs_support::*;

fn num(r: &std::collections::HashMap<String, String>, k: &str) -> f64 {
    r[k].parse().unwrap_or_else(|_| panic!("{k}: {}", r[k]))
}

#[tokio::test]
async fn tts_characters_and_audio_are_metered_and_priced() {
    let app = relay("elu-tts").await;
    // mp3 at 64 kbit/s: 8,000 bytes a second
    let url = tts_url(&app, "elu-tts", "?output_format=mp3_44100_64");
    let (mut ws, _) = connect(&url, None, &[("xi-api-key", CLIENT_KEY)])
        .await
        .unwrap();
    send(&mut ws, json!({"text": " "})).await;
    let texts = ["Über streams, ", "text arrives in pieces. ", "Done ✓ "];
    for t in texts {
        send(&mut ws, json!({"text": t, "try_trigger_generation": true})).await;
    }
    send(&mut ws, json!({"text": " "})).await; // a keep-alive counts for nothing
    send(&mut ws, json!({"text": ""})).await;
    let s = spoken(&mut ws).await;
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    let metrics = ended(&app, "elu-tts-tts").await;
    let r = usage_record("elu-tts-tts");
    assert_eq!(num(&r, "tts_characters"), chars as f64, "{r:?}");
    let received = s.total() as f64 / 8_000.0;
    within_one_percent(
        num(&r, "tts_audio_seconds"),
        received,
        "TTS audio in the record",
    );
    within_one_percent(
        num(&r, "estimated_cost_usd"),
        chars as f64 * 0.05 / 1000.0,
        "cost",
    );
    let labels = [r#"route="elu-tts-tts""#, r#"client="tester""#];
    assert_eq!(
        value(&metrics, "voxrelay_tts_characters_total", &labels),
        chars as f64
    );
}

#[tokio::test]
async fn multi_context_characters_and_audio_are_metered() {
    let app = relay("elu-multi").await;
    let url = app.ws(&format!(
        "/elu-multi/v1/text-to-speech/{VOICE}/multi-stream-input?output_format=ulaw_8000"
    ));
    let (mut ws, _) = connect(&url, None, &[]).await.unwrap();
    let mut chars = 0;
    for (id, text) in [("x", "One context here. "), ("y", "And another. ")] {
        send(
            &mut ws,
            json!({"text": " ", "context_id": id, "xi-api-key": CLIENT_KEY}),
        )
        .await;
        send(&mut ws, json!({"text": text, "context_id": id})).await;
        send(&mut ws, json!({"text": "", "context_id": id})).await;
        chars += text.chars().count();
    }
    send(&mut ws, json!({"close_socket": true})).await;
    let s = spoken(&mut ws).await;
    ended(&app, "elu-multi-multi").await;
    let r = usage_record("elu-multi-multi");
    assert_eq!(num(&r, "tts_characters"), chars as f64, "{r:?}");
    within_one_percent(
        num(&r, "tts_audio_seconds"),
        s.total() as f64 / 8_000.0,
        "TTS audio in the record",
    );
}

#[tokio::test]
async fn scribe_audio_seconds_are_metered_from_base64_and_priced() {
    let app = relay("elu-stt").await;
    let url = app.ws("/elu-stt/v1/speech-to-text/realtime?audio_format=pcm_24000");
    let (mut ws, _) = connect(&url, None, &[("xi-api-key", CLIENT_KEY)])
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut ws).await.unwrap()["message_type"],
        "session_started"
    );
    // 2.5 s at 48,000 bytes a second, the last chunk padded in base64
    let mut sent = 0;
    for len in [48_000, 48_000, 24_001] {
        let audio = STANDARD.encode(vec![0u8; len]);
        send(
            &mut ws,
            json!({"message_type": "input_audio_chunk", "audio_base_64": audio,
                             "commit": false, "sample_rate": 24000}),
        )
        .await;
        sent += len;
    }
    send(
        &mut ws,
        json!({"message_type": "input_audio_chunk", "audio_base_64": "",
                         "commit": true, "sample_rate": 24000}),
    )
    .await;
    loop {
        let m = next_json(&mut ws).await.expect("a committed transcript");
        if m["message_type"] == "committed_transcript" {
            break;
        }
    }
    futures_util::SinkExt::close(&mut ws).await.unwrap();
    while recv(&mut ws).await.is_some() {}
    let metrics = ended(&app, "elu-stt-stt").await;
    let seconds = sent as f64 / 48_000.0;
    let r = usage_record("elu-stt-stt");
    within_one_percent(
        num(&r, "audio_seconds"),
        seconds,
        "Scribe audio in the record",
    );
    within_one_percent(
        num(&r, "estimated_cost_usd"),
        seconds / 60.0 * 0.0065,
        "cost",
    );
    let labels = [r#"route="elu-stt-stt""#, r#"client="tester""#];
    within_one_percent(
        value(&metrics, "voxrelay_audio_seconds_total", &labels),
        seconds,
        "Scribe audio in /metrics",
    );
}
