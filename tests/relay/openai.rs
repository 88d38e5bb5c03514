//! OpenAI Realtime through the relay: a `realtime` route on an `openai` upstream.

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// The standard config plus an `oa` (OpenAI) upstream at `base` and a `realtime` route.
pub(crate) fn realtime_config(base: &str) -> String {
    realtime_config_with(base, "")
}

/// [`realtime_config`] with `route_extra` lines added to the `realtime` route.
pub(crate) fn realtime_config_with(base: &str, route_extra: &str) -> String {
    format!(
        r#"{standard}
[upstreams.oa]
kind = "openai"
base_url = "{base}"
key_file = "{file}"

[[routes]]
name = "realtime"
path = "/v1/realtime"
kind = "realtime"
upstreams = ["oa"]
default_model = "gpt-realtime"
models = ["gpt-realtime", "gpt-realtime-*"]
{route_extra}"#,
        standard = config(base),
        file = secret_file(),
    )
}

/// A relay in front of a simulator that only accepts [`UPSTREAM_SECRET`].
async fn relay_to_simulator() -> TestApp {
    TestApp::start(&realtime_config(&simulator().await)).await
}

/// The next text event's JSON.
pub(crate) async fn event(ws: &mut Client) -> serde_json::Value {
    match recv_data(ws).await.expect("an event") {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON event"),
        other => panic!("expected a text event, got {other:?}"),
    }
}

/// `session.created` first, then a response with audio deltas up to `response.done`.
pub(crate) async fn conversation_turn(ws: &mut Client) {
    let created = event(ws).await;
    assert_eq!(created["type"], "session.created", "{created}");
    assert_eq!(created["session"]["model"], "gpt-realtime", "{created}");
    ws.send(Message::text(r#"{"type":"response.create"}"#))
        .await
        .unwrap();
    let mut audio_deltas = 0;
    for _ in 0..500 {
        let e = event(ws).await;
        match e["type"].as_str().unwrap_or_default() {
            "response.output_audio.delta" => audio_deltas += 1,
            "response.done" => {
                assert!(audio_deltas > 0, "audio before response.done");
                return;
            }
            "error" => panic!("error event: {e}"),
            _ => {}
        }
    }
    panic!("no response.done within 500 events");
}

#[tokio::test]
async fn a_browser_with_openais_key_subprotocol_holds_a_conversation_through_the_relay() {
    let app = relay_to_simulator().await;
    let offer = format!("realtime, openai-insecure-api-key.{CLIENT_KEY}");
    let (mut ws, resp) = connect(&app.ws("/v1/realtime"), Some(&offer), &[])
        .await
        .expect("relay accepts");
    // `realtime` is echoed, never the credential item
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("realtime")
    );
    conversation_turn(&mut ws).await;
}

#[tokio::test]
async fn a_server_with_a_bearer_header_holds_a_conversation_through_the_relay() {
    let app = relay_to_simulator().await;
    let bearer = format!("Bearer {CLIENT_KEY}");
    let (mut ws, _) = connect(
        &app.ws("/v1/realtime?model=gpt-realtime-mini"),
        None,
        &[("authorization", &bearer)],
    )
    .await
    .expect("relay accepts");
    let created = event(&mut ws).await;
    assert_eq!(
        created["session"]["model"], "gpt-realtime-mini",
        "{created}"
    );
}

#[tokio::test]
async fn the_openai_upstream_gets_the_real_key_as_bearer_on_v1_realtime_and_never_the_clients() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&realtime_config(&up.base())).await;
    let offer = format!("realtime, openai-insecure-api-key.{CLIENT_KEY}");
    let (_ws, _) = connect(&app.ws("/v1/realtime"), Some(&offer), &[])
        .await
        .expect("relay accepts");
    let seen = up.handshake().await;
    assert!(
        seen.uri.starts_with("/v1/realtime?"),
        "upstream path: {}",
        seen.uri
    );
    assert!(seen.uri.contains("model=gpt-realtime"), "{}", seen.uri);
    assert_eq!(
        seen.headers.get("authorization").unwrap(),
        &format!("Bearer {UPSTREAM_SECRET}")
    );
    assert!(seen.headers.get("openai-beta").is_none());
    for (name, value) in &seen.headers {
        let value = value.to_str().unwrap_or_default();
        assert!(!value.contains(CLIENT_KEY), "client key upstream in {name}");
    }
}

#[tokio::test]
async fn a_model_outside_the_realtime_allowlist_is_refused() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&realtime_config(&up.base())).await;
    let bearer = format!("Bearer {CLIENT_KEY}");
    let (status, _) = refused(
        &app.ws("/v1/realtime?model=gpt-4o-realtime-preview"),
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 400);
}

