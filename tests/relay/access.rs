//! Access control: grants and JWTs, narrowing, origins, caps, rate limits, session time limits.

use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tokio_tungstenite::tungstenite::Message;
use voxrelay::token::{Claims, GRANT_KID, now};

use crate::helpers::*;

/// The HS256 secret the access-test apps sign grants with.
const SIGNING_SECRET: &str = "test-signing-secret-0123456789abcdef";

/// The standard config plus a known signing secret, no leeway, and `extra` appended.
fn access_config(up: &FakeUpstream, extra: &str) -> String {
    // written once: tests run in parallel and must never see a half-written file
    static FILE: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| {
        let file =
            std::env::temp_dir().join(format!("voxrelay-test-signing-{}", std::process::id()));
        std::fs::write(&file, SIGNING_SECRET).unwrap();
        file
    });
    let file = &*FILE;
    format!(
        "{}\n[tokens]\nleeway = \"0s\"\nsigning_secret_file = \"{}\"\n{extra}",
        config(&up.base()),
        file.display()
    )
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: now() + 60,
        iss: "voxrelay".into(),
        aud: "voxrelay".into(),
        ..Claims::default()
    }
}

fn sign(c: &Claims) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(GRANT_KID.into());
    jsonwebtoken::encode(
        &header,
        c,
        &EncodingKey::from_secret(SIGNING_SECRET.as_bytes()),
    )
    .unwrap()
}

async fn grant(app: &TestApp, auth: &str, body: &str) -> (u16, serde_json::Value) {
    let headers = [
        ("authorization", auth),
        ("content-type", "application/json"),
    ];
    let (status, _, body) = http(app.addr, "POST", "/v1/auth/grant", &headers, body).await;
    (status, serde_json::from_str(&body).unwrap_or_default())
}

async fn bearer(app: &TestApp, path: &str, jwt: &str) -> Result<Client, (u16, String)> {
    match connect(&app.ws(path), Some(&format!("bearer, {jwt}")), &[]).await {
        Ok((ws, resp)) => {
            assert_eq!(resp.headers()["sec-websocket-protocol"], "bearer");
            Ok(ws)
        }
        Err(_) => Err(refused(&app.ws(path), Some(&format!("bearer, {jwt}")), &[]).await),
    }
}

#[tokio::test]
async fn grant_then_bearer_connect_works_like_deepgram() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&access_config(&up, "")).await;
    let (status, body) = grant(&app, &format!("Token {CLIENT_KEY}"), "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 30);
    let jwt = body["access_token"].as_str().unwrap().to_owned();
    let mut ws = bearer(&app, "/v1/listen", &jwt)
        .await
        .expect("the grant is accepted");
    ws.send(Message::Text("with a grant".into())).await.unwrap();
    assert_eq!(
        recv_data(&mut ws).await,
        Some(Message::Text("with a grant".into()))
    );
    // server-side clients send the same token as a header
    let auth = format!("Bearer {jwt}");
    connect(&app.ws("/v1/listen"), None, &[("authorization", &auth)])
        .await
        .unwrap();
    let (status, body) = grant(
        &app,
        &format!("Token {CLIENT_KEY}"),
        r#"{"ttl_seconds": 120}"#,
    )
    .await;
    assert_eq!((status, body["expires_in"].as_u64()), (200, Some(120)));
    assert!(app.metrics().await.contains("voxrelay_grants_total 2"));
    assert!(!logs().contains(&jwt), "a JWT reached the logs");
}

