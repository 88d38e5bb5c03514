use axum::http::Request;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::*;

/// The key of RFC 6455's sample handshake (section 1.3).
const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// Its accept value, as the RFC gives it (SHA-1 of the key and the GUID, in base64).
const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A browser's upgrade headers.
const BROWSER: [(&str, &str); 4] = [
    ("connection", "keep-alive, Upgrade"),
    ("upgrade", "websocket"),
    ("sec-websocket-version", "13"),
    ("sec-websocket-key", SAMPLE_KEY),
];

/// A request head with `headers` and a pending (never completed) upgrade.
fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
    let mut request = Request::builder().method(method).uri("/v1/listen");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    parts
        .extensions
        .insert(hyper::upgrade::on(Request::new(())));
    parts
}

/// The browser's headers with `name` replaced by `value` (or dropped when `None`).
fn browser_with(name: &str, value: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    let mut headers: Vec<_> = BROWSER.into_iter().filter(|(n, _)| *n != name).collect();
    if let Some(value) = value {
        let name = BROWSER.iter().find(|(n, _)| *n == name).unwrap().0;
        headers.push((name, value));
    }
    headers
}

fn check(method: Method, headers: &[(&str, &str)]) -> Result<ClientUpgrade, UpgradeRejection> {
    ClientUpgrade::from_parts(&mut parts(method, headers))
}

#[test]
fn a_browsers_upgrade_is_accepted() {
    assert!(check(Method::GET, &BROWSER).is_ok());
    let shouted = browser_with("upgrade", Some("WebSocket"));
    assert!(check(Method::GET, &shouted).is_ok());
    let bare = browser_with("connection", Some("upgrade"));
    assert!(check(Method::GET, &bare).is_ok());
}

#[test]
fn another_method_is_the_method_error_whatever_the_headers() {
    assert_eq!(
        check(Method::POST, &BROWSER).unwrap_err(),
        UpgradeRejection::MethodNotGet
    );
    assert_eq!(
        check(Method::PUT, &[]).unwrap_err(),
        UpgradeRejection::MethodNotGet
    );
    assert_eq!(
        UpgradeRejection::MethodNotGet.into_response().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn each_missing_or_wrong_header_is_refused() {
    let cases = [
        (
            browser_with("connection", None),
            UpgradeRejection::Connection,
        ),
        (
            browser_with("connection", Some("keep-alive")),
            UpgradeRejection::Connection,
        ),
        (browser_with("upgrade", None), UpgradeRejection::Upgrade),
        (
            browser_with("upgrade", Some("h2c")),
            UpgradeRejection::Upgrade,
        ),
        (
            browser_with("sec-websocket-key", None),
            UpgradeRejection::KeyMissing,
        ),
        (
            browser_with("sec-websocket-version", None),
            UpgradeRejection::Version,
        ),
        (
            browser_with("sec-websocket-version", Some("8")),
            UpgradeRejection::Version,
        ),
    ];
    for (headers, expected) in cases {
        assert_eq!(
            check(Method::GET, &headers).unwrap_err(),
            expected,
            "{headers:?}"
        );
    }
}

#[test]
fn a_request_without_a_pending_upgrade_is_not_upgradable() {
    let mut parts = parts(Method::GET, &BROWSER);
    parts.extensions.clear();
    let refused = ClientUpgrade::from_parts(&mut parts).unwrap_err();
    assert_eq!(refused, UpgradeRejection::NotUpgradable);
    assert_eq!(
        refused.into_response().status(),
        StatusCode::UPGRADE_REQUIRED
    );
}

#[test]
fn http2_and_later_are_refused() {
    let mut parts = parts(Method::CONNECT, &BROWSER);
    parts.version = Version::HTTP_2;
    let refused = ClientUpgrade::from_parts(&mut parts).unwrap_err();
    assert_eq!(refused, UpgradeRejection::HttpVersion);
}

/// The 101 for `offered` subprotocols when the server chooses among `protocols`.
fn answer(offered: Option<&str>, protocols: &[&str]) -> Response {
    let mut headers = BROWSER.to_vec();
    headers.extend(offered.map(|o| ("sec-websocket-protocol", o)));
    check(Method::GET, &headers)
        .unwrap()
        .protocols(protocols)
        .on_upgrade(|_| async {})
}

fn echoed(response: &Response) -> Option<&str> {
    let protocol = response.headers().get(SEC_WEBSOCKET_PROTOCOL)?;
    Some(protocol.to_str().unwrap())
}

#[tokio::test]
async fn the_101_carries_the_rfc_accept_key() {
    let response = answer(None, &[]);
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers();
    assert_eq!(headers[SEC_WEBSOCKET_ACCEPT], SAMPLE_ACCEPT);
    assert_eq!(headers[CONNECTION], "upgrade");
    assert_eq!(headers[UPGRADE], "websocket");
    assert_eq!(echoed(&response), None);
}

#[tokio::test]
async fn the_first_chosen_protocol_the_client_offered_is_echoed() {
    assert_eq!(
        echoed(&answer(Some("token, abc"), &["token"])),
        Some("token")
    );
    assert_eq!(echoed(&answer(Some("a, b"), &["b", "a"])), Some("b"));
    assert_eq!(echoed(&answer(Some("a, b"), &["c", "a"])), Some("a"));
    assert_eq!(echoed(&answer(Some("token, abc"), &["bearer"])), None);
    assert_eq!(echoed(&answer(Some("token, abc"), &[])), None);
    assert_eq!(echoed(&answer(None, &["token"])), None);
    // the match is exact, as the echo must be one of the offered values
    assert_eq!(echoed(&answer(Some("Token"), &["token"])), None);
}

/// A real HTTP/1.1 connection: the client's handshake completes and the session gets the raw
/// upgraded connection, on which a server-role WebSocket echoes a message.
#[tokio::test]
async fn the_session_gets_the_upgraded_connection() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let service = hyper::service::service_fn(|request: Request<hyper::body::Incoming>| async {
        let (mut parts, _body) = request.into_parts();
        let response = match ClientUpgrade::from_parts(&mut parts) {
            Ok(upgrade) => upgrade.protocols(["token"]).on_upgrade(|io| async {
                let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
                if let Some(Ok(message)) = ws.next().await {
                    let _ = ws.send(message).await;
                }
                let _ = ws.close(None).await;
            }),
            Err(refused) => refused.into_response(),
        };
        Ok::<_, std::convert::Infallible>(response)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(server_io), service)
        .with_upgrades();
    tokio::spawn(connection);
    let mut request = "ws://localhost/v1/listen".into_client_request().unwrap();
    let offer = HeaderValue::from_static("token, abc");
    request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, offer);
    let (mut ws, response) = tokio_tungstenite::client_async(request, client_io)
        .await
        .unwrap();
    assert_eq!(response.headers()[SEC_WEBSOCKET_PROTOCOL], "token");
    ws.send(Message::Text("hello".into())).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed, Message::Text("hello".into()));
}