#[test]
fn realtime_routes_take_only_openai_upstreams_and_openai_upstreams_only_realtime_routes() {
    let base = "ws://127.0.0.1:9";
    let wrong_upstream =
        realtime_config(base).replace(r#"upstreams = ["oa"]"#, r#"upstreams = ["dg"]"#);
    let err = voxrelay::config::from_toml(&wrong_upstream)
        .expect_err("a deepgram upstream cannot serve realtime")
        .to_string();
    assert!(err.contains("cannot serve a realtime route"), "{err}");
    let wrong_route = realtime_config(base).replace(
        "upstreams = [\"cf\"]\ndefault_model = \"aura",
        "upstreams = [\"oa\"]\ndefault_model = \"aura",
    );
    let err = voxrelay::config::from_toml(&wrong_route)
        .expect_err("an openai upstream cannot serve speak")
        .to_string();
    assert!(err.contains("cannot serve a speak route"), "{err}");
    let keepalive = realtime_config(base).replace(
        "kind = \"realtime\"\n",
        "kind = \"realtime\"\nkeepalive = true\n",
    );
    let err = voxrelay::config::from_toml(&keepalive)
        .expect_err("realtime has no keep-alive")
        .to_string();
    assert!(err.contains("no KeepAlive"), "{err}");
}

#[tokio::test]
async fn local_mode_offers_realtime_on_its_simulator_with_the_demo_key() {
    let local =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/local.toml")).unwrap();
    let local = local
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:8081", "127.0.0.1:0");
    let app = TestApp::start(&local).await;
    let offer = "realtime, openai-insecure-api-key.voxrelay-demo-key";
    let (mut ws, _) = connect(&app.ws("/v1/realtime"), Some(offer), &[])
        .await
        .expect("local mode serves /v1/realtime");
    conversation_turn(&mut ws).await;
}

#[tokio::test]
async fn realtime_refusals_are_in_openais_error_shape_and_deepgram_routes_keep_theirs() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&realtime_config(&up.base())).await;
    let wrong_key = "realtime, openai-insecure-api-key.not-a-key";
    let (status, body) = refused(&app.ws("/v1/realtime"), Some(wrong_key), &[]).await;
    assert_eq!(status, 401);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"].get("param").is_some(), "{body}");
    assert!(body.get("err_code").is_none(), "{body}");
    assert!(!body.to_string().contains("not-a-key"));

    let bearer = format!("Bearer {CLIENT_KEY}");
    let (status, body) = refused(
        &app.ws("/v1/realtime?model=whisper-1"),
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");

    let (status, body) = refused(&app.ws("/v1/listen"), Some("token, not-a-key"), &[]).await;
    assert_eq!(status, 401);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["err_code"], "INVALID_AUTH", "{body}");
}

#[tokio::test]
async fn realtime_sessions_carry_openais_request_id_and_forward_only_its_headers() {
    let app = relay_to_simulator().await;
    let bearer = format!("Bearer {CLIENT_KEY}");
    let (_ws, resp) = connect(&app.ws("/v1/realtime"), None, &[("authorization", &bearer)])
        .await
        .expect("relay accepts");
    let id = resp
        .headers()
        .get("x-request-id")
        .expect("x-request-id on the 101");
    // the simulator's own id, passed through
    assert!(id.to_str().unwrap().starts_with("req_"), "{id:?}");
    assert!(resp.headers().get("dg-request-id").is_none());

    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&realtime_config(&up.base())).await;
    let (_ws, _) = connect(
        &app.ws("/v1/realtime"),
        None,
        &[
            ("authorization", &bearer),
            ("user-agent", "openai-agents/1"),
            (
                "x-deepgram-session-id",
                "9f0c6d2e-3a51-4c1b-8d0e-2b7f4a9c1e55",
            ),
        ],
    )
    .await
    .expect("relay accepts");
    let seen = up.handshake().await;
    assert_eq!(seen.headers.get("user-agent").unwrap(), "openai-agents/1");
    assert!(seen.headers.get("x-deepgram-session-id").is_none());
}

#[tokio::test]
async fn a_transcription_session_opens_through_the_relay_without_a_model() {
    let app = relay_to_simulator().await;
    let offer = format!("realtime, openai-insecure-api-key.{CLIENT_KEY}");
    let (mut ws, _) = connect(
        &app.ws("/v1/realtime?intent=transcription"),
        Some(&offer),
        &[],
    )
    .await
    .expect("relay accepts; the simulator refuses a model beside intent");
    let created = event(&mut ws).await;
    assert_eq!(created["type"], "session.created", "{created}");
    assert_eq!(created["session"]["type"], "transcription", "{created}");
}

#[tokio::test]
async fn a_voxrelay_token_works_in_openais_browser_credential_form() {
    static SIGNING: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| {
        let file = std::env::temp_dir().join(format!("voxrelay-oa-signing-{}", std::process::id()));
        std::fs::write(&file, "openai-signing-secret-0123456789abcdef").unwrap();
        file
    });
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = format!(
        "{}\n[tokens]\nsigning_secret_file = \"{}\"\n",
        realtime_config(&up.base()),
        SIGNING.display()
    );
    let app = TestApp::start(&toml).await;
    let auth = format!("Token {CLIENT_KEY}");
    let (status, _, body) = http(
        app.addr,
        "POST",
        "/v1/auth/grant",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let jwt = body["access_token"].as_str().unwrap();
    let offer = format!("realtime, openai-insecure-api-key.{jwt}");
    let (_ws, resp) = connect(&app.ws("/v1/realtime"), Some(&offer), &[])
        .await
        .expect("the token is accepted");
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "realtime"
    );
    let seen = up.handshake().await;
    assert_eq!(
        seen.headers.get("authorization").unwrap(),
        &format!("Bearer {UPSTREAM_SECRET}")
    );
}
