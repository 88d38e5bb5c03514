//! Autobahn client driver: voxrelay's upstream connector (the relay's upstream leg) against kosoku's fuzzingserver.
//!
//! Usage: `cargo run --example autobahn_client [ADDR]` (default `127.0.0.1:9001`). Runs every
//! case the fuzzingserver offers as agent `voxrelay`, echoing data messages, then asks it to
//! write its reports.

use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use voxrelay::client::{UpstreamConnector, UpstreamSocket, tls_config};

/// Agent name the reports are filed under.
const AGENT: &str = "voxrelay";
/// Largest message and frame accepted: enough for the 16 MiB messages of cases 9.*.
const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Deadline for each connect (TCP and WebSocket handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), String> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let tls = tls_config(None).map_err(|e| format!("tls setup: {e}"))?;
    let ws = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connector = UpstreamConnector::new(tls, ws, CONNECT_TIMEOUT);

    let count = case_count(&connector, &addr).await?;
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        let url = format!("ws://{addr}/runCase?case={case}&agent={AGENT}");
        match open(&connector, &url).await {
            Ok(socket) => {
                // Protocol errors are expected in some cases; kosoku judges the outcome.
                if let Err(e) = echo(socket).await {
                    eprintln!("autobahn_client: case {case}: {e}");
                }
            }
            Err(e) => eprintln!("autobahn_client: case {case}: {e}"),
        }
    }

    let url = format!("ws://{addr}/updateReports?agent={AGENT}");
    let mut socket = open(&connector, &url).await?;
    socket.close(None).await;
    eprintln!("autobahn_client: reports updated");
    Ok(())
}

/// Connects through voxrelay's upstream connector.
async fn open(connector: &UpstreamConnector, url: &str) -> Result<UpstreamSocket, String> {
    let request = url
        .into_client_request()
        .map_err(|e| format!("{url}: bad request: {e}"))?;
    let (socket, _response) = connector
        .connect(request, connector.timeout())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(socket)
}

/// Asks the fuzzingserver how many cases it has.
async fn case_count(connector: &UpstreamConnector, addr: &str) -> Result<u32, String> {
    let mut socket = open(connector, &format!("ws://{addr}/getCaseCount")).await?;
    let count = loop {
        match socket.next().await {
            Some(Ok(msg)) if msg.is_text() => {
                let text = msg.into_text().map_err(|e| format!("getCaseCount: {e}"))?;
                break text
                    .trim()
                    .parse::<u32>()
                    .map_err(|e| format!("getCaseCount: {text:?}: {e}"))?;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("getCaseCount: {e}")),
            None => return Err("getCaseCount: closed without a count".into()),
        }
    };
    // The server may already have sent its Close; either way read until the stream ends.
    socket.close(None).await;
    Ok(count)
}

/// Echoes text and binary messages until the stream ends (a close is answered as it is read).
async fn echo(mut socket: UpstreamSocket) -> Result<(), String> {
    while let Some(msg) = socket.next().await {
        let msg = msg.map_err(|e| e.to_string())?;
        if msg.is_text() || msg.is_binary() {
            socket.send(msg).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
