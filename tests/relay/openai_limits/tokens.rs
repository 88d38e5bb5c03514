//! A voxrelay token's own caps on a `realtime` route, presented in OpenAI's browser form: its
//! concurrency cap refuses in OpenAI's shape, its session time limit closes with 1008.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use voxrelay::token::{Claims, GRANT_KID, now};

use super::*;

/// The HS256 secret these apps sign grants with.
const SIGNING_SECRET: &str = "realtime-signing-secret-0123456789abcdef";

/// A file holding [`SIGNING_SECRET`], written once (tests run in parallel).
fn signing_file() -> String {
    static FILE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let file = std::env::temp_dir().join(format!(
            "voxrelay-test-realtime-signing-{}",
            std::process::id()
        ));
        std::fs::write(&file, SIGNING_SECRET).unwrap();
        file.display().to_string()
    });
    FILE.clone()
}

/// A grant-style token for `tester` with these caps.
fn token(max_session_seconds: u64, max_concurrent_sessions: u32) -> String {
    let claims = Claims {
        sub: "tester".into(),
        exp: now() + 60,
        iss: "voxrelay".into(),
        aud: "voxrelay".into(),
        max_session_seconds: Some(max_session_seconds),
        max_concurrent_sessions: Some(max_concurrent_sessions),
        ..Claims::default()
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(GRANT_KID.into());
    let key = EncodingKey::from_secret(SIGNING_SECRET.as_bytes());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[tokio::test]
async fn a_tokens_concurrency_cap_and_session_limit_hold_on_a_realtime_route() {
    let tokens = format!("\n[tokens]\nsigning_secret_file = \"{}\"\n", signing_file());
    let app = relay("", |t| t + &tokens).await;
    let jwt = token(1, 1);
    let offer = format!("realtime, openai-insecure-api-key.{jwt}");
    let (mut ws, resp) = connect(&app.ws("/v1/realtime"), Some(&offer), &[])
        .await
        .expect("the token is accepted");
    assert_eq!(resp.headers()["sec-websocket-protocol"], "realtime");
    let created = event(&mut ws).await;
    assert_eq!(created["type"], "session.created", "{created}");
    let (status, body, _) = refused_offering(&app, &offer).await;
    assert_eq!(status, 429, "{body}");
    let message = openai_error(&body, "requests", "rate_limit_exceeded");
    assert!(message.contains("client session limit of 1"), "{body}");
    assert!(!body.to_string().contains(&jwt), "{body}");
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1008, "session time limit of 1s reached".to_owned()))
    );
    let m = metric_eventually(
        &app,
        r#"voxrelay_sessions_total{outcome="time_limit",route="realtime",upstream="oa"} 1"#,
    )
    .await;
    assert!(!m.contains(&jwt), "no token in metrics");
}
