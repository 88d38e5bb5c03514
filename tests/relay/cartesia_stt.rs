//! Cartesia speech to text through the relay, against the keyed simulator: binary audio metered
//! at the handshake's encoding and sample rate, `finalize` and `close`, the turns endpoint, and
//! refusals before the upgrade in Cartesia's error shape.

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::cartesia_support::*;
use crate::helpers::*;

/// 16-bit PCM at 16 kHz.
const BYTES_PER_SECOND: usize = 32_000;

/// `bytes` of a loud square wave in 100 ms frames.
async fn audio(ws: &mut Client, bytes: usize) {
    let frame: Vec<u8> = (0..3_200)
        .map(|i| if (i / 40) % 2 == 0 { 0x40 } else { 0xc0 })
        .collect();
    let mut sent = 0;
    while sent < bytes {
        let n = frame.len().min(bytes - sent);
        ws.send(Message::Binary(frame[..n].to_vec().into()))
            .await
            .unwrap();
        sent += n;
    }
}

/// Messages until one of type `kind`, returned with every transcript seen before it.
async fn until(ws: &mut Client, kind: &str) -> (Value, Vec<Value>) {
    let mut seen = Vec::new();
    for _ in 0..1000 {
        let m = message(ws).await;
        assert_ne!(m["type"], "error", "{m}");
        if m["type"] == kind {
            return (m, seen);
        }
        seen.push(m);
    }
    panic!("no {kind} within 1000 messages");
}

#[tokio::test]
async fn audio_is_transcribed_finalized_and_metered_at_its_format() {
    let base = simulator().await;
    let app = relay("ca-stt", &base).await;
    // the browser form; the keyed simulator refuses query credentials, so this passes only
    // when voxrelay strips `api_key` and sends its own key
    let url = app.ws(&format!(
        "/stt/websocket?model=ink-2&encoding=pcm_s16le&sample_rate=16000\
         &cartesia_version={VERSION}&api_key={CLIENT_KEY}"
    ));
    let (mut ws, _) = connect(&url, None, &[]).await.expect("relay accepts");
    let sent = 3 * BYTES_PER_SECOND / 2 + 1_000;
    audio(&mut ws, sent).await;
    ws.send(Message::text("finalize")).await.unwrap();
    let (_, transcripts) = until(&mut ws, "flush_done").await;
    let last = transcripts.last().expect("a transcript");
    assert_eq!(last["is_final"], true, "{last}");
    assert!(!last["text"].as_str().unwrap().is_empty(), "{last}");
    audio(&mut ws, BYTES_PER_SECOND).await;
    ws.send(Message::text("close")).await.unwrap();
    until(&mut ws, "done").await;
    let route = "ca-stt-stt";
    finish(&app, ws, route).await;
    let record = usage_record(route);
    let seconds = (sent + BYTES_PER_SECOND) as f64 / BYTES_PER_SECOND as f64;
    within_one_percent(number(&record, "audio_seconds"), seconds, "audio seconds");
    within_one_percent(
        number(&record, "estimated_cost_usd"),
        seconds / 60.0 * PER_MINUTE,
        "cost",
    );
    assert!(!logs().contains(CLIENT_KEY), "the client key was logged");
}

#[tokio::test]
async fn the_turns_endpoint_detects_a_turn_through_the_relay() {
    let base = simulator().await;
    let app = relay("ca-turns", &base).await;
    let bearer = format!("Bearer {CLIENT_KEY}");
    let url = app.ws("/stt/turns/websocket?model=ink-2&encoding=pcm_s16le&sample_rate=16000");
    let (mut ws, _) = connect(&url, None, &[("authorization", &bearer)])
        .await
        .expect("relay accepts");
    assert_eq!(message(&mut ws).await["type"], "connected");
    audio(&mut ws, BYTES_PER_SECOND).await;
    until(&mut ws, "turn.start").await;
    ws.send(Message::text(r#"{"type":"close"}"#)).await.unwrap();
    let (end, _) = until(&mut ws, "turn.end").await;
    assert!(
        !end["transcript"].as_str().unwrap_or("").is_empty(),
        "{end}"
    );
    let route = "ca-turns-turns";
    finish(&app, ws, route).await;
    within_one_percent(
        number(&usage_record(route), "audio_seconds"),
        1.0,
        "audio seconds",
    );
}

#[tokio::test]
async fn refusals_before_the_upgrade_take_cartesias_error_shape() {
    let base = simulator().await;
    let app = relay("ca-refuse", &base).await;
    let stt = "/stt/websocket?model=ink-2&encoding=pcm_s16le&sample_rate=16000";
    let shape = |status: u16, body: &str, want_status: u16, code: &str| {
        assert_eq!(status, want_status, "{body}");
        let body: Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(body["error_code"], code, "{body}");
        for field in ["title", "message", "request_id"] {
            assert!(body[field].is_string(), "{field} in {body}");
        }
    };
    let (status, body) = refused(&app.ws(&format!("{stt}&api_key=wrong-key")), None, &[]).await;
    shape(status, &body, 401, "invalid_api_key");
    assert!(!body.contains("wrong-key"), "{body}");
    let (status, body) = refused(
        &app.ws("/tts/websocket"),
        None,
        &[("authorization", "Bearer wrong-key")],
    )
    .await;
    shape(status, &body, 401, "invalid_api_key");
    let (status, body) = refused(&app.ws("/tts/websocket"), None, &[]).await;
    shape(status, &body, 401, "invalid_api_key");
    let bad_model = format!(
        "/stt/websocket?model=ink-1&encoding=pcm_s16le&sample_rate=16000&api_key={CLIENT_KEY}"
    );
    let (status, body) = refused(&app.ws(&bad_model), None, &[]).await;
    shape(status, &body, 400, "bad_request");
    let bad_encoding =
        format!("/stt/websocket?model=ink-2&encoding=opus&sample_rate=16000&api_key={CLIENT_KEY}");
    let (status, body) = refused(&app.ws(&bad_encoding), None, &[]).await;
    shape(status, &body, 400, "bad_request");
    let tts = format!("/tts/websocket?access_token={CLIENT_KEY}");
    let (status, body) = refused(&app.ws(&tts), None, &[("origin", "https://evil.example")]).await;
    shape(status, &body, 403, "origin_not_allowed");
}
