//! OpenAI's ephemeral-key endpoint, `POST /v1/realtime/client_secrets`: a backend mints an
//! `ek_…` voxrelay token as the OpenAI SDK does, and the browser opens realtime sessions with it.

use futures_util::SinkExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use voxrelay::token::{Claims, GRANT_KID, now};

use crate::front::{err, response};
use crate::helpers::*;
use crate::openai::{conversation_turn, event, realtime_config};

const SECRETS: &str = "/v1/realtime/client_secrets";
const SIGNING_SECRET: &str = "client-secrets-signing-0123456789abcdef";

/// A relay with a known signing secret and no leeway in front of `base`.
async fn relay(base: &str) -> TestApp {
    static FILE: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| {
        let file = std::env::temp_dir().join(format!("voxrelay-ek-signing-{}", std::process::id()));
        std::fs::write(&file, SIGNING_SECRET).unwrap();
        file
    });
    let tokens = format!(
        "\n[tokens]\nleeway = \"0s\"\nsigning_secret_file = \"{}\"\n",
        FILE.display()
    );
    TestApp::start(&(realtime_config(base) + &tokens)).await
}

/// Mints as the OpenAI SDK does (`Authorization: Bearer <key>`, JSON body): status, head, body.
async fn mint(app: &TestApp, key: Option<&str>, body: &str) -> (u16, String, Value) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    let (status, head, text) = http(app.addr, "POST", SECRETS, &headers, body).await;
    (status, head.to_ascii_lowercase(), err(&text))
}

