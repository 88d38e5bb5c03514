//! A fake REST upstream (Deepgram's `POST /v1/listen`, `POST /v1/speak`, and Workers AI's
//! `POST /v1/<account>/<gateway>/workers-ai/@cf/deepgram/<model>`) that records what reached
//! it, and a plain HTTP/1.1 client for voxrelay's REST endpoints.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

/// What one request to the fake upstream carried.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    /// Bytes of body read (the audio is counted, never kept).
    pub bytes: u64,
    /// The body, when it was JSON.
    pub json: Option<serde_json::Value>,
}

/// How the fake upstream answers.
#[derive(Debug, Clone)]
pub enum Answer {
    /// As the API would.
    Normal,
    /// This status with this body, after reading the request's body.
    Status(u16, String),
    /// This status at once, without reading the body.
    StatusUnread(u16),
    /// Nothing, ever, after reading the body.
    Hang,
}

#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<Answer>>,
}

/// A running fake REST upstream.
pub struct RestUpstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<Answer>>,
}

impl RestUpstream {
    pub async fn start() -> RestUpstream {
        let fake = Fake {
            seen: Arc::default(),
            answer: Arc::new(Mutex::new(Answer::Normal)),
        };
        let app = Router::new()
            .route("/v1/listen", post(listen))
            .route("/v1/speak", post(speak))
            .route(
                "/v1/{account}/{gateway}/workers-ai/{*model}",
                post(workers_ai),
            )
            .with_state(fake.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        RestUpstream {
            addr,
            seen: fake.seen,
            answer: fake.answer,
        }
    }

    /// `ws://addr`, as an upstream's `base_url`.
    pub fn base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads the body as it arrives: counted, kept only when JSON.
async fn record(fake: &Fake, uri: &Uri, headers: &HeaderMap, body: Body) -> Seen {
    let json = headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let mut stream = body.into_data_stream();
    let mut bytes = 0u64;
    let mut kept = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        bytes += chunk.len() as u64;
        if json {
            kept.extend_from_slice(&chunk);
        }
    }
    let seen = Seen {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: headers.clone(),
        bytes,
        json: serde_json::from_slice(&kept).ok(),
    };
    fake.seen.lock().unwrap().push(seen.clone());
    seen
}

/// The request as seen without its body.
fn record_head(fake: &Fake, uri: &Uri, headers: &HeaderMap) {
    fake.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: headers.clone(),
        ..Seen::default()
    });
}

/// A prerecorded result for `bytes` of 16 kHz 16-bit mono audio.
fn result(bytes: u64) -> serde_json::Value {
    json!({
        "metadata": {"request_id": "up-1", "duration": bytes as f64 / 32000.0, "channels": 1},
        "results": {"channels": [{"alternatives": [{"transcript": "hello from the fake", "confidence": 0.9}]}]}
    })
}

fn answer_of(fake: &Fake) -> Answer {
    fake.answer.lock().unwrap().clone()
}

async fn listen(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    if let Answer::StatusUnread(status) = answer_of(&fake) {
        record_head(&fake, &uri, &headers);
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    let seen = record(&fake, &uri, &headers, body).await;
    match answer_of(&fake) {
        Answer::Status(status, body) => {
            (StatusCode::from_u16(status).unwrap(), body).into_response()
        }
        Answer::Hang => std::future::pending().await,
        _ => {
            let mut resp = axum::Json(result(seen.bytes)).into_response();
            resp.headers_mut()
                .insert("dg-request-id", "up-1".parse().unwrap());
            resp
        }
    }
}

/// Five chunks of audio, each made as it is sent.
fn audio() -> Body {
    let chunks = futures_util::stream::iter(0..5u8)
        .map(|i| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![i; 1000]))));
    Body::new(StreamBody::new(chunks))
}

async fn speak(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let seen = record(&fake, &uri, &headers, body).await;
    match answer_of(&fake) {
        Answer::Status(status, body) => {
            (StatusCode::from_u16(status).unwrap(), body).into_response()
        }
        Answer::StatusUnread(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Answer::Hang => std::future::pending().await,
        Answer::Normal => {
            let chars = seen
                .json
                .as_ref()
                .and_then(|j| j["text"].as_str())
                .map_or(0, |t| t.chars().count());
            let mut resp = Response::new(audio());
            let h = resp.headers_mut();
            h.insert("content-type", "audio/mpeg".parse().unwrap());
            h.insert("dg-model-name", "aura-2-thalia-en".parse().unwrap());
            h.insert("dg-char-count", chars.to_string().parse().unwrap());
            h.insert("dg-project-id", "secret-project".parse().unwrap());
            resp
        }
    }
}

async fn workers_ai(
    State(fake): State<Fake>,
    Path((_, _, model)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Answer::StatusUnread(status) = answer_of(&fake) {
        record_head(&fake, &uri, &headers);
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    let seen = record(&fake, &uri, &headers, body).await;
    if let Answer::Status(status, body) = answer_of(&fake) {
        return (StatusCode::from_u16(status).unwrap(), body).into_response();
    }
    if model.contains("aura") {
        let mut resp = Response::new(audio());
        resp.headers_mut()
            .insert("content-type", "audio/mpeg".parse().unwrap());
        return resp;
    }
    let envelope =
        json!({"result": result(seen.bytes), "success": true, "errors": [], "messages": []});
    axum::Json(envelope).into_response()
}

/// One request to voxrelay: status, headers, whole body.
pub async fn request<B>(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: B,
) -> (StatusCode, HeaderMap, Bytes)
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender.send_request(req.body(body).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (parts.status, parts.headers, bytes)
}

/// `POST` of a whole body.
pub async fn post_bytes(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (StatusCode, HeaderMap, Bytes) {
    request(addr, "POST", path, headers, Full::new(body.into())).await
}

/// A body of `chunks` chunks of `size` bytes, made as they are sent (no length announced).
pub fn chunked(
    chunks: usize,
    size: usize,
) -> impl hyper::body::Body<Data = Bytes, Error = Infallible> + Send + 'static {
    let chunk = Bytes::from(vec![7u8; size]);
    let stream = futures_util::stream::iter(0..chunks).map(move |_| Ok(Frame::data(chunk.clone())));
    StreamBody::new(stream)
}
