//! Shared by the Cartesia tests: a relay with priced `cartesia_tts`, `cartesia_stt` and
//! `cartesia_turns` routes in front of an upstream, generation requests, usage records.

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// USD per 1,000 characters and per STT minute on the test upstream.
pub(crate) const PER_1K_CHARS: f64 = 0.05;
pub(crate) const PER_MINUTE: f64 = 0.009;
/// The version cartesia-js sends, and voxrelay's default.
pub(crate) const VERSION: &str = "2026-08-14";

/// A relay whose routes `<p>-tts`, `<p>-stt` and `<p>-turns` go to a Cartesia upstream at
/// `base` with the test secret.
pub(crate) async fn relay(p: &str, base: &str) -> TestApp {
    let toml = format!(
        r#"{standard}
[upstreams.ca]
kind = "cartesia"
base_url = "{base}"
key_file = "{file}"

[upstreams.ca.prices]
speak_usd_per_1k_chars = {PER_1K_CHARS}
listen_usd_per_minute = {PER_MINUTE}

[[routes]]
name = "{p}-tts"
path = "/tts/websocket"
kind = "cartesia_tts"
upstreams = ["ca"]
default_model = "sonic-3"
models = ["sonic-3*"]
allowed_origins = ["https://app.example"]

[[routes]]
name = "{p}-stt"
path = "/stt/websocket"
kind = "cartesia_stt"
upstreams = ["ca"]
default_model = "ink-2"
models = ["ink-2", "ink-whisper"]

[[routes]]
name = "{p}-turns"
path = "/stt/turns/websocket"
kind = "cartesia_turns"
upstreams = ["ca"]
default_model = "ink-2"
models = ["ink-2"]
"#,
        standard = config(base),
        file = secret_file(),
    );
    TestApp::start(&toml).await
}

/// A generation request for `context` in 16-bit PCM at `rate` Hz.
pub(crate) fn request(
    context: &str,
    model: &str,
    transcript: &str,
    rate: u32,
    more: bool,
) -> Value {
    json!({"context_id": context, "model_id": model, "transcript": transcript,
        "voice": {"mode": "id", "id": "a0e99841-438c-4a64-b679-ae501e7d6091"},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": rate},
        "continue": more, "language": "en"})
}

pub(crate) async fn send(ws: &mut Client, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

pub(crate) async fn message(ws: &mut Client) -> Value {
    match recv_data(ws).await.expect("a message") {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON message"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Closes the client and waits until the relay recorded the session's end on `route`.
pub(crate) async fn finish(app: &TestApp, mut ws: Client, route: &str) {
    let _ = ws.close(None).await;
    while recv(&mut ws).await.is_some() {}
    metric_eventually(
        app,
        &format!(r#"voxrelay_sessions_active{{route="{route}"}} 0"#),
    )
    .await;
}

/// The fields of the last usage record of `route`.
pub(crate) fn usage_record(route: &str) -> std::collections::HashMap<String, String> {
    crate::openai_support::usage_record(route)
}

pub(crate) fn number(record: &std::collections::HashMap<String, String>, field: &str) -> f64 {
    record
        .get(field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {record:?}"))
}

pub(crate) use crate::openai_support::within_one_percent;
