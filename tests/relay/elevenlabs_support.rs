//! ElevenLabs through the relay: config, clients and the simulator's replies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

pub(crate) use crate::helpers::*;
pub(crate) use crate::openai_support::{usage_record, value, within_one_percent};

/// A voice id the routes accept.
pub(crate) const VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

/// The standard config plus an `el` (ElevenLabs) upstream at `base` and three routes under
/// `/<prefix>`: `<prefix>-tts`, `<prefix>-multi` and `<prefix>-stt`.
pub(crate) fn elevenlabs_config(base: &str, prefix: &str) -> String {
    format!(
        r#"{standard}
[upstreams.el]
kind = "elevenlabs"
base_url = "{base}"
key_file = "{file}"

[[routes]]
name = "{prefix}-tts"
path = "/{prefix}/v1/text-to-speech/{{voice_id}}/stream-input"
kind = "elevenlabs_tts"
upstreams = ["el"]
default_model = "eleven_flash_v2_5"
models = ["eleven_flash_v2_5", "eleven_turbo_v2_5"]

[[routes]]
name = "{prefix}-multi"
path = "/{prefix}/v1/text-to-speech/{{voice_id}}/multi-stream-input"
kind = "elevenlabs_tts_multi"
upstreams = ["el"]
default_model = "eleven_flash_v2_5"
models = ["eleven_flash_v2_5"]

[[routes]]
name = "{prefix}-stt"
path = "/{prefix}/v1/speech-to-text/realtime"
kind = "elevenlabs_stt"
upstreams = ["el"]
default_model = "scribe_v2_realtime"
models = ["scribe_v2_realtime"]
"#,
        standard = config(base),
        file = secret_file(),
    )
}

/// A relay in front of a simulator that only accepts [`UPSTREAM_SECRET`] in `xi-api-key` (and
/// refuses any credential in a query or a message).
pub(crate) async fn relay(prefix: &str) -> TestApp {
    TestApp::start(&elevenlabs_config(&simulator().await, prefix)).await
}

/// The stream-input URL of `prefix`'s TTS route with `query` (`?…` or empty).
pub(crate) fn tts_url(app: &TestApp, prefix: &str, query: &str) -> String {
    app.ws(&format!(
        "/{prefix}/v1/text-to-speech/{VOICE}/stream-input{query}"
    ))
}

/// Sends a JSON text message.
pub(crate) async fn send(ws: &mut Client, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// The next text message's JSON, `None` at the close.
pub(crate) async fn next_json(ws: &mut Client) -> Option<Value> {
    match recv_data(ws).await? {
        Message::Text(t) => Some(serde_json::from_str(t.as_str()).expect("JSON message")),
        Message::Close(_) => None,
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// What a text-to-speech stream returned up to its end.
#[derive(Debug, Default)]
pub(crate) struct Spoken {
    /// Decoded audio bytes, per `contextId` (`""` for none).
    pub(crate) audio: std::collections::BTreeMap<String, usize>,
    /// Contexts (or the single stream, `""`) that sent `isFinal: true`.
    pub(crate) finals: Vec<String>,
}

impl Spoken {
    pub(crate) fn total(&self) -> usize {
        self.audio.values().sum()
    }
}

/// Reads audio messages until the upstream closes (bounded); panics on an error message.
pub(crate) async fn spoken(ws: &mut Client) -> Spoken {
    let mut out = Spoken::default();
    for _ in 0..1000 {
        let Some(m) = next_json(ws).await else {
            return out;
        };
        assert!(m.get("error").is_none(), "error message: {m}");
        let context = m["contextId"].as_str().unwrap_or_default().to_owned();
        if let Some(audio) = m["audio"].as_str() {
            *out.audio.entry(context.clone()).or_default() += STANDARD.decode(audio).unwrap().len();
        }
        if m["isFinal"] == true {
            out.finals.push(context);
        }
    }
    panic!("no close within 1000 messages");
}

/// Waits until the relay recorded the end of every session on `route`; its /metrics.
pub(crate) async fn ended(app: &TestApp, route: &str) -> String {
    metric_eventually(
        app,
        &format!(r#"voxrelay_sessions_active{{route="{route}"}} 0"#),
    )
    .await
}
