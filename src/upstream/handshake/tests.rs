use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::ReadBuf;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::*;
use crate::upstream::{UpstreamConnector, UpstreamError, tls_config};

/// The credential every test request carries, which no error may show.
const SECRET: &str = "s3cret-upstream-key";
/// A text frame `hello` as a server sends it (unmasked).
const HELLO_FRAME: &[u8] = b"\x81\x05hello";

/// A request for `url` carrying the credential in a header and the query.
fn request(url: &str) -> Request {
    let mut req = format!("{url}/v1/listen?model=nova&token={SECRET}")
        .into_client_request()
        .unwrap();
    let value = HeaderValue::from_str(&format!("Token {SECRET}")).unwrap();
    req.headers_mut().insert("authorization", value);
    req
}

fn connector(tls: Arc<ClientConfig>) -> UpstreamConnector {
    UpstreamConnector::new(tls, WebSocketConfig::default(), Duration::from_secs(5))
}

fn webpki() -> Arc<ClientConfig> {
    tls_config(None).unwrap()
}

/// A `101` head accepting `key`.
fn accept(key: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    )
}

/// A plain TCP upstream for one connection: reads the request head, writes `answer`'s pieces
/// for the request's key (one write each), shuts its side if `close`, and holds the
/// connection until the client drops it. Yields the request head it read.
async fn raw_upstream(
    answer: impl FnOnce(&str) -> Vec<Vec<u8>> + Send + 'static,
    close: bool,
) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).await.unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap_or_default();
        for piece in answer(key) {
            if tcp.write_all(&piece).await.is_err() {
                break;
            }
        }
        if close {
            let _ = tcp.shutdown().await;
        }
        let _ = tcp.read_to_end(&mut Vec::new()).await;
        head
    });
    (url, task)
}

/// The body of an [`Error::Http`].
fn refusal(result: Result<Opened, Error>) -> (StatusCode, HeaderMap, Vec<u8>) {
    match result {
        Err(Error::Http(resp)) => {
            let (parts, body) = resp.into_parts();
            (parts.status, parts.headers, body.unwrap())
        }
        Err(other) => panic!("not an HTTP refusal: {other}"),
        Ok(_) => panic!("not refused"),
    }
}

fn error_text(result: Result<Opened, Error>) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(_) => panic!("not refused"),
    }
}