#[tokio::test]
async fn grant_refuses_bad_credentials_and_oversize_ttl() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&access_config(&up, "")).await;
    let (status, body) = grant(&app, "Token wrong-key", "").await;
    assert_eq!(
        (status, body["err_code"].as_str()),
        (401, Some("INVALID_AUTH"))
    );
    let (status, _) = grant(&app, "", "").await;
    assert_eq!(status, 401);
    // a token cannot mint another token
    let jwt = sign(&claims("tester"));
    assert_eq!(grant(&app, &format!("Bearer {jwt}"), "").await.0, 401);
    let (status, body) = grant(
        &app,
        &format!("Token {CLIENT_KEY}"),
        r#"{"ttl_seconds": 99999}"#,
    )
    .await;
    assert_eq!(
        (status, body["err_code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    assert!(body["err_msg"].as_str().unwrap().contains("3600"));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"{reason="invalid_credentials",route="grant"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"{reason="bad_grant_request",route="grant"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&access_config(&up, "")).await;
    let mut expired = claims("tester");
    expired.exp = now() - 5;
    let mut early = claims("tester");
    early.nbf = Some(now() + 600);
    let mut audience = claims("tester");
    audience.aud = "another-service".into();
    let good = sign(&claims("tester"));
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged_body = sign(&{
        let mut c = claims("tester");
        c.routes = Some(vec!["listen".into(), "speak".into(), "admin".into()]);
        c
    });
    parts[1] = forged_body.split('.').nth(1).unwrap();
    let tampered = parts.join(".");
    let wrong_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("tester"),
        &EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap();
    let none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        good.split('.').nth(1).unwrap()
    );
    for (name, jwt) in [
        ("expired", sign(&expired)),
        ("not yet valid", sign(&early)),
        ("wrong audience", sign(&audience)),
        ("tampered", tampered),
        ("wrong key", wrong_key),
        ("alg none", none),
        ("unknown client", sign(&claims("nobody"))),
    ] {
        let (status, body) = bearer(&app, "/v1/listen", &jwt).await.expect_err(name);
        assert_eq!(status, 401, "{name}: {body}");
    }
    let metrics = app.metrics().await;
    for reason in [
        "token_expired",
        "token_not_yet_valid",
        "invalid_credentials",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\",route=\"listen\"")),
            "{reason}\n{metrics}"
        );
    }
}

#[tokio::test]
async fn tokens_narrow_routes_and_models() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&access_config(&up, "")).await;
    let mut speak_only = claims("tester");
    speak_only.routes = Some(vec!["speak".into()]);
    let jwt = sign(&speak_only);
    assert_eq!(bearer(&app, "/v1/listen", &jwt).await.err().unwrap().0, 403);
    bearer(&app, "/v1/speak", &jwt)
        .await
        .expect("speak is granted");
    // a token cannot widen its key: `speaker` is limited to speak whatever the token says
    let mut wide = claims("speaker");
    wide.routes = Some(vec!["listen".into(), "speak".into()]);
    assert_eq!(
        bearer(&app, "/v1/listen", &sign(&wide))
            .await
            .err()
            .unwrap()
            .0,
        403
    );
    let mut nova2 = claims("tester");
    nova2.models = Some(vec!["nova-2".into()]);
    let jwt = sign(&nova2);
    let (status, body) = bearer(&app, "/v1/listen?model=nova-3", &jwt)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 403, "{body}");
    bearer(&app, "/v1/listen?model=nova-2", &jwt)
        .await
        .expect("nova-2 is granted");
    assert!(
        app.metrics()
            .await
            .contains(r#"reason="model_not_granted""#)
    );
}

