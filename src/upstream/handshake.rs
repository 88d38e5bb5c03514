//! voxrelay's own WebSocket client handshake: TCP (and TLS for `wss`), the request head in one
//! write, the response head read with a bounded buffer and checked (RFC 6455 §4.1), and the
//! upstream's byte stream handed back raw together with whatever it sent right after its `101`.
//!
//! A refusal (any status but `101`) comes back as [`Error::Http`] with its body read as far as
//! its framing says (at most [`MAX_ERROR_BODY`] bytes); everything else is an error whose text
//! names the host and port, never the path, query or headers (they may carry the credential).

use std::io;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::client::uri_mode;
use tokio_tungstenite::tungstenite::error::{
    Error, ProtocolError, SubProtocolError, TlsError, UrlError,
};
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response, generate_request};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::http::header::{
    CONNECTION, CONTENT_LENGTH, HeaderMap, HeaderValue, SEC_WEBSOCKET_ACCEPT,
    SEC_WEBSOCKET_PROTOCOL, TRANSFER_ENCODING, UPGRADE,
};
use tokio_tungstenite::tungstenite::http::{Method, StatusCode, Version};
use tokio_tungstenite::tungstenite::stream::Mode;

use super::MAX_ERROR_BODY;

/// Largest response head accepted, in bytes.
const MAX_HEAD: usize = 16 * 1024;
/// Room added to the read buffer when it is full.
const READ_CHUNK: usize = 4 * 1024;
/// Largest chunked refusal body read off the wire (its data plus the chunk framing).
const MAX_CHUNKED_RAW: usize = 2 * MAX_ERROR_BODY;

/// An upstream that accepted the WebSocket handshake.
pub(crate) struct Opened {
    /// The connection, positioned right after the response head.
    pub(crate) stream: MaybeTlsStream<TcpStream>,
    /// What the upstream sent after its response head (the start of its first frames).
    pub(crate) leftover: Vec<u8>,
    /// The `101` response head (body `None`).
    pub(crate) response: Response,
}

/// Connects to `req`'s `ws://` or `wss://` URL (TLS with `tls`) and performs the handshake.
pub(crate) async fn open(req: Request, tls: &Arc<ClientConfig>) -> Result<Opened, Error> {
    if req.method() != Method::GET {
        return Err(Error::Protocol(ProtocolError::WrongHttpMethod));
    }
    if req.version() < Version::HTTP_11 {
        return Err(Error::Protocol(ProtocolError::WrongHttpVersion));
    }
    let mode = uri_mode(req.uri())?;
    let host = host(&req)?.to_owned();
    let port = req.uri().port_u16().unwrap_or(match mode {
        Mode::Plain => 80,
        Mode::Tls => 443,
    });
    let offered = req.headers().get(SEC_WEBSOCKET_PROTOCOL).cloned();
    // the head in one buffer, its Host/Connection/Upgrade/Version/Key checked, and the key
    let (head, key) = generate_request(req)?;
    let mut stream = connect(&host, port, mode, tls).await?;
    let sent = async {
        stream.write_all(&head).await?;
        stream.flush().await
    };
    sent.await
        .map_err(|e| context(e, format_args!("sending the handshake to {host}:{port}")))?;
    let (mut response, leftover) = read_head(&mut stream).await.map_err(|e| match e {
        Error::Io(e) => context(e, format_args!("reading {host}:{port}'s answer")),
        other => other,
    })?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let body = read_body(&mut stream, &response, leftover).await;
        *response.body_mut() = Some(body);
        return Err(Error::Http(Box::new(response)));
    }
    verify(response.headers(), &key, offered.as_ref())?;
    Ok(Opened {
        stream,
        leftover,
        response,
    })
}

/// The URL's host as DNS and rustls take it (an IPv6 literal without its brackets).
fn host(req: &Request) -> Result<&str, Error> {
    match req.uri().host() {
        Some(h) if h.starts_with('[') && h.ends_with(']') => Ok(&h[1..h.len() - 1]),
        Some(h) if !h.is_empty() => Ok(h),
        _ => Err(Error::Url(UrlError::NoHostName)),
    }
}

/// An I/O error with what was being done in front of it.
fn context(e: io::Error, doing: std::fmt::Arguments<'_>) -> Error {
    Error::Io(io::Error::new(e.kind(), format!("{doing}: {e}")))
}

/// TCP to `host:port` without Nagle, then TLS with SNI `host` for `wss`.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    mode: Mode,
    tls: &Arc<ClientConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| context(e, format_args!("connecting to {host}:{port}")))?;
    tcp.set_nodelay(true)?;
    match mode {
        Mode::Plain => Ok(MaybeTlsStream::Plain(tcp)),
        Mode::Tls => {
            let name = ServerName::try_from(host)
                .map_err(|_| Error::Tls(TlsError::InvalidDnsName))?
                .to_owned();
            let stream = TlsConnector::from(Arc::clone(tls))
                .connect(name, tcp)
                .await
                .map_err(|e| context(e, format_args!("TLS with {host}:{port}")))?;
            Ok(MaybeTlsStream::Rustls(stream))
        }
    }
}