#[tokio::test]
async fn a_frame_sent_with_the_101_is_leftover_and_the_first_message() {
    let (url, head) = raw_upstream(
        |key| vec![[accept(key).as_bytes(), HELLO_FRAME].concat()],
        false,
    )
    .await;
    let opened = open(request(&url), &webpki()).await.unwrap();
    assert_eq!(opened.response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(opened.response.body(), &None);
    assert_eq!(opened.leftover, HELLO_FRAME);
    let mut ws =
        WebSocketStream::from_partially_read(opened.stream, opened.leftover, Role::Client, None)
            .await;
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    drop(ws);

    let head = head.await.unwrap();
    let port = url.rsplit(':').next().unwrap();
    assert!(
        head.starts_with(&format!(
            "GET /v1/listen?model=nova&token={SECRET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        )),
        "{head}"
    );
    for line in [
        "Connection: Upgrade\r\n",
        "Upgrade: websocket\r\n",
        "Sec-WebSocket-Version: 13\r\n",
        &format!("authorization: Token {SECRET}\r\n"),
    ] {
        assert_eq!(head.matches(line).count(), 1, "{line} in {head}");
    }
}

#[tokio::test]
async fn connect_reads_the_frame_sent_with_the_101_first() {
    let (url, _) = raw_upstream(
        |key| vec![[accept(key).as_bytes(), HELLO_FRAME].concat()],
        false,
    )
    .await;
    let (mut ws, response) = connector(webpki())
        .connect(request(&url), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
}

#[tokio::test]
async fn a_head_split_over_several_writes_is_read_whole() {
    let (url, _) = raw_upstream(
        |key| {
            let head = accept(key).into_bytes();
            let (a, rest) = head.split_at(3);
            let (b, c) = rest.split_at(rest.len() - 1);
            vec![a.to_vec(), b.to_vec(), [c, HELLO_FRAME].concat()]
        },
        false,
    )
    .await;
    let (mut ws, _) = connector(webpki())
        .connect(request(&url), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
}

/// Hands out its bytes one per read.
struct Trickle<'a>(&'a [u8]);

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some((&first, rest)) = self.0.split_first() {
            buf.put_slice(&[first]);
            self.0 = rest;
        }
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_head_read_one_byte_at_a_time_is_whole() {
    let wire = [accept("dGhlIHNhbXBsZSBub25jZQ==").as_bytes(), b"\x81"].concat();
    let mut reader = Trickle(&wire);
    let (response, leftover) = read_head(&mut reader).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        response.headers()[SEC_WEBSOCKET_ACCEPT],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert!(leftover.is_empty());
    assert_eq!(reader.0, b"\x81");

    let mut cut = Trickle(b"HTTP/1.1 101 Switching");
    let e = read_head(&mut cut).await.unwrap_err().to_string();
    assert!(e.contains("closed before a whole response head"), "{e}");
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let pad = format!("x-pad: {}\r\n", "a".repeat(6000));
    let unfinished = format!("HTTP/1.1 101 Switching Protocols\r\n{}", pad.repeat(3));
    let finished = format!("{unfinished}\r\n");
    for (answer, close) in [(unfinished, false), (finished, true)] {
        let (url, _) = raw_upstream(move |_| vec![answer.into_bytes()], close).await;
        let e = error_text(open(request(&url), &webpki()).await);
        assert!(e.contains("response head over 16384 bytes"), "{e}");
        assert!(!e.contains(SECRET), "{e}");
    }
}

#[tokio::test]
async fn a_wrong_accept_key_is_refused() {
    let (url, _) = raw_upstream(
        |_| vec![accept("not the request's key").into_bytes()],
        false,
    )
    .await;
    let result = open(request(&url), &webpki()).await;
    assert!(
        matches!(
            result,
            Err(Error::Protocol(
                ProtocolError::SecWebSocketAcceptKeyMismatch
            ))
        ),
        "{}",
        error_text(result)
    );
}

#[test]
fn a_101_needs_upgrade_connection_accept_and_an_offered_subprotocol() {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let good = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut h = HeaderMap::new();
        for &(k, v) in pairs {
            h.append(k, HeaderValue::from_str(v).unwrap());
        }
        h
    };
    let base = [
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, UPGRADE"),
        ("sec-websocket-accept", good),
    ];
    assert!(verify(&headers(&base), key, None).is_ok());
    let offer = HeaderValue::from_static("token, abc");
    let chose = |p: &'static str| [&base[..], &[("sec-websocket-protocol", p)]].concat();
    assert!(verify(&headers(&chose("token")), key, Some(&offer)).is_ok());

    let refused = [
        (headers(&base[1..]), None),
        (
            headers(&[base[0], ("connection", "keep-alive"), base[2]]),
            None,
        ),
        (
            headers(&[base[0], base[1], ("sec-websocket-accept", "x")]),
            None,
        ),
        (headers(&base[..2]), None),
        (headers(&base), Some(&offer)),
        (headers(&chose("other")), Some(&offer)),
        (headers(&chose("token")), None),
    ];
    for (h, offered) in refused {
        assert!(verify(&h, key, offered).is_err(), "{h:?} {offered:?}");
    }
}

#[tokio::test]
async fn a_401_with_a_json_body_is_http_with_status_and_body() {
    let json = r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}"#;
    let (url, _) = raw_upstream(
        move |_| {
            let head = format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                json.len()
            );
            vec![head.into_bytes(), json.as_bytes().to_vec()]
        },
        false,
    )
    .await;
    let (status, headers, body) = refusal(open(request(&url), &webpki()).await);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, json.as_bytes());
}