#[tokio::test]
async fn a_grant_replayed_after_expiry_is_refused() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&access_config(&up, "")).await;
    let (_, body) = grant(
        &app,
        &format!("Token {CLIENT_KEY}"),
        r#"{"ttl_seconds": 1}"#,
    )
    .await;
    let jwt = body["access_token"].as_str().unwrap().to_owned();
    bearer(&app, "/v1/listen", &jwt)
        .await
        .expect("fresh grant works");
    // expiry is wall-clock time in whole seconds: wait it out
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = bearer(&app, "/v1/listen", &jwt).await.expect_err("expired");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test]
async fn eddsa_tokens_from_a_backend_key_are_accepted() {
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let public = std::env::temp_dir().join(format!("voxrelay-test-ed-{}.pem", std::process::id()));
    std::fs::write(&public, ed.public_key_pem()).unwrap();
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let extra = format!(
        "[[tokens.keys]]\nalgorithm = \"EdDSA\"\nkid = \"backend\"\npublic_key_file = \"{}\"\nclients = [\"tester\"]\n",
        public.display()
    );
    let app = TestApp::start(&access_config(&up, &extra)).await;
    let key = EncodingKey::from_ed_pem(ed.serialize_pem().as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("backend".into());
    let jwt = jsonwebtoken::encode(&header, &claims("tester"), &key).unwrap();
    bearer(&app, "/v1/listen", &jwt)
        .await
        .expect("EdDSA token accepted");
    let other = jsonwebtoken::encode(&header, &claims("speaker"), &key).unwrap();
    assert_eq!(
        bearer(&app, "/v1/speak", &other).await.err().unwrap().0,
        401
    );
}

#[tokio::test]
async fn origins_outside_the_allowlist_are_refused_before_the_upgrade() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace(
        "force_params = { mip_opt_out = \"true\" }",
        "force_params = { mip_opt_out = \"true\" }\nallowed_origins = [\"https://app.example.com\", \"https://*.example.org\"]\nallow_missing_origin = false",
    );
    let app = TestApp::start(&toml).await;
    let url = app.ws("/v1/listen");
    let offer = format!("token, {CLIENT_KEY}");
    for origin in [
        "https://app.example.com",
        "https://a.example.org",
        "HTTPS://APP.EXAMPLE.COM",
    ] {
        connect(&url, Some(&offer), &[("origin", origin)])
            .await
            .expect(origin);
    }
    // a cross-site page holding a valid key still cannot open a session (CSWSH)
    for origin in [
        "https://evil.com",
        "https://example.org.evil.com",
        "http://app.example.com",
        "null",
    ] {
        let (status, body) = refused(&url, Some(&offer), &[("origin", origin)]).await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert!(body.contains("ORIGIN_NOT_ALLOWED"), "{body}");
    }
    let (status, _) = refused(&url, Some(&offer), &[]).await;
    assert_eq!(
        status, 403,
        "no Origin is refused when allow_missing_origin = false"
    );
    assert!(
        app.metrics()
            .await
            .contains(r#"reason="origin_not_allowed",route="listen"} 5"#)
    );
}

#[tokio::test]
async fn per_client_concurrent_sessions_are_capped() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace(
        "id = \"tester\"",
        "id = \"tester\"\nmax_concurrent_sessions = 2",
    );
    let app = TestApp::start(&toml).await;
    let (first, _) = connect_ok(&app.ws("/v1/listen")).await;
    let (_second, _) = connect_ok(&app.ws("/v1/listen")).await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("client session limit of 2"), "{body}");
    drop(first);
    metric_eventually(&app, r#"voxrelay_sessions_active{route="listen"} 1"#).await;
    connect_ok(&app.ws("/v1/listen")).await;
    assert!(
        app.metrics()
            .await
            .contains(r#"reason="client_session_limit""#)
    );
}

#[tokio::test]
async fn a_token_claim_tightens_the_concurrency_cap() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&access_config(&up, "")).await;
    let mut one = claims("tester");
    one.max_concurrent_sessions = Some(1);
    let jwt = sign(&one);
    let _held = bearer(&app, "/v1/listen", &jwt).await.unwrap();
    assert_eq!(bearer(&app, "/v1/listen", &jwt).await.err().unwrap().0, 429);
}