/// Reads until a whole response head is in: the parsed head and the bytes after it.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(Response, Vec<u8>), Error> {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(READ_CHUNK);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a whole response head",
            )));
        }
        match Response::try_parse(&buf)? {
            Some((len, response)) if len <= MAX_HEAD => return Ok((response, buf.split_off(len))),
            None if buf.len() < MAX_HEAD => {}
            _ => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("response head over {MAX_HEAD} bytes"),
                )));
            }
        }
    }
}

/// How a refusal's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// The status has no body.
    Empty,
    /// `Content-Length` bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the upstream closes.
    Close,
}

impl Framing {
    /// The framing of `response`'s body (RFC 9112 §6.3).
    fn of(response: &Response) -> Self {
        let status = response.status();
        if status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Self::Empty;
        }
        let headers = response.headers();
        if let Some(te) = headers.get(TRANSFER_ENCODING) {
            let last = te.as_bytes().rsplit(|&b| b == b',').next().unwrap_or(b"");
            return if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                Self::Chunked
            } else {
                Self::Close
            };
        }
        headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse().ok())
            .map_or(Self::Close, Self::Length)
    }

    /// Whether `raw` (the body as read so far) is all this refusal passes on.
    fn done(self, raw: &[u8]) -> bool {
        match self {
            Self::Empty => true,
            Self::Length(n) => raw.len() >= n.min(MAX_ERROR_BODY),
            Self::Chunked => raw.len() >= MAX_CHUNKED_RAW || dechunk(raw).1,
            Self::Close => raw.len() >= MAX_ERROR_BODY,
        }
    }

    /// The body in `raw`, at most [`MAX_ERROR_BODY`] bytes.
    fn body(self, mut raw: Vec<u8>) -> Vec<u8> {
        match self {
            Self::Empty => Vec::new(),
            Self::Chunked => dechunk(&raw).0,
            Self::Length(n) => {
                raw.truncate(n.min(MAX_ERROR_BODY));
                raw
            }
            Self::Close => {
                raw.truncate(MAX_ERROR_BODY);
                raw
            }
        }
    }
}

/// A refusal's body: `raw` (read with the head) and what follows, as far as its framing says,
/// the upstream closes, a read fails or the cap is reached.
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    response: &Response,
    mut raw: Vec<u8>,
) -> Vec<u8> {
    let framing = Framing::of(response);
    while !framing.done(&raw) {
        if raw.len() == raw.capacity() {
            raw.reserve(READ_CHUNK);
        }
        match stream.read_buf(&mut raw).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    framing.body(raw)
}

/// The data of a chunked body so far (at most [`MAX_ERROR_BODY`] bytes), and whether it is
/// complete: its last chunk seen, the cap reached or its framing broken.
fn dechunk(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let size = match httparse::parse_chunk_size(&raw[at..]) {
            Ok(httparse::Status::Complete((_, 0))) => return (body, true),
            Ok(httparse::Status::Complete((used, size))) => {
                at += used;
                size
            }
            Ok(httparse::Status::Partial) => return (body, false),
            Err(_) => return (body, true),
        };
        let room = MAX_ERROR_BODY - body.len();
        let take = usize::try_from(size).unwrap_or(usize::MAX).min(room);
        let data = &raw[at..];
        body.extend_from_slice(&data[..take.min(data.len())]);
        if body.len() >= MAX_ERROR_BODY {
            return (body, true);
        }
        // past the chunk's data and its CRLF
        at += take + 2;
        if take > data.len() || at > raw.len() {
            return (body, false);
        }
    }
}

/// Checks a `101`'s `Upgrade`, `Connection`, `Sec-WebSocket-Accept` and subprotocol against
/// the request's key and offered subprotocols.
fn verify(headers: &HeaderMap, key: &str, offered: Option<&HeaderValue>) -> Result<(), Error> {
    let upgrade = headers.get(UPGRADE).map(HeaderValue::as_bytes);
    if !upgrade.is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket")) {
        return Err(Error::Protocol(
            ProtocolError::MissingUpgradeWebSocketHeader,
        ));
    }
    let upgrades = headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    if !upgrades {
        return Err(Error::Protocol(
            ProtocolError::MissingConnectionUpgradeHeader,
        ));
    }
    let accept = headers.get(SEC_WEBSOCKET_ACCEPT).map(HeaderValue::as_bytes);
    if accept != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
        return Err(Error::Protocol(
            ProtocolError::SecWebSocketAcceptKeyMismatch,
        ));
    }
    let chosen = headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .map(HeaderValue::as_bytes);
    let refused = match (offered, chosen) {
        (None, None) => return Ok(()),
        (None, Some(_)) => SubProtocolError::ServerSentSubProtocolNoneRequested,
        (Some(_), None) => SubProtocolError::NoSubProtocol,
        (Some(offered), Some(chosen)) => {
            let mut names = offered.as_bytes().split(|&b| b == b',');
            if names.any(|n| n.trim_ascii() == chosen) {
                return Ok(());
            }
            SubProtocolError::InvalidSubProtocol
        }
    };
    Err(Error::Protocol(
        ProtocolError::SecWebSocketSubProtocolError(refused),
    ))
}

#[cfg(test)]
mod tests;
