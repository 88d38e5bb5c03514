//! `POST /v1/listen`: streamed audio (WAV header or query format), `{"url"}` bodies, Deepgram's errors;
//! and the WAV sniffing on its own.

use axum::body::Body;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::super::Running;
use super::{chunked_body, post, post_json};
use crate::simulate::rest::{Heard, Upload};
use crate::simulate::wire::Params;

/// A WAV file: 16-bit mono at `rate` Hz with `data_len` bytes of audio, a `LIST` chunk of odd length
/// (padded) between `fmt ` and `data`, and `trailer` bytes after the data.
fn wav(rate: u32, data_len: u32, trailer: usize) -> Vec<u8> {
    let list = b"INFOISFT\x03\x00\x00\x00ab\x00";
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&(list.len() as u32).to_le_bytes());
    out.extend_from_slice(list);
    out.push(0);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.resize(out.len() + data_len as usize, 0x11);
    out.resize(out.len() + trailer, 0x22);
    out
}

/// Hex SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks the prerecorded shape and returns `results.channels`.
fn check_prerecorded(result: &Value, request_id: &str, model: &str) -> Vec<Value> {
    let metadata = &result["metadata"];
    assert_eq!(metadata["transaction_key"], "deprecated");
    assert_eq!(metadata["request_id"], request_id);
    assert!(
        metadata["created"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let uuid = metadata["models"][0].as_str().expect("model uuid");
    let info = &metadata["model_info"][uuid];
    assert_eq!(info["name"], format!("general-{model}"));
    assert_eq!(info["arch"], model);
    let channels = result["results"]["channels"]
        .as_array()
        .expect("channels")
        .clone();
    assert_eq!(json!(channels.len()), metadata["channels"]);
    channels
}

/// The words of a channel's first alternative.
fn words(channel: &Value) -> Vec<String> {
    channel["alternatives"][0]["words"]
        .as_array()
        .expect("words")
        .iter()
        .map(|w| w["word"].as_str().expect("word").to_owned())
        .collect()
}

#[tokio::test]
async fn a_wav_upload_lasts_what_its_header_says_and_is_hashed_whole() {
    let sim = Running::default().await;
    // 1.5 s at 16 kHz, then a trailing chunk that is not audio; the query's format must be ignored.
    let file = wav(16_000, 48_000, 10);
    let mut pieces: Vec<Vec<u8>> = file[..64].chunks(7).map(<[u8]>::to_vec).collect();
    pieces.push(file[64..].to_vec());
    let reply = post(
        &sim,
        "/v1/listen?encoding=mulaw&sample_rate=8000",
        &[("content-type", "audio/wav")],
        chunked_body(pieces),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    let result = reply.json();
    let channels = check_prerecorded(&result, &reply.request_id().to_string(), "nova-3");
    assert_eq!(result["metadata"]["duration"], 1.5);
    assert_eq!(result["metadata"]["sha256"], sha256(&file));
    assert_eq!(channels.len(), 1);
    assert_eq!(words(&channels[0]), ["the", "quick", "brown"]);
    let alternative = &channels[0]["alternatives"][0];
    assert_eq!(alternative["transcript"], "the quick brown");
    assert_eq!(alternative["words"][0]["start"], 0.05);
    assert_eq!(alternative["words"][0]["end"], 0.45);
    assert!(alternative["words"][0].get("punctuated_word").is_none());
}

#[tokio::test]
async fn raw_audio_lasts_what_the_query_format_says_with_one_entry_per_channel() {
    let sim = Running::default().await;
    let path = "/prefix/v1/listen?model=nova-2&encoding=linear16&sample_rate=8000&channels=2";
    let audio = vec![0u8; 64_000];
    let reply = post(&sim, path, &[], Body::from(audio.clone())).await;
    assert_eq!(reply.status, 200);
    let result = reply.json();
    let channels = check_prerecorded(&result, &reply.request_id().to_string(), "nova-2");
    assert_eq!(result["metadata"]["duration"], 2.0);
    assert_eq!(result["metadata"]["channels"], 2);
    assert_eq!(result["metadata"]["sha256"], sha256(&audio));
    assert_eq!(channels.len(), 2);
    assert_eq!(words(&channels[1]), ["the", "quick", "brown", "fox"]);
}

#[tokio::test]
async fn audio_of_no_known_format_is_taken_at_32000_bytes_a_second_and_punctuated_on_request() {
    let sim = Running::default().await;
    let reply = post(
        &sim,
        "/v1/listen?punctuate=true",
        &[("content-type", "audio/mpeg")],
        Body::from(vec![1u8; 288_000]),
    )
    .await;
    let result = reply.json();
    assert_eq!(result["metadata"]["duration"], 9.0);
    let alternative = &result["results"]["channels"][0]["alternatives"][0];
    assert_eq!(
        alternative["transcript"],
        "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog."
    );
    assert_eq!(alternative["words"][0]["punctuated_word"], "The");
    assert_eq!(alternative["words"][0]["word"], "the");
}

#[tokio::test]
async fn a_large_upload_is_streamed_through_and_measured_exactly() {
    let sim = Running::default().await;
    // 8 MiB of linear16 at 16 kHz, sent in 64 KiB pieces.
    let pieces: Vec<Vec<u8>> = (0..128u8).map(|i| vec![i; 64 * 1024]).collect();
    let mut hasher = Sha256::new();
    for piece in &pieces {
        hasher.update(piece);
    }
    let reply = post(
        &sim,
        "/v1/listen?encoding=linear16&sample_rate=16000",
        &[("content-type", "application/octet-stream")],
        chunked_body(pieces),
    )
    .await;
    assert_eq!(reply.status, 200);
    let result = reply.json();
    assert_eq!(result["metadata"]["duration"], 262.144);
    assert_eq!(result["metadata"]["sha256"], hex::encode(hasher.finalize()));
}

#[tokio::test]
async fn a_url_request_is_answered_as_two_and_a_half_seconds_of_speech() {
    let sim = Running::default().await;
    let url = "https://example.com/audio.wav";
    let reply = post_json(&sim, "/v1/listen?model=nova-3", &[], &json!({"url": url})).await;
    assert_eq!(reply.status, 200);
    let result = reply.json();
    let channels = check_prerecorded(&result, &reply.request_id().to_string(), "nova-3");
    assert_eq!(result["metadata"]["duration"], 2.5);
    assert_eq!(result["metadata"]["sha256"], sha256(url.as_bytes()));
    assert_eq!(
        channels[0]["alternatives"][0]["transcript"],
        "the quick brown fox jumps"
    );
}

#[tokio::test]
async fn empty_bodies_bad_urls_and_bad_json_are_deepgram_400s() {
    let sim = Running::default().await;
    let mut replies = vec![post(&sim, "/v1/listen", &[], Body::empty()).await];
    for body in [
        json!({}),
        json!({"url": 7}),
        json!({"url": "not a url"}),
        json!({"url": "ftp://example.com/a.wav"}),
    ] {
        replies.push(post_json(&sim, "/v1/listen", &[], &body).await);
    }
    replies.push(
        post(
            &sim,
            "/v1/listen",
            &[("content-type", "application/json; charset=utf-8")],
            Body::from("{\"url\":"),
        )
        .await,
    );
    for reply in replies {
        assert_eq!(reply.status, 400);
        let body = reply.json();
        assert_eq!(body["err_code"], "Bad Request");
        assert!(body["err_msg"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(body["request_id"], reply.request_id().to_string());
    }
}

#[tokio::test]
async fn a_json_body_over_64_kib_is_413() {
    let sim = Running::default().await;
    let url = format!("https://example.com/{}", "a".repeat(70_000));
    let reply = post_json(&sim, "/v1/listen", &[], &json!({"url": url})).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["err_code"], "Payload Too Large");
}

/// What an upload fed in `pieces` was heard as, with the given query.
fn heard(pieces: &[&[u8]], query: &str) -> Heard {
    let mut upload = Upload::default();
    for piece in pieces {
        upload.feed(piece);
    }
    upload
        .finish(&Params::parse(Some(query)))
        .expect("not empty")
}

#[test]
fn a_wav_header_is_read_however_the_body_is_split() {
    let file = wav(8_000, 4_000, 3);
    let whole = heard(&[&file], "");
    assert_eq!(whole.seconds, 0.25);
    assert_eq!(whole.channels, 1);
    for split in 1..60 {
        let (head, tail) = file.split_at(split);
        assert_eq!(heard(&[head, tail], ""), whole, "split at {split}");
    }
    let bytes: Vec<&[u8]> = file.chunks(1).collect();
    assert_eq!(heard(&bytes, ""), whole);
}

#[test]
fn a_streamed_wav_without_sizes_counts_every_byte_after_its_header() {
    let mut file = wav(16_000, 0, 0);
    file.resize(file.len() + 16_000, 0);
    assert_eq!(heard(&[&file], "").seconds, 0.5);
    let mut file = wav(16_000, 0, 0);
    let at = file.len() - 4;
    file[at..].copy_from_slice(&u32::MAX.to_le_bytes());
    file.resize(file.len() + 8_000, 0);
    assert_eq!(heard(&[&file], "").seconds, 0.25);
}

#[test]
fn bodies_that_are_not_wav_fall_back_to_the_query_format() {
    let query = "encoding=mulaw&sample_rate=8000";
    // Not RIFF, RIFF but not WAVE, data before fmt, a short fmt chunk, a truncated header.
    let mut data_first = b"RIFF\0\0\0\0WAVEdata\x04\0\0\0".to_vec();
    data_first.resize(8_000, 0);
    let mut short_fmt = b"RIFF\0\0\0\0WAVEfmt \x02\0\0\0\x01\0".to_vec();
    short_fmt.resize(8_000, 0);
    let mut not_wave = b"RIFF\0\0\0\0AVI LIST".to_vec();
    not_wave.resize(8_000, 0);
    for body in [vec![7u8; 8_000], not_wave, data_first, short_fmt] {
        let heard = heard(&[&body], query);
        assert_eq!(heard.seconds, 1.0);
        assert_eq!(heard.channels, 1);
    }
    assert_eq!(heard(&[b"RIFF"], query).seconds, 0.0005);
}

#[test]
fn an_empty_upload_is_refused() {
    let failure = Upload::default()
        .finish(&Params::default())
        .expect_err("empty body refused");
    assert_eq!(failure.status(), 400);
}
