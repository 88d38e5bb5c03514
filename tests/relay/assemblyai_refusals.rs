//! AssemblyAI routes refuse in AssemblyAI's shape before the upgrade (`{"error": …}`), and
//! what goes upstream: `/v3/ws` with the route's model as `speech_model`, the bare upstream key
//! in `Authorization`, and never the client's `?token=` or header; AssemblyAI's own errors (a
//! refused key, a refused query) reach the client as AssemblyAI sent them.

use crate::assemblyai::{BROWSER_TOKEN, assemblyai_config};
use crate::helpers::*;

/// A handshake's path and headers, and the status it gets.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);

fn error_of(body: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{body}");
    json["error"].as_str().expect("an error message").to_owned()
}

#[tokio::test]
async fn wrong_or_missing_credentials_bad_origins_and_models_are_refused_in_assemblyais_shape() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&assemblyai_config(&up.base(), "aai-refusals")).await;
    let cases: [Case; 6] = [
        ("/v3/ws?token=wrong-token", vec![], 401),
        ("/v3/ws", vec![("authorization", "wrong-key")], 401),
        ("/v3/ws", vec![], 401),
        ("/v3/ws", vec![("authorization", "Basic dXNlcg==")], 401),
        (
            "/v3/ws",
            vec![
                ("authorization", CLIENT_KEY),
                ("origin", "https://evil.example"),
            ],
            403,
        ),
        (
            "/v3/ws?speech_model=best-model",
            vec![("authorization", CLIENT_KEY)],
            400,
        ),
    ];
    for (path, headers, want) in &cases {
        let (status, body) = refused(&app.ws(path), None, headers).await;
        assert_eq!(status, *want, "{path} {headers:?}: {body}");
        let error = error_of(&body);
        assert!(
            !error.contains("wrong"),
            "the credential is not echoed: {error}"
        );
    }
    let (_, body) = refused(
        &app.ws("/v3/ws?sample_rate=fast"),
        None,
        &[("authorization", CLIENT_KEY)],
    )
    .await;
    assert!(error_of(&body).contains("sample_rate"), "{body}");
    assert!(up.seen.try_recv().is_err(), "nothing reached the upstream");
}

#[tokio::test]
async fn the_upstream_gets_the_bare_key_on_v3_ws_with_the_default_model_and_no_client_credential() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&assemblyai_config(&up.base(), "aai-upstream")).await;
    let url = app.ws(&format!(
        "/v3/ws?sample_rate=16000&token={BROWSER_TOKEN}&format_turns=true"
    ));
    let (_ws, _) = connect(&url, None, &[]).await.expect("relay accepts");
    let seen = up.handshake().await;
    assert!(seen.uri.starts_with("/v3/ws?"), "{}", seen.uri);
    assert!(
        seen.uri
            .contains("speech_model=universal-streaming-english"),
        "{}",
        seen.uri
    );
    assert!(seen.uri.contains("sample_rate=16000") && seen.uri.contains("format_turns=true"));
    assert!(!seen.uri.contains("token"), "{}", seen.uri);
    assert_eq!(seen.headers.get("authorization").unwrap(), UPSTREAM_SECRET);
    let (_ws2, _) = connect(
        &app.ws("/v3/ws"),
        None,
        &[
            ("authorization", CLIENT_KEY),
            ("assemblyai-version", "2025-05-12"),
        ],
    )
    .await
    .expect("relay accepts");
    let seen = up.handshake().await;
    assert_eq!(seen.headers.get("authorization").unwrap(), UPSTREAM_SECRET);
    assert_eq!(
        seen.headers.get("assemblyai-version").unwrap(),
        "2025-05-12"
    );
    for (name, value) in &seen.headers {
        let value = value.to_str().unwrap_or_default();
        assert!(!value.contains(CLIENT_KEY), "client key upstream in {name}");
    }
    assert!(
        !logs().contains(BROWSER_TOKEN),
        "the query token was logged"
    );
}

#[tokio::test]
async fn assemblyais_own_errors_and_closes_reach_the_client_unchanged() {
    // the upstream refuses the relay's key the way AssemblyAI does: upgrade, then close 1008
    let other_key = voxrelay::simulate::SimulatorConfig {
        api_key: Some("not-the-relays-key".into()),
        ..Default::default()
    };
    let app = TestApp::start(&assemblyai_config(
        &spawn_simulator(other_key).await,
        "aai-upstream-refusal",
    ))
    .await;
    let (mut ws, _) = connect(&app.ws("/v3/ws"), None, &[("authorization", CLIENT_KEY)])
        .await
        .expect("the upstream upgrades before refusing");
    let (code, reason) = recv_close(&mut ws).await.expect("a close status");
    assert_eq!(code, 1008);
    assert!(reason.contains("Unauthorized"), "{reason}");

    // a query AssemblyAI refuses after the upgrade: its Error message, then its close code
    let app = TestApp::start(&assemblyai_config(&simulator().await, "aai-upstream-error")).await;
    let (mut ws, _) = connect(
        &app.ws("/v3/ws?encoding=flac"),
        None,
        &[("authorization", CLIENT_KEY)],
    )
    .await
    .expect("relay accepts");
    let error = match recv_data(&mut ws).await.expect("an Error message") {
        tokio_tungstenite::tungstenite::Message::Text(t) => {
            serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap()
        }
        other => panic!("expected AssemblyAI's Error message, got {other:?}"),
    };
    assert_eq!(error["type"], "Error", "{error}");
    assert_eq!(error["error_code"], 3006, "{error}");
    assert_eq!(recv_close(&mut ws).await.map(|c| c.0), Some(3006));
}
