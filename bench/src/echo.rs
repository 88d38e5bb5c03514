//! The echo upstream: a plain WebSocket server on any path that answers every binary frame with
//! its first bytes (session id, sequence number, send timestamp), i.e. a small frame per frame.

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// WebSocket buffers kept small: the echo holds up to ~10,000 connections.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Accepts connections on `listen` until the process is stopped.
pub async fn serve(listen: &str, reply_bytes: usize) -> Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(session(stream, reply_bytes));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("voxbench echo: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn session(stream: TcpStream, reply_bytes: usize) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await
    else {
        return;
    };
    // Keep reading after a Close until the stream ends, so tungstenite flushes the close reply.
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Binary(b) = msg {
            let n = reply_bytes.min(b.len());
            if ws.send(Message::Binary(b.slice(..n))).await.is_err() {
                break;
            }
        }
    }
}
