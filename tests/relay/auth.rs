//! Subprotocol and header authentication, and the echoed subprotocol.

use crate::helpers::*;

fn echoed(resp: &Response) -> Option<String> {
    resp.headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned())
}

use tokio_tungstenite::tungstenite::handshake::client::Response;

#[tokio::test]
async fn token_form_echoes_token_never_the_key() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    for offer in [
        format!("token, {CLIENT_KEY}"),
        format!("token,{CLIENT_KEY}"),
    ] {
        let (_ws, resp) = connect(&app.ws("/v1/listen"), Some(&offer), &[])
            .await
            .unwrap();
        assert_eq!(echoed(&resp).as_deref(), Some("token"));
    }
}

#[tokio::test]
async fn bearer_form_with_session_id_pair_echoes_bearer() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let offer = format!(
        "Bearer, {CLIENT_KEY}, x-deepgram-session-id, 9f0c6d2e-3a51-4c1b-8d0e-2b7f4a9c1e55"
    );
    let (_ws, resp) = connect(&app.ws("/v1/listen"), Some(&offer), &[])
        .await
        .unwrap();
    assert_eq!(echoed(&resp).as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn cloudflare_form_echoes_the_offered_value() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let offer = format!("cf-aig-authorization.{CLIENT_KEY}");
    let (_ws, resp) = connect(&app.ws("/v1/listen"), Some(&offer), &[])
        .await
        .unwrap();
    assert_eq!(echoed(&resp), Some(offer));
}

#[tokio::test]
async fn server_clients_authenticate_with_authorization_header() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    for scheme in ["Token", "token", "Bearer", "bearer"] {
        let auth = format!("{scheme} {CLIENT_KEY}");
        let (_ws, resp) = connect(&app.ws("/v1/listen"), None, &[("authorization", &auth)])
            .await
            .unwrap();
        assert_eq!(echoed(&resp), None, "nothing offered, nothing echoed");
    }
}

#[tokio::test]
async fn missing_and_wrong_credentials_get_401_in_deepgram_shape() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let url = app.ws("/v1/listen");
    for (protocols, headers) in [
        (None, vec![]),
        (Some("token, wrong-key"), vec![]),
        (Some("token"), vec![]),
        (None, vec![("authorization", "Token wrong-key")]),
        (None, vec![("authorization", "Basic dXNlcjpwYXNz")]),
    ] {
        let (status, body) = refused(&url, protocols, &headers).await;
        assert_eq!(status, 401, "{protocols:?} {headers:?}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["err_code"], "INVALID_AUTH");
        assert!(json["err_msg"].is_string());
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"{reason="invalid_credentials",route="listen"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"{reason="missing_credentials",route="listen"} 3"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn key_not_granted_the_route_gets_403() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let offer = format!("token, {SPEAK_ONLY_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(status, 403);
    assert!(body.contains("INSUFFICIENT_PERMISSIONS"), "{body}");
    connect(&app.ws("/v1/speak"), Some(&offer), &[])
        .await
        .expect("speak is granted");
}
