//! An upstream refusal that echoes the injected credential never shows it to the browser, and
//! the browser always gets JSON.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::*;

/// How the fake answers: status, content type, and a body built from the credential header
/// value it received.
type Answer = (u16, &'static str, fn(&str) -> String);

/// A plain TCP upstream that refuses every handshake with `answer`, echoing what it was sent.
async fn refusing_upstream(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let credential = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        let k = k.to_ascii_lowercase();
                        (k == "authorization" || k == "cf-aig-authorization")
                            .then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                let (status, content_type, body) = answer;
                let body = body(&credential);
                let resp = format!(
                    "HTTP/1.1 {status} Refused\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(resp.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    format!("ws://{addr}")
}

fn no_secret(body: &str) {
    for part in [
        UPSTREAM_SECRET,
        "upstream-sec",
        "secret-9c2e",
        "upstream%2Dsecret",
    ] {
        assert!(
            !body
                .to_ascii_lowercase()
                .contains(&part.to_ascii_lowercase()),
            "{part} in {body}"
        );
    }
}

#[tokio::test]
async fn refusal_bodies_reach_the_client_as_json_without_the_credential() {
    let answers: [(&str, Answer); 5] = [
        (
            "text",
            (401, "text/plain", |c| format!("Invalid credentials: {c}\n")),
        ),
        (
            "json",
            (403, "application/json", |c| {
                serde_json::json!({"err_code": "INVALID_AUTH", "err_msg": format!("bad {c}"), "echo": [c]}).to_string()
            }),
        ),
        (
            "encoded",
            (400, "text/html", |c| {
                format!(
                    "<p>bad url ?key={}</p>",
                    c.replace(' ', "%20").replace('-', "%2D")
                )
            }),
        ),
        ("shouting", (401, "text/plain", |c| c.to_ascii_uppercase())),
        (
            "cut",
            (401, "text/plain", |c| {
                format!("key was {}", &c[..c.len() - 4])
            }),
        ),
    ];
    let offer = format!("token, {CLIENT_KEY}");
    for (name, answer) in answers {
        let base = refusing_upstream(answer).await;
        let app = TestApp::start(&config(&base)).await;
        for path in ["/v1/listen", "/cf/v1/listen"] {
            let resp = refusal(&app.ws(path), Some(&offer), &[]).await;
            assert_eq!(resp.status().as_u16(), answer.0, "{name} {path}");
            assert_eq!(resp.headers()["content-type"], "application/json", "{name}");
            let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
            no_secret(&body);
            let json: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}: {body}"));
            if name == "json" {
                assert_eq!(json["err_code"], "INVALID_AUTH", "{body}");
                assert!(
                    json["err_msg"].as_str().unwrap().contains("[redacted]"),
                    "{body}"
                );
            } else {
                assert_eq!(json["err_code"], "UPSTREAM_REJECTED", "{name}: {body}");
                assert_eq!(json["upstream_status"], answer.0, "{body}");
                assert!(json["request_id"].is_string(), "{body}");
                assert!(
                    json["err_msg"].as_str().unwrap().contains("[redacted]"),
                    "{name}: {body}"
                );
            }
        }
    }
    no_secret(&logs());
}