/// A freshly minted `ek_…` for `model`.
async fn minted(app: &TestApp, model: &str) -> String {
    let body = json!({"expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {"type": "realtime", "model": model}});
    let (status, _, body) = mint(app, Some(CLIENT_KEY), &body.to_string()).await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_str().expect("a value").to_owned()
}

/// `error.type` and `error.code` of a refusal in OpenAI's shape.
fn openai_error(status: u16, body: &Value) -> (u16, String, String) {
    assert!(body.get("err_code").is_none(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    let field = |f: &str| body["error"][f].as_str().unwrap_or_default().to_owned();
    (status, field("type"), field("code"))
}

/// A handshake's refusal, in OpenAI's shape.
async fn refused_with(app: &TestApp, path: &str, ek: &str) -> (u16, String, String) {
    let offer = format!("realtime, openai-insecure-api-key.{ek}");
    let (status, body) = refused(&app.ws(path), Some(&offer), &[]).await;
    openai_error(status, &err(&body))
}

#[tokio::test]
async fn a_minted_ek_key_opens_sessions_in_the_browser_form_and_as_bearer() {
    let app = relay(&simulator().await).await;
    let ask = json!({"expires_after": {"anchor": "created_at", "seconds": 120},
        "session": {"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."}});
    let (status, head, body) = mint(&app, Some(CLIENT_KEY), &ask.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    let ek = body["value"].as_str().unwrap().to_owned();
    assert!(ek.starts_with("ek_"), "{ek}");
    let expires_at = body["expires_at"].as_u64().unwrap();
    assert!(expires_at > now() && expires_at <= now() + 120, "{body}");
    assert_eq!(
        body["session"],
        json!({"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."})
    );

    let offer = format!("realtime, openai-insecure-api-key.{ek}");
    let (mut ws, resp) = connect(&app.ws("/v1/realtime"), Some(&offer), &[])
        .await
        .expect("the browser form is accepted");
    assert_eq!(resp.headers()["sec-websocket-protocol"], "realtime");
    conversation_turn(&mut ws).await;

    let bearer = format!("Bearer {ek}");
    let (mut ws, _) = connect(&app.ws("/v1/realtime"), None, &[("authorization", &bearer)])
        .await
        .expect("the Bearer form is accepted");
    let created = event(&mut ws).await;
    assert_eq!(created["type"], "session.created", "{created}");

    metric_eventually(&app, "voxrelay_grants_total 1").await;
    let logs = logs();
    let signature = ek.rsplit('.').next().unwrap();
    assert!(!logs.contains(signature), "the minted key was logged");
    assert!(!logs.contains(CLIENT_KEY), "the client key was logged");
}

#[tokio::test]
async fn minted_keys_are_refused_before_the_upgrade_off_their_model_route_or_lifetime() {
    let app = relay(&simulator().await).await;
    let mini = minted(&app, "gpt-realtime-mini").await;
    // the key's model only
    assert!(
        connect(
            &app.ws("/v1/realtime?model=gpt-realtime-mini"),
            Some(&format!("realtime, openai-insecure-api-key.{mini}")),
            &[]
        )
        .await
        .is_ok()
    );
    let (status, kind, _) = refused_with(&app, "/v1/realtime?model=gpt-realtime", &mini).await;
    assert_eq!((status, kind.as_str()), (403, "invalid_request_error"));
    // realtime routes only
    let (status, body) =
        refused(&app.ws("/v1/listen"), Some(&format!("bearer, {mini}")), &[]).await;
    assert_eq!(status, 403, "{body}");

    // signed by voxrelay, but expired
    let expired = Claims {
        sub: "tester".into(),
        exp: now() - 5,
        iss: "voxrelay".into(),
        aud: "voxrelay".into(),
        routes: Some(vec!["realtime".into()]),
        models: Some(vec!["gpt-realtime".into()]),
        ..Claims::default()
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(GRANT_KID.into());
    let key = EncodingKey::from_secret(SIGNING_SECRET.as_bytes());
    let jwt = jsonwebtoken::encode(&header, &expired, &key).unwrap();
    let (status, kind, _) = refused_with(&app, "/v1/realtime", &format!("ek_{jwt}")).await;
    assert_eq!((status, kind.as_str()), (401, "invalid_request_error"));

    // a real OpenAI ephemeral key is not voxrelay's
    let foreign = "ek_68af2c3d1e0481908e5b2f6a9c7d3e1f";
    let (status, _, code) = refused_with(&app, "/v1/realtime", foreign).await;
    assert_eq!((status, code.as_str()), (401, "invalid_api_key"));
    let bearer = format!("Bearer {foreign}");
    let (status, _) = refused(&app.ws("/v1/realtime"), None, &[("authorization", &bearer)]).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_endpoint_refuses_in_openais_error_shape() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = relay(&up.base()).await;
    let cases: [(Option<&str>, &str, u16); 9] = [
        (None, "{}", 401),
        (Some("not-a-key"), "{}", 401),
        (Some(CLIENT_KEY), "{\"session\":", 400),
        (Some(CLIENT_KEY), "[]", 400),
        (Some(CLIENT_KEY), r#"{"expires_after":{"seconds":9}}"#, 400),
        (
            Some(CLIENT_KEY),
            r#"{"expires_after":{"seconds":7201}}"#,
            400,
        ),
        (
            Some(CLIENT_KEY),
            r#"{"session":{"type":"translation"}}"#,
            400,
        ),
        (Some(CLIENT_KEY), r#"{"session":{"model":"gpt-4o"}}"#, 400),
        // a key without the realtime route
        (Some(SPEAK_ONLY_KEY), "{}", 403),
    ];
    for (key, body, want) in cases {
        let (status, head, answer) = mint(&app, key, body).await;
        let (status, kind, _) = openai_error(status, &answer);
        assert_eq!(status, want, "{key:?} {body}: {answer}");
        assert!(kind.ends_with("_error"), "{answer}");
        assert!(head.contains("cache-control: no-store"), "{head}");
    }
    let (status, _, answer) = mint(&app, None, "{}").await;
    assert_eq!(openai_error(status, &answer).2, "invalid_api_key");
    let (status, head, answer) = http(app.addr, "GET", SECRETS, &[], "").await;
    assert_eq!(status, 405);
    assert!(head.to_ascii_lowercase().contains("allow: post"), "{head}");
    openai_error(status, &err(&answer));
    metric_eventually(&app, r#"{reason="bad_grant_request",route="grant"} 5"#).await;
    assert!(!app.metrics().await.contains("voxrelay_grants_total 1"));
}

#[tokio::test]
async fn the_client_key_is_checked_before_the_body_arrives() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = relay(&up.base()).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    // the body is promised and never sent
    let head = format!(
        "POST {SECRETS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (status, _, body) = response(&mut tcp).await;
    assert_eq!(openai_error(status, &err(&body)).0, 401);
}

#[test]
fn a_route_on_the_endpoints_path_is_a_config_error() {
    let toml = realtime_config("ws://127.0.0.1:9")
        + r#"
[[routes]]
name = "clash"
path = "/v1/realtime/client_secrets"
kind = "realtime"
upstreams = ["oa"]
default_model = "gpt-realtime"
models = ["gpt-realtime"]
"#;
    let err = voxrelay::config::from_toml(&toml)
        .expect_err("the path is taken")
        .to_string();
    assert!(err.contains("client-secret endpoint"), "{err}");
}

/// The session's next event that is not a transcript or buffer notice: the answer to an update.
async fn update_answer(ws: &mut Client) -> Value {
    loop {
        let e = event(ws).await;
        if matches!(e["type"].as_str(), Some("session.updated" | "error")) {
            return e;
        }
    }
}

#[tokio::test]
async fn a_keys_model_grant_narrows_the_conversation_model_and_a_transcription_keys_its_transcription_model()
 {
    let config = realtime_config(&simulator().await).replace(
        r#"models = ["gpt-realtime", "gpt-realtime-*"]"#,
        r#"models = ["gpt-realtime", "gpt-realtime-*", "gpt-4o-transcribe", "whisper-1"]"#,
    );
    assert!(config.contains("whisper-1"), "the allowlist line moved");
    let signing = format!(
        "\n[tokens]\nsigning_secret_file = \"{}\"\n",
        std::env::temp_dir()
            .join(format!("voxrelay-ek-grant-{}", std::process::id()))
            .display()
    );
    std::fs::write(
        std::env::temp_dir().join(format!("voxrelay-ek-grant-{}", std::process::id())),
        SIGNING_SECRET,
    )
    .unwrap();
    let app = TestApp::start(&(config + &signing)).await;
    let update = |session: Value| {
        Message::text(json!({"type": "session.update", "session": session}).to_string())
    };
    let transcribe_with = |model: &str| json!({"type": "realtime", "audio": {"input": {"transcription": {"model": model}}}});

    // a conversation key: input transcription beside it needs only the route's allowlist
    let ek = minted(&app, "gpt-realtime").await;
    let offer = format!("realtime, openai-insecure-api-key.{ek}");
    let (mut ws, _) = connect(
        &app.ws("/v1/realtime?model=gpt-realtime"),
        Some(&offer),
        &[],
    )
    .await
    .expect("the conversation key opens its model");
    assert_eq!(event(&mut ws).await["type"], "session.created");
    ws.send(update(transcribe_with("whisper-1"))).await.unwrap();
    let answer = update_answer(&mut ws).await;
    assert_eq!(answer["type"], "session.updated", "{answer}");
    ws.send(update(
        json!({"type": "realtime", "model": "gpt-realtime-mini"}),
    ))
    .await
    .unwrap();
    let answer = update_answer(&mut ws).await;
    assert_eq!(answer["error"]["code"], "model_not_allowed", "{answer}");
    assert_eq!(answer["error"]["param"], "session.model", "{answer}");

    // a transcription key: its transcription model is the one granted
    let ask = json!({"session": {"type": "transcription",
        "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}});
    let (status, _, body) = mint(&app, Some(CLIENT_KEY), &ask.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["session"].get("model").is_none(), "{body}");
    let ek = body["value"].as_str().unwrap().to_owned();
    let offer = format!("realtime, openai-insecure-api-key.{ek}");
    let (mut ws, _) = connect(
        &app.ws("/v1/realtime?intent=transcription"),
        Some(&offer),
        &[],
    )
    .await
    .expect("the transcription key opens a transcription session");
    assert_eq!(event(&mut ws).await["type"], "session.created");
    let transcription = |model: &str| json!({"type": "transcription", "audio": {"input": {"transcription": {"model": model}}}});
    ws.send(update(transcription("whisper-1"))).await.unwrap();
    let answer = update_answer(&mut ws).await;
    assert_eq!(answer["error"]["code"], "model_not_allowed", "{answer}");
    ws.send(update(transcription("gpt-4o-transcribe")))
        .await
        .unwrap();
    let answer = update_answer(&mut ws).await;
    assert_eq!(answer["type"], "session.updated", "{answer}");
}
