//! `POST /v1/speak`: streamed silence in the asked format, Deepgram's headers and errors.

use serde_json::json;

use super::super::Running;
use super::{Reply, post_json};
use crate::simulate::rest::Upload;
use crate::simulate::wire::{MODEL_UUID, Params};

/// Checks the speech headers of `reply`.
fn check_speech_headers(reply: &Reply, content_type: &str, model: &str, chars: usize) {
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), content_type);
    assert_eq!(reply.header("dg-model-name"), model);
    assert_eq!(reply.header("dg-model-uuid"), MODEL_UUID);
    assert_eq!(reply.header("dg-char-count"), chars.to_string());
    reply.request_id();
    assert!(
        reply.headers.get("content-length").is_none(),
        "the audio is streamed, not sent with a length"
    );
}

#[tokio::test]
async fn linear16_comes_as_a_wav_streamed_in_100_ms_chunks() {
    let sim = Running::default().await;
    let path = "/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=24000";
    let reply = post_json(&sim, path, &[], &json!({"text": "Hello, world"})).await;
    check_speech_headers(&reply, "audio/wav", "aura-2-thalia-en", 12);
    let body = reply.body();
    // 12 characters x 60 ms x 24000 Hz x 2 bytes after a 44-byte header.
    let audio_len = 12 * 1440 * 2;
    assert_eq!(body.len(), 44 + audio_len);
    assert_eq!(&body[..4], b"RIFF");
    assert_eq!(&body[8..16], b"WAVEfmt ");
    assert_eq!(&body[36..40], b"data");
    assert_eq!(&body[40..44], &(audio_len as u32).to_le_bytes());
    assert_eq!(&body[28..32], &48_000u32.to_le_bytes());
    assert!(body[44..].iter().all(|&b| b == 0));
    // Header, then 100 ms (4800-byte) pieces: at least 8 frames arrive.
    assert!(reply.frames.len() >= 8, "{} frames", reply.frames.len());
    assert!(reply.frames.iter().all(|frame| frame.len() <= 4800));
    // The header describes the audio it carries.
    let mut upload = Upload::default();
    upload.feed(&body);
    let heard = upload.finish(&Params::default()).expect("audio");
    assert_eq!(heard.seconds, 0.72);
}

#[tokio::test]
async fn no_encoding_means_mp3_frames_of_silence() {
    let sim = Running::default().await;
    let reply = post_json(&sim, "/v1/speak", &[], &json!({"text": "Hi"})).await;
    check_speech_headers(&reply, "audio/mpeg", "aura-asteria-en", 2);
    let body = reply.body();
    // 120 ms at 22050 Hz is 4.6 frames of 576 samples: 5 frames of 156 bytes at 48 kbit/s.
    assert_eq!(body.len(), 5 * 156);
    for frame in body.chunks(156) {
        assert_eq!(&frame[..4], &[0xFF, 0xF3, 0x60, 0xC0]);
        assert!(frame[4..].iter().all(|&b| b == 0));
    }
    let reply = post_json(
        &sim,
        "/v1/speak?encoding=mp3&bit_rate=32000",
        &[],
        &json!({"text": "Hi"}),
    )
    .await;
    assert_eq!(reply.body().len(), 5 * 104);
    assert_eq!(reply.body()[2], 0x40);
}

#[tokio::test]
async fn mulaw_without_a_container_is_raw_silence() {
    let sim = Running::default().await;
    let path = "/v1/speak?model=aura-2-luna-en&encoding=mulaw&container=none";
    let reply = post_json(&sim, path, &[], &json!({"text": "Bye"})).await;
    check_speech_headers(&reply, "application/octet-stream", "aura-2-luna-en", 3);
    // 3 characters x 60 ms x 8000 Hz x 1 byte.
    assert_eq!(reply.body(), vec![0xFF; 3 * 480]);
}

#[tokio::test]
async fn missing_text_unknown_formats_and_long_text_are_refused_in_deepgram_shape() {
    let sim = Running::default().await;
    let cases = [
        ("/v1/speak", json!({}), 400),
        ("/v1/speak", json!({"text": ""}), 400),
        ("/v1/speak", json!({"text": 5}), 400),
        ("/v1/speak?encoding=opus", json!({"text": "a"}), 400),
        (
            "/v1/speak?encoding=linear16&container=ogg",
            json!({"text": "a"}),
            400,
        ),
        ("/v1/speak?bit_rate=12345", json!({"text": "a"}), 400),
        ("/v1/speak?sample_rate=fast", json!({"text": "a"}), 400),
        ("/v1/speak", json!({"text": "a".repeat(2001)}), 413),
    ];
    for (path, body, status) in cases {
        let reply = post_json(&sim, path, &[], &body).await;
        assert_eq!(reply.status, status, "{path} {body}");
        let error = reply.json();
        assert_eq!(error["request_id"], reply.request_id().to_string());
        assert!(error["err_msg"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(error["err_code"].is_string());
    }
}
