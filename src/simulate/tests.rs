//! Test harness for the simulator (real sockets on 127.0.0.1:0) plus shutdown tests; the rest lives in submodules.

mod assemblyai;
mod cartesia;
mod cartesia_stt;
mod flux;
mod listen;
mod openai;
mod openai_errors;
mod openai_flow;
mod rest;
mod speak;
mod speechmatics;
mod upgrade;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use uuid::Uuid;

use super::{Simulator, SimulatorConfig, wire};

/// A client connection to the simulator.
pub(super) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upper bound for any single expected event, so a broken simulator fails instead of hanging.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// A simulator serving on a free port.
pub(super) struct Running {
    /// Where it listens.
    addr: std::net::SocketAddr,
    /// Completes the shutdown future passed to `run`.
    stop: Option<oneshot::Sender<()>>,
    /// The `run` task.
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Starts a simulator on 127.0.0.1:0.
    pub(super) async fn start(config: SimulatorConfig) -> Self {
        let addr = "127.0.0.1:0".parse().expect("valid address");
        let simulator = Simulator::bind(addr, config)
            .await
            .expect("simulator binds");
        let addr = simulator.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(simulator.run(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Starts a simulator with the default configuration.
    async fn default() -> Self {
        Self::start(SimulatorConfig::default()).await
    }

    /// `ws://` URL of `path_and_query` on this simulator.
    fn url(&self, path_and_query: &str) -> String {
        format!("ws://{}{}", self.addr, path_and_query)
    }

    /// A client request for `path_and_query`, ready for extra headers.
    pub(super) fn request(&self, path_and_query: &str) -> Request {
        self.url(path_and_query)
            .into_client_request()
            .expect("valid request")
    }

    /// Connects to `path_and_query`.
    async fn connect(&self, path_and_query: &str) -> (Client, Response) {
        connect_async(self.url(path_and_query))
            .await
            .expect("upgrade succeeds")
    }

    /// Completes the shutdown future.
    fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for `run` to return.
    async fn join(self) -> std::io::Result<()> {
        tokio::time::timeout(STEP_TIMEOUT, self.task)
            .await
            .expect("run returns in time")
            .expect("run does not panic")
    }
}

/// The next data or close frame (pings and pongs skipped).
pub(super) async fn next_frame(ws: &mut Client) -> Message {
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
pub(super) async fn next_json(ws: &mut Client) -> Value {
    match next_frame(ws).await {
        Message::Text(text) => serde_json::from_str(text.as_str()).expect("text frame is json"),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The next frame, which must be a close frame; then finishes the close handshake.
async fn expect_close(ws: &mut Client) -> Option<CloseFrame> {
    let frame = match next_frame(ws).await {
        Message::Close(frame) => frame,
        other => panic!("expected a close frame, got {other:?}"),
    };
    let rest =
        tokio::time::timeout(STEP_TIMEOUT, async { while ws.next().await.is_some() {} }).await;
    assert!(rest.is_ok(), "stream ends after the close handshake");
    frame
}

/// Asserts a close frame with `code` and `reason`.
pub(super) fn assert_closed(frame: Option<CloseFrame>, code: u16, reason: &str) {
    let frame = frame.expect("close frame carries a status");
    assert_eq!(u16::from(frame.code), code);
    assert_eq!(frame.reason.as_str(), reason);
}

/// The `dg-request-id` of a response, which must be a UUID v4.
fn request_id(response: &Response) -> Uuid {
    let header = response
        .headers()
        .get("dg-request-id")
        .expect("dg-request-id is present");
    let id = Uuid::parse_str(header.to_str().expect("ascii")).expect("dg-request-id is a uuid");
    assert_eq!(id.get_version_num(), 4);
    id
}

/// Connects expecting the handshake to fail with an HTTP response.
pub(super) async fn refused(request: Request) -> Response {
    match connect_async(request).await {
        Err(Error::Http(response)) => *response,
        Err(other) => panic!("expected an http error, got {other}"),
        Ok(_) => panic!("expected the handshake to fail"),
    }
}

#[tokio::test]
async fn shutdown_closes_live_sessions_with_1001() {
    let mut sim = Running::default().await;
    let (mut listen, _) = sim.connect("/prefix/v1/listen").await;
    let (mut flux, _) = sim.connect("/v2/listen").await;
    assert_eq!(next_json(&mut flux).await["type"], "Connected");
    sim.signal_stop();
    assert_closed(
        expect_close(&mut listen).await,
        1001,
        "simulator shutting down",
    );
    assert_closed(
        expect_close(&mut flux).await,
        1001,
        "simulator shutting down",
    );
    sim.join().await.expect("run returns ok");
}

#[test]
fn timestamps_are_rfc3339_utc_with_millis() {
    assert_eq!(wire::rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        wire::rfc3339(1_724_971_075, 202),
        "2024-08-29T22:37:55.202Z"
    );
    assert_eq!(wire::rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
}
