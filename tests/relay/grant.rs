//! The grant endpoint's front door: rate and credential checked from the headers before the body
//! is read, the body deadline and size cap, JSON-object bodies, `Cache-Control: no-store`, 405.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::front::{err, grant_head, response};
use crate::helpers::*;

#[tokio::test]
async fn a_grant_without_credentials_is_refused_before_its_body_arrives() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    for auth in [None, Some("Token wrong-key")] {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        // the body is promised and never sent
        tcp.write_all(grant_head(auth, 100).as_bytes())
            .await
            .unwrap();
        let (status, head, body) = response(&mut tcp).await;
        assert_eq!(status, 401, "{auth:?}");
        assert!(head.contains("cache-control: no-store"), "{head}");
        assert_eq!(err(&body)["err_code"], "INVALID_AUTH");
    }
}

#[tokio::test]
async fn a_rate_limited_grant_is_refused_before_its_body_arrives() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let limits = "\n[limits]\nhandshakes_per_second_per_ip = 1\nhandshake_burst_per_ip = 1\n";
    let app = TestApp::start(&(config(&up.base()) + limits)).await;
    let auth = format!("Token {CLIENT_KEY}");
    let (status, _, _) = http(
        app.addr,
        "POST",
        "/v1/auth/grant",
        &[("authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(grant_head(Some(&auth), 100).as_bytes())
        .await
        .unwrap();
    let (status, head, _) = response(&mut tcp).await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after"), "{head}");
}

#[tokio::test]
async fn a_grant_body_that_never_arrives_gets_408_after_the_deadline() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace(
        "close_timeout = \"1s\"",
        "close_timeout = \"1s\"\nrequest_body_timeout = \"300ms\"",
    );
    let app = TestApp::start(&toml).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let auth = format!("Token {CLIENT_KEY}");
    tcp.write_all(grant_head(Some(&auth), 50).as_bytes())
        .await
        .unwrap();
    tcp.write_all(b"{\"ttl_se").await.unwrap();
    let (status, head, body) = response(&mut tcp).await;
    assert_eq!(status, 408);
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert_eq!(err(&body)["err_code"], "REQUEST_TIMEOUT");
    metric_eventually(&app, r#"{reason="body_timeout",route="grant"} 1"#).await;
}

#[tokio::test]
async fn an_oversized_grant_body_gets_413() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let auth = format!("Token {CLIENT_KEY}");
    // declared too large: refused without reading
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(grant_head(Some(&auth), 100_000).as_bytes())
        .await
        .unwrap();
    let (status, _, body) = response(&mut tcp).await;
    assert_eq!(status, 413);
    assert_eq!(err(&body)["err_code"], "PAYLOAD_TOO_LARGE");
    // chunked, so only reading finds out
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /v1/auth/grant HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("1400\r\n{}\r\n", " ".repeat(0x1400));
    tcp.write_all(chunk.as_bytes()).await.unwrap();
    let (status, _, _) = response(&mut tcp).await;
    assert_eq!(status, 413);
    metric_eventually(&app, r#"{reason="body_too_large",route="grant"} 2"#).await;
}

#[tokio::test]
async fn grant_bodies_must_be_json_objects_and_every_answer_is_no_store() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let auth = format!("Token {CLIENT_KEY}");
    let headers = [("authorization", auth.as_str())];
    for body in [
        "[]",
        "\"x\"",
        "5",
        "null",
        "true",
        "[{\"ttl_seconds\": 30}]",
    ] {
        let (status, head, text) = http(app.addr, "POST", "/v1/auth/grant", &headers, body).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("cache-control: no-store")
        );
        assert_eq!(err(&text)["err_code"], "BAD_REQUEST", "{body}");
    }
    let (status, head, text) = http(
        app.addr,
        "POST",
        "/v1/auth/grant",
        &headers,
        "{\"ttl_seconds\": 60}",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{head}"
    );
}

#[tokio::test]
async fn other_methods_on_the_grant_path_get_405_json_with_allow() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    for method in ["GET", "PUT", "DELETE"] {
        let (status, head, body) = http(app.addr, method, "/v1/auth/grant", &[], "").await;
        assert_eq!(status, 405, "{method}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("allow: post"), "{head}");
        assert!(head.contains("cache-control: no-store"), "{head}");
        assert_eq!(err(&body)["err_code"], "METHOD_NOT_ALLOWED");
    }
}