#[tokio::test]
async fn the_replica_session_cap_answers_503() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&format!(
        "{}\n[limits]\nmax_sessions = 1\n",
        config(&up.base())
    ))
    .await;
    let _held = connect_ok(&app.ws("/v1/listen")).await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(status, 503, "{body}");
    assert!(app.metrics().await.contains(r#"reason="session_limit""#));
}

#[tokio::test]
async fn handshakes_per_ip_are_rate_limited_with_retry_after() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let limits = "\n[limits]\nhandshakes_per_second_per_ip = 1\nhandshake_burst_per_ip = 2\n";
    let app = TestApp::start(&format!("{}{limits}", config(&up.base()))).await;
    connect_ok(&app.ws("/v1/listen")).await;
    connect_ok(&app.ws("/v1/listen")).await;
    let offer = format!("token, {CLIENT_KEY}");
    let resp = refusal(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(resp.status(), 429);
    let retry = resp.headers()["retry-after"].to_str().unwrap();
    assert!(retry.parse::<u64>().unwrap() >= 1, "{retry}");
    assert!(app.metrics().await.contains(r#"reason="rate_limited""#));
}

#[tokio::test]
async fn forwarded_client_ips_count_only_behind_trusted_proxies() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let limits = |trusted: &str| {
        format!(
            "\n[limits]\nhandshakes_per_second_per_ip = 1\nhandshake_burst_per_ip = 1\ntrusted_proxies = [{trusted}]\n"
        )
    };
    let offer = format!("token, {CLIENT_KEY}");
    let xff = |ip| [("x-forwarded-for", ip)];
    let trusted = TestApp::start(&format!(
        "{}{}",
        config(&up.base()),
        limits("\"127.0.0.0/8\"")
    ))
    .await;
    let url = trusted.ws("/v1/listen");
    connect(&url, Some(&offer), &xff("203.0.113.1"))
        .await
        .expect("first client");
    connect(&url, Some(&offer), &xff("203.0.113.2"))
        .await
        .expect("another client IP");
    assert_eq!(
        refused(&url, Some(&offer), &xff("203.0.113.1")).await.0,
        429
    );
    let untrusted = TestApp::start(&format!("{}{}", config(&up.base()), limits(""))).await;
    let url = untrusted.ws("/v1/listen");
    connect(&url, Some(&offer), &xff("203.0.113.1"))
        .await
        .expect("first");
    assert_eq!(
        refused(&url, Some(&offer), &xff("203.0.113.2")).await.0,
        429,
        "spoofed XFF ignored"
    );
}

#[tokio::test]
async fn the_session_time_limit_closes_both_sides_with_1008() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace(
        "force_params = { mip_opt_out = \"true\" }",
        "force_params = { mip_opt_out = \"true\" }\nmax_session = \"300ms\"",
    );
    let app = TestApp::start(&toml).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Binary(Bytes::from_static(&[1])))
        .await
        .unwrap();
    let (code, reason) = recv_close(&mut ws).await.expect("a status");
    assert_eq!(code, 1008);
    assert!(reason.contains("time limit"), "{reason}");
    assert_eq!(up.next().await, Message::Binary(Bytes::from_static(&[1])));
    assert_eq!(up.close_code().await, Some(1008));
}

#[tokio::test]
async fn jwks_keys_verify_tokens_by_kid() {
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let jwks = serde_json::json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "k-2026",
        "x": base64url(ed.public_key_raw()),
    }]});
    let file = std::env::temp_dir().join(format!("voxrelay-test-jwks-{}.json", std::process::id()));
    std::fs::write(&file, jwks.to_string()).unwrap();
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let extra = format!(
        "[[tokens.keys]]\nalgorithm = \"EdDSA\"\njwks_file = \"{}\"\n",
        file.display()
    );
    let app = TestApp::start(&access_config(&up, &extra)).await;
    let key = EncodingKey::from_ed_pem(ed.serialize_pem().as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k-2026".into());
    let jwt = jsonwebtoken::encode(&header, &claims("tester"), &key).unwrap();
    bearer(&app, "/v1/listen", &jwt)
        .await
        .expect("JWKS key verifies");
    header.kid = Some("k-unknown".into());
    let jwt = jsonwebtoken::encode(&header, &claims("tester"), &key).unwrap();
    assert_eq!(
        bearer(&app, "/v1/listen", &jwt)
            .await
            .expect_err("unknown kid")
            .0,
        401
    );
}

#[tokio::test]
async fn a_token_session_limit_closes_both_sides_with_1008() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&access_config(&up, "")).await;
    let mut short = claims("tester");
    short.max_session_seconds = Some(1);
    let mut ws = bearer(&app, "/v1/listen", &sign(&short)).await.unwrap();
    let (code, reason) = recv_close(&mut ws).await.expect("a status");
    assert_eq!(
        (code, reason.as_str()),
        (1008, "session time limit of 1s reached")
    );
    assert_eq!(up.close_code().await, Some(1008));
    let metrics = metric_eventually(&app, r#"outcome="time_limit""#).await;
    assert!(!metrics.contains(&sign(&short)), "no token in metrics");
}

fn base64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}