#[tokio::test]
async fn the_connector_turns_a_refusal_into_rejected() {
    let (url, _) = raw_upstream(
        |_| vec![b"HTTP/1.1 503 Busy\r\nContent-Type: text/plain\r\n\r\ntry later".to_vec()],
        true,
    )
    .await;
    let e = connector(webpki())
        .connect_raw(request(&url), Duration::from_secs(5))
        .await
        .err()
        .unwrap();
    let UpstreamError::Rejected {
        status,
        content_type,
        body,
    } = e
    else {
        panic!("{e}");
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(content_type.unwrap(), "text/plain");
    assert_eq!(&body[..], b"try later");
}

#[tokio::test]
async fn refusal_bodies_end_where_their_framing_says_without_waiting_for_close() {
    let big = "x".repeat(MAX_ERROR_BODY + 4000);
    let answers: [(&str, String, &[u8]); 2] = [
        (
            "Transfer-Encoding: chunked",
            "4\r\nbusy\r\n7;ext=1\r\n, later\r\n0\r\n\r\n".to_owned(),
            b"busy, later",
        ),
        ("Content-Length: 100000", big, &[b'x'; MAX_ERROR_BODY]),
    ];
    for (framing, body, want) in answers {
        let (url, _) = raw_upstream(
            move |_| {
                let head = format!("HTTP/1.1 429 Too Many\r\n{framing}\r\n\r\n");
                vec![head.into_bytes(), body.into_bytes()]
            },
            false,
        )
        .await;
        let (status, _, got) = refusal(open(request(&url), &webpki()).await);
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(got, want, "{framing}");
    }
}

#[test]
fn chunked_bodies_are_decoded_as_far_as_they_go() {
    assert_eq!(dechunk(b""), (Vec::new(), false));
    assert_eq!(dechunk(b"3\r\nab"), (b"ab".to_vec(), false));
    assert_eq!(dechunk(b"3\r\nabc\r"), (b"abc".to_vec(), false));
    assert_eq!(
        dechunk(b"3\r\nabc\r\n2\r\nde\r\n"),
        (b"abcde".to_vec(), false)
    );
    assert_eq!(dechunk(b"3\r\nabc\r\n0\r\n\r\n"), (b"abc".to_vec(), true));
    assert_eq!(dechunk(b"zz\r\nabc"), (Vec::new(), true));
    assert_eq!(dechunk(b"ffffffffffffff\r\nabc"), (b"abc".to_vec(), false));
    let huge = [b"4001\r\n".as_slice(), &[b'y'; 0x4001]].concat();
    assert_eq!(dechunk(&huge), (vec![b'y'; MAX_ERROR_BODY], true));
}

#[test]
fn the_framing_follows_status_and_headers() {
    let framing = |status: u16, pairs: &[(&'static str, &'static str)]| {
        let mut resp = Response::new(None);
        *resp.status_mut() = StatusCode::from_u16(status).unwrap();
        for &(k, v) in pairs {
            resp.headers_mut().append(k, HeaderValue::from_static(v));
        }
        Framing::of(&resp)
    };
    assert_eq!(framing(204, &[("content-length", "5")]), Framing::Empty);
    assert_eq!(
        framing(401, &[("content-length", " 12 ")]),
        Framing::Length(12)
    );
    assert_eq!(framing(401, &[("content-length", "x")]), Framing::Close);
    assert_eq!(framing(401, &[]), Framing::Close);
    let chunked = [
        ("transfer-encoding", "gzip, Chunked"),
        ("content-length", "3"),
    ];
    assert_eq!(framing(500, &chunked), Framing::Chunked);
    assert_eq!(
        framing(500, &[("transfer-encoding", "gzip")]),
        Framing::Close
    );
}

#[tokio::test]
async fn unreachable_errors_name_the_address_and_never_the_credential() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = connector(webpki())
        .connect_raw(request(&format!("ws://{addr}")), Duration::from_secs(5))
        .await
        .err()
        .unwrap();
    let UpstreamError::Unreachable(text) = &e else {
        panic!("{e}");
    };
    assert!(text.contains(&format!("connecting to {addr}")), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

/// A private CA and a `wss` echo server for `localhost` and `127.0.0.1` whose certificate it
/// signed: the server's port and a client config trusting only that CA.
async fn tls_echo_upstream() -> (u16, Arc<ClientConfig>) {
    let crate::tls::TestCa { ca, leaf, leaf_key } =
        crate::tls::TestCa::new(&["localhost", "127.0.0.1"]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() && ws.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, Arc::new(client))
}

#[tokio::test]
async fn wss_by_name_and_by_ip_literal_relays_and_an_untrusted_ca_is_unreachable() {
    let (port, tls) = tls_echo_upstream().await;
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("wss://{host}:{port}");
        let (mut ws, _) = connector(tls.clone())
            .connect(request(&url), Duration::from_secs(5))
            .await
            .unwrap();
        ws.send(Message::text(host)).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(host));
    }
    let e = connector(webpki())
        .connect_raw(
            request(&format!("wss://localhost:{port}")),
            Duration::from_secs(5),
        )
        .await
        .err()
        .unwrap();
    let UpstreamError::Unreachable(text) = &e else {
        panic!("{e}");
    };
    assert!(
        text.contains(&format!("TLS with localhost:{port}")),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}
