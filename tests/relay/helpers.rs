//! Shared harness: the real app on 127.0.0.1:0, a scriptable fake upstream, clients, log capture.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request, Response as ServerResponse,
};
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use voxrelay::App;
use voxrelay::secret::KeyDigest;

/// The client key every test app accepts on every route.
pub const CLIENT_KEY: &str = "test-client-key-5b1f";
/// A key accepted only on the `speak` route.
pub const SPEAK_ONLY_KEY: &str = "speak-only-key-77ac";
/// What the upstreams' credential files hold.
pub const UPSTREAM_SECRET: &str = "upstream-secret-9c2e";
/// Upper bound for anything a test waits on.
pub const WAIT: Duration = Duration::from_secs(10);

/// Everything every test app's tracing wrote, at trace level.
pub static LOGS: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(|| {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = buf.clone();
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(move || LogWriter(writer.clone()))
        .with_filter(voxrelay::telemetry::filter("trace"))
        .with_filter(voxrelay::telemetry::secret_safe());
    // `try_init` also routes `log` records (tungstenite's) into tracing
    let subscriber = tracing_subscriber::registry().with(layer);
    let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
    buf
});

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(data)?;
        }
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Polls `/metrics` until it contains `needle` (session ends are recorded asynchronously).
pub async fn metric_eventually(app: &TestApp, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut metrics = String::new();
    while tokio::time::Instant::now() < deadline {
        metrics = app.metrics().await;
        if metrics.contains(needle) {
            return metrics;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("/metrics never showed {needle}:\n{metrics}");
}

/// Text of every log line so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// A credential file holding [`UPSTREAM_SECRET`].
pub fn secret_file() -> String {
    static FILE: LazyLock<String> = LazyLock::new(|| {
        let path = std::env::temp_dir().join(format!("voxrelay-test-{}.key", std::process::id()));
        std::fs::write(&path, format!("{UPSTREAM_SECRET}\n")).unwrap();
        path.display().to_string()
    });
    FILE.clone()
}

/// The standard test config: `dg` (Deepgram) and `cf` (Cloudflare) upstreams at `base`,
/// routes `listen` → dg, `speak` → cf, `flux` → dg, `cf-listen` (/cf/v1/listen) → cf.
pub fn config(base: &str) -> String {
    let file = secret_file();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace = "5s"
drain_spread = "0s"
drain_timeout = "1s"
upstream_connect_timeout = "2s"
close_timeout = "1s"
max_message_bytes = 65536

[[client_keys]]
id = "tester"
sha256 = "{all}"

[[client_keys]]
id = "speaker"
sha256 = "{speak}"
routes = ["speak"]

[upstreams.dg]
kind = "deepgram"
base_url = "{base}"
key_file = "{file}"
extra_headers = {{ x-team = "voice" }}

[upstreams.cf]
kind = "cloudflare"
base_url = "{base}"
account_id = "acct"
gateway_id = "gw"
key_file = "{file}"

[[routes]]
name = "listen"
path = "/v1/listen"
kind = "listen"
upstreams = ["dg", "cf"]
default_model = "nova-3"
models = ["nova-3", "nova-2"]
deny_params = ["callback"]
force_params = {{ mip_opt_out = "true" }}

[[routes]]
name = "speak"
path = "/v1/speak"
kind = "speak"
upstreams = ["cf"]
default_model = "aura-2-thalia-en"
models = ["aura-2-*-en", "aura-*-en"]

[[routes]]
name = "flux"
path = "/v2/listen"
kind = "flux"
upstreams = ["dg"]
default_model = "flux-general-en"
models = ["flux-general-en", "flux"]

[[routes]]
name = "cf-listen"
path = "/cf/v1/listen"
kind = "listen"
upstreams = ["cf"]
default_model = "nova-3"
models = ["nova-3"]
"#,
        all = KeyDigest::of(CLIENT_KEY).to_hex(),
        speak = KeyDigest::of(SPEAK_ONLY_KEY).to_hex(),
    )
}

/// A running app; dropping it stops it.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts the app for this TOML.
    pub async fn start(toml: &str) -> TestApp {
        let settings = voxrelay::config::from_toml(toml).expect("test config is valid");
        Self::with_settings(settings).await
    }

    /// Starts the app for already validated settings.
    pub async fn with_settings(settings: voxrelay::config::Settings) -> TestApp {
        LazyLock::force(&LOGS);
        let app = App::build(settings).await.expect("app builds");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The standard config against `upstream`.
    pub async fn against(upstream: &FakeUpstream) -> TestApp {
        Self::start(&config(&upstream.base())).await
    }

    /// `ws://addr{path_and_query}`.
    pub fn ws(&self, path_and_query: &str) -> String {
        format!("ws://{}{path_and_query}", self.addr)
    }

    /// GET over plain HTTP; returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path, &[]).await
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    /// Starts shutdown without waiting.
    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A minimal HTTP/1.1 GET with extra headers.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = http(addr, "GET", path, headers, "").await;
    (status, body)
}

/// A minimal HTTP/1.1 exchange: status, response head, body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("connection"))
    {
        req.push_str("Connection: close\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

/// A client socket.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a client WebSocket with optional subprotocols and extra headers.
pub async fn connect(
    url: &str,
    protocols: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(Client, Response), WsError> {
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
    }
    for (k, v) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName = k.parse().unwrap();
        req.headers_mut()
            .append(name, HeaderValue::from_str(v).unwrap());
    }
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("connect finishes")
}

/// Connects with the browser form `token, CLIENT_KEY`.
pub async fn connect_ok(url: &str) -> (Client, Response) {
    connect(url, Some(&format!("token, {CLIENT_KEY}")), &[])
        .await
        .expect("relay accepts")
}

/// The HTTP status and body of a refused handshake.
pub async fn refused(
    url: &str,
    protocols: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let resp = refusal(url, protocols, headers).await;
    let body = resp
        .body()
        .clone()
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    (resp.status().as_u16(), body.unwrap_or_default())
}

/// The whole HTTP response of a refused handshake.
pub async fn refusal(url: &str, protocols: Option<&str>, headers: &[(&str, &str)]) -> Response {
    match connect(url, protocols, headers).await {
        Err(WsError::Http(resp)) => *resp,
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, the upgrade succeeded"),
    }
}

/// Next message, with a deadline; `None` when the stream ended.
pub async fn recv(ws: &mut Client) -> Option<Message> {
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("message in time")
    {
        Some(Ok(m)) => Some(m),
        _ => None,
    }
}

/// Next data or close message, skipping pings and pongs.
pub async fn recv_data(ws: &mut Client) -> Option<Message> {
    loop {
        match recv(ws).await? {
            Message::Ping(_) | Message::Pong(_) => continue,
            m => return Some(m),
        }
    }
}

/// Reads until the close frame and returns its (code, reason); `None` for a status-less close.
pub async fn recv_close(ws: &mut Client) -> Option<(u16, String)> {
    loop {
        match recv(ws).await.expect("a close frame before the end") {
            Message::Close(f) => return f.map(|f| (f.code.into(), f.reason.to_string())),
            _ => continue,
        }
    }
}

/// What the fake upstream saw of one handshake.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query as received.
    pub uri: String,
    /// Request headers.
    pub headers: HeaderMap,
}

/// How the fake upstream treats a connection.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Echo data frames; a text `close:CODE:REASON` closes with it; `drop` drops the TCP
    /// connection; `stall` stops reading.
    Echo,
    /// Refuse the handshake with this status and JSON body.
    Refuse(u16, &'static str),
    /// Accept TCP but never answer the handshake.
    Hang,
}

/// A scriptable fake upstream on 127.0.0.1:0.
pub struct FakeUpstream {
    /// Its address.
    pub addr: SocketAddr,
    /// Handshakes seen, in order.
    pub seen: mpsc::UnboundedReceiver<Seen>,
    /// Messages the upstream received, including close frames.
    pub received: mpsc::UnboundedReceiver<Message>,
}

impl FakeUpstream {
    /// Starts it.
    pub async fn start(behaviour: Behaviour) -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (recv_tx, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                if matches!(behaviour, Behaviour::Hang) {
                    held.push(tcp);
                    continue;
                }
                let (seen_tx, recv_tx, behaviour) =
                    (seen_tx.clone(), recv_tx.clone(), behaviour.clone());
                tokio::spawn(serve(tcp, behaviour, seen_tx, recv_tx));
            }
        });
        FakeUpstream {
            addr,
            seen,
            received,
        }
    }

    /// `ws://addr`.
    pub fn base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The next handshake seen.
    pub async fn handshake(&mut self) -> Seen {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("handshake in time")
            .expect("fake runs")
    }

    /// The code of the close frame the upstream received next (`None`: a status-less close);
    /// panics on anything else.
    pub async fn close_code(&mut self) -> Option<u16> {
        match self.next().await {
            Message::Close(frame) => frame.map(|f| f.code.into()),
            other => panic!("expected a close frame upstream, got {other:?}"),
        }
    }

    /// The next message the upstream received.
    pub async fn next(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("message in time")
            .expect("fake runs")
    }
}

