//! Autobahn echo server: a tokio-tungstenite stand-in for Deepgram behind the relay in conformance runs.
//!
//! Usage: `cargo run --example autobahn_echo [ADDR]` (default `127.0.0.1:0`). Prints exactly one
//! line, `listening <addr>`, once bound; then echoes every text and binary message back.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Largest message and frame accepted: enough for the 16 MiB messages of cases 9.*.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

#[tokio::main]
async fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:0")
        .parse()
        .expect("the argument is a socket address such as 127.0.0.1:9002");
    let listener = TcpListener::bind(addr)
        .await
        .expect("bind the listen address");
    let local = listener
        .local_addr()
        .expect("the listener has a local address");
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("listening {local}\n").as_bytes())
        .await
        .expect("write the listening line");
    stdout.flush().await.expect("flush stdout");

    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(async move {
                    if let Err(e) = echo(stream).await {
                        eprintln!("autobahn_echo: {peer}: {e}");
                    }
                });
            }
            Err(e) => eprintln!("autobahn_echo: accept: {e}"),
        }
    }
}

/// Echoes data messages until the peer's stream ends; the close reply is sent by tungstenite
/// while we keep reading after a Close.
async fn echo(stream: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    while let Some(msg) = ws.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
