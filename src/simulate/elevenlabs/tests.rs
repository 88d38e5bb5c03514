//! The simulated ElevenLabs APIs over real sockets on 127.0.0.1:0 with a tokio-tungstenite client.

mod auth;
mod scribe;
mod tts;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::simulate::SimulatorConfig;
use crate::simulate::tests::{Client, Running};

use crate::simulate::tests::{assert_closed, next_frame, next_json, refused};

/// The key of a keyed simulator.
const KEY: &str = "xi-simulated-right-key";

/// A simulator serving on a free loopback port; stops when dropped.
struct Sim(Running);

impl Sim {
    /// Starts a simulator, keyed with [`KEY`] if `keyed`.
    async fn start(keyed: bool) -> Self {
        let config = SimulatorConfig {
            api_key: keyed.then(|| KEY.to_owned()),
            ..SimulatorConfig::default()
        };
        Self(Running::start(config).await)
    }

    /// A request for `path_and_query`, with `xi-api-key: key` if given.
    fn request(&self, path_and_query: &str, key: Option<&str>) -> Request {
        let mut request = self.0.request(path_and_query);
        if let Some(key) = key {
            let value = key.parse().expect("header value");
            request.headers_mut().insert("xi-api-key", value);
        }
        request
    }

    /// Connects to `path_and_query` (with [`KEY`] in the header).
    async fn connect(&self, path_and_query: &str) -> Client {
        let request = self.request(path_and_query, Some(KEY));
        let (ws, response) = connect_async(request).await.expect("upgrade succeeds");
        assert!(response.headers().contains_key("request-id"));
        ws
    }
}

/// Sends `value` as a JSON text frame.
async fn send(ws: &mut Client, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("send succeeds");
}

/// The next frame, which must be a close frame with `code` and `reason`.
async fn expect_close(ws: &mut Client, code: u16, reason: &str) {
    let frame: Option<CloseFrame> = match next_frame(ws).await {
        Message::Close(frame) => frame,
        other => panic!("expected a close frame, got {other:?}"),
    };
    assert_closed(frame, code, reason);
}

/// Decoded length of a base64 `audio` field.
fn audio_len(message: &Value) -> usize {
    let audio = message["audio"].as_str().expect("audio is a string");
    STANDARD.decode(audio).expect("audio is base64").len()
}