async fn serve(
    tcp: TcpStream,
    behaviour: Behaviour,
    seen: mpsc::UnboundedSender<Seen>,
    received: mpsc::UnboundedSender<Message>,
) {
    let callback =
        |req: &Request, mut resp: ServerResponse| -> Result<ServerResponse, ErrorResponse> {
            let _ = seen.send(Seen {
                uri: req.uri().to_string(),
                headers: req.headers().clone(),
            });
            if let Behaviour::Refuse(status, body) = behaviour {
                let mut err = ErrorResponse::new(Some(body.to_owned()));
                *err.status_mut() = StatusCode::from_u16(status).unwrap();
                err.headers_mut()
                    .insert("content-type", HeaderValue::from_static("application/json"));
                return Err(err);
            }
            resp.headers_mut().insert(
                "dg-request-id",
                HeaderValue::from_static("5e7b6c0a-1a5e-4d39-9f1e-2f6a8f0e9c11"),
            );
            Ok(resp)
        };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        let _ = received.send(msg.clone());
        match msg {
            Message::Text(t) if t.as_str() == "drop" => return,
            Message::Text(t) if t.as_str() == "flood" => {
                let _ = received.send(flood(&mut ws).await);
                return;
            }
            Message::Text(t) if t.as_str() == "stall" => {
                tokio::time::sleep(WAIT).await;
                return;
            }
            Message::Text(t) if t.as_str().starts_with("close:") => {
                let mut parts = t.as_str().splitn(3, ':').skip(1);
                let code: u16 = parts.next().unwrap().parse().unwrap();
                let reason = parts.next().unwrap_or("").to_owned();
                let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: code.into(),
                    reason: reason.into(),
                };
                let _ = ws.close(Some(frame)).await;
            }
            Message::Text(ref t) if ws.send(Message::Text(t.clone())).await.is_err() => return,
            Message::Binary(ref b) if ws.send(Message::Binary(b.clone())).await.is_err() => return,
            _ => {}
        }
    }
}

