//! `Origin` checks on the real handshake: one-label host wildcards, numeric port wildcards,
//! unparsable origins refused, patterns validated at load.

use crate::helpers::*;

fn origins_config(base: &str, origins: &str) -> String {
    config(base).replace(
        "force_params = { mip_opt_out = \"true\" }",
        &format!("force_params = {{ mip_opt_out = \"true\" }}\nallowed_origins = {origins}"),
    )
}

/// A raw upgrade request (so any header bytes can be sent); returns the status and body (none
/// after a 101, whose connection stays open).
async fn raw_upgrade(app: &TestApp, origins: &[&str]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut req = format!(
        "GET /v1/listen HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: token, {CLIENT_KEY}\r\n",
        app.addr
    )
    .into_bytes();
    for o in origins {
        req.extend_from_slice(format!("Origin: {o}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(&req).await.unwrap();
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let status: u16 = head[9..12].parse().unwrap();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if status == 101 || body.len() >= length || n == 0 {
                    return (status, body.to_owned());
                }
            }
            assert!(n > 0, "connection closed before a response");
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("response in time")
}

#[tokio::test]
async fn origin_wildcards_match_one_label_or_a_port_only() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = origins_config(
        &up.base(),
        r#"["http://localhost:*", "https://*.example.com"]"#,
    );
    let app = TestApp::start(&toml).await;
    let url = app.ws("/v1/listen");
    let offer = format!("token, {CLIENT_KEY}");
    for origin in [
        "http://localhost:1234",
        "http://localhost",
        "https://a.example.com",
        "https://App.Example.com",
    ] {
        connect(&url, Some(&offer), &[("origin", origin)])
            .await
            .expect(origin);
    }
    let refused_origins = [
        "http://localhost:1234.evil.com",
        "http://localhost:1234@evil.com",
        "https://a.b.example.com",
        "https://evil.com?.example.com",
        "https://example.com",
        "https://a.example.com.evil.com",
        "null",
    ];
    for origin in refused_origins {
        let (status, body) = refused(&url, Some(&offer), &[("origin", origin)]).await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert!(body.contains("ORIGIN_NOT_ALLOWED"), "{body}");
    }
    metric_eventually(
        &app,
        &format!(
            r#"reason="origin_not_allowed",route="listen"}} {}"#,
            refused_origins.len()
        ),
    )
    .await;
}

#[tokio::test]
async fn unparsable_origins_are_refused_not_taken_as_absent() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    // `*` admits every well-formed origin and no Origin is allowed: only parsing can refuse
    let app = TestApp::start(&origins_config(&up.base(), r#"["*"]"#)).await;
    let (status, _) = raw_upgrade(&app, &["https://app.example.com"]).await;
    assert_eq!(status, 101, "a well-formed origin passes");
    let (status, _) = raw_upgrade(&app, &[]).await;
    assert_eq!(status, 101, "no Origin passes (allow_missing_origin)");
    for bad in [
        &["https://äpp.example.com"][..],
        &["https://app.example.com/path"],
        &["app.example.com"],
        &["https://app.example.com", "https://evil.com"],
    ] {
        let (status, body) = raw_upgrade(&app, bad).await;
        assert_eq!(status, 403, "{bad:?}: {body}");
        assert!(body.contains("ORIGIN_NOT_ALLOWED"), "{body}");
    }
}

#[test]
fn misplaced_origin_wildcards_are_config_errors() {
    for pattern in [
        "http://local*host",
        "https://a.*.example.com",
        "https://*example.com",
        "https://app.example.com:8*",
        "https://app.example.com/",
    ] {
        let toml = origins_config("ws://127.0.0.1:9", &format!("[\"{pattern}\"]"));
        let err = voxrelay::config::from_toml(&toml).expect_err(pattern);
        let all = err.0.join("\n");
        assert!(
            all.contains("routes[0].allowed_origins[0]"),
            "{pattern}: {all}"
        );
    }
}
