//! The simulated ElevenLabs APIs over real sockets on 127.0.0.1:0 with a tokio-tungstenite client.

mod auth;
mod scribe;
mod tts;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::simulate::{Simulator, SimulatorConfig};

/// A client connection to the simulator.
type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upper bound for any single expected frame.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// The key of a keyed simulator.
const KEY: &str = "xi-simulated-right-key";

/// A simulator serving on a free loopback port; stops when dropped.
struct Sim {
    /// Where it listens.
    addr: SocketAddr,
    /// Completes the shutdown future passed to `run`.
    _stop: oneshot::Sender<()>,
}

impl Sim {
    /// Starts a simulator, keyed with [`KEY`] if `keyed`.
    async fn start(keyed: bool) -> Self {
        let config = SimulatorConfig {
            api_key: keyed.then(|| KEY.to_owned()),
            ..SimulatorConfig::default()
        };
        let addr = "127.0.0.1:0".parse().expect("valid address");
        let simulator = Simulator::bind(addr, config).await.expect("binds");
        let addr = simulator.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(simulator.run(async move {
            let _ = stopped.await;
        }));
        Self { addr, _stop: stop }
    }

    /// A request for `path_and_query`, with `xi-api-key: key` if given.
    fn request(&self, path_and_query: &str, key: Option<&str>) -> Request {
        let mut request = format!("ws://{}{}", self.addr, path_and_query)
            .into_client_request()
            .expect("valid request");
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

/// Connects expecting the handshake to be refused with an HTTP response.
async fn refused(request: Request) -> Response {
    match connect_async(request).await {
        Err(Error::Http(response)) => *response,
        Err(other) => panic!("expected an http error, got {other}"),
        Ok(_) => panic!("expected the handshake to fail"),
    }
}

/// Sends `value` as a JSON text frame.
async fn send(ws: &mut Client, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("send succeeds");
}

/// The next data or close frame (pings and pongs skipped).
async fn next_frame(ws: &mut Client) -> Message {
    loop {
        let frame = tokio::time::timeout(STEP_TIMEOUT, ws.next())
            .await
            .expect("frame arrives in time")
            .expect("stream still open")
            .expect("frame is valid");
        if !matches!(frame, Message::Ping(_) | Message::Pong(_)) {
            return frame;
        }
    }
}

/// The next frame, which must be JSON text.
async fn next_json(ws: &mut Client) -> Value {
    match next_frame(ws).await {
        Message::Text(text) => serde_json::from_str(text.as_str()).expect("json"),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The next frame, which must be a close frame with `code` and `reason`.
async fn expect_close(ws: &mut Client, code: u16, reason: &str) {
    let frame: Option<CloseFrame> = match next_frame(ws).await {
        Message::Close(frame) => frame,
        other => panic!("expected a close frame, got {other:?}"),
    };
    let frame = frame.expect("close frame carries a status");
    assert_eq!(u16::from(frame.code), code);
    assert_eq!(frame.reason.as_str(), reason);
}

/// Decoded length of a base64 `audio` field.
fn audio_len(message: &Value) -> usize {
    let audio = message["audio"].as_str().expect("audio is a string");
    STANDARD.decode(audio).expect("audio is base64").len()
}
