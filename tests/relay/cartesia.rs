//! Cartesia text to speech through the relay: the keyed simulator behind it (it refuses any
//! client credential it receives), two contexts metered in characters and audio seconds, a
//! model outside the route's allowlist refused per message and never forwarded, the API
//! version passed on.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio_tungstenite::tungstenite::Message;

use crate::cartesia_support::*;
use crate::helpers::*;

#[tokio::test]
async fn two_contexts_are_metered_in_characters_and_audio_seconds() {
    let base = simulator().await;
    let app = relay("ca-meter", &base).await;
    // the browser form: credential and version in the query
    let url = app.ws(&format!(
        "/tts/websocket?cartesia_version={VERSION}&access_token={CLIENT_KEY}"
    ));
    let (mut ws, _) = connect(&url, None, &[("origin", "https://app.example")])
        .await
        .expect("relay accepts");
    // context a in two parts at 24 kHz, then context b at 16 kHz
    let parts = [
        ("a", "Hello there, ", 24_000, true),
        ("a", "this is Cartesia.", 24_000, false),
        ("b", "A second voice speaks.", 16_000, false),
    ];
    let mut characters = 0;
    let mut seconds = 0.0;
    for (context, text, rate, more) in parts {
        send(&mut ws, request(context, "sonic-3", text, rate, more)).await;
        characters += text.chars().count();
        let mut bytes = 0;
        loop {
            let m = message(&mut ws).await;
            assert_ne!(m["type"], "error", "{m}");
            assert_eq!(m["context_id"], context, "{m}");
            if m["type"] == "chunk" {
                bytes += STANDARD.decode(m["data"].as_str().unwrap()).unwrap().len();
            }
            // a continued part ends with its last chunk: the next request follows at once
            if m["type"] == "done" || (more && bytes >= text.chars().count() * rate as usize / 10) {
                break;
            }
        }
        seconds += bytes as f64 / (2.0 * f64::from(rate));
    }
    let route = "ca-meter-tts";
    finish(&app, ws, route).await;
    let record = usage_record(route);
    assert_eq!(number(&record, "tts_characters") as usize, characters);
    within_one_percent(number(&record, "tts_audio_seconds"), seconds, "tts audio");
    within_one_percent(
        number(&record, "estimated_cost_usd"),
        characters as f64 * PER_1K_CHARS / 1000.0,
        "cost",
    );
    let logs = logs();
    assert!(!logs.contains(CLIENT_KEY), "the client key was logged");
    assert!(
        !logs.contains(UPSTREAM_SECRET),
        "the upstream key was logged"
    );
}

#[tokio::test]
async fn a_model_outside_the_allowlist_is_refused_for_its_context_and_not_forwarded() {
    let mut upstream = FakeUpstream::start(Behaviour::Echo).await;
    let app = relay("ca-model", &upstream.base()).await;
    let bearer = format!("Bearer {CLIENT_KEY}");
    let (mut ws, _) = connect(
        &app.ws("/tts/websocket"),
        None,
        &[("authorization", &bearer)],
    )
    .await
    .expect("relay accepts");
    let seen = upstream.handshake().await;
    let header = |name: &str| seen.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {UPSTREAM_SECRET}").as_str())
    );
    // the client named no version: voxrelay's default goes upstream
    assert_eq!(header("cartesia-version"), Some(VERSION));
    send(
        &mut ws,
        request("ctx-1", "sonic-2", "Not this one.", 24_000, false),
    )
    .await;
    let refused = message(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["error_code"], "model_not_allowed");
    assert_eq!(refused["context_id"], "ctx-1");
    assert!(refused["message"].as_str().unwrap().contains("sonic-2"));
    // the session goes on, and the first message upstream is the allowed one
    let allowed = request("ctx-2", "sonic-3-2026-01-12", "This one.", 24_000, false);
    send(&mut ws, allowed.clone()).await;
    match upstream.next().await {
        Message::Text(t) => {
            let got: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            assert_eq!(got, allowed);
        }
        other => panic!("expected the allowed request upstream, got {other:?}"),
    }
    assert_eq!(message(&mut ws).await, allowed);
    let _ = ws.close(None).await;
}

#[tokio::test]
async fn the_clients_api_version_is_forwarded_and_query_credentials_are_not() {
    let mut upstream = FakeUpstream::start(Behaviour::Echo).await;
    let app = relay("ca-version", &upstream.base()).await;
    let bearer = format!("Bearer {CLIENT_KEY}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("cartesia-version", "2025-04-16"),
    ];
    let (ws, _) = connect(&app.ws("/tts/websocket"), None, &headers)
        .await
        .expect("relay accepts");
    let seen = upstream.handshake().await;
    assert_eq!(
        seen.headers.get("cartesia-version").unwrap(),
        "2025-04-16",
        "the client's own version wins over the default"
    );
    drop(ws);
    // the browser form: `api_key` never goes upstream, `cartesia_version` stays in the query
    let url = app.ws(&format!(
        "/stt/websocket?model=ink-2&encoding=pcm_s16le&sample_rate=16000\
         &api_key={CLIENT_KEY}&cartesia_version=2025-11-04"
    ));
    let (ws, _) = connect(&url, None, &[]).await.expect("relay accepts");
    let seen = upstream.handshake().await;
    assert_eq!(seen.uri.split('?').next(), Some("/stt/websocket"));
    assert!(
        seen.uri.contains("cartesia_version=2025-11-04"),
        "{}",
        seen.uri
    );
    assert!(seen.uri.contains("model=ink-2"), "{}", seen.uri);
    assert!(!seen.uri.contains("api_key"), "{}", seen.uri);
    assert!(!seen.uri.contains(CLIENT_KEY), "{}", seen.uri);
    drop(ws);
}
