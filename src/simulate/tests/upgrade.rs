//! Handshake over real sockets: credentials, subprotocol echo, `dg-request-id`, path and Cloudflare model routing.

use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use uuid::Uuid;

use super::{Running, next_json, refused, request_id};
use crate::simulate::{SimulatorConfig, handshake};

#[tokio::test]
async fn handshake_echoes_token_when_offered() {
    let sim = Running::default().await;
    let mut request = sim.request("/v1/listen");
    let offered = HeaderValue::from_static("x-deepgram-session-id, token, abc123");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", offered);
    let (_ws, response) = connect_async(request).await.expect("upgrade succeeds");
    assert_eq!(response.headers()["sec-websocket-protocol"], "token");
    request_id(&response);
}

#[tokio::test]
async fn handshake_echoes_first_offer_without_token_or_bearer_and_nothing_without_offers() {
    let sim = Running::default().await;
    let mut request = sim.request("/v1/speak");
    let offered = HeaderValue::from_static("cf-aig-authorization.abc,other");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", offered);
    let (_ws, response) = connect_async(request).await.expect("upgrade succeeds");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "cf-aig-authorization.abc"
    );
    let (_ws, response) = sim.connect("/v1/speak").await;
    assert!(response.headers().get("sec-websocket-protocol").is_none());
}

#[tokio::test]
async fn handshake_rejects_wrong_key_with_401_and_request_id() {
    let config = SimulatorConfig {
        api_key: Some("right-key".into()),
        ..SimulatorConfig::default()
    };
    let sim = Running::start(config).await;
    let mut request = sim.request("/v1/listen?model=nova-3");
    let credential = HeaderValue::from_static("Token wrong-key");
    request.headers_mut().insert("authorization", credential);
    let response = refused(request).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["dg-error"], "Invalid credentials.");
    let body: Value =
        serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("json body");
    assert_eq!(body["err_code"], "INVALID_AUTH");
    assert_eq!(body["err_msg"], "Invalid credentials.");
    let id = Uuid::parse_str(response.headers()["dg-request-id"].to_str().expect("ascii"))
        .expect("uuid");
    assert_eq!(body["request_id"], id.to_string());
    let missing = refused(sim.request("/v1/listen")).await;
    assert_eq!(missing.status(), 401);
}

#[tokio::test]
async fn handshake_accepts_the_key_in_every_documented_form() {
    let config = SimulatorConfig {
        api_key: Some("right-key".into()),
        ..SimulatorConfig::default()
    };
    let sim = Running::start(config).await;
    let forms = [
        ("authorization", "Token right-key"),
        ("authorization", "token right-key"),
        ("authorization", "bearer right-key"),
        ("cf-aig-authorization", "right-key"),
        ("cf-aig-authorization", "Bearer right-key"),
    ];
    for (name, value) in forms {
        let mut request = sim.request("/v1/speak");
        request
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
        let (_ws, response) = connect_async(request).await.expect("credential accepted");
        request_id(&response);
    }
}

#[tokio::test]
async fn cloudflare_path_with_encoded_nova_model_runs_listen() {
    let sim = Running::default().await;
    let path = "/v1/acct/gw/workers-ai?model=%40cf%2Fdeepgram%2Fnova-3&encoding=linear16&sample_rate=16000";
    let (mut ws, _) = sim.connect(path).await;
    let audio = Message::Binary(vec![0u8; 32_000].into());
    ws.send(audio).await.expect("audio sent");
    let results = next_json(&mut ws).await;
    assert_eq!(results["type"], "Results");
    assert_eq!(results["metadata"]["model_info"]["arch"], "nova-3");
}

#[tokio::test]
async fn cloudflare_path_selects_speak_and_flux_by_model() {
    let sim = Running::default().await;
    let (mut speak, _) = sim
        .connect("/v1/a/g/workers-ai?model=@cf/deepgram/aura-1")
        .await;
    let metadata = next_json(&mut speak).await;
    assert_eq!(metadata["type"], "Metadata");
    assert_eq!(metadata["model_name"], "aura-1");
    let (mut flux, _) = sim
        .connect("/v1/a/g/workers-ai?model=%40cf%2Fdeepgram%2Fflux")
        .await;
    assert_eq!(next_json(&mut flux).await["type"], "Connected");
}

#[tokio::test]
async fn cloudflare_path_with_unknown_or_missing_model_is_400_and_unknown_path_404() {
    let sim = Running::default().await;
    for path in [
        "/v1/a/g/workers-ai?model=@cf/openai/whisper",
        "/v1/a/g/workers-ai",
    ] {
        let response = refused(sim.request(path)).await;
        assert_eq!(response.status(), 400);
        assert!(response.headers().contains_key("dg-request-id"));
        assert!(response.headers().contains_key("dg-error"));
    }
    let response = refused(sim.request("/v1/read")).await;
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("dg-request-id"));
}

#[test]
fn paths_resolve_by_suffix_and_cloudflare_model() {
    let kind = |path: &str| {
        let uri: axum::http::Uri = path.parse().expect("valid uri");
        handshake::resolve(&uri).map(|(kind, _)| kind)
    };
    assert_eq!(kind("/v1/listen"), Ok(handshake::Kind::Listen));
    assert_eq!(
        kind("/proxy/deepgram/v1/listen/"),
        Ok(handshake::Kind::Listen)
    );
    assert_eq!(
        kind("/v1/speak?model=aura-2-thalia-en"),
        Ok(handshake::Kind::Speak)
    );
    assert_eq!(kind("/x/v2/listen"), Ok(handshake::Kind::Flux));
    assert_eq!(
        kind("/v1/a/g/workers-ai?model=%40cf%2Fdeepgram%2Fnova-2"),
        Ok(handshake::Kind::Listen)
    );
    assert_eq!(
        kind("/v1/a/g/workers-ai?model=@cf/deepgram/aura-2-en"),
        Ok(handshake::Kind::Speak)
    );
    assert_eq!(
        kind("/v1/a/g/workers-ai?model=nova-3"),
        Err(handshake::Rejection::BAD_MODEL)
    );
    assert_eq!(kind("/v3/listen"), Err(handshake::Rejection::NOT_FOUND));
}