/// Size of each frame the fake upstream floods with.
pub const FLOOD_FRAME: usize = 60 * 1024;

/// Sends frames until one cannot be written within a second; reports how many went out.
async fn flood<S>(ws: &mut WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let frame = bytes::Bytes::from(vec![7u8; FLOOD_FRAME]);
    for sent in 0..4096u32 {
        let send = ws.send(Message::Binary(frame.clone()));
        if tokio::time::timeout(Duration::from_secs(1), send)
            .await
            .is_err()
        {
            return Message::Text(format!("blocked after {sent}").into());
        }
    }
    Message::Text("never blocked".into())
}

/// Starts the built-in simulator on 127.0.0.1:0 with `config`: its base URL, `ws://addr`.
pub async fn spawn_simulator(config: voxrelay::simulate::SimulatorConfig) -> String {
    let sim = voxrelay::simulate::Simulator::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let base = format!("ws://{}", sim.local_addr());
    tokio::spawn(sim.run(std::future::pending()));
    base
}

/// The simulator, requiring [`UPSTREAM_SECRET`] the way the real upstreams require their
/// credential: its base URL.
pub async fn simulator() -> String {
    spawn_simulator(voxrelay::simulate::SimulatorConfig {
        api_key: Some(UPSTREAM_SECRET.into()),
        ..Default::default()
    })
    .await
}
