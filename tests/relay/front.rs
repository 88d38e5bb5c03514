//! The front door: the per-IP connection cap, the request head cap, the client IP behind proxies,
//! and the separate metrics listener; plus raw-socket helpers the grant tests share.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::*;

/// A TCP connection to `addr` from the loopback address `from` (e.g. `127.0.0.2`), so a test
/// can be a client IP of its own.
pub async fn tcp_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads one whole response (the server closes after it, or it has a Content-Length): status,
/// head, body.
pub async fn response(tcp: &mut TcpStream) -> (u16, String, String) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            });
            if len.is_some_and(|len| body.len() >= len) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.len() >= 12, "an HTTP response, got {text:?}");
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A grant request's head promising a body of `length` bytes.
pub fn grant_head(auth: Option<&str>, length: usize) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /v1/auth/grant HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
}

pub fn err(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body, got {body:?}"))
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_get_429_at_once_and_websockets_count() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app =
        TestApp::start(&(config(&up.base()) + "\n[limits]\nmax_connections_per_ip = 3\n")).await;
    // three sessions from 127.0.0.2 hold its three places after their upgrade
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let tcp = tcp_from("127.0.0.2", app.addr).await;
        let mut req = app.ws("/v1/listen").into_client_request().unwrap();
        let offer = HeaderValue::from_str(&format!("token, {CLIENT_KEY}")).unwrap();
        req.headers_mut().insert("sec-websocket-protocol", offer);
        let (ws, _) = tokio_tungstenite::client_async(req, tcp)
            .await
            .expect("under the cap");
        sessions.push(ws);
    }
    let mut fourth = tcp_from("127.0.0.2", app.addr).await;
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, head, body) = response(&mut fourth).await;
    assert_eq!(status, 429);
    assert!(head.contains("application/json"), "{head}");
    let body = err(&body);
    assert_eq!(body["err_code"], "TOO_MANY_REQUESTS");
    assert!(
        body["err_msg"]
            .as_str()
            .unwrap()
            .contains("limits.max_connections_per_ip = 3")
    );
    // another address is not affected, and the refusal is counted
    assert_eq!(app.get("/healthz").await.0, 200);
    metric_eventually(&app, r#"{reason="connection_limit",route="none"} 1"#).await;
    // closing a session gives its place back
    sessions.pop();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut tcp = tcp_from("127.0.0.2", app.addr).await;
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        if response(&mut tcp).await.0 == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never given back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn trusted_proxies_are_exempt_from_the_connection_cap() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let limits = "\n[limits]\nmax_connections_per_ip = 1\ntrusted_proxies = [\"127.0.0.0/8\"]\n";
    let app = TestApp::start(&(config(&up.base()) + limits)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tcp_from("127.0.0.3", app.addr).await);
    }
    assert_eq!(app.get("/healthz").await.0, 200);
    let mut tcp = tcp_from("127.0.0.3", app.addr).await;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(response(&mut tcp).await.0, 200);
}

#[tokio::test]
async fn a_64_kib_request_head_gets_431_and_normal_handshakes_still_work() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "GET /v1/listen HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (status, _, _) = response(&mut tcp).await;
    assert_eq!(status, 431);
    metric_eventually(&app, r#"{reason="request_head_too_large",route="none"} 1"#).await;
    // a head just under the default 16 KiB passes
    let big = "b".repeat(12 * 1024);
    let offer = format!("token, {CLIENT_KEY}");
    connect(&app.ws("/v1/listen"), Some(&offer), &[("x-padding", &big)])
        .await
        .expect("a 12 KiB head is accepted");
    connect_ok(&app.ws("/v1/listen")).await;
}

#[tokio::test]
async fn rotating_a_client_forwarded_header_behind_a_proxy_mints_no_fresh_buckets() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let limits = "\n[limits]\nhandshakes_per_second_per_ip = 1\nhandshake_burst_per_ip = 1\ntrusted_proxies = [\"127.0.0.0/8\"]\n";
    let app = TestApp::start(&(config(&up.base()) + limits)).await;
    let offer = format!("token, {CLIENT_KEY}");
    let url = app.ws("/v1/listen");
    let xff = ("x-forwarded-for", "203.0.113.50");
    connect(
        &url,
        Some(&offer),
        &[("forwarded", "for=198.51.100.1"), xff],
    )
    .await
    .expect("first handshake");
    for i in 2..6 {
        let forged = format!("for=198.51.100.{i}");
        let (status, _) = refused(&url, Some(&offer), &[("forwarded", &forged), xff]).await;
        assert_eq!(
            status, 429,
            "forged Forwarded {forged} must not open a new bucket"
        );
    }
}

#[tokio::test]
async fn ipv6_clients_behind_a_proxy_share_a_bucket_per_64() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let limits = "\n[limits]\nhandshakes_per_second_per_ip = 1\nhandshake_burst_per_ip = 1\ntrusted_proxies = [\"127.0.0.0/8\"]\n";
    let app = TestApp::start(&(config(&up.base()) + limits)).await;
    let offer = format!("token, {CLIENT_KEY}");
    let url = app.ws("/v1/listen");
    connect(
        &url,
        Some(&offer),
        &[("x-forwarded-for", "2001:db8:7:1::1")],
    )
    .await
    .expect("first address of the /64");
    let (status, _) = refused(
        &url,
        Some(&offer),
        &[("x-forwarded-for", "2001:db8:7:1::2")],
    )
    .await;
    assert_eq!(status, 429, "same /64, same bucket");
    connect(
        &url,
        Some(&offer),
        &[("x-forwarded-for", "2001:db8:7:2::1")],
    )
    .await
    .expect("another /64 has its own bucket");
}

#[tokio::test]
async fn a_metrics_listener_serves_metrics_and_the_public_port_no_longer_does() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()) + "\n[metrics]\nlisten = \"127.0.0.1:0\"\n";
    let settings = voxrelay::config::from_toml(&toml).unwrap();
    let app = voxrelay::App::build(settings).await.unwrap();
    let public = app.local_addr();
    let metrics = app.metrics_addr().expect("a metrics listener");
    assert_ne!(public, metrics);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let (status, body) = http_get(metrics, "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("voxrelay_sessions_limit"), "{body}");
    let (status, body) = http_get(public, "/metrics", &[]).await;
    assert_eq!(status, 404);
    assert_eq!(err(&body)["err_code"], "NOT_FOUND");
    assert_eq!(http_get(metrics, "/healthz", &[]).await.0, 404);
    assert_eq!(http_get(public, "/healthz", &[]).await.0, 200);
    // the public 404 for /metrics is counted, and shows on the metrics port
    let (_, body) = http_get(metrics, "/metrics", &[]).await;
    assert!(
        body.contains(r#"{reason="not_found",route="none"}"#),
        "{body}"
    );
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn without_a_metrics_listener_the_public_port_serves_metrics() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (status, body) = app.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("voxrelay_sessions_limit"));
}
