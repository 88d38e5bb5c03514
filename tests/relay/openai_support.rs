//! Shared by the OpenAI Realtime tests: a relay with a priced `realtime` route in front of the
//! built-in simulator, events in and out, and reading `/metrics` and the usage record.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// USD per 1M tokens, in `voxrelay_tokens_total{type}` order, then per transcription minute.
pub(crate) const PRICES: [f64; 8] = [3.0, 0.5, 30.0, 0.25, 15.0, 60.0, 2.0, 8.0];
pub(crate) const TRANSCRIPTION_PER_MINUTE: f64 = 0.01;
pub(crate) const TOKEN_TYPES: [&str; 8] = [
    "input_text",
    "input_text_cached",
    "input_audio",
    "input_audio_cached",
    "output_text",
    "output_audio",
    "transcription_input",
    "transcription_output",
];

/// A relay with a realtime route named `route` in front of a fresh simulator, with set prices.
pub(crate) async fn relay(route: &str) -> TestApp {
    relay_with(route, "").await
}

/// [`relay`] with `extra` appended to its config.
pub(crate) async fn relay_with(route: &str, extra: &str) -> TestApp {
    let base = simulator().await;
    let p = PRICES;
    let toml = format!(
        r#"{standard}
[upstreams.oa]
kind = "openai"
base_url = "{base}"
key_file = "{file}"

[upstreams.oa.prices]
text_input_usd_per_1m_tokens = {}
cached_text_input_usd_per_1m_tokens = {}
audio_input_usd_per_1m_tokens = {}
cached_audio_input_usd_per_1m_tokens = {}
text_output_usd_per_1m_tokens = {}
audio_output_usd_per_1m_tokens = {}
transcription_input_usd_per_1m_tokens = {}
transcription_output_usd_per_1m_tokens = {}
transcription_usd_per_minute = {TRANSCRIPTION_PER_MINUTE}

[[routes]]
name = "{route}"
path = "/v1/realtime"
kind = "realtime"
upstreams = ["oa"]
default_model = "gpt-realtime"
models = ["gpt-realtime", "gpt-realtime-*", "gpt-4o-transcribe", "whisper-1"]
"#,
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        p[6],
        p[7],
        standard = config(&base),
        file = secret_file(),
    );
    TestApp::start(&format!("{toml}\n{extra}")).await
}

pub(crate) async fn open(app: &TestApp, query: &str) -> Client {
    let bearer = format!("Bearer {CLIENT_KEY}");
    let (ws, _) = connect(
        &app.ws(&format!("/v1/realtime{query}")),
        None,
        &[("authorization", &bearer)],
    )
    .await
    .expect("relay accepts");
    ws
}

pub(crate) async fn send(ws: &mut Client, event: Value) {
    ws.send(Message::text(event.to_string())).await.unwrap();
}

pub(crate) async fn event(ws: &mut Client) -> Value {
    match recv_data(ws).await.expect("an event") {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON event"),
        other => panic!("expected a text event, got {other:?}"),
    }
}

/// Events until one of type `kind` (which is returned), with every one seen passed to `each`.
pub(crate) async fn until(ws: &mut Client, kind: &str, mut each: impl FnMut(&Value)) -> Value {
    for _ in 0..1000 {
        let e = event(ws).await;
        assert_ne!(e["type"], "error", "{e}");
        each(&e);
        if e["type"] == kind {
            return e;
        }
    }
    panic!("no {kind} within 1000 events");
}

/// Appends `bytes` of audio in chunks of at most `chunk`; returns the bytes sent.
pub(crate) async fn append(ws: &mut Client, bytes: usize, chunk: usize) -> usize {
    let mut sent = 0;
    while sent < bytes {
        let n = chunk.min(bytes - sent);
        let audio: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        send(
            ws,
            json!({"type": "input_audio_buffer.append", "audio": STANDARD.encode(audio)}),
        )
        .await;
        sent += n;
    }
    sent
}

/// Closes the client and waits until the relay recorded the session's end.
pub(crate) async fn finish(app: &TestApp, mut ws: Client, route: &str) -> String {
    ws.close(None).await.unwrap();
    while recv(&mut ws).await.is_some() {}
    metric_eventually(
        app,
        &format!(r#"voxrelay_sessions_active{{route="{route}"}} 0"#),
    )
    .await
}

/// A sample's value in an exposition, 0 when absent.
pub(crate) fn value(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The fields of the last usage record of `route`, if one was written.
fn last_usage_record(route: &str) -> Option<std::collections::HashMap<String, String>> {
    let logs = logs();
    let line = logs
        .lines()
        .rev()
        .find(|l| l.contains("session usage") && l.contains(&format!("route={route} ")))?;
    Some(
        line.split("session usage")
            .nth(1)?
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect(),
    )
}

/// The fields of the last usage record of `route`.
pub(crate) fn usage_record(route: &str) -> std::collections::HashMap<String, String> {
    last_usage_record(route).unwrap_or_else(|| panic!("no usage record for {route}"))
}

/// [`usage_record`], waiting (bounded by `WAIT`) for the record: it is written when the relay
/// task finishes, just after the close.
pub(crate) async fn usage_record_eventually(
    route: &str,
) -> std::collections::HashMap<String, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(record) = last_usage_record(route) {
            return record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no usage record for {route}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

pub(crate) fn within_one_percent(got: f64, want: f64, what: &str) {
    assert!(want > 0.0, "{what}: nothing to compare");
    assert!((got - want).abs() <= want * 0.01, "{what}: {got} vs {want}");
}

/// Adds `usage` (a `response.done` usage or a transcription token usage) to `tokens`.
pub(crate) fn add_tokens(tokens: &mut [u64; 8], usage: &Value) {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    if usage["type"] == "tokens" {
        tokens[6] += n(&usage["input_tokens"]);
        tokens[7] += n(&usage["output_tokens"]);
        return;
    }
    let input = &usage["input_token_details"];
    let cached = &input["cached_tokens_details"];
    tokens[0] += n(&input["text_tokens"]) - n(&cached["text_tokens"]);
    tokens[1] += n(&cached["text_tokens"]);
    tokens[2] += n(&input["audio_tokens"]) - n(&cached["audio_tokens"]);
    tokens[3] += n(&cached["audio_tokens"]);
    tokens[4] += n(&usage["output_token_details"]["text_tokens"]);
    tokens[5] += n(&usage["output_token_details"]["audio_tokens"]);
}
