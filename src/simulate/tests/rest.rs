//! The REST endpoints over real sockets: a hyper HTTP/1.1 client (and a raw writer where the body must
//! stay unsent), plus helpers shared by the submodules.

mod cloudflare;
mod failures;
mod listen;
mod speak;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use super::{Running, STEP_TIMEOUT};

/// A complete response.
pub(super) struct Reply {
    /// Status.
    status: StatusCode,
    /// Headers.
    headers: HeaderMap,
    /// Body, one entry per data frame as the client decoded it.
    frames: Vec<Bytes>,
}

impl Reply {
    /// The whole body.
    fn body(&self) -> Vec<u8> {
        self.frames.concat()
    }

    /// The body as JSON.
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body()).expect("body is json")
    }

    /// A header as text.
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("{name} is present"))
            .to_str()
            .expect("ascii header")
    }

    /// The `dg-request-id`, which must be a UUID v4.
    fn request_id(&self) -> Uuid {
        let id = Uuid::parse_str(self.header("dg-request-id")).expect("dg-request-id is a uuid");
        assert_eq!(id.get_version_num(), 4);
        id
    }
}

/// POSTs `body` to `path_and_query` with `headers` and reads the whole response.
pub(super) async fn post(
    sim: &Running,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Reply {
    let exchange = async {
        let stream = TcpStream::connect(sim.addr).await.expect("connects");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("http handshake");
        tokio::spawn(connection);
        let mut request = Request::post(path_and_query).header(header::HOST, sim.addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body).expect("valid request");
        let response = sender.send_request(request).await.expect("response");
        let (parts, mut incoming) = response.into_parts();
        let mut frames = Vec::new();
        while let Some(frame) = incoming.frame().await {
            if let Ok(data) = frame.expect("body frame").into_data() {
                frames.push(data);
            }
        }
        Reply {
            status: parts.status,
            headers: parts.headers,
            frames,
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, exchange)
        .await
        .expect("exchange completes in time")
}

/// POSTs a JSON body.
pub(super) async fn post_json(
    sim: &Running,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Reply {
    let mut with_type = vec![("content-type", "application/json")];
    with_type.extend_from_slice(headers);
    post(
        sim,
        path_and_query,
        &with_type,
        Body::from(body.to_string()),
    )
    .await
}

/// Sends only the head of a POST declaring a `Content-Length` body of 100 MB and no body byte, then
/// reads the response: it can only arrive if the simulator answers without reading the body.
pub(super) async fn post_head_only(sim: &Running, path_and_query: &str, extra: &str) -> Reply {
    let exchange = async {
        let mut stream = TcpStream::connect(sim.addr).await.expect("connects");
        let head = format!(
            "POST {path_and_query} HTTP/1.1\r\nHost: {}\r\nContent-Type: audio/wav\r\n\
             Content-Length: 100000000\r\n{extra}\r\n",
            sim.addr
        );
        stream.write_all(head.as_bytes()).await.expect("head sent");
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await.expect("reads");
            assert!(read > 0, "connection closed before a complete response");
            buf.extend_from_slice(&chunk[..read]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let Ok(httparse::Status::Complete(body_start)) = response.parse(&buf) else {
                continue;
            };
            let mut map = HeaderMap::new();
            for h in response.headers.iter() {
                map.append(
                    header::HeaderName::from_bytes(h.name.as_bytes()).expect("header name"),
                    header::HeaderValue::from_bytes(h.value).expect("header value"),
                );
            }
            let length: usize = map
                .get(header::CONTENT_LENGTH)
                .expect("content-length")
                .to_str()
                .expect("ascii")
                .parse()
                .expect("number");
            if buf.len() >= body_start + length {
                let status = StatusCode::from_u16(response.code.expect("status")).expect("status");
                let body = Bytes::copy_from_slice(&buf[body_start..body_start + length]);
                return Reply {
                    status,
                    headers: map,
                    frames: vec![body],
                };
            }
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, exchange)
        .await
        .expect("answered without the body being sent")
}

/// A streamed request body made of `chunks`.
pub(super) fn chunked_body(chunks: Vec<Vec<u8>>) -> Body {
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<Vec<u8>, std::io::Error>));
    Body::from_stream(stream)
}
